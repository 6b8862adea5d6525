"""File blobs in the data dir: streamed in while hashed, stored by sha256, collected when unused.

How this works: an upload's bytes go to ``blobs/tmp/<random>`` as they arrive (never held whole
in memory), hashed on the way; when the body is whole, the file is renamed to
``blobs/<sha256>`` — or, if that blob exists already (the same content uploaded before), dropped
and the existing blob's time refreshed: one copy per content. Nothing is ever decompressed or
interpreted; only the first bytes are looked at (:func:`sniff`) to pick the ``Content-Type`` it
is served with. :meth:`Blobs.collect` removes the blobs that no message in use refers to
(deleted messages' files) and stray partial uploads, if they are older than a grace period (a
blob just written may be waiting for its message to be stored); the server runs it at start and
every ``files_gc_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

log = logging.getLogger("palaver.server")

BLOBS_DIR: Final = "blobs"
SNIFF_BYTES: Final = 512  # how much of a file sniff() looks at
COLLECT_GRACE: Final = 3_600.0  # seconds an unused blob is kept (a message may be on its way)
SHA256_NAME: Final = re.compile(r"^[0-9a-f]{64}$")
# Served inline (the web client shows them); everything else is an attachment.
INLINE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_TEXT_CONTROLS: Final = bytes(c for c in range(32) if c not in b"\t\n\r\f") + b"\x7f"
_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def sniff(head: bytes) -> str:
    """The type a file is served as, from its first bytes — never from its name or what the
    uploader said: a few image types and PDF by their magic numbers, UTF-8 text with no control
    characters (but tab, CR, LF, FF) as ``text/plain``, anything else
    ``application/octet-stream``."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.translate(None, _TEXT_CONTROLS) != head:  # control characters: not text
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of the sample is fine
        if exc.start < len(head) - 3 or exc.reason != "unexpected end of data":
            return "application/octet-stream"
    return "text/plain; charset=utf-8"


class BlobWriter:
    """One upload on its way to disk: :meth:`write` chunks, then :meth:`finish` or
    :meth:`discard`."""

    def __init__(self, blobs: Blobs) -> None:
        self._blobs = blobs
        self.path = blobs.tmp / secrets.token_hex(16)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._hash = hashlib.sha256()
        self.size = 0
        self.head = b""

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` (to the page cache: quick enough to do on the event loop)."""
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[:SNIFF_BYTES - len(self.head)]
        self._hash.update(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(chunk)

    def finish(self) -> str:
        """The upload is whole: store it as ``blobs/<sha256>`` (once per content); its
        sha256."""
        os.close(self._fd)
        self._fd = -1
        digest = self._hash.hexdigest()
        final = self._blobs.path(digest)
        if final.exists():  # the same content is here already: keep one copy
            self.path.unlink(missing_ok=True)
            os.utime(final)  # fresh again, so collect() gives it its grace
        else:
            os.replace(self.path, final)
        return digest

    def discard(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.path.unlink(missing_ok=True)


class Blobs:
    """The ``blobs`` directory of the data dir."""

    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir) / BLOBS_DIR
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not SHA256_NAME.match(sha256):
            raise ValueError("not a sha256")
        return self.root / sha256

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def collect(self, in_use: set[str], grace: float, now: float | None = None) -> int:
        """Remove the blobs not ``in_use`` and the partial uploads, of those last changed more
        than ``grace`` seconds ago; how many were removed."""
        cutoff = (time.time() if now is None else now) - grace
        removed = 0
        for folder, keep in ((self.root, in_use), (self.tmp, set[str]())):
            for entry in os.scandir(folder):
                if not entry.is_file(follow_symlinks=False) or entry.name in keep:
                    continue
                if folder is self.root and not SHA256_NAME.match(entry.name):
                    continue  # not ours
                if entry.stat(follow_symlinks=False).st_mtime <= cutoff:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        if removed:
            log.info("removed %d unused file blob(s)", removed)
        return removed


def files_url(host: str, port: int, tls: bool) -> str:
    """The web door's URL from its host and port (the ``files_url`` setting overrides it)."""
    if host in ("", "0.0.0.0", "::"):  # listening everywhere: name this machine
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


async def collect_every(blobs: Blobs, in_use: Callable[[], Awaitable[set[str]]],
                        interval: float, grace: float) -> None:
    """Run :meth:`Blobs.collect` every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            blobs.collect(await in_use(), grace)
        except Exception:
            log.exception("could not collect unused file blobs")
