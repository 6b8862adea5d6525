"""palaver's notification levels on the IRC door: its own ``NOTIFY`` command (hub/notify.py).

IRC clients highlight and notify by their own rules; this command is there so that an IRC user
can set the level that their other palaver clients (the web client, ``palaver chat``) obey::

    NOTIFY <#channel|nick> [all|mentions|none]

Without a level it asks. The answer is a server NOTICE, readable in any client (``/quote NOTIFY
#dev mentions``)::

    :server NOTICE me :NOTIFY #dev: mentions (only mentions and direct messages notify)

A refusal is a NOTICE with its code (``not_in_room: you are not in #dev``), as every palaver
error without an IRC numeric. A level changed on another connection, and the levels the server
tells a client that logs in, are not shown: only answers are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import NotificationLevel, SetNotifyLevel

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

USAGE: Final = "NOTIFY takes <#channel|nick> [all|mentions|none]"
MEANING: Final = {
    "all": "every message may notify",
    "mentions": "only mentions and direct messages notify",
    "none": "nothing notifies",
}


def on_notify(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    if len(line.params) > 2:
        out.append(irc.renderer.notice(irc.me(), USAGE))
        return
    target = line.params[0]
    where = {"room": target} if target.startswith("#") else {"peer": target}
    level = line.params[1].lower() if len(line.params) == 2 else None
    out.append(irc.request(SetNotifyLevel, Pending("notify", target), level=level, **where))


def notify_level(irc: IrcDialect, event: NotificationLevel, pending: Pending | None) -> bytes:
    if pending is None:
        return b""  # at login, or changed elsewhere: the IRC client keeps its own rules
    return irc.renderer.notice(irc.me(), f"NOTIFY {pending.arg}: {event.level} "
                               f"({MEANING.get(event.level, '')})")
