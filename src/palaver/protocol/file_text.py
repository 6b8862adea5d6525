"""A file a MESSAGE carries, as text: for the doors that show only text (the text door, IRC,
``palaver chat``). Pure functions; a message's line is the same for every recipient.

- :func:`text_with_file`: a message's text with its file's line, ``[file 41] cat.png (48.2 kB,
  image/png) URL`` — 41 being the message's msg_id, which ``/download 41`` (palaver chat, the
  text door) and IRC's ``FILE #room 41`` take;
- :func:`file_of`: the file of the message those name, found with HISTORY (the page after
  ``ID - 1``, one long), or why there is none (:class:`NoFile`, with a stable code);
- :func:`personal_link`: the answer to those, the file's URL with ``?key=`` the asker's
  FILE_KEY (good for any of the asker's files until it expires: never to be shared);
- :class:`FileAsk`: the text door's and IRC's ``/download``/``FILE`` asks the hub twice
  (HISTORY, FILE_KEY) and answers once both answers are in, in either order;
- :func:`clean_file_name`: a file name safe to show, to put in a header or to save under (the
  server cleans uploads' names with it, and palaver chat the names it saves files as).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import Error, FileKey, FileRef, HistoryPage, Message, Wire

MAX_FILE_NAME: Final = 120  # characters of a sanitised file name
_UNITS = ("kB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    """``512 B``, ``48.2 kB``, ``25.0 MB`` (powers of 1,000)."""
    if size < 1_000:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1_000
        if value < 1_000 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def describe_file(file: FileRef) -> str:
    """``cat.png (48.2 kB, image/png)``."""
    return f"{file.name} ({human_size(file.size)}, {file.type.split(';', 1)[0]})"


def file_line(file: FileRef, msg_id: int | None = None) -> str:
    """``[file 41] cat.png (48.2 kB, image/png) http://host:8080/files/…/cat.png`` (``[file]``
    without a msg_id)."""
    head = "[file]" if msg_id is None else f"[file {msg_id}]"
    return f"{head} {describe_file(file)} {file.url}"


def text_with_file(text: str, file: FileRef | None, msg_id: int | None = None) -> str:
    """A message's text with its file's line after it (the line alone when the text is just the
    file's name, as it is without a caption)."""
    if file is None:
        return text
    line = file_line(file, msg_id)
    return line if text == file.name or not text else f"{text}\n{line}"


class NoFile(Exception):
    """The message asked about carries no file one may fetch: ``code`` and ``message`` say why."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def file_of(found: Message | None, msg_id: int, where: str) -> FileRef:
    """The file of message ``msg_id`` of ``where`` (``#dev``, ``@bob``), which is ``found``
    (None: not there) — or :class:`NoFile`."""
    if found is None or found.msg_id != msg_id:
        raise NoFile(ErrorCode.NO_SUCH_MESSAGE, f"there is no message {msg_id} in {where}")
    if found.deleted:
        raise NoFile(ErrorCode.MESSAGE_DELETED, f"message {msg_id} of {where} was deleted")
    if found.file is None:
        raise NoFile(ErrorCode.NO_SUCH_MESSAGE, f"message {msg_id} of {where} carries no file")
    return found.file


def keyed_url(url: str, key: str) -> str:
    """``url`` with ``key=`` (a FILE_KEY) in its query."""
    return f"{url}{'&' if '?' in url else '?'}key={quote(key, safe='')}"


def personal_link(file: FileRef, key: str, expires: str) -> str:
    """``cat.png (48.2 kB, image/png), a link for you alone until 2026-11-21 15:04 UTC: URL``."""
    until = expires[:16].replace("T", " ") + " UTC"
    return f"{describe_file(file)}, a link for you alone until {until}: {keyed_url(file.url, key)}"


@dataclass(slots=True)
class FileAsk:
    """A personal link asked for on a door that cannot ask with one request: the message
    (HISTORY: the page after ``msg_id - 1``, one long) and a key of the asker's (FILE_KEY).
    Both requests carry it; :meth:`take` each answer (or ERROR) as it comes."""

    msg_id: int
    where: str  # "#dev", or "@bob" (or "bob": as the door names it)
    answers: int = 0
    file: FileRef | None = None
    key: FileKey | None = None
    refusal: tuple[str, str] | None = None  # the first refusal: (code, message)

    def take(self, event: Wire) -> bool:
        """Take one of the two answers; whether both are in (then :meth:`link` or
        :attr:`refusal`)."""
        self.answers += 1
        if isinstance(event, HistoryPage):
            try:
                self.file = file_of(event.messages[0] if event.messages else None, self.msg_id,
                                    self.where)
            except NoFile as exc:
                self.refusal = self.refusal or (exc.code.value, exc.message)
        elif isinstance(event, FileKey):
            self.key = event
        elif isinstance(event, Error):
            self.refusal = self.refusal or (event.code, event.message)
        return self.answers >= 2

    def link(self) -> str:
        """The answer once both are in and nothing was refused (:func:`personal_link`)."""
        if self.file is None or self.key is None:
            return ""
        return personal_link(self.file, self.key.key, self.key.expires)


def clean_file_name(name: str) -> str:
    """A file name safe to show and to put in a header: its last path component, without
    control, format (bidi) or separator characters, no leading dots, at most
    :data:`MAX_FILE_NAME` characters (the extension kept); ``file`` if nothing is left."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(" " if unicodedata.category(c) in ("Zs", "Zl", "Zp") else c
                   for c in unicodedata.normalize("NFC", name)
                   if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    kept = " ".join(kept.split()).lstrip(".").strip()
    if len(kept) > MAX_FILE_NAME:
        stem, dot, ext = kept.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            kept = stem[:MAX_FILE_NAME - len(ext) - 1].rstrip() + "." + ext
        else:
            kept = kept[:MAX_FILE_NAME].rstrip()
    return kept or "file"
