"""The IRC door: a stream connection speaking :class:`~palaver.protocol.irc.IrcDialect`.

The dialect is sans-I/O; this only gives it what it cannot know by itself: its request ids (one
random prefix and counter for every IRC connection of the process), a way to ask the hub for the
connection's current nick when it renders a reply, and the server's name. And it carries out
the one decision the dialect takes about the connection itself: after a refused login (wrong
password, too many attempts) IRC ends with ``ERROR`` and a close (:attr:`IrcDialect.closing`),
which is asked of the core once the refusal is on its way. The IRC door over WebSocket
(:mod:`palaver.transports.irc_websocket`) shares all of this.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import socket
from collections.abc import Callable
from typing import cast

from palaver.hub.effects import SessionId
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.messages import Wire
from palaver.server.config import SERVER_NAME_PATTERN
from palaver.server.core import Connection, ServerCore
from palaver.transports.stream import StreamConnection


class IrcEncoding:
    """The IRC door's ``encode``, for a connection of any transport that holds an
    :class:`IrcDialect` as ``dialect``: after a refused login the dialect asks for the close
    (:attr:`IrcDialect.closing`), and this asks the core, once."""

    __slots__ = ()

    _core: ServerCore
    dialect: IrcDialect
    sid: SessionId

    def __call__(self) -> str | None:
        """The connection's nick as the hub has it. The connection itself is its dialect's
        ``nick_of``: a bound method would be one more object (64 bytes) per connection."""
        return self._core.hub.nick_of(self.sid)

    def encode(self, event: Wire) -> bytes:
        data = self.dialect.encode(event)
        closing = self.dialect.closing
        if closing is not None and not closing.asked:
            closing.asked = True
            # After this turn: the bytes just rendered are queued first (the core sends them
            # right after encoding), then the core's BYE (rendered as ERROR) closes.
            conn = cast(Connection, self)
            asyncio.get_running_loop().call_soon(self._core.cut_off, conn, closing.reason)
        return data


class IrcConnection(IrcEncoding, StreamConnection):
    """An IRC client over TCP: its dialect is the stream's (no slot of its own)."""

    __slots__ = ()
    dialect: IrcDialect  # StreamConnection's slot, holding this IrcDialect

    def __init__(self, core: ServerCore, server_name: str | None = None,
                 password: str | None = None, *, external: bool = False) -> None:
        super().__init__(core, irc_dialect(core, server_name, self, password=password,
                                           external=external),
                         notice_after=core.limits.irc_notice_after)


@functools.cache
def host_name() -> str:
    """This machine's host name, the default server name ("palaver" if it is not a usable one)."""
    name = socket.gethostname()
    return name if re.fullmatch(SERVER_NAME_PATTERN, name) else "palaver"


@functools.cache
def request_ids() -> RequestIds:
    """The IRC connections' request ids: made on first use, so each process of ``--workers``
    has a prefix of its own."""
    return RequestIds("irc-" + secrets.token_hex(6))


def irc_dialect(core: ServerCore, server_name: str | None,
                nick_of: Callable[[], str | None], *, password: str | None = None,
                external: bool = False) -> IrcDialect:
    """A new connection's dialect: ``server_name`` is the ``server_name`` setting (None: the
    host name); ``nick_of`` gives the connection's current nick (the connection itself:
    :meth:`IrcEncoding.__call__`); ``password`` is the ``irc_password`` setting (the door's
    server password); ``external``: offer SASL EXTERNAL (the TLS door of a server with
    ``client_ca``)."""
    return IrcDialect(ids=request_ids(), nick_of=nick_of,
                      password=password,
                      sasl_mechanisms=("PLAIN", "EXTERNAL") if external else ("PLAIN",),
                      server=server_name or host_name(), info=core.hub.config.server_info,
                      motd=core.hub.config.motd)


def irc_connection(core: ServerCore, server_name: str | None = None,
                   password: str | None = None, *, external: bool = False) -> StreamConnection:
    """A new connection for the IRC listener (a protocol factory for ``create_server``);
    ``server_name`` is the ``server_name`` setting (None: the host name), ``password`` the
    ``irc_password`` one; ``external``: offer SASL EXTERNAL (client certificates)."""
    return IrcConnection(core, server_name, password, external=external)
