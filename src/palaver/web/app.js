// palaver's web client: the page's behaviour. Text from the network is only ever put in the
// page with textContent, never parsed as HTML.
import { Link, conversationOf, fold, textProblem } from "./link.js";
import { createAccount } from "./account.js";
import { createDeletes } from "./deletes.js";
import { createEdits } from "./edits.js";
import { createFiles } from "./files.js";
import { createMembers } from "./members.js";
import { createMentions } from "./mentions.js";
import { createNotify } from "./notify.js";
import { createReactions } from "./reactions.js";
import { createReset } from "./reset.js";
import { createSearch } from "./search.js";
import { createTyping } from "./typing.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const GAP_PAGE = 200;
const NEAR_BOTTOM = 80; // px: closer than this to the end counts as "reading the newest"
const NEAR_TOP = 120; // px: scrolled this close to the top loads older messages

const convs = new Map(); // "#room" or "@peer" (folded) -> conversation
const requests = new Map(); // HISTORY request id -> {key, kind: "newest"|"older"|"gap", after}
const commands = new Map(); // room command / JOIN request id -> the room it was about
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
    members: new Map(), // folded nick -> nick (a big room: the pages loaded; members.js)
    count: null, membersNext: null, membersLoading: null, batchLine: null, // members.js
    operators: new Set(), // folded nicks of the members who are the room's operators
    topic: "", topicBy: null, inviteOnly: false, private: false,
    joined: !dm,
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
  reactions.shown(c);
  typing.shown(c); // "alice is typing…" of this conversation (typing.js)
  notify.shown(c); // its notification level: the bell, quiet unread messages (notify.js)
  c.log.hidden = false;
  if (c.unread) {
    placeDivider(c);
    c.unread = 0;
  }
  $("title").textContent = c.dm ? "@" + c.name : c.name;
  renderHeader();
  renderLists();
  renderMembers();
  if (!c.loaded) loadNewest(c);
  requestAnimationFrame(() => {
    if (c.divider) c.divider.scrollIntoView({ block: "center" });
    else c.log.scrollTop = c.log.scrollHeight;
  });
  closeDrawers();
}

// The top bar's topic and flags, and the composer's hint, for the current conversation.
function renderHeader() {
  const c = current;
  const topic = $("topic");
  const flags = $("room-flags");
  if (!c) {
    topic.hidden = flags.hidden = true;
    return;
  }
  topic.textContent = c.dm ? "" : c.topic;
  topic.title = c.topic && c.topicBy ? `Topic set by ${c.topicBy}` : "";
  topic.hidden = c.dm || !c.topic;
  const words = c.dm ? [] : c.joined ? [c.inviteOnly && "invite-only", c.private && "private"]
    : ["left"];
  flags.textContent = words.filter(Boolean).join(" · ");
  flags.hidden = !flags.textContent;
  $("input").placeholder = c.dm ? `Message @${c.name}`
    : c.joined ? `Message ${c.name}` : `You are not in ${c.name} (/join ${c.name} to go back)`;
}

// A room's rules as JOINED and ROOM_UPDATED carry them: the whole state each time.
function setRules(c, msg) {
  c.topic = msg.topic || "";
  c.topicBy = msg.topic_by || null;
  c.inviteOnly = !!msg.invite_only;
  c.private = !!msg.private;
  setOperators(c, msg.operators);
  if (c === current) renderHeader();
}

