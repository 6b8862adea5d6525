// The connection to the server: protocol v1 over /ws, one JSON message per text frame.
//
// How this works: Link keeps what a reconnect needs — the nick and password (in memory only),
// the guest token, the rooms we are in, the newest msg_id we hold per conversation ("#room" or
// "@peer") and every CHAT/DM not yet acknowledged. When the socket drops it reconnects with
// backoff and resumes: HELLO carries `since`, `rooms` and `token`; after WELCOME the
// unacknowledged messages are sent again with the same ids, so the server stores each once.
//
// Request ids: the server remembers every CHAT/DM id per sender (account or guest) and answers
// a known one with the message it already stored, so an id must never be used twice by one
// identity — not after a reconnect, not after a page reload, not from two tabs, not after the
// clock steps back. Each page draws a random prefix once and counts: "<kind><prefix>.<n>". A
// resend reuses its message's id (that is the point); nothing else ever does.
//
// Limits (docs/web.md): texts are checked as the server checks them (textProblem), and no frame
// is sent that the server would refuse for its size (it would close the connection). A request
// the server refuses (ERROR with its id) is dropped for good: reported once, never resent.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const QUIT_WAIT_MS = 3000; // after our BYE, the server's BYE and close; then we close
export const MAX_TEXT = 4000; // characters (code points) per message: hub/names.py check_text
export const MAX_FRAME = 65536; // bytes: the server's default max_frame; a message must be smaller
// What check_text refuses in a text: C0 controls but tab and newline, DEL, C1 controls, bidi
// embeddings/overrides/isolates, lone surrogates (the "u" flag matches only unpaired ones).
const FORBIDDEN_IN_TEXT = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]/u;
const encoder = new TextEncoder();
const FATAL_HELLO = new Set([
  "invalid_nick", "nick_taken", "nick_confusable", "nick_registered", "auth_failed", "unsupported_version",
  "invalid_field", "invalid_password",
]);

export function fold(name) {
  return name.toLowerCase();
}

// Why the server would refuse `text` as a message (or refuses it here first), or null.
export function textProblem(text) {
  if (!text.trim()) return "Nothing to send: the message is empty or only spaces.";
  const length = [...text].length; // code points, as the server counts
  if (length > MAX_TEXT) {
    return `Too long to send: ${length.toLocaleString("en")} characters, at most `
      + `${MAX_TEXT.toLocaleString("en")} per message.`;
  }
  if (FORBIDDEN_IN_TEXT.test(text)) {
    return "Cannot send this: it contains control characters or bidi overrides "
      + "(tabs and new lines are fine).";
  }
  return null;
}

