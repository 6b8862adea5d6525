// palaver's web client: mentions and browser notifications (docs/web.md, "Mentions").
//
// A stored message mentions you when its text holds your nick as a whole word (any letter
// case: not next to a letter, digit or another character a nick may hold), or @room / @here
// and its sender is one of the room's operators as this page knows them now (the rule is the
// client's: the server does not mark mentions). Such a message gets the class "mention".
// When the tab is hidden (document.hidden), a live message from someone else that its
// conversation's notification level lets notify (notify.js: by default every one; "mentions":
// mentions and direct messages) shows a browser notification (Notification API); permission is
// asked on the first click or key press, never on load. Clicking the notification brings back the tab and the conversation.

const NICK_CHAR = "[\\p{L}\\p{N}_\\-\\[\\]\\\\^{}|`]";
const EVERYONE = new RegExp(`(?<!${NICK_CHAR})@(?:room|here)(?!${NICK_CHAR})`, "iu");
const BODY = 200; // characters of the text a notification shows

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Whether `text` holds the nick `nick` as a whole word, ignoring case.
export function namesNick(text, nick) {
  if (!nick || !text) return false;
  return new RegExp(`(?<!${NICK_CHAR})${escape(nick)}(?!${NICK_CHAR})`, "iu").test(text);
}

// me() is our nick; isMe(nick) says whether a nick is ours; isOperator(c, nick) whether nick is
// an operator of room c; open(c) shows conversation c; notifies(c, msg), when given, whether a
// live message of c may notify (its notification level, notify.js) — else mentions and direct
// messages do.
export function createMentions({ me, isMe, isOperator, open, notifies }) {
  const sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = "/mentions.css";
  document.head.append(sheet);

  const supported = "Notification" in window;
  function ask() {
    document.removeEventListener("pointerdown", ask, true);
    document.removeEventListener("keydown", ask, true);
    if (supported && Notification.permission === "default") {
      Promise.resolve(Notification.requestPermission()).catch(() => {});
    }
  }
  document.addEventListener("pointerdown", ask, true);
  document.addEventListener("keydown", ask, true);

  function mentions(msg, c) {
    if (!msg.text || msg.deleted || isMe(msg.from)) return false;
    if (namesNick(msg.text, me())) return true;
    return !!c && !c.dm && isOperator(c, msg.from) && EVERYONE.test(msg.text);
  }

  // A message's <li>: marked when it mentions us.
  function decorate(li, msg, c) {
    if (mentions(msg, c)) li.classList.add("mention");
  }

  // A live stored message: a notification if its level lets it and the tab is hidden.
  function arrived(c, msg) {
    if (!supported || !document.hidden || isMe(msg.from) || msg.deleted) return;
    if (notifies ? !notifies(c, msg) : !c.dm && !mentions(msg, c)) return;
    if (Notification.permission !== "granted") return;
    const title = c.dm ? `${msg.from} (direct message)` : `${msg.from} in ${c.name}`;
    const text = [...(msg.text || "")];
    const body = text.length > BODY ? `${text.slice(0, BODY).join("")}…` : text.join("");
    try {
      const note = new Notification(title, { body, tag: `palaver:${c.key}` });
      note.onclick = () => {
        window.focus();
        open(c);
        note.close();
      };
    } catch {
      // e.g. a browser that only notifies from a service worker: the highlight stays
    }
  }

  return { decorate, arrived, mentions };
}
