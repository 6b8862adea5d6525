// palaver's web client: replies and reactions (docs/protocol.md: CHAT/DM reply_to, REACT,
// REACTED, MESSAGE's quote and reactions).
//
// How this works: createReactions() gives each stored message (decorate) a quote of the
// message it answers (clicking it shows that message when it is loaded), a bar of its
// reactions (a button per reaction with its count; yours are marked, and clicking one adds or
// takes back yours) and two small actions: reply (a banner above the composer says what the
// next message answers; × cancels) and react (a few quick emoji). REACTED updates the bar.
// Text from the network goes in with textContent only.

const QUICK = ["👍", "❤️", "😂", "🎉", "👀"];

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function quoteWords(quote) {
  return quote.deleted ? "(message deleted)" : quote.text;
}

// send(message) sends a REACT (false: not sent); isMe(nick) says whether a nick is ours;
// me() is our nick; find(c, msgId) is the <li> of a loaded message; composer: the form.
export function createReactions({ send, nextId, isMe, me, find, composer, input }) {
  const sheet = node("link");
  sheet.rel = "stylesheet";
  sheet.href = "/reactions.css";
  document.head.append(sheet);

  const banner = node("div", "reply-banner");
  banner.hidden = true;
  const bannerText = node("span", "reply-what");
  const cancel = node("button", "small", "×");
  cancel.type = "button";
  cancel.title = "Cancel the reply";
  cancel.setAttribute("aria-label", "Cancel the reply");
  banner.append(bannerText, cancel);
  composer.before(banner);
  let replying = null; // {key, msgId}

  function stopReply() {
    replying = null;
    banner.hidden = true;
  }
  cancel.addEventListener("click", () => { stopReply(); input.focus(); });

  function startReply(c, msg) {
    replying = { key: c.key, msgId: msg.msg_id };
    bannerText.textContent = `Replying to ${msg.from}: ${msg.text}`;
    banner.hidden = false;
    input.focus();
  }

  // The msg_id the next message of conversation c answers (then the reply is done), or null.
  function takeReply(c) {
    if (!replying || replying.key !== c.key) return null;
    const msgId = replying.msgId;
    stopReply();
    return msgId;
  }

  // Switching conversations drops a reply begun in another.
  function shown(c) {
    if (replying && (!c || replying.key !== c.key)) stopReply();
  }

  function react(c, msgId, reaction, remove) {
    const message = { type: "REACT", msg_id: msgId, reaction, id: nextId("r") };
    if (remove) message.remove = true;
    if (c.dm) message.with = c.name;
    else message.room = c.name;
    send(message);
  }

  function renderBar(li, c) {
    const given = li.reactionMap;
    let bar = li.querySelector(":scope > .reactions");
    if (!given || !given.size) {
      if (bar) bar.remove();
      return;
    }
    if (!bar) {
      bar = node("div", "reactions");
      li.append(bar);
    }
    bar.replaceChildren();
    for (const [reaction, nicks] of given) {
      const mine = nicks.some((n) => isMe(n));
      const button = node("button", mine ? "reaction mine" : "reaction");
      button.type = "button";
      button.title = nicks.join(", ");
      button.setAttribute("aria-pressed", mine ? "true" : "false");
      button.append(node("span", "emoji", reaction), node("span", "count", String(nicks.length)));
      button.addEventListener("click", () => react(c, Number(li.dataset.msgId), reaction, mine));
      bar.append(button);
    }
  }

  function picker(li, c) {
    const open = li.querySelector(":scope .picker");
    if (open) { open.remove(); return; }
    const box = node("span", "picker");
    for (const emoji of QUICK) {
      const b = node("button", "pick", emoji);
      b.type = "button";
      b.title = `React with ${emoji}`;
      b.addEventListener("click", () => {
        box.remove();
        const nicks = (li.reactionMap && li.reactionMap.get(emoji)) || [];
        react(c, Number(li.dataset.msgId), emoji, nicks.some((n) => isMe(n)));
      });
      box.append(b);
    }
    li.querySelector(":scope > .msg-actions").append(box);
  }

  // A message's quote (pending ones too), reactions and actions.
  function decorate(li, msg, c, pending) {
    if (msg.reply_to !== undefined && msg.reply_to !== null) {
      const quote = node("button", "quote");
      quote.type = "button";
      quote.dataset.replyTo = String(msg.reply_to);
      quote.textContent = msg.quote ? `↪ ${msg.quote.from}: ${quoteWords(msg.quote)}`
        : `↪ message ${msg.reply_to}`;
      quote.addEventListener("click", () => {
        const target = c && find(c, msg.reply_to);
        if (!target) return;
        target.scrollIntoView({ block: "center" });
        target.classList.add("flash");
        setTimeout(() => target.classList.remove("flash"), 1200);
      });
      li.prepend(quote);
    }
    if (pending || !c || msg.deleted || msg.msg_id === undefined) return;
    li.reactionMap = new Map(Object.entries(msg.reactions || {}));
    const actions = node("span", "msg-actions");
    const reply = node("button", "act reply", "↩");
    reply.type = "button";
    reply.title = "Reply";
    reply.setAttribute("aria-label", "Reply");
    reply.addEventListener("click", () => startReply(c, msg));
    const add = node("button", "act add-reaction", "☺");
    add.type = "button";
    add.title = "React";
    add.setAttribute("aria-label", "React");
    add.addEventListener("click", () => picker(li, c));
    actions.append(reply, add);
    li.append(actions);
    renderBar(li, c);
  }

  // REACTED: someone (maybe us) added or took back a reaction to a loaded message.
  function reacted(c, msg) {
    const li = c && find(c, msg.msg_id);
    if (!li || !li.reactionMap) return;
    const nicks = (li.reactionMap.get(msg.reaction) || []).filter((n) => n !== msg.by);
    if (!msg.remove) nicks.push(msg.by);
    if (nicks.length) li.reactionMap.set(msg.reaction, nicks);
    else li.reactionMap.delete(msg.reaction);
    renderBar(li, c);
  }

  return { decorate, reacted, takeReply, shown, me };
}