// A random prefix for this page's request ids (12 hex digits).
function randomPrefix() {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// The conversation a MESSAGE (or HISTORY_PAGE, GAP) belongs to: "#room" or "@peer".
export function conversationOf(msg, me) {
  if (msg.room) return fold(msg.room);
  if (msg.with) return "@" + fold(msg.with);
  const peer = msg.from && fold(msg.from) !== fold(me) ? msg.from : msg.to;
  return "@" + fold(peer || "");
}

export class Link {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers; // {event(msg), status(state, detail), failed(error)}
    this.ws = null;
    this.creds = null; // {nick, password, register}
    this.token = null;
    this.rooms = new Map(); // folded name -> display name
    this.lastIds = new Map(); // conversation -> newest id held (a msg_id, or a change's seq)
    this.peers = new Map(); // "@peer" -> display nick, for `since`
    this.pending = new Map(); // request id -> CHAT/DM not yet acknowledged, in send order
    this.welcomed = false;
    this.stopped = true;
    this.attempt = 0;
    this.timer = null;
    this.prefix = randomPrefix();
    this.seq = 0;
    this.helloId = null;
    this.registerId = null; // the REGISTER sent after WELCOME (login with "Register")
    this.quitId = null; // our BYE (/quit): the server answers it with its own BYE, then closes
    this.maxFrame = MAX_FRAME; // lowered if the server says its limit is lower
  }

  get me() {
    return this.creds ? this.creds.nick : "";
  }

  // A request id never used before by this page, nor by any other (see the top).
  nextId(kind = "r") {
    this.seq += 1;
    return `${kind}${this.prefix}.${this.seq.toString(36)}`;
  }

  // Why `message` cannot be sent (a frame the server would refuse for its size), or null.
  problem(message) {
    const size = encoder.encode(JSON.stringify(message)).length;
    if (size < this.maxFrame) return null;
    return `Too large to send: ${size.toLocaleString("en")} bytes, the server takes less than `
      + `${this.maxFrame.toLocaleString("en")} per message.`;
  }

  start(creds) {
    this.quitId = null;
    this.creds = { ...creds };
    this.token = null;
    this.rooms.clear();
    this.lastIds.clear();
    this.peers.clear();
    this.pending.clear();
    this.stopped = false;
    this.attempt = 0;
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) return;
    this.handlers.status("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${this.url}`);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify(this.hello()));
    ws.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg && typeof msg.type === "string") this.receive(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.welcomed = false;
      if (this.stopped) this.handlers.status("closed"); // we quit: no reconnect
      else this.retry();
    };
  }

  hello() {
    // member_pages: a big room's members come in pages (members.js; protocol §21).
    const hello = { type: "HELLO", version: 1, nick: this.creds.nick, member_pages: true };
    this.helloId = hello.id = this.nextId("h");
    if (this.creds.password && !this.creds.register) hello.password = this.creds.password;
    else if (this.token) hello.token = this.token;
    if (this.lastIds.size) {
      hello.since = {};
      for (const [key, id] of this.lastIds) {
        const name = key.startsWith("@") ? "@" + (this.peers.get(key) || key.slice(1))
          : this.rooms.get(key) || key;
        hello.since[name] = id;
      }
    }
    if (this.rooms.size) hello.rooms = [...this.rooms.values()];
    return hello;
  }

  retry() {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.handlers.status("waiting", delay);
    this.timer = setTimeout(() => this.open(), delay);
  }

  retryNow() {
    if (!this.stopped && !this.ws) this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    this.welcomed = false;
    if (ws) {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "BYE" }));
      ws.close();
    }
  }

  // Leave (/quit): BYE with the reason; the server says BYE and closes, and nothing reconnects.
  // Messages still waiting for an acknowledgement are not sent again.
  quit(reason) {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      this.ws = null;
      if (ws) ws.close();
      this.handlers.status("closed");
      return;
    }
    const bye = { type: "BYE", id: this.nextId("b") };
    if (reason) bye.reason = reason;
    this.quitId = bye.id;
    ws.send(JSON.stringify(bye));
    setTimeout(() => ws.close(), QUIT_WAIT_MS); // if the server does not close it first
  }

  // Track what resume needs, then hand the message to the UI.
  receive(msg) {
    switch (msg.type) {
      case "WELCOME":
        this.welcomed = true;
        this.attempt = 0;
        this.creds.nick = msg.nick;
        if (msg.token) this.token = msg.token;
        for (const room of msg.rooms || []) this.rooms.set(fold(room), room);
        this.handlers.status("online");
        break;
      case "JOINED":
        this.rooms.set(fold(msg.room), msg.room);
        // The room's resume mark starts at its newest message (protocol §15), even before
        // anyone speaks; a mark already held is kept (messages up to last_id may be missing).
        if (!this.lastIds.has(fold(msg.room))) this.lastIds.set(fold(msg.room), msg.last_id || 0);
        break;
      case "LEFT":
        this.rooms.delete(fold(msg.room));
        this.lastIds.delete(fold(msg.room));
        break;
      case "MESSAGE":
        this.track(msg);
        if (msg.id) this.pending.delete(msg.id);
        break;
      case "HISTORY_PAGE":
        for (const message of msg.messages || []) this.track(message);
        break;
      case "EDITED": case "DELETED": case "REACTED":
        // A change is an event of its conversation with an id of its own (seq, protocol §15):
        // the mark moves past it, so a resume does not send it again.
        if (typeof msg.seq === "number") this.track({ ...msg, msg_id: msg.seq });
        break;
      case "PRESENCE":
        if (msg.event === "nick" && msg.new_nick) this.renamed(msg.nick, msg.new_nick);
        if (msg.event === "kick" && msg.room && fold(msg.nick) === fold(this.me)) {
          this.rooms.delete(fold(msg.room)); // kicked or banned: out, and not rejoined on resume
          this.lastIds.delete(fold(msg.room));
        }
        break;
      case "REGISTERED":
        this.creds.password = this.creds.pendingPassword || this.creds.password;
        this.creds.register = false;
        this.registerId = null;
        this.token = null;
        break;
      case "PING":
        this.request({ type: "PONG" });
        break;
      case "ERROR":
        if (msg.code === "frame_too_large" && this.tooLarge(msg)) return;
        if (msg.id && msg.id === this.registerId) { // the account was not made: a guest stays
          this.registerId = null;
          this.creds.register = false;
          this.creds.password = null;
          this.creds.pendingPassword = null;
        }
        if (msg.id && msg.id === this.helloId && !this.welcomed) {
          if (FATAL_HELLO.has(msg.code)) {
            this.stop();
            this.handlers.failed(msg);
            return;
          }
          if (this.ws) this.ws.close(); // e.g. unavailable: try again later
        } else if (msg.id && this.pending.has(msg.id) && msg.code !== "unavailable") {
          this.pending.delete(msg.id); // refused for good: the UI marks it failed
        }
        break;
      default:
        break;
    }
    this.handlers.event(msg);
    if (msg.type === "WELCOME") {
      if (this.creds.register) {
        this.creds.pendingPassword = this.creds.password;
        this.registerId = this.nextId("g");
        this.request({ type: "REGISTER", nick: msg.nick, password: this.creds.password,
          id: this.registerId });
      }
      for (const message of this.pending.values()) this.ws.send(JSON.stringify(message));
    }
  }

  // The server refused a frame for its size, and closes the connection: learn its limit, and
  // drop (as refused) every waiting message that is too large, or it would be sent again after
  // the reconnect, and refused again, for ever. True if the refusal was so reported.
  tooLarge(error) {
    const limit = /(\d+) bytes/.exec(error.message || "");
    if (limit) this.maxFrame = Math.min(this.maxFrame, Number(limit[1]));
    let reported = false;
    for (const [id, message] of [...this.pending]) {
      const problem = this.problem(message);
      if (!problem) continue;
      this.pending.delete(id);
      this.handlers.event({ type: "ERROR", id, code: "frame_too_large", message: problem });
      reported = true;
    }
    return reported;
  }

  track(msg) {
    const key = conversationOf(msg, this.me);
    if (key.startsWith("@")) {
      const peer = msg.from && fold(msg.from) !== fold(this.me) ? msg.from : msg.to;
      if (peer) this.peers.set(key, peer);
    }
    if (typeof msg.msg_id === "number" && msg.msg_id > (this.lastIds.get(key) || 0)) {
      this.lastIds.set(key, msg.msg_id);
    }
  }

  renamed(old, now) {
    if (fold(old) === fold(this.me)) this.creds.nick = now;
    const from = "@" + fold(old);
    const to = "@" + fold(now);
    if (this.lastIds.has(from)) {
      this.lastIds.set(to, this.lastIds.get(from));
      this.lastIds.delete(from);
    }
    if (this.peers.has(from)) {
      this.peers.delete(from);
      this.peers.set(to, now);
    }
  }

  // A CHAT or DM: kept until acknowledged, sent now if we can, again after a reconnect.
  // Returns its id, or null if it is too large to send (then problem(message) says why).
  post(message) {
    message.id = this.nextId("m");
    if (this.problem(message)) return null;
    this.pending.set(message.id, message);
    if (this.welcomed) this.ws.send(JSON.stringify(message));
    return message.id;
  }

  // Anything else: sent only while connected (and not too large); returns whether it was.
  request(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.problem(message)) return false;
    if (message.type !== "PONG" && message.type !== "REGISTER" && !this.welcomed) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }
}
