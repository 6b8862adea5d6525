// palaver's web client: notification levels (docs/web.md, "Notification levels").
//
// How this works: each room and direct conversation has a level, the user's, kept by the server
// (NOTIFY -> NOTIFY_LEVEL, docs/protocol.md) and shared by all its sessions and doors: "all"
// (the default), "mentions" (mentions and direct messages) or "none". The server tells the
// levels that are not "all" after WELCOME, and every change since; this page keeps them in a
// map (conversation key -> level) and obeys them:
// - browser notifications (mentions.js asks notifies()): "all": every message from someone
//   else; "mentions": the messages that mention us, and every direct message; "none": nothing;
// - the unread badge: an unread message that would not notify is counted quietly (c.quiet): the
//   conversation's name gets a muted style but no number, and the total and the title leave it
//   out;
// - mention highlighting: none in a conversation set to "none" (the log's data-notify).
// A bell in the top bar opens a small menu of the three levels for the conversation shown;
// `/notify [all|mentions|none]` in the composer does the same (alone: it says the level). The
// level changes when the server's answer comes, never before.
import { fold } from "./link.js";

export const LEVELS = ["all", "mentions", "none"];
const LABELS = {
  all: "All messages",
  mentions: "Only mentions",
  none: "Nothing (muted)",
};
const HINTS = {
  all: "every new message may notify you",
  mentions: "only mentions and direct messages notify you",
  none: "nothing notifies you; unread messages are counted quietly",
};
const SVG = "http://www.w3.org/2000/svg";
const BELL = "M12 22a2.4 2.4 0 0 0 2.35-1.9h-4.7A2.4 2.4 0 0 0 12 22zm7-5.5V11a7 7 0 0 0-5.6-6.86"
  + "V3.4a1.4 1.4 0 0 0-2.8 0v.74A7 7 0 0 0 5 11v5.5l-1.8 1.8v.9h17.6v-.9z";

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function keyOf(msg) {
  return msg.room ? fold(msg.room) : "@" + fold(msg.with || "");
}

