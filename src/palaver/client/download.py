"""``palaver chat``'s ``/download``: a file's bytes over HTTP into a new local file, with progress.

How this works: :func:`get_file` GETs the file's URL with ``?key=`` a FILE_KEY and streams the
body, chunk by chunk, into a file it creates for it (:func:`create_new`: never one that exists —
``cat.png`` taken, it tries ``cat-1.png``, ``cat-2.png``, …), calling ``progress`` each time
another tenth has arrived. A refusal (401, 403, 404, 410) is the server's JSON answer and no
file; a body cut short leaves no file behind either. :func:`target_for` says where a file goes:
its cleaned name (protocol/file_text.py) in the current directory, or in the directory given, or
the path given.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp

from palaver.protocol.file_text import clean_file_name, keyed_url

CHUNK: Final = 262_144  # bytes read and written at a time (at most)
MAX_SUFFIX: Final = 999  # cat-1.png … cat-999.png, then give up
TIMEOUT: Final = aiohttp.ClientTimeout(total=None, connect=30.0, sock_read=60.0)


class CutShort(Exception):
    """The body ended before the ``Content-Length`` the server announced."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a GET gave: ``status``, and the file it was saved as (200) or the server's JSON
    refusal (``answer``: ``{"code", "message"}``, or ``{}``)."""

    status: int
    path: Path | None = None
    size: int = 0
    answer: dict[str, Any] = field(default_factory=dict)


def target_for(given: str | None, name: str, cwd: Path | None = None) -> Path:
    """Where a file named ``name`` (as the server gave it) is saved: ``given`` (a directory: in
    it, under the cleaned name), else the cleaned name in ``cwd`` (the current directory)."""
    clean = clean_file_name(name)
    if given is None:
        return (cwd or Path.cwd()) / clean
    path = Path(given).expanduser()
    return path / clean if path.is_dir() else path


def create_new(path: Path) -> tuple[Path, int]:
    """Create ``path`` — or, when it exists, ``stem-1.suffix``, ``stem-2.suffix``, … — never
    opening a file that exists (``O_EXCL``); the path created and its descriptor."""
    stem, suffix = path.stem, path.suffix
    for n in range(MAX_SUFFIX + 1):
        candidate = path if n == 0 else path.with_name(f"{stem}-{n}{suffix}")
        try:
            return candidate, os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
    raise FileExistsError(17, f"{path} and {MAX_SUFFIX} numbered names exist", str(path))


async def get_file(url: str, key: str, target: Path, progress: Callable[[int], None]
                   ) -> Fetched:
    """GET ``url`` with ``key`` into a new file at ``target`` (or a numbered name beside it);
    ``progress(percent)`` at each tenth. OSError (the file), aiohttp.ClientError and CutShort
    (the transfer) leave no file behind."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(
            keyed_url(url, key)) as response:
        if response.status != 200:
            try:
                answer = await response.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                answer = {}
            return Fetched(response.status, answer=answer if isinstance(answer, dict) else {})
        total = response.content_length
        path, fd = create_new(target)
        complete = False
        try:
            got, shown = 0, 0
            async for chunk in response.content.iter_chunked(CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
                got += len(chunk)
                percent = got * 100 // total if total else 100
                if percent // 10 > shown // 10:
                    shown = percent
                    progress(min(percent, 100))
            if total is not None and got != total:
                raise CutShort(f"the connection ended after {got} of {total} bytes")
            complete = True
        finally:
            os.close(fd)
            if not complete:
                path.unlink(missing_ok=True)
        return Fetched(200, path=path, size=got)
