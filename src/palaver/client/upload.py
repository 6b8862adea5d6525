"""``palaver chat``'s ``/upload PATH``: the file's bytes over HTTP, with a progress line.

How this works: the terminal sends UPLOAD and waits for its UPLOAD_READY; :func:`put_file`
then streams the file to the URL it names (on the server's web port) in chunks, calling
``progress`` each time another tenth has gone, and returns the server's answer. The server
posts the MESSAGE that carries the file; its URL is shown with the message (render.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Final

import aiohttp

CHUNK: Final = 262_144  # bytes read and sent at a time


async def put_file(url: str, path: Path, size: int, progress: Callable[[int], None]
                   ) -> tuple[int, dict[str, Any]]:
    """PUT ``path`` (``size`` bytes) to ``url``; ``progress(percent)`` at each tenth. The HTTP
    status and the JSON answer (``{}`` if it was not JSON)."""

    async def body() -> AsyncIterator[bytes]:
        sent, shown = 0, 0
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                sent += len(chunk)
                yield chunk
                percent = sent * 100 // size if size else 100
                if percent // 10 > shown // 10:
                    shown = percent
                    progress(percent)

    headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
    async with aiohttp.ClientSession() as session, session.put(
            url, data=body(), headers=headers) as response:
        try:
            answer = await response.json(content_type=None)
        except (ValueError, aiohttp.ContentTypeError):
            answer = {}
        return response.status, answer if isinstance(answer, dict) else {}