function setOperators(c, nicks) {
  c.operators = new Set((nicks || []).map(fold));
  deletes.allowed(c); // 🗑 on others' messages while we are an operator (deletes.js)
  if (c === current) renderMembers();
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
  if (c.byId.has(msg.msg_id)) {
    if (msg.deleted) deletes.deleted(c, msg); // a tombstone for one shown (deletes.js)
    return false;
  }
  const stick = nearBottom(c);
  const li = messageItem(msg, false);
  reactions.decorate(li, msg, c, false); // its quote, reactions and actions (reactions.js)
  edits.decorate(li, msg, c); // "(edited)", and an edit action on one's own (edits.js)
  files.decorate(li, msg); // its file: a link, an image's preview (files.js)
  mentions.decorate(li, msg, c); // "mention" when it names us (mentions.js)
  deletes.decorate(li, msg, c); // the 🗑 action, or a tombstone (deletes.js)
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
  if (live) {
    mentions.arrived(c, msg); // a notification when the tab is hidden (mentions.js)
    typing.messaged(c, msg.from);
  }
  if (live && !isMe(msg.from) && (c !== current || document.hidden)) {
    c.unread += 1;
    notify.counted(c, msg); // quietly, when its level would not notify (notify.js)
    renderLists();
  }
  if (c === current && (stick || isMe(msg.from)) && live) c.log.scrollTop = c.log.scrollHeight;
  return true;
}

