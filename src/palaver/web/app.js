// palaver's web client: the page's behaviour. Text from the network is only ever put in the
// page with textContent, never parsed as HTML.
import { Link, conversationOf, fold } from "./link.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const GAP_PAGE = 200;
const NEAR_BOTTOM = 80; // px: closer than this to the end counts as "reading the newest"
const NEAR_TOP = 120; // px: scrolled this close to the top loads older messages

const convs = new Map(); // "#room" or "@peer" (folded) -> conversation
const requests = new Map(); // HISTORY request id -> {key, kind: "newest"|"older"|"gap", after}
let current = null;

const link = new Link("/ws", { event: onEvent, status: onStatus, failed: onLoginFailed });

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function me() {
  return link.me;
}

function isMe(nick) {
  return !!nick && fold(nick) === fold(me());
}

// ---------------------------------------------------------------- conversations

function conv(key, name) {
  let c = convs.get(key);
  if (c) return c;
  const dm = key.startsWith("@");
  const log = el("div", "log");
  log.dataset.conv = dm ? "@" + name : name;
  log.setAttribute("role", "log");
  log.hidden = true;
  const older = el("div", "older", dm ? "Start of your conversation" : "Start of the room");
  older.hidden = true;
  const list = el("ol", "messages");
  log.append(older, list);
  log.addEventListener("scroll", () => onScroll(c), { passive: true });
  $("logs").append(log);
  c = {
    key, name, dm, log, list, older,
    byId: new Map(), // msg_id -> li
    pendingEls: new Map(), // request id -> li
    oldest: null, newest: 0,
    more: true, loading: false, loaded: false,
    unread: 0, divider: null,
    members: new Map(), // folded nick -> nick
    topic: "", joined: !dm,
  };
  convs.set(key, c);
  renderLists();
  return c;
}

function roomConv(name) {
  return conv(fold(name), name);
}

function dmConv(nick) {
  const c = conv("@" + fold(nick), nick);
  if (c.name !== nick) {
    c.name = nick;
    c.log.dataset.conv = "@" + nick;
  }
  return c;
}

function show(c) {
  if (current && current !== c) {
    current.log.hidden = true;
    clearDivider(current);
  }
  current = c;
  c.log.hidden = false;
  if (c.unread) {
    placeDivider(c);
    c.unread = 0;
  }
  $("title").textContent = c.dm ? "@" + c.name : c.name;
  $("topic").textContent = c.topic || "";
  $("input").placeholder = c.dm ? `Message @${c.name}` : `Message ${c.name}`;
  renderLists();
  renderMembers();
  if (!c.loaded) loadNewest(c);
  requestAnimationFrame(() => {
    if (c.divider) c.divider.scrollIntoView({ block: "center" });
    else c.log.scrollTop = c.log.scrollHeight;
  });
  closeDrawers();
}

function placeDivider(c) {
  clearDivider(c);
  const items = c.list.querySelectorAll("li.msg:not(.pending)");
  const first = items[Math.max(0, items.length - c.unread)];
  if (!first) return;
  c.divider = el("li", "divider", "New messages");
  c.divider.setAttribute("aria-label", "New messages below");
  c.list.insertBefore(c.divider, first);
}

function clearDivider(c) {
  if (c.divider) c.divider.remove();
  c.divider = null;
}

function drop(c) {
  convs.delete(c.key);
  c.log.remove();
  if (current === c) {
    current = null;
    const next = convs.values().next().value;
    if (next) show(next);
  }
  renderLists();
}

// ---------------------------------------------------------------- messages

function nearBottom(c) {
  const log = c.log;
  return log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM;
}

