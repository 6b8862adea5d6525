"""The IRC door: a stream connection speaking :class:`~palaver.protocol.irc.IrcDialect`.

The dialect is sans-I/O; this only gives it what it cannot know by itself: a random prefix for
its request ids (unique per connection, so the hub never takes a new message for a resend) and
a way to ask the hub for the connection's current nick when it renders a reply.
"""

from __future__ import annotations

import secrets

from palaver.protocol.irc import IrcDialect
from palaver.server.core import ServerCore
from palaver.transports.stream import StreamConnection


def irc_connection(core: ServerCore) -> StreamConnection:
    """A new connection for the IRC listener (a protocol factory for ``create_server``)."""
    conn: StreamConnection

    def nick_of() -> str | None:
        return core.hub.nick_of(conn.sid)

    conn = StreamConnection(core, IrcDialect(id_prefix="irc-" + secrets.token_hex(6),
                                             nick_of=nick_of),
                            notice_after=core.limits.irc_notice_after)  # fakelag first
    return conn
