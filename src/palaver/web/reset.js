// palaver's web client: resetting a forgotten password with a token (docs/protocol.md:
// RESET_PASSWORD -> PASSWORD_CHANGED; docs/operations.md: `palaver admin reset-password NICK`).
//
// How this works: createReset() puts a "Have a reset token?" panel (a <details>) under the login
// form: nickname, token, new password. Sending it opens a WebSocket of its own to /ws and sends
// RESET_PASSWORD as its first frame — before any HELLO, since there is no login to make — then
// waits for the answer to that request id: PASSWORD_CHANGED (the panel says so, and the login
// form is filled with the nick and the new password, to log in with) or ERROR (said in words
// with its code: invalid_token means wrong, used or expired). Then the socket is closed. The
// password checks the server makes first (8+ characters) are made here too.

const MIN_PASSWORD = 8; // characters, as the server counts them (REGISTER's rule)
const ANSWER_WAIT_MS = 20000; // no answer by then: say so, and close

const WORDS = {
  invalid_token: "This token is wrong, used or expired: ask a server operator for a new one.",
  invalid_password: `A password is ${MIN_PASSWORD} to 1,024 characters.`,
  auth_throttled: "Too many tries for this account: wait a little, then try again.",
  already_registered: "Log out first: a logged-in account changes its password in Account.",
};

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function field(id, label, type, autocomplete, maxLength) {
  const wrap = node("div", "field");
  const lab = node("label", "", label);
  lab.htmlFor = id;
  const input = node("input");
  input.id = id;
  input.type = type;
  input.autocomplete = autocomplete;
  input.maxLength = maxLength;
  input.required = true;
  input.autocapitalize = "off";
  input.spellcheck = false;
  wrap.append(lab, input);
  return [wrap, input];
}

// url: the WebSocket path ("/ws"); nextId(prefix): a request id; loginWith(nick, password):
// fill the login form with them; nick(): the nickname typed on the login form, if any.
export function createReset({ url, nextId, loginWith, nick }) {
  const sheet = node("link");
  sheet.rel = "stylesheet";
  sheet.href = "/reset.css";
  document.head.append(sheet);

  const panel = node("details", "card reset");
  panel.id = "reset";
  const summary = node("summary", "", "Have a reset token?");
  const form = node("form", "reset-form");
  form.id = "reset-form";
  form.noValidate = true; // the checks below say what is wrong, in words
  const hint = node("p", "hint",
    "A server operator can give you a one-time token for your account. Choose a new password "
    + "with it, then log in.");
  const [nickWrap, nickInput] = field("reset-nick", "Nickname", "text", "username", 32);
  const [tokenWrap, tokenInput] = field("reset-token", "Reset token", "text", "one-time-code",
    512);
  const [newWrap, newInput] = field("reset-new", "New password (8+ characters)", "password",
    "new-password", 1024);
  const status = node("p", "reset-status");
  status.id = "reset-status";
  status.setAttribute("role", "status");
  const submit = node("button", "primary", "Set the new password");
  submit.id = "reset-submit";
  submit.type = "submit";
  form.append(hint, nickWrap, tokenWrap, newWrap, status, submit);
  panel.append(summary, form);
  document.getElementById("login").append(panel);

  panel.addEventListener("toggle", () => {
    if (!panel.open) return;
    if (!nickInput.value) nickInput.value = nick();
    (nickInput.value ? tokenInput : nickInput).focus();
  });

  function tell(text, kind = "") {
    status.textContent = text;
    status.className = `reset-status ${kind}`.trim();
  }

  let socket = null;

  function finish(text, kind) {
    const ws = socket;
    socket = null;
    submit.disabled = false;
    tell(text, kind);
    if (ws) ws.close();
  }

  function reset(name, token, password) {
    const id = nextId("rp");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${url}`);
    socket = ws;
    submit.disabled = true;
    tell("Setting the new password…");
    const timer = setTimeout(() => {
      if (socket === ws) finish("The server did not answer: try again in a moment.", "error");
    }, ANSWER_WAIT_MS);
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "RESET_PASSWORD", nick: name, token, new: password, id }));
    };
    ws.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (socket !== ws || !msg || msg.id !== id) return; // only the answer to ours counts
      clearTimeout(timer);
      if (msg.type === "PASSWORD_CHANGED") {
        const account = msg.account || name;
        finish(`The password of ${account} is changed. Log in with the new one above.`, "done");
        tokenInput.value = newInput.value = "";
        loginWith(account, password);
      } else if (msg.type === "ERROR") {
        finish(`${WORDS[msg.code] || msg.message} (${msg.code})`, "error");
      }
    };
    ws.onclose = () => {
      clearTimeout(timer);
      if (socket === ws) finish("Cannot reach the server: try again in a moment.", "error");
    };
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (socket) return; // one at a time
    const name = nickInput.value.trim();
    const token = tokenInput.value.trim();
    const password = newInput.value;
    if (!name || !token) {
      tell("Enter your nickname and the token.", "error");
      return;
    }
    if ([...password].length < MIN_PASSWORD) {
      tell(`A password is at least ${MIN_PASSWORD} characters.`, "error");
      return;
    }
    reset(name, token, password);
  });
}
