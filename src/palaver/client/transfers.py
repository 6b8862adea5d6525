"""``palaver chat``'s ``/upload`` and ``/download``, for the line mode and the TUI alike.

How this works: a :class:`Transfers` sits beside the :class:`~palaver.client.resilient.
ResilientClient`. Every event the chat shows goes through :meth:`Transfers.seen` first, which
remembers the file (or that there is none) of each MESSAGE, by conversation and msg_id (the
last :data:`REMEMBERED`; a DELETED makes it forget one), and through :meth:`Transfers.owns`,
which says which events answer its own requests (UPLOAD_READY, HISTORY_PAGE, FILE_KEY, their
ERRORs): those are not shown, the transfer says what happened in its own words.

- ``/upload PATH``: UPLOAD (to the room, or the direct conversation), then the bytes to the URL
  of its UPLOAD_READY (client/upload.py); the server posts the MESSAGE, which shows as usual.
- ``/download ID [PATH]``: the message's file — remembered, or asked for with HISTORY (the page
  after ``ID - 1``, one message long); then FILE_KEY, then the file's URL with ``?key=``
  streamed into a new local file (client/download.py), never over an existing one.

Both say what happens in lines handed to ``say`` (progress at each tenth); every refusal is one
line: ``! /download: cat.png: this file's message was deleted (410 no_such_message)``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

import aiohttp
import msgspec

from palaver.client.commands import DownloadFile, UploadFile
from palaver.client.connection import ServerError
from palaver.client.download import CutShort, get_file, target_for
from palaver.client.events import ClientEvent
from palaver.client.render import error_line, info_line, same_name, sanitize
from palaver.client.resilient import ResilientClient
from palaver.client.upload import put_file
from palaver.protocol.file_text import NoFile, file_of
from palaver.protocol.messages import (
    Deleted,
    FileKey,
    FileRef,
    GetFileKey,
    History,
    HistoryPage,
    Message,
    Upload,
    UploadReady,
    Wire,
)

REMEMBERED: Final = 4_096  # messages whose file (or its absence) is kept
Say = Callable[[list[str]], None]
_Reply = TypeVar("_Reply", bound=Wire)


class Refused(Exception):
    """A request of ours was refused: the line that says so."""


def conversation_key(room: str | None, peer: str | None) -> str:
    """``#dev`` or ``@bob`` (folded)."""
    return room.lower() if room is not None else "@" + (peer or "").lower()


