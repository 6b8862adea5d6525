// palaver's web client: big rooms' member lists (docs/web.md, "Big rooms"; protocol §21).
//
// The page says member_pages in its HELLO (link.js). In a room with more members than the
// server's member_page, JOINED carries only the first page of them (sorted ignoring case) with
// members_total and members_next: the members panel shows those and "Show more", which asks
// for the next page (WHO with after = members_next; the answer, USERS, carries total and next).
// Scrolling the panel to its end does the same. One page at a time per room, and only when
// asked: nothing loads by itself. In a room with more members than the server's
// presence_limit, joins, leaves and quits come as one MEMBERS_CHANGED a second ("these are in,
// these are out", and count): applied to the list, and said in the timeline by one quiet line
// ("dave, erin joined; bob left", or "12 joined; 3 left" past three names) that later batches
// update while nothing else was said after it. The panel's title is the server's count
// ("1,204 members") when it gave one, else the members listed.

const NAMED = 3; // a summary names at most this many nicks per kind, then counts them
const TOOLTIP = 20; // nicks listed in a summary's tooltip, per kind
const NEAR_END = 40; // px: the members panel scrolled this close to its end loads more

// send(message) sends a request (false if it could not); nextId(prefix) gives an id; fold(nick)
// the comparison key; isMe(nick); systemLine(c, text, kind) adds a line to c's timeline;
// changed(c) redraws c's member list (when shown); current() is the shown conversation; panel
// is the members panel (the scrolling <aside>).
export function createMembers({ send, nextId, fold, isMe, systemLine, changed, current, panel }) {
  const sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = "/members.css";
  document.head.append(sheet);

  const loads = new Map(); // our WHO request id -> the conversation it loads a page of

  panel.addEventListener("scroll", () => {
    const c = current();
    if (c && panel.scrollHeight - panel.scrollTop - panel.clientHeight < NEAR_END) more(c);
  }, { passive: true });

  // JOINED: the whole list, or (a big room) its first page.
  function joined(c, msg) {
    c.members = new Map(msg.members.map((nick) => [fold(nick), nick]));
    c.count = typeof msg.members_total === "number" ? msg.members_total : null;
    c.membersNext = msg.members_next || null;
    c.membersLoading = null;
    changed(c);
  }

  // USERS of a room: the whole list, or a page of a big room (ours, asked by more(), or the
  // answer to a /who): its members are in, the operators among them too.
  function users(c, msg) {
    const ours = msg.id && loads.get(msg.id) === c;
    if (msg.id) loads.delete(msg.id);
    if (typeof msg.total !== "number") {
      c.members = new Map(msg.users.map((nick) => [fold(nick), nick]));
      c.operators = new Set((msg.operators || []).map(fold));
      c.count = null;
      c.membersNext = null;
      c.membersLoading = null;
      changed(c);
      return;
    }
    for (const nick of msg.users) {
      c.members.set(fold(nick), nick);
      c.operators.delete(fold(nick));
    }
    for (const nick of msg.operators || []) c.operators.add(fold(nick));
    c.count = msg.total;
    if (ours && c.membersLoading === msg.id) {
      c.membersLoading = null;
      const after = c.membersNext;
      c.membersNext = msg.next || null;
      if (c.membersNext && after && fold(c.membersNext) <= fold(after)) c.membersNext = null;
    }
    changed(c);
  }

  // The next page of c's members, if there is one and none is on its way.
  function more(c) {
    if (!c || c.dm || !c.joined || !c.membersNext || c.membersLoading) return false;
    const id = nextId("w");
    if (!send({ type: "WHO", room: c.name, after: c.membersNext, id })) return false;
    loads.set(id, c);
    c.membersLoading = id;
    changed(c);
    return true;
  }

  // An ERROR for one of our pages (we left the room meanwhile, say): no more; nothing said.
  function error(msg) {
    const c = msg.id && loads.get(msg.id);
    if (!c) return false;
    loads.delete(msg.id);
    if (c.membersLoading === msg.id) {
      c.membersLoading = null;
      c.membersNext = null;
      changed(c);
    }
    return true;
  }

  // MEMBERS_CHANGED: applied to the list; one quiet line in the timeline for a run of them.
  function batch(c, msg) {
    const left = msg.left || [];
    const came = msg.joined || [];
    for (const nick of left) {
      c.members.delete(fold(nick));
      c.operators.delete(fold(nick));
    }
    for (const nick of came) c.members.set(fold(nick), nick);
    if (typeof msg.count === "number") c.count = msg.count;
    changed(c);
    summarise(c, came.filter((nick) => !isMe(nick)), left.filter((nick) => !isMe(nick)));
  }

  function summarise(c, came, left) {
    if (!came.length && !left.length) return;
    let line = c.batchLine;
    if (!line || line.li !== c.list.lastElementChild) { // something was said since: a new one
      line = { li: null, joined: [], left: [] };
      c.batchLine = line;
    }
    line.joined.push(...came);
    line.left.push(...left);
    const parts = [];
    const part = (nicks, verb) => {
      if (!nicks.length) return;
      parts.push(nicks.length <= NAMED ? `${nicks.join(", ")} ${verb}`
        : `${nicks.length.toLocaleString("en")} ${verb}`);
    };
    part(line.joined, "joined");
    part(line.left, "left");
    const text = parts.join("; ");
    if (line.li) line.li.textContent = text;
    else line.li = systemLine(c, text, "sys batch");
    if (!line.li) return;
    const tip = (nicks, verb) => (nicks.length
      ? `${verb}: ${nicks.slice(0, TOOLTIP).join(", ")}${nicks.length > TOOLTIP ? ", …" : ""}` : "");
    line.li.title = [tip(line.joined, "joined"), tip(line.left, "left")].filter(Boolean).join("\n");
  }

  // Someone joined or left one by one (PRESENCE; a kick in a big room): the count follows.
  function counted(c, delta) {
    if (typeof c.count === "number") c.count = Math.max(0, c.count + delta);
  }

  function forget(c) {
    c.count = null;
    c.membersNext = null;
    c.membersLoading = null;
  }

  // The panel's title: "1,204 members" (the server's count, or those listed).
  function title(c) {
    const n = typeof c.count === "number" ? Math.max(c.count, c.members.size) : c.members.size;
    return `${n.toLocaleString("en")} ${n === 1 ? "member" : "members"}`;
  }

  // After the list: "Show more" while the server has more pages of it.
  function footer(c) {
    if (c.dm || !c.joined || !c.membersNext) return null;
    const li = document.createElement("li");
    li.className = "more-members";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.id = "more-members";
    const total = typeof c.count === "number" ? c.count : c.members.size;
    button.textContent = c.membersLoading ? "Loading…" : "Show more";
    button.disabled = !!c.membersLoading;
    button.title = `${c.members.size.toLocaleString("en")} of ${total.toLocaleString("en")} shown`;
    button.addEventListener("click", () => more(c));
    const note = document.createElement("span");
    note.className = "shown";
    note.textContent = `${c.members.size.toLocaleString("en")} of ${total.toLocaleString("en")}`;
    li.append(button, note);
    return li;
  }

  return { joined, users, more, error, batch, counted, forget, title, footer };
}
