"""The IRC door: a stream connection speaking :class:`~palaver.protocol.irc.IrcDialect`.

The dialect is sans-I/O; this only gives it what it cannot know by itself: a random prefix for
its request ids (unique per connection), a way to ask the hub for the connection's current nick
when it renders a reply, and the server's name. And it carries out the one decision the dialect
takes about the connection itself: after a refused login (wrong password, too many attempts)
IRC ends with ``ERROR`` and a close (:attr:`IrcDialect.closing`), which is asked of the core
once the refusal is on its way.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import socket

from palaver.protocol.irc import IrcDialect
from palaver.protocol.messages import Wire
from palaver.server.config import SERVER_NAME_PATTERN
from palaver.server.core import ServerCore
from palaver.transports.stream import StreamConnection


class IrcConnection(StreamConnection):
    __slots__ = ("_closing_asked", "_irc")

    def __init__(self, core: ServerCore, dialect: IrcDialect) -> None:
        super().__init__(core, dialect, notice_after=core.limits.irc_notice_after)
        self._irc = dialect
        self._closing_asked = False

    def encode(self, event: Wire) -> bytes:
        data = self._irc.encode(event)
        reason = self._irc.closing
        if reason is not None and not self._closing_asked:
            self._closing_asked = True
            # After this turn: the bytes just rendered are queued first (the core sends them
            # right after encoding), then the core's BYE (rendered as ERROR) closes.
            asyncio.get_running_loop().call_soon(self._core.cut_off, self, reason)
        return data


@functools.cache
def host_name() -> str:
    """This machine's host name, the default server name ("palaver" if it is not a usable one)."""
    name = socket.gethostname()
    return name if re.fullmatch(SERVER_NAME_PATTERN, name) else "palaver"


def irc_connection(core: ServerCore, server_name: str | None = None) -> StreamConnection:
    """A new connection for the IRC listener (a protocol factory for ``create_server``);
    ``server_name`` is the ``server_name`` setting (None: the host name)."""
    conn: StreamConnection

    def nick_of() -> str | None:
        return core.hub.nick_of(conn.sid)

    conn = IrcConnection(core, IrcDialect(id_prefix="irc-" + secrets.token_hex(6),
                                          nick_of=nick_of, server=server_name or host_name()))
    return conn