class Transfers:
    def __init__(self, client: ResilientClient, me: Callable[[], str]) -> None:
        self.client = client
        self._me = me
        self._seen: OrderedDict[tuple[str, int], Message] = OrderedDict()  # texts left out
        self._ours: set[str] = set()  # ids of our requests whose answers are not shown

    # ------------------------------------------------------------------ the event stream

    def seen(self, event: ClientEvent) -> None:
        """Remember the file of a MESSAGE; forget a DELETED one."""
        if isinstance(event, Message):
            key = (self._where(event.room, event.sender, event.to), event.msg_id)
            self._seen[key] = msgspec.structs.replace(event, text="", quote=None,
                                                      reactions=None, tags=None)
            self._seen.move_to_end(key)
            while len(self._seen) > REMEMBERED:
                self._seen.popitem(last=False)
        elif isinstance(event, Deleted) and (event.room is not None or event.sender):
            where = self._where(event.room, event.sender or "", event.to)
            self._seen.pop((where, event.msg_id), None)

    def owns(self, event: ClientEvent) -> bool:
        """Whether ``event`` answers one of our requests (then it is not to be shown)."""
        request_id = getattr(event, "id", None)
        if request_id is not None and request_id in self._ours:
            self._ours.discard(request_id)
            return True
        return False

    def _where(self, room: str | None, sender: str, to: str | None) -> str:
        if room is not None:
            return conversation_key(room, None)
        return conversation_key(None, to if same_name(sender, self._me()) else sender)

    # ------------------------------------------------------------------ /upload

    async def upload(self, action: UploadFile, say: Say) -> None:
        """``/upload PATH``: UPLOAD, then the bytes to its URL, with a progress line per tenth."""
        path = Path(action.path).expanduser()  # noqa: ASYNC240 (one stat of a local file)
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise IsADirectoryError(21, "not a file")
        except OSError as exc:
            say([error_line(f"/upload: {exc.strerror or exc}: {action.path}")])
            return
        name = sanitize(path.name)
        try:
            ready = await self._ask(Upload(room=action.room, peer=action.peer, name=path.name,
                                           size=size), UploadReady, f"/upload: {name}")
        except Refused as refused:
            say([str(refused)])
            return
        say([info_line(f"uploading {name} ({size} bytes)")])
        try:
            status, answer = await put_file(
                ready.url, path, size, lambda percent: say([info_line(
                    f"uploading {name}: {percent}%")]))
        except (OSError, aiohttp.ClientError) as exc:
            say([error_line(f"/upload: {name}: {exc}")])
            return
        if status != 201:
            why = sanitize(str(answer.get("message", f"HTTP {status}")))
            say([error_line(f"/upload: {name} was not sent: {why}",
                            str(answer.get("code", "")) or None)])

    # ------------------------------------------------------------------ /download

    async def download(self, action: DownloadFile, say: Say) -> None:
        """``/download ID [PATH]``: the message's file, into PATH (or its name, here)."""
        try:
            file = await self._file_of(action)
            key = await self._ask(GetFileKey(), FileKey, "/download")
        except Refused as refused:
            say([str(refused)])
            return
        name = sanitize(file.name)
        target = target_for(action.path, file.name)
        say([info_line(f"downloading {name} ({file.size} bytes)")])
        try:
            fetched = await get_file(file.url, key.key, target, lambda percent: say([info_line(
                f"downloading {name}: {percent}%")]))
        except OSError as exc:
            say([error_line(f"/download: {name}: {exc.strerror or exc}: "
                            f"{getattr(exc, 'filename', None) or target}")])
            return
        except (aiohttp.ClientError, CutShort) as exc:
            say([error_line(f"/download: {name}: {exc or type(exc).__name__}")])
            return
        if fetched.path is None:
            answer = fetched.answer
            why = sanitize(str(answer.get("message") or f"HTTP {fetched.status}"))
            code = sanitize(str(answer.get("code") or ""))
            say([error_line(f"/download: {name}: {why}", f"{fetched.status} {code}".strip())])
            return
        say([info_line(f"saved {name} ({fetched.size} bytes) as {sanitize(str(fetched.path))}")])

    async def _file_of(self, action: DownloadFile) -> FileRef:
        """The file of the message: one seen, or asked for with HISTORY."""
        where = action.room if action.room is not None else f"@{action.peer}"
        found = self._seen.get((conversation_key(action.room, action.peer), action.msg_id))
        if found is None and action.msg_id >= 1:
            page = await self._ask(History(room=action.room, peer=action.peer,
                                           after=action.msg_id - 1, limit=1),
                                   HistoryPage, "/download")
            found = page.messages[0] if page.messages else None
        try:
            return file_of(found, action.msg_id, where)
        except NoFile as exc:
            raise Refused(error_line(f"/download: {exc.message}", exc.code.value)) from None

    # ------------------------------------------------------------------ requests

    async def _ask(self, message: Wire, reply: type[_Reply], what: str) -> _Reply:
        """Send ``message``; its answer, which must be a ``reply`` (Refused otherwise)."""
        request_id = self.client.next_id()
        self._ours.add(request_id)
        try:
            answer = await (await self.client.submit(
                msgspec.structs.replace(message, id=request_id)))
        except ServerError as exc:
            raise Refused(error_line(f"{what}: {exc.error.message}", exc.code)) from None
        if not isinstance(answer, reply):
            raise Refused(error_line(f"{what}: the server answered {type(answer).__name__}"))
        return answer
