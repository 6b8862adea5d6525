// palaver's web client: full-text search (SEARCH -> SEARCH_RESULTS, docs/protocol.md).
//
// How this works: createSearch() adds a search button to the top bar and a panel above the
// messages: a search box, the hits (newest first: where, when, who, the text with the words
// marked) and "Older results" while the server has more. `/search words` in the composer opens
// it too. Clicking a hit shows its conversation (and the message, when it is loaded). Text from
// the network goes in with textContent only; the marks are code point ranges of the text.

const ICON = "M10.5 4a6.5 6.5 0 1 0 4.03 11.6l4.43 4.43 1.41-1.41-4.43-4.43A6.5 6.5 0 0 0 10.5 4"
  + "zm0 2a4.5 4.5 0 1 1 0 9 4.5 4.5 0 0 1 0-9z";

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

// The text with its marks as <mark> elements (offsets in code points, as the server gives).
export function markedText(text, marks) {
  const span = node("span", "text");
  const points = Array.from(text);
  let at = 0;
  for (const [start, end] of marks || []) {
    if (start < at || end > points.length || start >= end) continue;
    span.append(points.slice(at, start).join(""), node("mark", "", points.slice(start, end).join("")));
    at = end;
  }
  span.append(points.slice(at).join(""));
  return span;
}

// request(message) sends a SEARCH (false: not sent); open(hit) shows the hit's conversation.
export function createSearch({ request, open, nextId, formatTime }) {
  const sheet = node("link");
  sheet.rel = "stylesheet";
  sheet.href = "/search.css";
  document.head.append(sheet);

  const panel = node("section", "search-panel");
  panel.id = "search-panel";
  panel.setAttribute("aria-label", "Search messages");
  panel.hidden = true;
  const form = node("form", "search-form");
  form.setAttribute("role", "search");
  const input = node("input");
  input.id = "search-input";
  input.type = "search";
  input.placeholder = "Search messages (3+ letters a word)";
  input.setAttribute("aria-label", "Search messages");
  input.maxLength = 200;
  input.autocapitalize = "off";
  input.spellcheck = false;
  const go = node("button", "small primary", "Search");
  go.type = "submit";
  const close = node("button", "small", "Close");
  close.type = "button";
  close.setAttribute("aria-label", "Close search");
  form.append(input, go, close);
  const summary = node("p", "search-summary");
  summary.setAttribute("role", "status");
  const hits = node("ol", "search-hits");
  const older = node("button", "small search-older", "Older results");
  older.type = "button";
  older.hidden = true;
  panel.append(form, summary, hits, older);
  const logs = document.getElementById("logs");
  logs.parentNode.insertBefore(panel, logs);

  const toggle = node("button", "icon");
  toggle.id = "toggle-search";
  toggle.type = "button";
  toggle.setAttribute("aria-label", "Search");
  toggle.setAttribute("aria-controls", "search-panel");
  toggle.setAttribute("aria-expanded", "false");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICON);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  toggle.append(svg);
  const members = document.getElementById("toggle-members");
  members.parentNode.insertBefore(toggle, members);

  let asked = null; // {id, query, scope, older}

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) input.focus();
  }

  function run(query, scope = {}, before) {
    const id = nextId("s");
    const message = { type: "SEARCH", query, id, ...scope };
    if (before) message.before = before;
    asked = { id, query, scope, older: !!before };
    setOpen(true);
    input.value = (scope.room ? scope.room + " " : scope.with ? "@" + scope.with + " " : "")
      + query;
    summary.classList.remove("error");
    if (!before) {
      hits.replaceChildren();
      summary.textContent = "Searching…";
    }
    older.hidden = true;
    return request(message);
  }

  // "#room words", "@nick words" or just words, as typed in the box or after /search.
  function parse(text) {
    const words = text.trim().split(/\s+/).filter(Boolean);
    const scope = {};
    if (words[0] && words[0].startsWith("#")) scope.room = words.shift();
    else if (words[0] && words[0].length > 1 && words[0].startsWith("@")) {
      scope.with = words.shift().slice(1);
    }
    return { query: words.join(" "), scope };
  }

  function hitItem(hit) {
    const li = node("li", "search-hit");
    const button = node("button", "search-open");
    button.type = "button";
    const where = hit.room || "@" + hit.with;
    const head = node("span", "search-head");
    head.append(node("span", "search-where", where), node("span", "search-from", hit.from),
      node("time", "time", formatTime(hit.ts)));
    head.lastChild.dateTime = hit.ts;
    button.append(head, markedText(hit.text, hit.marks));
    button.addEventListener("click", () => {
      setOpen(false);
      open(hit);
    });
    li.dataset.msgId = String(hit.msg_id);
    li.append(button);
    return li;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const { query, scope } = parse(input.value);
    if (query) run(query, scope);
  });
  close.addEventListener("click", () => setOpen(false));
  toggle.addEventListener("click", () => setOpen(panel.hidden));
  older.addEventListener("click", () => {
    if (asked && asked.next) run(asked.query, asked.scope, asked.next);
  });

  return {
    // `/search [#room|@nick] words`; false: usage shown by the caller.
    command(text) {
      const { query, scope } = parse(text);
      if (!query) return false;
      run(query, scope);
      return true;
    },
    // A SEARCH_RESULTS; true if it answered our search.
    results(msg) {
      if (!asked || msg.id !== asked.id) return false;
      if (!asked.older) hits.replaceChildren();
      for (const hit of msg.hits || []) hits.append(hitItem(hit));
      const count = hits.children.length;
      summary.textContent = count
        ? `${count} message${count === 1 ? "" : "s"} found for “${msg.query}”, newest first`
        : `No messages found for “${msg.query}”.`;
      asked.next = msg.next;
      older.hidden = !msg.next;
      return true;
    },
    // An ERROR answering our search: shown in the panel.
    error(msg) {
      if (!asked || msg.id !== asked.id) return false;
      summary.textContent = `${msg.message} (${msg.code})`;
      summary.classList.add("error");
      return true;
    },
  };
}
