"""A bare TCP peer for tests that must misbehave (never answer PING, never read, send junk)."""

from __future__ import annotations

import asyncio

from palaver.client.session import ClientSession
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import ServerMessage


class RawPeer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._session = ClientSession()
        self._ready: list[ServerMessage] = []

    @classmethod
    async def open(cls, port: int) -> RawPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frame(self, timeout: float = 10.0) -> ServerMessage | None:
        """The next frame, or None at end of stream."""
        async with asyncio.timeout(timeout):
            while not self._ready:
                try:
                    data = await self.reader.read(65_536)
                except ConnectionResetError:
                    return None
                if not data:
                    return None
                for item in self._session.receive_data(data):
                    assert not isinstance(item, PeerError), item
                    self._ready.append(item)
            return self._ready.pop(0)

    async def frames_until_closed(self, timeout: float = 10.0) -> list[ServerMessage]:
        out: list[ServerMessage] = []
        while (frame := await self.frame(timeout)) is not None:
            out.append(frame)
        return out

    def close(self) -> None:
        self.writer.close()
