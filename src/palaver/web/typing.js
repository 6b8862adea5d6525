// palaver's web client: typing indicators (docs/web.md, "Typing"; docs/protocol.md: TAGMSG).
//
// While you type a message (not a /command) in a room or a direct conversation, the page sends
// {"type":"TAGMSG","room":…,"tags":{"+typing":"active"}} (or "to" for a direct conversation),
// at most once every 3 s, and "done" once the message is sent, the composer emptied or another
// conversation shown. Another member's "active" (or "paused") shows "alice is typing…" under the
// messages for 6 s (renewed by each one); their "done", or a message from them, ends it. The
// server relays these and never stores them. A checkbox by your nick switches sending off (kept
// in localStorage as palaver.typing = "off"); the others' typing is still shown.

const EVERY = 3000; // ms between two "active" of one conversation
const SHOWN = 6000; // ms an "active" is shown
const SETTING = "palaver.typing";

// send(message) sends a request; nextId(prefix) gives an id; isMe(nick); current() is the shown
// conversation; input: the composer's textarea; footer: where the setting goes.
export function createTyping({ send, nextId, isMe, current, input, composer, footer }) {
  const line = document.createElement("div");
  line.className = "typing";
  line.setAttribute("aria-live", "polite");
  composer.before(line);

  const label = document.createElement("label");
  label.className = "typing-setting";
  label.title = "Tell others when you are typing";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.id = "typing-setting";
  box.checked = localStorage.getItem(SETTING) !== "off";
  label.append(box, "typing");
  footer.insertBefore(label, footer.querySelector("button"));
  box.addEventListener("change", () => {
    localStorage.setItem(SETTING, box.checked ? "on" : "off");
    if (!box.checked) stop();
  });

  const ids = new Set(); // our TAGMSG request ids: their errors are not the user's business
  let active = null; // {c, at}: the conversation we last said "active" in, and when
  const typists = new Map(); // conversation key -> Map(folded nick -> {nick, timer})

  function tell(c, state) {
    const id = nextId("t");
    const message = { type: "TAGMSG", tags: { "+typing": state }, id };
    if (c.dm) message.to = c.name;
    else message.room = c.name;
    if (send(message)) ids.add(id);
  }

  function stop() {
    if (active) tell(active.c, "done");
    active = null;
  }

  input.addEventListener("input", () => {
    const c = current();
    const text = input.value;
    if (!text.trim() || text.startsWith("/") && !text.startsWith("//")) {
      stop();
      return;
    }
    if (!box.checked || !c || (!c.dm && !c.joined)) return;
    if (active && active.c !== c) stop();
    const now = Date.now();
    if (active && now - active.at < EVERY) return;
    tell(c, "active");
    active = { c, at: now };
  });

  function render() {
    const c = current();
    const map = c && typists.get(c.key);
    const nicks = map ? [...map.values()].map((t) => t.nick) : [];
    line.textContent = !nicks.length ? ""
      : nicks.length === 1 ? `${nicks[0]} is typing…`
        : nicks.length <= 3 ? `${nicks.slice(0, -1).join(", ")} and ${nicks.at(-1)} are typing…`
          : "Several people are typing…";
  }

  function end(c, nick) {
    const map = c && typists.get(c.key);
    const typist = map && map.get(nick.toLowerCase());
    if (!typist) return;
    clearTimeout(typist.timer);
    map.delete(nick.toLowerCase());
    render();
  }

  // A TAGMSG for conversation c (null: not one we have).
  function tagged(c, msg) {
    if (msg.id) ids.delete(msg.id); // the answer to one of ours
    const state = msg.tags && msg.tags["+typing"];
    if (!c || !state || isMe(msg.from)) return;
    if (state === "done") {
      end(c, msg.from);
      return;
    }
    if (state !== "active" && state !== "paused") return;
    let map = typists.get(c.key);
    if (!map) typists.set(c.key, map = new Map());
    const key = msg.from.toLowerCase();
    const old = map.get(key);
    if (old) clearTimeout(old.timer);
    map.set(key, { nick: msg.from, timer: setTimeout(() => end(c, msg.from), SHOWN) });
    render();
  }

  return {
    tagged,
    messaged: (c, nick) => end(c, nick), // their message ends their typing
    sent: stop, // our message went out (or the composer was emptied)
    shown(c) { // another conversation is shown
      if (active && active.c !== c) stop();
      render();
    },
    error: (msg) => !!msg.id && ids.delete(msg.id), // true: one of ours, swallowed
  };
}
