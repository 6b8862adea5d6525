// palaver's web client: managing one's account (PASSWORD -> PASSWORD_CHANGED, DELETE_ACCOUNT ->
// ACCOUNT_DELETED then BYE; docs/protocol.md).
//
// How this works: createAccount() adds an "Account" button next to "Log out" that opens a
// dialog with two forms: change the password (current, new), and delete the account (its
// password, then a confirm step: "Delete for good" or "Cancel"). `/password OLD NEW` and
// `/deleteaccount PASSWORD` in the composer send the same requests (no confirm step: typing the
// password is the confirmation). Answers and refusals are system lines, and are said in the
// dialog too. A changed password becomes the one a reconnect logs in with; a deleted account
// (or one deleted or locked from elsewhere) goes back to the login screen, with no reconnect.

const MIN_PASSWORD = 8; // characters, as the server counts them (REGISTER's rule)

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function field(id, label, autocomplete) {
  const wrap = node("div", "field");
  const lab = node("label", "", label);
  lab.htmlFor = id;
  const input = node("input");
  input.id = id;
  input.type = "password";
  input.autocomplete = autocomplete;
  input.maxLength = 1024;
  input.required = true;
  wrap.append(lab, input);
  return [wrap, input];
}

// send(message): whether it went out; say(text, kind): a system line in the current
// conversation; changed(password): the new password; deleted(text): back to the login screen.
export function createAccount({ send, nextId, say, me, changed, deleted }) {
  const sheet = node("link");
  sheet.rel = "stylesheet";
  sheet.href = "/account.css";
  document.head.append(sheet);

  const asked = new Map(); // request id -> {kind: "password"|"delete", password}

  // ---------------------------------------------------------------- the dialog
  const dialog = node("dialog", "account-dialog");
  dialog.id = "account-dialog";
  dialog.setAttribute("aria-labelledby", "account-title");
  const title = node("h2", "", "Account");
  title.id = "account-title";
  const status = node("p", "account-status");
  status.id = "account-status";
  status.setAttribute("role", "status");

  const passwordForm = node("form", "account-form");
  passwordForm.id = "account-password-form";
  passwordForm.append(node("h3", "", "Change password"));
  const [oldWrap, oldInput] = field("account-old", "Current password", "current-password");
  const [newWrap, newInput] = field("account-new", "New password (8+ characters)", "new-password");
  const change = node("button", "primary", "Change password");
  change.id = "account-change";
  change.type = "submit";
  passwordForm.append(oldWrap, newWrap, change);

  const deleteForm = node("form", "account-form danger");
  deleteForm.id = "account-delete-form";
  deleteForm.append(node("h3", "", "Delete account"),
    node("p", "hint", "Your nick becomes free; your other sessions end."));
  const [delWrap, delInput] = field("account-delete-password", "Password", "current-password");
  const ask = node("button", "danger", "Delete account…");
  ask.id = "account-delete";
  ask.type = "submit";
  const confirmRow = node("div", "account-confirm");
  confirmRow.hidden = true;
  const confirmText = node("p", "", "");
  const really = node("button", "danger", "Delete for good");
  really.id = "account-delete-confirm";
  really.type = "button";
  const cancel = node("button", "", "Cancel");
  cancel.id = "account-delete-cancel";
  cancel.type = "button";
  confirmRow.append(confirmText, really, cancel);
  deleteForm.append(delWrap, ask, confirmRow);

  const close = node("button", "small account-close", "Close");
  close.id = "account-close";
  close.type = "button";
  dialog.append(title, status, passwordForm, deleteForm, close);
  document.body.append(dialog);

  const open = node("button", "small", "Account");
  open.id = "account";
  open.type = "button";
  open.title = "Change your password or delete your account";
  const logout = document.getElementById("logout");
  logout.parentNode.insertBefore(open, logout);

  function tell(text, error = false) {
    status.textContent = text;
    status.classList.toggle("error", error);
  }

  function confirming(on) {
    confirmRow.hidden = !on;
    ask.hidden = on;
    if (on) confirmText.textContent = `Delete the account ${me()} for good?`;
  }

  function reset() {
    for (const input of [oldInput, newInput, delInput]) input.value = "";
    confirming(false);
    tell("");
  }

  open.addEventListener("click", () => {
    reset();
    dialog.showModal();
    oldInput.focus();
  });
  close.addEventListener("click", () => dialog.close());
  cancel.addEventListener("click", () => confirming(false));

  // ---------------------------------------------------------------- requests
  function changePassword(old, password) {
    if ([...password].length < MIN_PASSWORD) {
      return `A password is at least ${MIN_PASSWORD} characters.`;
    }
    const id = nextId("pw");
    if (!send({ type: "PASSWORD", old, new: password, id })) return "Not connected: try again.";
    asked.set(id, { kind: "password", password });
    return null;
  }

  function deleteAccount(password) {
    const id = nextId("da");
    if (!send({ type: "DELETE_ACCOUNT", password, id })) return "Not connected: try again.";
    asked.set(id, { kind: "delete", password });
    return null;
  }

  passwordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const problem = changePassword(oldInput.value, newInput.value);
    tell(problem || "Changing the password…", !!problem);
  });
  deleteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (delInput.value) confirming(true);
  });
  really.addEventListener("click", () => {
    const problem = deleteAccount(delInput.value);
    confirming(false);
    tell(problem || "Deleting the account…", !!problem);
  });

  return {
    // `/password OLD NEW`, `/deleteaccount PASSWORD`: false means "show the usage".
    command(name, words) {
      let problem;
      if (name === "password") {
        if (words.length !== 2) return false;
        problem = changePassword(words[0], words[1]);
      } else {
        if (words.length !== 1) return false;
        problem = deleteAccount(words[0]);
      }
      if (problem) say(problem, "error");
      return true;
    },
    // PASSWORD_CHANGED, ACCOUNT_DELETED and BYE; true when handled here.
    event(msg) {
      const request = msg.id ? asked.get(msg.id) : undefined;
      if (msg.type === "PASSWORD_CHANGED" && request) {
        asked.delete(msg.id);
        changed(request.password);
        const text = `The password of ${msg.account} is changed; your other sessions are closed.`;
        say(text);
        tell(text);
        for (const input of [oldInput, newInput]) input.value = "";
        return true;
      }
      if (msg.type === "ACCOUNT_DELETED") {
        asked.delete(msg.id);
        if (dialog.open) dialog.close();
        deleted(`The account ${msg.account} is deleted; the nick is free.`);
        return true;
      }
      if (msg.type === "BYE" && (msg.reason === "account deleted"
                                  || msg.reason === "account locked")) {
        if (dialog.open) dialog.close();
        deleted(msg.reason === "account locked" ? "Your account is locked: ask a server operator."
          : "Your account was deleted.");
        return true;
      }
      if (msg.type === "BYE" && msg.reason === "password changed") {
        if (dialog.open) dialog.close();
        deleted("Your password was changed in another session: log in with the new one.");
        return true;
      }
      return false;
    },
    // An ERROR answering one of ours: said in the conversation and in the dialog.
    error(msg) {
      if (!msg.id || !asked.has(msg.id)) return false;
      asked.delete(msg.id);
      const text = `${msg.message} (${msg.code})`;
      say(text, "error");
      tell(text, true);
      return true;
    },
  };
}
