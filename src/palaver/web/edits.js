// palaver's web client: editing one's own messages (docs/protocol.md: EDIT, EDITED, EDITS,
// EDIT_LIST, MESSAGE's edited_at).
//
// How this works: createEdits() gives each stored message (decorate) an "(edited)" mark when it
// has an edited_at, and one's own messages an edit action (✎) beside the reply and react ones:
// it puts "/edit <msg_id> <the text>" in the composer, to be changed and sent with Enter (the
// same command can be typed: /edit 42 new text; /edits 42 lists a message's texts, for its
// sender and the room's operators). EDITED replaces the text of a loaded message and marks it.
// Text from the network goes in with textContent only.

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

// send(message) sends a frame; isMe(nick) says whether a nick is ours; find(c, msgId) is the
// <li> of a loaded message; input: the composer's text box; say(c, text, kind): a system line;
// formatTime(ts): a message time as shown.
export function createEdits({ send, nextId, isMe, find, input, say, formatTime }) {
  const sheet = node("link");
  sheet.rel = "stylesheet";
  sheet.href = "/edits.css";
  document.head.append(sheet);

  function mark(li, editedAt) {
    let edited = li.querySelector(":scope > .edited");
    if (!edited) {
      edited = node("span", "edited", "(edited)");
      const text = li.querySelector(":scope > .text");
      if (text) text.after(edited);
      else li.append(edited);
    }
    edited.title = `edited ${formatTime(editedAt)}`;
  }

  function startEdit(li, msg) {
    const text = li.querySelector(":scope > .text");
    input.value = `/edit ${msg.msg_id} ${text ? text.textContent : msg.text}`;
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  // A stored message: its "(edited)" mark, and the edit action on one's own.
  function decorate(li, msg, c) {
    if (msg.deleted || msg.msg_id === undefined || !c) return;
    if (msg.edited_at) mark(li, msg.edited_at);
    if (!isMe(msg.from)) return;
    let actions = li.querySelector(":scope > .msg-actions");
    if (!actions) {
      actions = node("span", "msg-actions");
      li.append(actions);
    }
    const edit = node("button", "act edit", "✎");
    edit.type = "button";
    edit.title = "Edit";
    edit.setAttribute("aria-label", "Edit");
    edit.addEventListener("click", () => startEdit(li, msg));
    actions.prepend(edit);
  }

  // EDITED: a loaded message's new text.
  function edited(c, msg) {
    const li = c && find(c, msg.msg_id);
    if (!li) return;
    const text = li.querySelector(":scope > .text");
    if (text) text.textContent = msg.text;
    mark(li, msg.edited_at);
  }

  function target(c, message) {
    if (c.dm) message.with = c.name;
    else message.room = c.name;
    return message;
  }

  // "/edit 42 new text" and "/edits 42" typed in conversation c; false: not understood.
  function command(c, name, raw) {
    if (!c) return false;
    if (name === "edits") {
      const id = /^\s*([0-9]{1,18})\s*$/.exec(raw);
      if (!id) return false;
      send(target(c, { type: "EDITS", msg_id: Number(id[1]), id: nextId("v") }));
      return true;
    }
    const parts = /^\s*([0-9]{1,18})\s+([\s\S]*\S)\s*$/.exec(raw);
    if (!parts) return false;
    send(target(c, { type: "EDIT", msg_id: Number(parts[1]), text: parts[2], id: nextId("e") }));
    return true;
  }

  // EDIT_LIST: the texts a message has had, as system lines of the conversation.
  function listed(c, msg) {
    if (!msg.versions || !msg.versions.length) {
      say(c, `Message ${msg.msg_id} was deleted: no texts are kept.`);
      return;
    }
    say(c, `Message ${msg.msg_id} by ${msg.from || "?"}, oldest text first:`);
    for (const v of msg.versions) say(c, `${formatTime(v.ts)}  ${v.text}`);
  }

  return { decorate, edited, command, listed };
}
