"""IRC server operators and user modes: OPER, KILL, WALLOPS, ``MODE <own nick>``; and the events
that answer them (USER_MODE, WALLOPS).

The rules are the hub's (hub/operators.py): who is an operator, what KILL and WALLOPS do, the
user modes. User modes are ``i`` (invisible: WHO of strangers leaves one out), ``w`` (receives
WALLOPS), ``o`` (server operator: only OPER gives it; ``-o`` drops it) and ``B`` (a bot: WHO,
WHOIS and its messages say so). USER_MODE says which
modes changed, so the ``MODE`` line is made from the event alone and is the same for every
connection of the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.hub.operators import MAX_KILL_REASON
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import clean, hostmask
from palaver.protocol.irc.wire import MAX_LINE, IrcLine, format_line, one_line, split_text
from palaver.protocol.messages import (
    BecomeOperator,
    Kill,
    SendWallops,
    SetUserMode,
    UserMode,
    Wallops,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

# user mode letter -> USER_MODE field
USER_MODES: Final = {"i": "invisible", "w": "wallops", "o": "operator", "B": "bot"}
_LETTERS: Final = {name: letter for letter, name in USER_MODES.items()}


# ---------------------------------------------------------------------- commands


def on_oper(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    name, password = line.params[0], line.params[1]
    out.append(irc.request(BecomeOperator, Pending("oper", name), name=name, password=password))


def on_kill(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    nick = line.params[0]
    reason = one_line(line.params[1], MAX_KILL_REASON) if len(line.params) > 1 else None
    out.append(irc.request(Kill, Pending("kill", nick, nick), nick=nick, reason=reason or None))


def on_wallops(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.request(SendWallops, Pending("wallops"), text=line.params[0]))


def on_user_mode(irc: IrcDialect, me: str, changes: list[str], out: list[Inbound]) -> None:
    """``MODE <own nick> [+iw-iwo]``: without changes, ask (221)."""
    if not changes:
        out.append(irc.request(SetUserMode, Pending("umode")))
        return
    adding, wanted = True, {}
    for char in changes[0]:
        if char in "+-":
            adding = char == "+"
        elif char not in USER_MODES:
            out.append(irc.num("501", "Unknown MODE flag"))
            return
        elif char != "o" or not adding:  # +o: only OPER gives it (ignored, as IRC servers do)
            wanted[USER_MODES[char]] = adding
    if wanted:
        out.append(irc.request(SetUserMode, Pending("umode_set"), **wanted))


# ---------------------------------------------------------------------- events


def modes_of(event: UserMode) -> str:
    """The ``221`` mode string: ``+`` and the letters of the modes that are on."""
    return "+" + "".join(letter for letter, name in sorted(USER_MODES.items())
                         if getattr(event, name))


def user_mode(irc: IrcDialect, event: UserMode, pending: Pending | None) -> bytes:
    lines: list[bytes] = []
    if pending is not None and pending.kind == "oper":
        lines.append(irc.num("381", "You are now an IRC operator"))
    if event.changed:
        on = "".join(_LETTERS[m] for m in event.changed if getattr(event, m))
        off = "".join(_LETTERS[m] for m in event.changed if not getattr(event, m))
        change = (f"+{on}" if on else "") + (f"-{off}" if off else "")
        lines.append(irc.line("MODE", event.nick, change, source=hostmask(event.nick)))
    elif pending is not None and pending.kind == "umode":
        lines.append(irc.num("221", modes_of(event)))
    return b"".join(lines)


def wallops(irc: IrcDialect, event: Wallops, pending: Pending | None) -> bytes:
    """The same bytes for everyone (the sender's copy too): split to fit, never cut."""
    source = hostmask(event.sender)
    budget = MAX_LINE - 2 - len(f":{source} WALLOPS :".encode())
    return b"".join(format_line("WALLOPS", piece, source=source)
                    for piece in split_text(clean(event.text), budget))