// send(message) sends a request (false: not sent); nextId(prefix) makes request ids; current()
// is the conversation shown; find(key) the conversation of a key, if the page has it;
// mentions(msg, c) whether a message mentions us; say(c, text, kind) writes a system line;
// changed() redraws the conversation lists.
export function createNotify({ send, nextId, current, find, mentions, say, changed }) {
  const sheet = node("link");
  sheet.rel = "stylesheet";
  sheet.href = "/notify.css";
  document.head.append(sheet);

  const levels = new Map(); // conversation key -> "mentions" | "none" (absent: "all")
  const asked = new Set(); // ids of our NOTIFY requests

  const wrap = node("span", "notify");
  const toggle = node("button", "icon");
  toggle.id = "toggle-notify";
  toggle.type = "button";
  toggle.setAttribute("aria-haspopup", "menu");
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", "notify-menu");
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("aria-hidden", "true");
  const bell = document.createElementNS(SVG, "path");
  bell.setAttribute("d", BELL);
  bell.setAttribute("fill", "currentColor");
  const slashes = ["slash-gap", "slash"].map((name) => { // "none": the bell struck through
    const line = document.createElementNS(SVG, "path");
    line.setAttribute("d", "M3.5 3.5l17 17");
    line.setAttribute("stroke-linecap", "round");
    line.setAttribute("fill", "none");
    line.classList.add(name);
    return line;
  });
  svg.append(bell, ...slashes);
  const at = node("span", "at", "@");
  at.setAttribute("aria-hidden", "true");
  toggle.append(svg, at);

  const menu = node("div", "notify-menu");
  menu.id = "notify-menu";
  menu.setAttribute("role", "menu");
  menu.hidden = true;
  const title = node("p", "notify-title");
  menu.append(title);
  const items = new Map();
  for (const level of LEVELS) {
    const item = node("button", "notify-item");
    item.type = "button";
    item.setAttribute("role", "menuitemradio");
    item.dataset.level = level;
    item.append(node("span", "notify-label", LABELS[level]), node("span", "notify-hint",
      HINTS[level]));
    item.addEventListener("click", () => {
      setOpen(false);
      choose(current(), level);
    });
    items.set(level, item);
    menu.append(item);
  }
  wrap.append(toggle, menu);
  const anchor = document.getElementById("toggle-search")
    || document.getElementById("toggle-members");
  anchor.parentNode.insertBefore(wrap, anchor);

  function level(c) {
    return (c && levels.get(c.key)) || "all";
  }

  function setOpen(open) {
    menu.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) (items.get(level(current())) || toggle).focus();
  }

  // The bell for the conversation shown: hidden for a room we left (the server refuses those).
  function render() {
    const c = current();
    wrap.hidden = !c || (!c.dm && !c.joined);
    if (wrap.hidden) setOpen(false);
    const now = level(c);
    wrap.dataset.level = now;
    const where = c ? (c.dm ? "@" + c.name : c.name) : "";
    toggle.setAttribute("aria-label", `Notifications: ${LABELS[now].toLowerCase()}`);
    toggle.title = `Notifications of ${where}: ${HINTS[now]}`;
    title.textContent = `Notify me in ${where} of`;
    for (const [name, item] of items) item.setAttribute("aria-checked", String(name === now));
  }

  function apply(c) {
    if (c) c.log.dataset.notify = level(c);
  }

  function choose(c, chosen) {
    if (!c || !LEVELS.includes(chosen)) return false;
    const id = nextId("nl");
    const message = { type: "NOTIFY", level: chosen, id };
    if (c.dm) message.with = c.name;
    else message.room = c.name;
    asked.add(id);
    return send(message) !== false;
  }

  toggle.addEventListener("click", () => setOpen(menu.hidden));
  document.addEventListener("pointerdown", (event) => {
    if (!menu.hidden && !wrap.contains(event.target)) setOpen(false);
  }, true);
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      setOpen(false);
      toggle.focus();
    }
  });

  render();

  return {
    level,
    // Whether a live message from someone else may notify (and counts in the badge).
    notifies(c, msg) {
      const now = level(c);
      if (now === "none") return false;
      return now === "all" || c.dm || mentions(msg, c);
    },
    // A live message counted unread: quietly when it would not notify.
    counted(c, msg) {
      if (!this.notifies(c, msg)) c.quiet = (c.quiet || 0) + 1;
    },
    // The number the conversation's badge shows (its unread messages that count).
    badge(c) {
      return Math.max(0, c.unread - (c.quiet || 0));
    },
    // A conversation's button in the side bar: its badge, or the muted style, and its level.
    mark(button, c) {
      const count = this.badge(c);
      if (count) {
        const badge = node("span", "badge", String(count));
        badge.setAttribute("aria-label", `${count} unread`);
        button.append(badge);
        button.classList.add("unread");
      } else if (c.unread) {
        button.classList.add("quiet-unread");
        button.title = button.title || `${c.unread} unread (notifications: ${level(c)})`;
      }
      const now = level(c);
      if (now !== "all") {
        button.dataset.notify = now;
        const sign = node("span", "notify-sign", now === "none" ? "muted" : "@");
        sign.title = HINTS[now];
        button.querySelector(".name").after(sign);
      }
    },
    // The conversation shown (its unread messages are read now).
    shown(c) {
      c.quiet = 0;
      apply(c);
      render();
    },
    // A NOTIFY_LEVEL: the level of one conversation, now.
    told(msg) {
      const key = keyOf(msg);
      if (!LEVELS.includes(msg.level) || msg.level === "all") levels.delete(key);
      else levels.set(key, msg.level);
      const c = find(key);
      apply(c);
      render();
      changed();
      if (msg.id && asked.delete(msg.id)) {
        const where = msg.room || "@" + msg.with;
        const label = (LABELS[msg.level] || LABELS.all).toLowerCase();
        say(c || current(), `Notifications of ${where}: ${label} (${HINTS[msg.level] || ""}).`);
      }
    },
    // A new WELCOME: the server tells every level that is not "all" again.
    welcomed() {
      levels.clear();
      render();
    },
    // `/notify [all|mentions|none]` for the conversation shown; false: the usage is shown.
    command(c, arg) {
      const word = arg.trim().toLowerCase();
      if (!c || (!c.dm && !c.joined)) return false;
      if (!word) {
        say(c, `Notifications of ${c.dm ? "@" + c.name : c.name}: `
          + `${LABELS[level(c)].toLowerCase()} (${HINTS[level(c)]}).`);
        return true;
      }
      return LEVELS.includes(word) && choose(c, word);
    },
  };
}
