// palaver's web client: sending and showing files (docs/protocol.md: UPLOAD, UPLOAD_READY,
// FILE_KEY, MESSAGE's file).
//
// How this works: createFiles() puts an attach button ("File") in the composer and takes files
// dropped on the page. Each file is announced with UPLOAD; its UPLOAD_READY's url gets the bytes
// with an XMLHttpRequest PUT (its upload progress shown in a line of the conversation), and the
// server then posts the MESSAGE that carries it. A stored message with a file (decorate) gets a
// link to it and, for PNG/JPEG/GIF/WebP, an inline preview. Files are fetched with ?key= a
// FILE_KEY, asked for after WELCOME and again before it expires; links wait for it. URLs are
// used by their path only, so they work on whatever address the page was loaded from.
// Text from the network goes in with textContent only.

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const KEY_REFRESH_MS = 30 * 60 * 1000; // keys last an hour: ask again after half of it

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

export function humanSize(size) {
  if (size < 1000) return `${size} B`;
  let value = size;
  for (const unit of ["kB", "MB", "GB", "TB"]) {
    value /= 1000;
    if (value < 1000 || unit === "TB") return `${value.toFixed(1)} ${unit}`;
  }
  return `${size} B`;
}

// send(message): send a frame (false if not sent); nextId(prefix): a request id;
// current(): the conversation shown; composer: the composer form; say(c, text, kind): a
// system line (its <li>).
export function createFiles({ send, nextId, current, composer, say }) {
  const sheet = node("link");
  sheet.rel = "stylesheet";
  sheet.href = "/files.css";
  document.head.append(sheet);

  let key = null;
  let keyTimer = null;
  const waiting = new Set(); // elements whose href/src waits for a key
  const uploads = new Map(); // UPLOAD request id -> {c, file, line}

  const picker = node("input");
  picker.type = "file";
  picker.multiple = true;
  picker.hidden = true;
  picker.id = "file-picker";
  const attach = node("button", "attach", "File");
  attach.type = "button";
  attach.id = "attach";
  attach.title = "Send a file";
  attach.setAttribute("aria-label", "Send a file");
  attach.addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    for (const file of picker.files) upload(current(), file);
    picker.value = "";
  });
  composer.prepend(attach, picker);

  document.addEventListener("dragover", (event) => {
    if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) {
      event.preventDefault();
      composer.classList.add("dropping");
    }
  });
  document.addEventListener("dragleave", () => composer.classList.remove("dropping"));
  document.addEventListener("drop", (event) => {
    composer.classList.remove("dropping");
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    for (const file of event.dataTransfer.files) upload(current(), file);
  });

  function askKey() {
    send({ type: "FILE_KEY", id: nextId("fk") });
  }

  function withKey(url) {
    const u = new URL(url, location.href);
    return `${u.pathname}?key=${encodeURIComponent(key)}`;
  }

  function point(el) {
    if (!key) {
      waiting.add(el);
      return;
    }
    if (el.tagName === "IMG") el.src = withKey(el.dataset.url);
    else el.href = withKey(el.dataset.url);
  }

  function upload(c, file) {
    if (!c) return;
    const id = nextId("up");
    const where = c.dm ? { with: c.name } : { room: c.name };
    const line = say(c, `uploading ${file.name} (${humanSize(file.size)})…`, "sys upload");
    if (!send({ type: "UPLOAD", ...where, name: file.name, size: file.size, id })) {
      if (line) line.textContent = `${file.name}: not sent (not connected)`;
      return;
    }
    uploads.set(id, { c, file, line });
  }

  function ready(msg) {
    const job = uploads.get(msg.id);
    if (!job) return;
    uploads.delete(msg.id);
    const { file, line } = job;
    const xhr = new XMLHttpRequest();
    const u = new URL(msg.url, location.href);
    xhr.open("PUT", u.pathname);
    const progress = node("progress");
    progress.max = file.size || 1;
    progress.value = 0;
    if (line) line.append(" ", progress);
    xhr.upload.addEventListener("progress", (event) => {
      progress.value = event.loaded;
    });
    xhr.addEventListener("load", () => {
      if (!line) return;
      if (xhr.status === 201) {
        line.remove(); // the MESSAGE with the file shows it
        return;
      }
      let why = `HTTP ${xhr.status}`;
      try {
        why = JSON.parse(xhr.responseText).message || why;
      } catch { /* not JSON */ }
      line.textContent = `${file.name}: not sent (${why})`;
      line.classList.add("error");
    });
    xhr.addEventListener("error", () => {
      if (line) line.textContent = `${file.name}: not sent (the connection failed)`;
    });
    xhr.send(file);
  }

  // A refusal of an UPLOAD (too large, not allowed there): say so on its line.
  function refused(msg) {
    const job = uploads.get(msg.id);
    if (!job) return false;
    uploads.delete(msg.id);
    if (job.line) {
      job.line.textContent = `${job.file.name}: not sent (${msg.message})`;
      job.line.classList.add("error");
    }
    return true;
  }

  function keyed(msg) {
    key = msg.key;
    for (const el of waiting) point(el);
    waiting.clear();
    clearTimeout(keyTimer);
    keyTimer = setTimeout(askKey, KEY_REFRESH_MS);
  }

  // A stored message: its file, as a link (and a preview for an image).
  function decorate(li, msg) {
    if (!msg.file || msg.deleted) return;
    const f = msg.file;
    const text = li.querySelector(":scope > .text");
    if (text && msg.text === f.name) text.hidden = true; // no caption: the file says it all
    const box = node("div", "file");
    if (IMAGE_TYPES.has(f.type)) {
      const img = node("img", "file-preview");
      img.alt = f.name;
      img.loading = "lazy";
      img.dataset.url = f.url;
      point(img);
      box.append(img);
    }
    const a = node("a", "file-link", f.name);
    a.dataset.url = f.url;
    a.target = "_blank";
    a.rel = "noopener";
    a.download = f.name;
    point(a);
    box.append(a, node("span", "file-size", ` ${humanSize(f.size)}`));
    if (text) text.after(box);
    else li.append(box);
  }

  return {
    welcomed: askKey, // after WELCOME: a key for this session
    ready,
    refused,
    keyed,
    decorate,
    upload,
  };
}