function systemLine(c, text, kind = "sys") {
  if (!c) return null;
  const stick = nearBottom(c);
  const li = el("li", kind, text);
  c.list.append(li);
  if (c === current && stick) c.log.scrollTop = c.log.scrollHeight;
  return li;
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

function renderMembers() {
  const list = $("member-list");
  list.replaceChildren();
  const c = current;
  if (!c) return;
  const nicks = c.dm ? [me(), c.name] : [...c.members.values()];
  $("members-title").textContent = c.dm ? "Conversation"
    : c.joined ? members.title(c) : "Not in this room"; // "1,204 members" (members.js)
  const op = (nick) => !c.dm && c.operators.has(fold(nick));
  nicks.sort((a, b) => (op(b) - op(a)) || a.localeCompare(b, undefined, { sensitivity: "base" }));
  for (const nick of nicks) {
    const li = el("li");
    const button = el("button", "member");
    button.type = "button";
    button.dataset.nick = nick;
    if (op(nick)) {
      button.classList.add("op");
      const mark = el("span", "op-mark", "@");
      mark.title = "operator";
      mark.setAttribute("aria-hidden", "true");
      button.setAttribute("aria-label", `${nick} (operator)`);
      button.append(mark);
    }
    button.append(nick);
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
  const more = members.footer(c); // "Show more": a big room's next page (members.js)
  if (more) list.append(more);
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
  if (!c.dm && !c.joined) {
    button.classList.add("left");
    button.title = `You are not in ${c.name}`;
  }
  button.append(el("span", "name", c.dm ? "@" + c.name : c.name));
  notify.mark(button, c); // the unread badge (or a quiet mark) and the level (notify.js)
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
  const total = [...convs.values()].reduce((sum, c) => sum + notify.badge(c), 0);
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
  if (msg.id && msg.type !== "ERROR") commands.delete(msg.id); // a command that worked
  switch (msg.type) {
    case "WELCOME": {
      $("me-nick").textContent = msg.nick;
      $("me-kind").textContent = msg.account ? "account" : "guest";
      showChat();
      files.welcomed(); // a FILE_KEY for downloads (files.js)
      notify.welcomed(); // the levels come again, after WELCOME (notify.js)
      if (msg.motd && !convs.size) roomConv(msg.rooms[0] || "#lobby").motd = msg.motd;
      break;
    }
    case "JOINED": {
      const c = roomConv(msg.room);
      c.joined = true;
      setRules(c, msg);
      members.joined(c, msg); // the members, or a big room's first page (members.js)
      if (c.motd) {
        systemLine(c, c.motd, "motd");
        c.motd = null;
      }
      if (!current) show(c);
      else if (msg.id) show(c);
      if (c === current) {
        renderHeader();
        renderLists();
      }
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
    case "REACTED": { // a reaction added or taken back (reactions.js)
      const c = msg.room ? convs.get(fold(msg.room))
        : convs.get("@" + fold(isMe(msg.from) ? msg.to : msg.from));
      reactions.reacted(c, msg);
      break;
    }
    case "EDITED": { // a message's new text (edits.js)
      const c = msg.room ? convs.get(fold(msg.room))
        : convs.get("@" + fold(isMe(msg.from) ? msg.to : msg.from));
      edits.edited(c, msg);
      break;
    }
    case "DELETED": { // a message deleted: a tombstone (deletes.js)
      const c = msg.room ? convs.get(fold(msg.room))
        : convs.get("@" + fold(isMe(msg.from) ? msg.to : msg.from));
      deletes.deleted(c, msg);
      break;
    }
    case "EDIT_LIST":
      edits.listed(current, msg);
      break;
    case "GAP": {
      const c = msg.room ? roomConv(msg.room) : dmConv(msg.with);
      loadGap(c, msg.after, msg.before);
      break;
    }
    case "PRESENCE":
      onPresence(msg);
      break;
    case "MEMBERS_CHANGED": { // a big room's joins and leaves, a second's worth (members.js)
      const c = convs.get(fold(msg.room));
      if (c && !c.dm && c.joined) members.batch(c, msg);
      break;
    }
    case "USERS":
      if (msg.room) {
        const c = convs.get(fold(msg.room));
        if (c) {
          members.users(c, msg); // the list, or a page of it (members.js)
          setOperators(c, [...c.operators]);
        }
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
    case "PASSWORD_CHANGED": case "ACCOUNT_DELETED": // account.js
      account.event(msg);
      break;
    case "BYE":
      if (account.event(msg)) break; // the account deleted, locked or its password changed
      if (msg.id && msg.id === link.quitId) systemLine(current, "You left the chat.");
      else if (msg.reason) systemLine(current, `Disconnected: ${msg.reason}`);
      break;
    case "ROOM_UPDATED":
      onRoomUpdated(msg);
      break;
    case "INVITED":
      onInvited(msg);
      break;
    case "SEARCH_RESULTS":
      search.results(msg);
      break;
    case "UPLOAD_READY": // send the file's bytes (files.js)
      files.ready(msg);
      break;
    case "FILE_KEY":
      files.keyed(msg);
      break;
    case "NOTIFY_LEVEL": // a conversation's notification level (notify.js)
      notify.told(msg);
      break;
    case "TAGMSG": { // typing notifications (typing.js)
      const c = msg.room ? convs.get(fold(msg.room))
        : convs.get("@" + fold(isMe(msg.from) ? msg.to : msg.from));
      typing.tagged(c || null, msg);
      break;
    }
    case "ERROR":
      if (!search.error(msg) && !files.refused(msg) && !account.error(msg) && !typing.error(msg)
        && !deletes.error(msg) && !members.error(msg)) onError(msg);
      break;
    default:
      break;
  }
}

// "bob", or "you" when it is about this user.
function who(nick) {
  return isMe(nick) ? "you" : nick;
}

// "you …" and "the server …" start a line with a capital; a nick is shown as it is spelled.
function capital(text) {
  return /^(you|the) /.test(text) ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

function onRoomUpdated(msg) {
  const known = convs.get(fold(msg.room));
  const c = known && known.joined ? known : null;
  if (c) setRules(c, msg);
  const by = msg.by ? who(msg.by) : null;
  const nick = msg.nick ? who(msg.nick) : "";
  const room = msg.room;
  let text;
  switch (msg.change) {
    case "topic":
      text = msg.topic ? `${by || "the server"} set the topic: ${msg.topic}`
        : `${by || "the server"} cleared the topic`;
      break;
    case "op":
      text = by ? `${by} made ${nick} an operator` : `${nick} ${isMe(msg.nick) ? "are" : "is"} an operator`;
      break;
    case "deop":
      text = `${by || "the server"} took operator status from ${nick}`;
      break;
    case "ban":
      text = `${by || "the server"} banned ${nick}`;
      break;
    case "unban":
      text = `${by || "the server"} lifted the ban on ${nick}`;
      break;
    case "invite_only":
      text = msg.invite_only ? `${by || "the server"} made the room invite-only`
        : `${by || "the server"} opened the room to everyone`;
      break;
    case "private":
      text = msg.private ? `${by || "the server"} made the room private (unlisted)`
        : `${by || "the server"} made the room listed`;
      break;
    default: { // "state": the answer to a MODE that changed nothing
      const flags = [msg.invite_only && "invite-only", msg.private && "private"].filter(Boolean);
      const ops = (msg.operators || []).join(", ") || "none here";
      text = `${room} is ${flags.join(", ") || "open"}; operators: ${ops}`;
      break;
    }
  }
  if (!c) text = `${room}: ${text}`; // e.g. a server operator acting from outside the room
  systemLine(c || current, capital(text));
}

function onInvited(msg) {
  const known = convs.get(fold(msg.room));
  if (!isMe(msg.nick)) { // the answer to our INVITE
    systemLine(known && known.joined ? known : current, `You invited ${msg.nick} to ${msg.room}`);
    return;
  }
  const c = current || known;
  const li = systemLine(c, `${msg.by} invited you to ${msg.room}`, "sys invite");
  if (!li) return;
  const button = el("button", "small join-invite", `Join ${msg.room}`);
  button.type = "button";
  button.dataset.room = msg.room;
  button.addEventListener("click", () => {
    button.disabled = true;
    join(msg.room);
  });
  li.append(button);
  if (c !== current || document.hidden) {
    c.unread += 1;
    renderLists();
  }
}

// Out of a room without LEFT: kicked, or banned (PRESENCE kick about oneself). The
// conversation stays, marked left, with its messages; it is not rejoined on reconnect.
function kickedOut(c, msg) {
  c.joined = false;
  c.loaded = false; // a later JOIN fetches what was said meanwhile
  c.members.clear();
  c.operators.clear();
  members.forget(c);
  const reason = msg.reason && fold(msg.reason) !== fold(msg.by || "") ? msg.reason : "";
  const text = reason === "banned"
    ? `You were banned from ${c.name} by ${msg.by || "the server"}. You are no longer in the room.`
    : `You were kicked from ${c.name} by ${msg.by || "the server"}${reason ? ` (${reason})` : ""}. `
      + `You are no longer in the room: /join ${c.name} to go back.`;
  systemLine(c, text, "kicked");
  if (c !== current) {
    c.unread += 1;
    systemLine(current, text, "kicked");
  }
  renderLists();
  if (c === current) {
    renderHeader();
    renderMembers();
  }
}

function onPresence(msg) {
  const { nick, event } = msg;
  if (event === "kick") {
    const c = convs.get(fold(msg.room || ""));
    if (!c || c.dm) return;
    if (isMe(nick)) {
      kickedOut(c, msg);
      return;
    }
    c.members.delete(fold(nick));
    c.operators.delete(fold(nick));
    members.counted(c, -1);
    const reason = msg.reason && fold(msg.reason) !== fold(msg.by || "") ? ` (${msg.reason})` : "";
    systemLine(c, `${nick} was kicked by ${msg.by ? who(msg.by) : "the server"}${reason}`);
    if (c === current) renderMembers();
    return;
  }
  if (event === "join" || event === "leave") {
    const c = convs.get(fold(msg.room || ""));
    if (!c) return;
    if (event === "join") {
      if (!c.members.has(fold(nick))) members.counted(c, 1);
      c.members.set(fold(nick), nick);
    } else {
      c.members.delete(fold(nick));
      c.operators.delete(fold(nick));
      members.counted(c, -1);
    }
    systemLine(c, event === "join" ? `${nick} joined` : `${nick} left${msg.reason ? ` (${msg.reason})` : ""}`);
    if (c === current) renderMembers();
    return;
  }
  for (const c of convs.values()) {
    if (!c.members.has(fold(nick))) continue;
    c.members.delete(fold(nick));
    const op = c.operators.delete(fold(nick));
    if (event === "nick" && msg.new_nick) {
      c.members.set(fold(msg.new_nick), msg.new_nick);
      if (op) c.operators.add(fold(msg.new_nick));
      systemLine(c, `${nick} is now ${msg.new_nick}`);
    } else if (event === "quit") {
      members.counted(c, -1);
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

// What an ERROR about a room command or a JOIN means, in words; else the server's text.
const ERROR_TEXT = {
  not_operator: (room) => `Only ${room ? `${room}'s` : "the room's"} operators may do that.`,
  banned: (room) => `You are banned from ${room || "that room"}.`,
  invite_only: (room) => `${room || "That room"} is invite-only: ask an operator for an invitation.`,
  not_in_room: (room) => `You are not in ${room || "that room"}.`,
};

function onError(msg) {
  const room = commands.get(msg.id);
  if (room !== undefined) {
    commands.delete(msg.id);
    const c = convs.get(fold(room));
    const text = ERROR_TEXT[msg.code] ? ERROR_TEXT[msg.code](room) : msg.message;
    systemLine(c && c.joined ? c : current, `${text} (${msg.code})`, "error");
    return;
  }
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
  if (state === "closed") { // after /quit: for good
    document.body.classList.add("offline");
    bar.hidden = false;
    retry.hidden = true;
    $("status-text").textContent = "Disconnected: you left the chat. Log out to join again.";
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

// Send a request the user asked for, unless it is too large (then say so); whether it was sent.
function send(message) {
  const problem = link.problem(message);
  if (problem) {
    systemLine(current, problem, "error");
    return false;
  }
  return link.request(message);
}

function join(room) {
  let name = room.trim();
  if (!name) return;
  if (!name.startsWith("#")) name = "#" + name;
  const existing = convs.get(fold(name));
  if (existing && existing.joined) {
    show(existing);
    return;
  }
  const id = link.nextId("j");
  if (send({ type: "JOIN", room: name, id })) commands.set(id, name);
}

// A room command (TOPIC, OP, …): errors come back naming the room.
function roomCommand(message) {
  message.id = link.nextId("c");
  if (send(message)) commands.set(message.id, message.room);
  else if (!link.problem(message)) {
    systemLine(current, "Not connected: try again when the connection is back.", "error");
  }
}

function currentRoom() {
  return current && !current.dm ? current.name : null;
}

// An optional leading #room (else the current room), then the other words.
function roomAndRest(words) {
  if (words.length && words[0].startsWith("#")) return [words[0], words.slice(1)];
  return [currentRoom(), words];
}

const MAKERS = {
  op: (room, nick) => ({ type: "OP", room, nick }),
  deop: (room, nick) => ({ type: "DEOP", room, nick }),
  ban: (room, nick) => ({ type: "BAN", room, nick }),
  unban: (room, nick) => ({ type: "UNBAN", room, nick }),
  invite: (room, nick) => ({ type: "INVITE", room, nick }),
};

// The moderation commands, as the text door reads them (src/palaver/client/commands.py).
function moderation(name, rest, arg) {
  const usage = (text) => systemLine(current, `usage: ${text}`, "error");
  if (name === "topic") {
    const [room] = roomAndRest(rest);
    let text = arg.trim();
    if (text.startsWith("#")) text = text.replace(/^\S+\s*/, "").trim();
    if (!room || !text) return usage("/topic [#room] text (/topic - clears it)");
    roomCommand({ type: "TOPIC", room, topic: text === "-" ? "" : text });
    return;
  }
  if (name === "kick") {
    const [room, words] = roomAndRest(rest);
    if (!room || !words.length) return usage("/kick [#room] nick [reason]");
    const message = { type: "KICK", room, nick: words[0] };
    if (words.length > 1) message.reason = words.slice(1).join(" ");
    roomCommand(message);
    return;
  }
  if (name === "mode") {
    const [room, words] = roomAndRest(rest);
    const message = { type: "MODE", room };
    for (const word of words) {
      let adding = true;
      for (const char of word) {
        if (char === "+" || char === "-") adding = char === "+";
        else if (char === "i") message.invite_only = adding;
        else if (char === "s") message.private = adding;
        else return usage("/mode [#room] [+i|-i] [+s|-s] (invite-only, private)");
      }
    }
    if (!room) return usage("/mode [#room] [+i|-i] [+s|-s] (invite-only, private)");
    roomCommand(message);
    return;
  }
  let [room, words] = roomAndRest(rest);
  if (words.length === 2 && words[1].startsWith("#") && room === currentRoom()) {
    [room, words] = [words[1], words.slice(0, 1)]; // /invite bob #room
  }
  if (!room || words.length !== 1) return usage(`/${name} [#room] nick`);
  roomCommand(MAKERS[name](room, words[0]));
}

// A CHAT or DM, checked first as the server would (docs/web.md); whether it went out.
function post(c, text) {
  if (link.stopped) {
    systemLine(c, "You left the chat: log out, then join again to send messages.", "error");
    return false;
  }
  const refused = textProblem(text);
  if (refused) {
    systemLine(c, refused, "error");
    return false;
  }
  const message = c.dm ? { type: "DM", to: c.name, text } : { type: "CHAT", room: c.name, text };
  const replyTo = reactions.takeReply(c); // the message this one answers, if any
  if (replyTo !== null) message.reply_to = replyTo;
  const id = link.post(message);
  if (id === null) {
    systemLine(c, link.problem(message), "error");
    return false;
  }
  const li = messageItem({ from: me(), text }, true);
  if (replyTo !== null) reactions.decorate(li, { reply_to: replyTo }, c, true);
  c.pendingEls.set(id, li);
  c.list.append(li);
  c.log.scrollTop = c.log.scrollHeight;
  return true;
}

const HELP = "Commands: /join #room · /leave [#room] · /msg nick text · /nick newnick · "
  + "/who · /rooms · /search [#room|@nick] words · /notify [all|mentions|none] · "
  + "/edit ID text (your message; ✎ on it) · "
  + "/delete ID [reason] (yours; a room operator: any; 🗑 on it) · "
  + "/register password · /password OLD NEW · /deleteaccount PASSWORD · /quit [reason] · "
  + "/help. The server's: /time · /joke · "
  + "/echo text · /sum 1 2 3. //text says a text that starts with /. "
  + "Room operators ([#room] is optional): "
  + "/topic text (/topic - clears it) · /op nick · /deop nick · /kick nick [reason] · "
  + "/ban nick · /unban nick · /invite nick · /mode [+i|-i] [+s|-s] (invite-only, private)";

// A server command (COMMAND): its RESULT, or its ERROR, comes back as a line.
function serverCommand(name, args = []) {
  const message = { type: "COMMAND", name, args, id: link.nextId("x") };
  if (send(message) || link.problem(message)) return true;
  systemLine(current, "Not connected: try again when the connection is back.", "error");
  return false;
}

// A line starting with "/" (not "//"); false keeps it in the composer (to be fixed).
function command(text) {
  const [name, ...rest] = text.slice(1).split(/\s+/);
  const arg = rest.join(" ");
  const raw = /^\/\S*(?:\s([\s\S]*))?$/.exec(text)[1] || ""; // as typed, after one space
  const usage = (line) => {
    systemLine(current, `usage: ${line}`, "error");
    return false;
  };
  switch (name.toLowerCase()) {
    case "time": case "joke":
      return arg ? usage(`/${name.toLowerCase()}`) : serverCommand(name.toLowerCase());
    case "echo":
      return raw ? serverCommand("echo", [raw]) : usage("/echo text");
    case "sum": // the words as strings: the server reads them, big integers exactly
      return serverCommand("sum", rest.filter(Boolean));
    case "quit":
      link.quit(arg || undefined);
      return true;
    case "help":
      systemLine(current, HELP);
      return true;
    case "join": case "j":
      join(arg);
      return;
    case "leave": case "part": {
      const room = arg || (current && !current.dm ? current.name : "");
      const c = room ? convs.get(fold(room)) : current;
      if (c && (c.dm || !c.joined)) drop(c); // nothing to tell the server
      else if (room) send({ type: "LEAVE", room, id: link.nextId("l") });
      return;
    }
    case "topic": case "op": case "deop": case "kick": case "ban": case "unban": case "invite":
    case "mode":
      moderation(name.toLowerCase(), rest.filter(Boolean), text.slice(1).replace(/^\S+\s*/, ""));
      return;
    case "msg": case "dm": case "query": {
      const [to, ...words] = rest;
      if (!to) return usage("/msg nick text");
      const c = dmConv(to);
      show(c);
      return words.length ? post(c, words.join(" ")) : true; // refused: kept in the composer
    }
    case "nick":
      if (arg) send({ type: "NICK", nick: arg, id: link.nextId("n") });
      return;
    case "who":
      link.request({ type: "WHO", room: current && !current.dm ? current.name : undefined });
      return;
    case "rooms": case "list":
      link.request({ type: "ROOMS" });
      return;
    case "edit": case "edits":
      return edits.command(current, name.toLowerCase(), raw)
        || usage(name.toLowerCase() === "edit" ? "/edit ID text" : "/edits ID");
    case "delete": // deletes.js
      return deletes.command(current, raw) || usage("/delete ID [reason]");
    case "notify": // notify.js
      return notify.command(current, arg) || usage("/notify [all|mentions|none]");
    case "search": case "find":
      return search.command(arg) || usage("/search [#room|@nick] words (3+ letters each)");
    case "password": case "deleteaccount": // account.js
      return account.command(name.toLowerCase(), rest.filter(Boolean))
        || usage(name.toLowerCase() === "password" ? "/password OLD NEW (passwords without spaces)"
          : "/deleteaccount PASSWORD");
    case "register":
      if (arg && [...arg].length < 8) {
        systemLine(current, "A password is at least 8 characters.", "error");
        return false;
      }
      if (arg) {
        link.creds.pendingPassword = arg;
        send({ type: "REGISTER", nick: me(), password: arg, id: link.nextId("g") });
      }
      return;
    default:
      break;
  }
  systemLine(current, `unknown command: /${name} (/help lists them; //${name} says it as text)`,
    "error");
  return false;
}

function submit() {
  const input = $("input");
  if (!input.value || !current) return;
  const text = input.value.replace(/\s+$/, "");
  let done = true; // a refused message stays in the composer, to be shortened or fixed
  if (!text.trim()) systemLine(current, textProblem(text), "error"); // only spaces
  else if (text.startsWith("/") && !text.startsWith("//")) done = command(text) !== false;
  else if (!current.dm && !current.joined) {
    systemLine(current, `You are not in ${current.name}: /join ${current.name} to go back, `
      + "/leave to close it.", "error");
  } else done = post(current, text.startsWith("//") ? text.slice(1) : text);
  if (done) {
    input.value = "";
    autosize();
    typing.sent(); // "done" to the others (typing.js)
  }
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
  commands.clear();
  current = null;
  renderLists();
  renderMembers();
}

function startLogin(register) {
  const nick = $("nick").value.trim();
  const password = $("password").value;
  if (!nick) return showLogin("Enter a nickname.");
  if (register && [...password].length < 8) { // characters, as the server counts them
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

// Search (search.js): a hit shows its conversation, and the message when it is loaded.
const search = createSearch({
  request: (message) => send(message),
  nextId: (prefix) => link.nextId(prefix),
  formatTime,
  open(hit) {
    const c = hit.room ? roomConv(hit.room) : dmConv(hit.with);
    show(c);
    requestAnimationFrame(() => {
      const li = c.byId.get(hit.msg_id);
      if (!li) return;
      li.scrollIntoView({ block: "center" });
      li.classList.add("found");
      setTimeout(() => li.classList.remove("found"), 2000);
    });
  },
});

// Edits (edits.js): "(edited)", the ✎ action on one's own messages, /edit and /edits.
const edits = createEdits({
  send: (message) => send(message),
  nextId: (prefix) => link.nextId(prefix),
  isMe,
  find: (c, msgId) => c.byId.get(msgId),
  input: $("input"),
  say: (c, text) => systemLine(c, text),
  formatTime,
});

// Files (files.js): the attach button, drops, uploads with progress, links and previews.
const files = createFiles({
  send: (message) => send(message),
  nextId: (prefix) => link.nextId(prefix),
  current: () => current,
  composer: $("composer"),
  say: (c, text, kind) => systemLine(c, text, kind),
});

// The account (account.js): change the password, delete the account; then the login screen.
const account = createAccount({
  send: (message) => send(message),
  nextId: (prefix) => link.nextId(prefix),
  say: (text, kind) => systemLine(current, text, kind),
  me,
  changed(password) { // a reconnect logs in with the new password
    if (link.creds) link.creds.password = password;
  },
  deleted(text) { // no reconnect: the login screen, saying why
    if ($("chat").hidden) return;
    link.stop();
    reset();
    $("password").value = "";
    showLogin(text);
  },
});

// Replies and reactions (reactions.js): quotes, reaction bars, the reply banner.
const reactions = createReactions({
  send: (message) => send(message),
  nextId: (prefix) => link.nextId(prefix),
  isMe,
  me,
  find: (c, msgId) => c.byId.get(msgId),
  composer: $("composer"),
  input: $("input"),
});

// Deleting (deletes.js): the 🗑 action and its confirm step, /delete, tombstones.
const deletes = createDeletes({
  send: (message) => send(message),
  nextId: (prefix) => link.nextId(prefix),
  isMe,
  isOperator: (c) => c.operators.has(fold(me())),
  find: (c, msgId) => c.byId.get(msgId),
  say: (c, text, kind) => systemLine(c, text, kind),
});

// A reset token (reset.js): the login screen's "Have a reset token?" panel.
createReset({
  url: "/ws",
  nextId: (prefix) => link.nextId(prefix),
  nick: () => $("nick").value.trim(),
  loginWith(nick, password) {
    $("nick").value = nick;
    $("password").value = password;
    $("login-error").hidden = true;
    $("join").focus();
  },
});

// Mentions (mentions.js): the "mention" highlight, browser notifications when hidden.
const mentions = createMentions({
  me,
  isMe,
  isOperator: (c, nick) => c.operators.has(fold(nick)),
  open: (c) => show(c),
  notifies: (c, msg) => notify.notifies(c, msg), // by the conversation's level (notify.js)
});

// Notification levels (notify.js): the bell's menu, /notify; what notifies and what counts.
const notify = createNotify({
  send: (message) => send(message),
  nextId: (prefix) => link.nextId(prefix),
  current: () => current,
  find: (key) => convs.get(key),
  mentions: (msg, c) => mentions.mentions(msg, c),
  say: (c, text, kind) => systemLine(c, text, kind),
  changed: () => renderLists(),
});

// Big rooms (members.js): member pages ("Show more"), MEMBERS_CHANGED and its quiet line.
const members = createMembers({
  send: (message) => link.request(message),
  nextId: (prefix) => link.nextId(prefix),
  fold,
  isMe,
  systemLine,
  changed: (c) => {
    if (c === current) renderMembers();
  },
  current: () => current,
  panel: $("members"),
});

// Typing (typing.js): "alice is typing…", and telling others, unless switched off.
const typing = createTyping({
  send: (message) => link.request(message),
  nextId: (prefix) => link.nextId(prefix),
  isMe,
  current: () => current,
  input: $("input"),
  composer: $("composer"),
  footer: document.querySelector(".me"),
});

setup();
