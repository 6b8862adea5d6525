"""Files over HTTP on the web port: ``PUT``/``POST /upload/<token>`` and ``GET /files/<id>/<name>``.

How this works: an upload needs the one-time token of an UPLOAD_READY (hub/files.py). Its
size is checked against what UPLOAD announced before a byte of the body is read: a
``Content-Length`` over it is refused with 413 and the connection closed (the body is never
read, let alone buffered); a body that runs past it while streaming is cut off the same way.
The uploader's quota (``upload_quota_bytes``) is checked before the body too. The bytes go
straight to a blob file (server/files.py) as they arrive; when the body is whole, the hub posts
the message that carries the file (stored before it is delivered, like any CHAT or DM) and the
answer is ``201`` with the file's reference and the message's msg_id as JSON. Refusals are JSON
``{"code", "message"}`` with a stable code (protocol/errors.py).

A download needs ``?key=`` a FILE_KEY of someone who may read the file's conversation now (a
member of the room, or one of a direct conversation's two ends): no key or a bad one 401,
someone else's conversation 403, an unknown file 404, a deleted message's file 410. It is
served with the type sniffed at upload, ``nosniff``, a CSP that lets it run nothing
(``sandbox``), and as an attachment unless it is an image the web client shows inline.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from aiohttp import web

from palaver.hub.effects import Persist
from palaver.hub.files import UploadGrant
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import FileRef
from palaver.server.files import INLINE_TYPES, Blobs, sniff
from palaver.store.base import StoredFile

if TYPE_CHECKING:
    from palaver.server.core import ServerCore

log = logging.getLogger("palaver.transports")

FILE_CSP: Final = "default-src 'none'; sandbox"  # a file, opened in a tab, runs nothing
CHUNK: Final = 1_048_576  # bytes written to disk at once (at most)


def refusal(status: int, code: ErrorCode, message: str, *, close: bool = False
            ) -> web.Response:
    response = web.json_response({"code": code.value, "message": message}, status=status)
    if close:  # the body is not read: close, rather than read and drop what follows
        response.force_close()
    return response


def content_disposition(name: str, inline: bool) -> str:
    """``attachment`` (or ``inline``) with an ASCII fallback name and the UTF-8 one."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_" for c in name)
    return (f"{'inline' if inline else 'attachment'}; filename=\"{ascii_name}\"; "
            f"filename*=UTF-8''{quote(name, safe='')}")


class FileRoutes:
    """The two routes, on the web door's application."""

    def __init__(self, core: ServerCore, blobs: Blobs) -> None:
        self._core = core
        self._blobs = blobs

    def add_to(self, app: web.Application) -> None:
        app.router.add_put("/upload/{token}", self.upload)
        app.router.add_post("/upload/{token}", self.upload)
        app.router.add_get("/files/{file_id}/{name}", self.download)

    async def upload(self, request: web.Request) -> web.StreamResponse:
        hub, store = self._core.hub, self._core.store
        config = hub.files_config
        grant = hub.peek_upload(request.match_info["token"], time.time())
        if grant is None:
            return refusal(404, ErrorCode.INVALID_TOKEN, "this upload token is unknown, used or "
                           "expired: ask with UPLOAD again", close=True)
        length = request.content_length
        if length is not None and length > grant.size:
            return refusal(413, ErrorCode.FILE_TOO_LARGE, f"this upload is {grant.size} bytes "
                           "(as UPLOAD said)", close=True)
        if config.quota_bytes:
            used = await store.files_usage(grant.identity)
            if used + grant.size > config.quota_bytes:
                return refusal(413, ErrorCode.QUOTA_EXCEEDED, f"your files take {used} of your "
                               f"{config.quota_bytes} bytes; delete some first", close=True)
        claimed = hub.claim_upload(grant.token, time.time())  # from here on, used up
        if claimed is None:
            return refusal(404, ErrorCode.INVALID_TOKEN, "this upload token was used meanwhile",
                           close=True)
        return await self._receive(request, claimed)

    async def _receive(self, request: web.Request, grant: UploadGrant) -> web.StreamResponse:
        writer = self._blobs.writer()
        try:
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                if writer.size + len(chunk) > grant.size:
                    writer.discard()
                    return refusal(413, ErrorCode.FILE_TOO_LARGE, f"this upload is "
                                   f"{grant.size} bytes (as UPLOAD said)", close=True)
                writer.write(chunk)
            if writer.size != grant.size:
                writer.discard()
                return refusal(400, ErrorCode.INVALID_FIELD, f"the body was {writer.size} bytes, "
                               f"not the {grant.size} UPLOAD said")
            digest = writer.finish()
        except BaseException:
            writer.discard()
            raise
        file_id = secrets.token_urlsafe(16)
        base = self._core.hub.files_config.base_url
        stored = StoredFile(file_id=file_id, name=grant.name, size=grant.size,
                            type=sniff(writer.head), sha256=digest,
                            url=f"{base}/files/{file_id}/{quote(grant.name, safe='')}")
        try:
            effects = self._core.hub.post_file(grant, stored, time.time())
        except PeerError as error:  # no longer allowed there (left, banned, logged out)
            return refusal(403, error.code, error.message)
        self._core.pipeline.submit(effects)
        msg_id = next(e.message.msg_id for e in effects if isinstance(e, Persist))
        ref = FileRef(name=stored.name, size=stored.size, type=stored.type,
                      sha256=stored.sha256, url=stored.url)
        return web.json_response({"file": {f: getattr(ref, f) for f in ref.__struct_fields__},
                                  "msg_id": msg_id}, status=201)

    async def download(self, request: web.Request) -> web.StreamResponse:
        hub = self._core.hub
        key = request.query.get("key", "")
        reader = hub.file_reader(key, time.time()) if key else None
        if reader is None:
            return refusal(401, ErrorCode.AUTH_FAILED, "a file needs ?key= a current FILE_KEY")
        message = await self._core.store.file_message(request.match_info["file_id"])
        if message is None:
            return refusal(404, ErrorCode.NO_SUCH_MESSAGE, "there is no such file")
        if not hub.may_read(reader, message.conversation):
            return refusal(403, ErrorCode.NOT_IN_ROOM, "only the conversation's members may "
                           "fetch its files")
        file = message.file
        path = self._blobs.path(file.sha256) if file is not None else None
        if message.deleted or file is None or path is None or not path.is_file():
            return refusal(410, ErrorCode.NO_SUCH_MESSAGE, "this file's message was deleted")
        inline = file.type in INLINE_TYPES
        return web.FileResponse(path, headers={
            "Content-Type": file.type,
            "Content-Disposition": content_disposition(file.name, inline),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": FILE_CSP,
            "Cache-Control": "private, no-cache",
        })
