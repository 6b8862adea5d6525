// palaver's web client: deleting messages (docs/protocol.md: DELETE, DELETED, MESSAGE's
// deleted).
//
// How this works: createDeletes() gives each stored message (decorate) a delete action (🗑)
// beside the reply, react and edit ones. One's own messages show it always; others' only while
// we are an operator of the room, which the page learns from JOINED, ROOM_UPDATED and USERS:
// allowed(c) marks the conversation's log ("ops-delete") and CSS shows or hides the action, so
// becoming (or ceasing to be) an operator needs no walk over the messages. Clicking 🗑 opens a
// confirm row under the message (for someone else's message, with an optional reason): Delete
// sends DELETE, Cancel closes it. `/delete ID [reason]` typed in the composer sends it at once
// (typing the id is the confirmation). DELETED (live, or a replay) turns a loaded message into a
// tombstone: its text, file, reactions, quote and actions go, and "Message deleted by bob
// (reason)" takes their place; a MESSAGE with `deleted: true` (HISTORY_PAGE, resume) is shown as
// a tombstone from the start ("Message deleted": history does not say by whom). Replies quoting
// it say "(message deleted)". Refusals (not_operator, no_such_message, …) are error lines in the
// conversation the request was about. Text from the network goes in with textContent only.

const MAX_REASON = 200; // characters: hub/deletion.py MAX_DELETE_REASON

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

// The 🗑 drawn as an SVG (U+1F5D1 needs an emoji font, which not every system has).
const SVG = "http://www.w3.org/2000/svg";
function binIcon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "15");
  svg.setAttribute("height", "15");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M4 7h16M10 3h4M6 7l1 13h10l1-13M10 11v6M14 11v6");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

// send(message): whether it went out; isMe(nick): whether a nick is ours; isOperator(c):
// whether we are an operator of room c now; find(c, msgId): the <li> of a loaded message;
// say(c, text, kind): a system line in conversation c.
export function createDeletes({ send, nextId, isMe, isOperator, find, say }) {
  const sheet = node("link");
  sheet.rel = "stylesheet";
  sheet.href = "/deletes.css";
  document.head.append(sheet);

  const asked = new Map(); // DELETE request id -> conversation

  function target(c, message) {
    if (c.dm) message.with = c.name;
    else message.room = c.name;
    return message;
  }

  // Send DELETE for message msgId of conversation c; a problem in words, or null.
  function request(c, msgId, reason) {
    if (reason && [...reason].length > MAX_REASON) {
      return `A reason is at most ${MAX_REASON} characters.`;
    }
    const message = target(c, { type: "DELETE", msg_id: msgId, id: nextId("d") });
    if (reason) message.reason = reason;
    if (!send(message)) return "Not connected: try again when the connection is back.";
    asked.set(message.id, c);
    return null;
  }

  // The confirm row under a message: "Delete this message?" [reason] Delete / Cancel.
  function confirmRow(li, c, msg) {
    const open = li.querySelector(":scope > .delete-confirm");
    if (open) {
      open.remove();
      return;
    }
    const row = node("div", "delete-confirm");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", "Delete this message");
    const own = isMe(msg.from);
    row.append(node("span", "question", own ? "Delete your message?"
      : `Delete ${msg.from}'s message?`));
    let reason = null;
    if (!own) {
      reason = node("input", "delete-reason");
      reason.type = "text";
      reason.maxLength = MAX_REASON * 2; // UTF-16 units; the characters are checked on sending
      reason.placeholder = "Reason (optional)";
      reason.setAttribute("aria-label", "Reason (optional)");
      row.append(reason);
    }
    const yes = node("button", "small danger delete-yes", "Delete");
    yes.type = "button";
    const no = node("button", "small delete-no", "Cancel");
    no.type = "button";
    row.append(yes, no);
    yes.addEventListener("click", () => {
      const problem = request(c, msg.msg_id, reason ? reason.value.trim() : "");
      if (problem) say(c, problem, "error");
      else row.remove();
    });
    no.addEventListener("click", () => row.remove());
    row.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        row.remove();
      } else if (event.key === "Enter" && event.target === reason) {
        event.preventDefault();
        yes.click();
      }
    });
    li.append(row);
    (reason || yes).focus();
  }

  // Message li (msg_id msgId) becomes a tombstone; by and reason when a DELETED said them.
  function tombstone(li, c, msgId, by, reason) {
    for (const child of li.querySelectorAll(":scope > :not(.from):not(.time)")) child.remove();
    li.reactionMap = null; // REACTED no longer applies (reactions.js)
    li.classList.add("deleted");
    li.classList.remove("mention");
    let words = "Message deleted";
    if (by) words += ` by ${isMe(by) ? "you" : by}`;
    if (reason) words += ` (${reason})`;
    li.append(node("span", "tombstone", words));
    for (const quote of c.list.querySelectorAll(`.quote[data-reply-to="${msgId}"]`)) {
      quote.textContent = quote.textContent.replace(/^(↪ [^:]*: )[\s\S]*$/, "$1(message deleted)");
    }
  }

  // A stored message: a tombstone if it is one; else the 🗑 action (shown per the CSS).
  function decorate(li, msg, c) {
    if (msg.msg_id === undefined || !c) return;
    if (msg.deleted) {
      tombstone(li, c, msg.msg_id, null, null);
      return;
    }
    let actions = li.querySelector(":scope > .msg-actions");
    if (!actions) {
      actions = node("span", "msg-actions");
      li.append(actions);
    }
    const button = node("button", isMe(msg.from) ? "act delete own" : "act delete");
    button.type = "button";
    button.append(binIcon());
    button.title = "Delete";
    button.setAttribute("aria-label", "Delete");
    button.addEventListener("click", () => confirmRow(li, c, msg));
    actions.append(button);
  }

  // Whether we may delete anyone's message of conversation c (a room we are an operator of).
  function allowed(c) {
    c.log.classList.toggle("ops-delete", !c.dm && isOperator(c));
  }

  // DELETED (to c), or a MESSAGE with deleted for a message already shown.
  function deleted(c, msg) {
    const li = c && find(c, msg.msg_id);
    if (!li) return;
    if (msg.id) asked.delete(msg.id);
    if (li.classList.contains("deleted") && !msg.by) return; // a tombstone already
    tombstone(li, c, msg.msg_id, msg.by || null, msg.reason || null);
  }

  // "/delete 42 [reason]" typed in conversation c; false: not understood.
  function command(c, raw) {
    if (!c) return false;
    const parts = /^\s*([0-9]{1,18})(?:\s+([\s\S]*\S))?\s*$/.exec(raw);
    if (!parts) return false;
    const problem = request(c, Number(parts[1]), parts[2] || "");
    if (problem) say(c, problem, "error");
    return true;
  }

  // An ERROR answering one of our DELETEs: a line in its conversation; true when handled.
  function error(msg) {
    const c = msg.id ? asked.get(msg.id) : undefined;
    if (!c) return false;
    asked.delete(msg.id);
    say(c, `Not deleted: ${msg.message} (${msg.code})`, "error");
    return true;
  }

  return { decorate, allowed, deleted, command, error };
}