function formatTime(ts) {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function hue(nick) {
  let hash = 0;
  for (const ch of fold(nick)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 8;
}

function messageItem(msg, pending) {
  const li = el("li", "msg");
  if (isMe(msg.from)) li.classList.add("mine");
  if (pending) li.classList.add("pending");
  const time = el("time", "time", pending ? "…" : formatTime(msg.ts));
  if (msg.ts) time.dateTime = msg.ts;
  const from = el("span", `from c${hue(msg.from || "")}`, msg.from);
  li.append(from, time, el("span", "text", msg.text));
  if (msg.msg_id !== undefined) li.dataset.msgId = String(msg.msg_id);
  return li;
}

// Insert a stored message once, in msg_id order; returns whether it was new.
function addMessage(c, msg, live) {
  const pendingLi = msg.id ? c.pendingEls.get(msg.id) : undefined;
  if (pendingLi) {
    pendingLi.remove();
    c.pendingEls.delete(msg.id);
  }
  if (c.byId.has(msg.msg_id)) return false;
  const stick = nearBottom(c);
  const li = messageItem(msg, false);
  let before = null;
  if (c.newest > msg.msg_id) {
    for (const [id, node] of c.byId) { // Map order is insertion order, not id order: scan
      if (id > msg.msg_id && (!before || Number(before.dataset.msgId) > id)) before = node;
    }
  }
  const firstPending = c.pendingEls.values().next().value || null;
  c.list.insertBefore(li, before || firstPending);
  c.byId.set(msg.msg_id, li);
  c.newest = Math.max(c.newest, msg.msg_id);
  c.oldest = c.oldest === null ? msg.msg_id : Math.min(c.oldest, msg.msg_id);
  if (live && !isMe(msg.from) && (c !== current || document.hidden)) {
    c.unread += 1;
    renderLists();
  }
  if (c === current && (stick || isMe(msg.from)) && live) c.log.scrollTop = c.log.scrollHeight;
  return true;
}

function systemLine(c, text, kind = "sys") {
  if (!c) return;
  const stick = nearBottom(c);
  c.list.append(el("li", kind, text));
  if (c === current && stick) c.log.scrollTop = c.log.scrollHeight;
}

// ---------------------------------------------------------------- history

function historyRequest(c, extra) {
  const id = link.nextId("q");
  const msg = { type: "HISTORY", id, ...extra };
  if (c.dm) msg.with = c.name;
  else msg.room = c.name;
  return msg;
}

function loadNewest(c) {
  if (c.loading) return;
  const msg = historyRequest(c, { limit: PAGE });
  if (!link.request(msg)) return;
  c.loading = true;
  requests.set(msg.id, { key: c.key, kind: "newest" });
}

function loadOlder(c) {
  if (c.loading || !c.more || c.oldest === null) return;
  const msg = historyRequest(c, { before: c.oldest, limit: PAGE });
  if (!link.request(msg)) return;
  c.loading = true;
  requests.set(msg.id, { key: c.key, kind: "older" });
}

function loadGap(c, after, before) {
  const msg = historyRequest(c, { before, limit: GAP_PAGE });
  if (link.request(msg)) requests.set(msg.id, { key: c.key, kind: "gap", after });
}

function onScroll(c) {
  if (c === current && c.log.scrollTop < NEAR_TOP) loadOlder(c);
}

function onHistoryPage(page) {
  const request = requests.get(page.id);
  requests.delete(page.id);
  const c = request ? convs.get(request.key) : null;
  if (!c) return;
  const log = c.log;
  const fromBottom = log.scrollHeight - log.scrollTop;
  for (const msg of page.messages) addMessage(c, msg, false);
  if (request.kind === "gap") {
    const first = page.messages[0];
    if (page.more && first && first.msg_id > request.after + 1) loadGap(c, request.after, first.msg_id);
  } else {
    c.loading = false;
    c.loaded = true;
    c.more = page.more;
    c.older.hidden = c.more;
  }
  if (request.kind === "older") log.scrollTop = log.scrollHeight - fromBottom;
  else if (c === current && request.kind === "newest") log.scrollTop = log.scrollHeight;
  // Not enough to scroll yet: fetch further back so the user can scroll up at all.
  if (c === current && c.more && log.scrollHeight <= log.clientHeight + NEAR_TOP) loadOlder(c);
}

// ---------------------------------------------------------------- members

function setMembers(c, nicks) {
  c.members = new Map(nicks.map((nick) => [fold(nick), nick]));
  if (c === current) renderMembers();
}

function renderMembers() {
  const list = $("member-list");
  list.replaceChildren();
  const c = current;
  if (!c) return;
  const nicks = c.dm ? [me(), c.name] : [...c.members.values()];
  $("members-title").textContent = c.dm ? "Conversation" : `Members (${nicks.length})`;
  nicks.sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
  for (const nick of nicks) {
    const li = el("li");
    const button = el("button", "member", nick);
    button.type = "button";
    if (isMe(nick)) {
      button.classList.add("self");
      button.disabled = true;
      button.title = "you";
    } else {
      button.title = `Send a direct message to ${nick}`;
      button.addEventListener("click", () => show(dmConv(nick)));
    }
    li.append(button);
    list.append(li);
  }
}

// ---------------------------------------------------------------- sidebar

function convButton(c) {
  const li = el("li");
  const button = el("button", "conv");
  button.type = "button";
  button.dataset.conv = c.dm ? "@" + c.name : c.name;
  if (c === current) {
    button.classList.add("active");
    button.setAttribute("aria-current", "true");
  }
  button.append(el("span", "name", c.dm ? "@" + c.name : c.name));
  if (c.unread) {
    const badge = el("span", "badge", String(c.unread));
    badge.setAttribute("aria-label", `${c.unread} unread`);
    button.append(badge);
    button.classList.add("unread");
  }
  button.addEventListener("click", () => show(c));
  li.append(button);
  return li;
}

function renderLists() {
  const rooms = [...convs.values()].filter((c) => !c.dm).sort((a, b) => a.key.localeCompare(b.key));
  const dms = [...convs.values()].filter((c) => c.dm).sort((a, b) => a.key.localeCompare(b.key));
  $("room-list").replaceChildren(...rooms.map(convButton));
  $("dm-list").replaceChildren(...dms.map(convButton));
  if (!dms.length) $("dm-list").append(el("li", "empty", "Click a member to message them."));
  const total = [...convs.values()].reduce((sum, c) => sum + c.unread, 0);
  const badge = $("total-unread");
  badge.hidden = !total;
  badge.textContent = String(total);
  document.title = total ? `(${total}) palaver` : "palaver";
}

function renderDirectory(rooms) {
  const list = $("directory");
  list.replaceChildren();
  list.hidden = false;
  for (const info of rooms) {
    const li = el("li");
    const button = el("button", "conv", `${info.room} · ${info.members}`);
    button.type = "button";
    button.title = info.topic || `Join ${info.room}`;
    button.addEventListener("click", () => {
      join(info.room);
      list.hidden = true;
    });
    li.append(button);
    list.append(li);
  }
  if (!rooms.length) list.append(el("li", "empty", "No rooms yet."));
}

function closeDrawers() {
  document.body.classList.remove("show-rooms", "show-members");
  $("scrim").hidden = true;
  $("toggle-rooms").setAttribute("aria-expanded", "false");
  $("toggle-members").setAttribute("aria-expanded", "false");
}

function toggleDrawer(which) {
  const cls = `show-${which}`;
  const open = !document.body.classList.contains(cls);
  closeDrawers();
  if (open) {
    document.body.classList.add(cls);
    $("scrim").hidden = false;
    $(`toggle-${which}`).setAttribute("aria-expanded", "true");
  }
}

// ---------------------------------------------------------------- events from the server

function onEvent(msg) {
  switch (msg.type) {
    case "WELCOME": {
      $("me-nick").textContent = msg.nick;
      $("me-kind").textContent = msg.account ? "account" : "guest";
      showChat();
      if (msg.motd && !convs.size) roomConv(msg.rooms[0] || "#lobby").motd = msg.motd;
      break;
    }
    case "JOINED": {
      const c = roomConv(msg.room);
      c.joined = true;
      c.topic = msg.topic || "";
      setMembers(c, msg.members);
      if (c.motd) {
        systemLine(c, c.motd, "motd");
        c.motd = null;
      }
      if (!current) show(c);
      else if (msg.id) show(c);
      if (c === current) $("topic").textContent = c.topic;
      if (!c.loaded) loadNewest(c);
      break;
    }
    case "LEFT": {
      const c = convs.get(fold(msg.room));
      if (c) drop(c);
      break;
    }
    case "MESSAGE": {
      const key = conversationOf(msg, me());
      const c = key.startsWith("@") ? dmConv(isMe(msg.from) ? msg.to : msg.from) : roomConv(msg.room);
      if (c.dm && !c.loaded && !c.loading) loadNewest(c);
      addMessage(c, msg, true);
      break;
    }
    case "HISTORY_PAGE":
      onHistoryPage(msg);
      break;
    case "GAP": {
      const c = msg.room ? roomConv(msg.room) : dmConv(msg.with);
      loadGap(c, msg.after, msg.before);
      break;
    }
    case "PRESENCE":
      onPresence(msg);
      break;
    case "USERS":
      if (msg.room) {
        const c = convs.get(fold(msg.room));
        if (c) setMembers(c, msg.users);
      } else {
        systemLine(current, `Online: ${msg.users.join(", ")}`);
      }
      break;
    case "ROOM_LIST":
      renderDirectory(msg.rooms);
      break;
    case "RESULT":
      systemLine(current, msg.result);
      break;
    case "REGISTERED":
      $("me-kind").textContent = "account";
      systemLine(current, `${msg.nick} is now an account: log in with its password next time.`);
      break;
    case "BYE":
      if (msg.reason) systemLine(current, `Disconnected: ${msg.reason}`);
      break;
    case "ERROR":
      onError(msg);
      break;
    default:
      break;
  }
}

function onPresence(msg) {
  const { nick, event } = msg;
  if (event === "join" || event === "leave") {
    const c = convs.get(fold(msg.room || ""));
    if (!c) return;
    if (event === "join") c.members.set(fold(nick), nick);
    else c.members.delete(fold(nick));
    systemLine(c, event === "join" ? `${nick} joined` : `${nick} left${msg.reason ? ` (${msg.reason})` : ""}`);
    if (c === current) renderMembers();
    return;
  }
  for (const c of convs.values()) {
    if (!c.members.has(fold(nick))) continue;
    c.members.delete(fold(nick));
    if (event === "nick" && msg.new_nick) {
      c.members.set(fold(msg.new_nick), msg.new_nick);
      systemLine(c, `${nick} is now ${msg.new_nick}`);
    } else if (event === "quit") {
      systemLine(c, `${nick} quit${msg.reason ? ` (${msg.reason})` : ""}`);
    }
  }
  if (event === "nick" && msg.new_nick) {
    if (isMe(msg.new_nick)) $("me-nick").textContent = msg.new_nick;
    const old = convs.get("@" + fold(nick));
    if (old) {
      convs.delete(old.key);
      old.key = "@" + fold(msg.new_nick);
      old.name = msg.new_nick;
      old.log.dataset.conv = "@" + msg.new_nick;
      convs.set(old.key, old);
      if (old === current) $("title").textContent = "@" + old.name;
      renderLists();
    }
  }
  renderMembers();
}

function onError(msg) {
  const request = requests.get(msg.id);
  if (request) { // a history page that will not come
    requests.delete(msg.id);
    const c = convs.get(request.key);
    if (c) c.loading = false;
    return;
  }
  for (const c of convs.values()) {
    const li = msg.id && c.pendingEls.get(msg.id);
    if (li && msg.code !== "unavailable") {
      li.classList.replace("pending", "failed");
      li.append(el("span", "note", ` — not sent: ${msg.message}`));
      c.pendingEls.delete(msg.id);
      return;
    }
  }
  systemLine(current, `${msg.message} (${msg.code})`, "error");
}

function onStatus(state, detail) {
  const bar = $("status");
  const retry = $("retry");
  if (state === "online") {
    bar.hidden = true;
    document.body.classList.remove("offline");
    return;
  }
  if ($("chat").hidden) { // never got in: say so on the login form instead of retrying
    if (state === "waiting") {
      link.stop();
      showLogin("Cannot reach the server. Try again in a moment.");
    }
    return;
  }
  document.body.classList.add("offline");
  bar.hidden = false;
  retry.hidden = state !== "waiting";
  $("status-text").textContent = state === "waiting"
    ? `Connection lost. Reconnecting in ${Math.ceil(detail / 1000)} s…`
    : "Connecting…";
}

function onLoginFailed(error) {
  showLogin(error.message);
}

// ---------------------------------------------------------------- sending

function join(room) {
  let name = room.trim();
  if (!name) return;
  if (!name.startsWith("#")) name = "#" + name;
  const existing = convs.get(fold(name));
  if (existing && existing.joined) {
    show(existing);
    return;
  }
  link.request({ type: "JOIN", room: name, id: link.nextId("j") });
}

function post(c, text) {
  const message = c.dm ? { type: "DM", to: c.name, text } : { type: "CHAT", room: c.name, text };
  const id = link.post(message);
  const li = messageItem({ from: me(), text }, true);
  c.pendingEls.set(id, li);
  c.list.append(li);
  c.log.scrollTop = c.log.scrollHeight;
}

const HELP = "Commands: /join #room · /leave [#room] · /msg nick text · /nick newnick · "
  + "/who · /rooms · /register password · /help";

function command(text) {
  const [name, ...rest] = text.slice(1).split(/\s+/);
  const arg = rest.join(" ");
  switch (name.toLowerCase()) {
    case "join": case "j":
      join(arg);
      return;
    case "leave": case "part": {
      const room = arg || (current && !current.dm ? current.name : "");
      if (room) link.request({ type: "LEAVE", room, id: link.nextId("l") });
      else if (current && current.dm) drop(current);
      return;
    }
    case "msg": case "dm": case "query": {
      const [to, ...words] = rest;
      if (!to) break;
      const c = dmConv(to);
      show(c);
      if (words.length) post(c, words.join(" "));
      return;
    }
    case "nick":
      if (arg) link.request({ type: "NICK", nick: arg, id: link.nextId("n") });
      return;
    case "who":
      link.request({ type: "WHO", room: current && !current.dm ? current.name : undefined });
      return;
    case "rooms": case "list":
      link.request({ type: "ROOMS" });
      return;
    case "register":
      if (arg) {
        link.creds.pendingPassword = arg;
        link.request({ type: "REGISTER", nick: me(), password: arg, id: link.nextId("g") });
      }
      return;
    default:
      break;
  }
  systemLine(current, HELP);
}

function submit() {
  const input = $("input");
  const text = input.value.replace(/\s+$/, "");
  if (!text.trim() || !current) return;
  input.value = "";
  autosize();
  if (text.startsWith("/") && !text.startsWith("//")) command(text);
  else post(current, text.startsWith("//") ? text.slice(1) : text);
}

function autosize() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

// ---------------------------------------------------------------- login

function showLogin(error) {
  $("chat").hidden = true;
  $("login").hidden = false;
  const box = $("login-error");
  box.hidden = !error;
  box.textContent = error || "";
  for (const button of document.querySelectorAll("#login button")) button.disabled = false;
  $("nick").focus();
}

function showChat() {
  if (!$("chat").hidden) return;
  $("login").hidden = true;
  $("chat").hidden = false;
  $("input").focus();
}

function reset() {
  for (const c of convs.values()) c.log.remove();
  convs.clear();
  requests.clear();
  current = null;
  renderLists();
  renderMembers();
}

function startLogin(register) {
  const nick = $("nick").value.trim();
  const password = $("password").value;
  if (!nick) return showLogin("Enter a nickname.");
  if (register && password.length < 8) {
    return showLogin("To register, choose a password of at least 8 characters.");
  }
  localStorage.setItem("palaver.nick", nick);
  $("login-error").hidden = true;
  for (const button of document.querySelectorAll("#login button")) button.disabled = true;
  reset();
  link.start({ nick, password: password || null, register });
}

function setup() {
  $("nick").value = localStorage.getItem("palaver.nick") || "";
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    startLogin(false);
  });
  $("register").addEventListener("click", () => startLogin(true));
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  $("input").addEventListener("input", autosize);
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    join($("join-room").value);
    $("join-room").value = "";
  });
  $("browse").addEventListener("click", () => {
    const list = $("directory");
    if (!list.hidden) list.hidden = true;
    else link.request({ type: "ROOMS" });
  });
  $("logout").addEventListener("click", () => {
    link.stop();
    reset();
    showLogin();
  });
  $("retry").addEventListener("click", () => link.retryNow());
  $("toggle-rooms").addEventListener("click", () => toggleDrawer("rooms"));
  $("toggle-members").addEventListener("click", () => toggleDrawer("members"));
  $("scrim").addEventListener("click", closeDrawers);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDrawers();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && current && current.unread) show(current);
  });
  window.addEventListener("online", () => link.retryNow());
  $("nick").focus();
}

setup();
