"""Line framing with a hard maximum, sans-I/O.

Feed bytes with :meth:`LineFramer.receive_data`; it returns the complete lines (without ``\\n`` or
``\\r\\n``) and keeps the unterminated tail. A line longer than the limit — counted with its
terminator — is never buffered past the limit: the framer reports :class:`FrameTooLarge` and
refuses further input, and the connection must be closed. :meth:`receive_eof` hands back a
final unterminated line, so ``printf 'text' | nc`` still delivers its last line.
"""

from __future__ import annotations

from palaver.protocol.errors import FrameTooLarge

DEFAULT_MAX_FRAME = 65_536


class LineFramer:
    __slots__ = ("_failed", "_max", "_tail")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < 2:
            raise ValueError("max_frame must allow at least one byte and the newline")
        self._max = max_frame
        # An unterminated line: grows in place, never re-scanned. Empty bytes (shared) until a
        # read leaves a partial line, so an idle connection holds no buffer of its own.
        self._tail: bytes | bytearray = b""
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes held for an unterminated line."""
        return len(self._tail)

    @property
    def idle(self) -> bool:
        """As a new framer: no unterminated line held, not failed."""
        return not (self._tail or self._failed)

    def receive_data(self, data: bytes) -> tuple[list[bytes], FrameTooLarge | None]:
        """Split ``data`` into complete lines.

        Returns the lines completed by ``data`` and, if a line broke the limit, the error; lines
        before the oversized one are still returned, nothing after it is.
        """
        if self._failed:
            return [], None
        if self._tail:
            end = data.find(b"\n")
            if end < 0:  # the line goes on: only the new bytes were searched
                if len(self._tail) + len(data) >= self._max:
                    return self._fail([])
                self._tail += data
                return [], None
            self._tail += data[: end + 1]  # complete the pending line, then split the rest
            data = bytes(self._tail) + data[end + 1 :]
            self._tail = b""
        parts = data.split(b"\n")
        tail = parts.pop()
        limit = self._max
        for index, line in enumerate(parts):
            if len(line) >= limit:  # with its "\n" the frame is over the limit
                return self._fail(parts[:index])  # those lines are already stripped of "\r"
            if line.endswith(b"\r"):
                parts[index] = line[:-1]
        if len(tail) >= limit:  # cannot end within the limit any more
            return self._fail(parts)
        if tail:
            self._tail = bytearray(tail)
        return parts, None

    def receive_eof(self) -> bytes | None:
        """The stream ended; returns the unterminated last line, if there is one."""
        tail, self._tail = bytes(self._tail), b""
        if self._failed or not tail:
            return None
        return tail[:-1] if tail.endswith(b"\r") else tail

    def _fail(self, lines: list[bytes]) -> tuple[list[bytes], FrameTooLarge]:
        self._failed = True
        self._tail = b""
        return lines, FrameTooLarge(self._max)
