"""The IRC registration state machine, as one table.

A connection starts in ``START``. ``NICK``, ``USER`` and ``PASS`` fill in what registration
needs; ``CAP LS``/``CAP REQ`` before registration suspend it (``CAP``) until ``CAP END``. When
the client has given both NICK and USER outside a CAP negotiation (the dialect checks that
after each step and feeds ``COMPLETE``), the HELLO goes to the hub and the connection
``WAITS``: commands are forwarded as if registered (the hub handles them in order, after the
HELLO). WELCOME makes it ``REGISTERED``; a refused HELLO (nick in use, wrong password) sends
it back to ``START`` to try again. An event with no row is illegal: :class:`IllegalTransition`
names the role, state and event, and the dialect answers with the matching numeric. Until
``REGISTERED``, the phase is kept in the connection's :class:`Registration`, with what only
registering needs; a registered connection has none.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final


class Phase(enum.Enum):
    START = "start"
    CAP = "cap negotiation"
    WAITING = "waiting for welcome"
    REGISTERED = "registered"


class Step(enum.Enum):
    CAP_BEGIN = "CAP LS/REQ"
    CAP_END = "CAP END"
    NICK = "NICK"
    USER = "USER"
    PASS = "PASS"
    COMPLETE = "NICK and USER given"
    WELCOME = "WELCOME"
    REFUSED = "HELLO refused"
    COMMAND = "a command for the hub"


S, C, W, R = Phase.START, Phase.CAP, Phase.WAITING, Phase.REGISTERED

TRANSITIONS: Final[dict[tuple[Phase, Step], Phase]] = {
    (S, Step.CAP_BEGIN): C,
    (S, Step.CAP_END): S,  # a stray CAP END is harmless
    (S, Step.NICK): S,
    (S, Step.USER): S,
    (S, Step.PASS): S,
    (S, Step.COMPLETE): W,
    (C, Step.CAP_BEGIN): C,
    (C, Step.CAP_END): S,
    (C, Step.NICK): C,
    (C, Step.USER): C,
    (C, Step.PASS): C,
    (W, Step.CAP_BEGIN): W,
    (W, Step.CAP_END): W,
    (W, Step.NICK): W,  # forwarded as a nick change, behind the HELLO
    (W, Step.WELCOME): R,
    (W, Step.REFUSED): S,
    (W, Step.COMMAND): W,
    (R, Step.CAP_BEGIN): R,  # capabilities may change after registration
    (R, Step.CAP_END): R,
    (R, Step.NICK): R,
    (R, Step.COMMAND): R,
}


class IllegalTransition(Exception):
    def __init__(self, role: str, phase: Phase, step: Step) -> None:
        super().__init__(f"{role} cannot do {step.value} while in {phase.value}")
        self.role = role
        self.phase = phase
        self.step = step


def advance(phase: Phase, step: Step, role: str = "client") -> Phase:
    """The next phase; raises :class:`IllegalTransition` if ``step`` is not allowed."""
    try:
        return TRANSITIONS[(phase, step)]
    except KeyError:
        raise IllegalTransition(role, phase, step) from None


class Registration:
    """A registration under way, let go when WELCOME makes it ``REGISTERED``: its phase
    (``START``, ``CAP`` or ``WAITING``) and what only registering needs — USER's username,
    PASS's password, a SASL exchange under way (its mechanism and data so far; None: none) and
    the metadata set before registering (``before-connect``; None: none), all for the HELLO,
    sent again with the next NICK if the hub refuses it; and, once a login is refused, the
    close that ends it (None: none). (What is needed after is the dialect's: the account, the
    realname; the CAP version is its negotiation's; the door's server password and SASL
    mechanisms are its door's: ``IrcDialect.door``.)"""

    __slots__ = ("closing", "mechanism", "metadata", "password", "phase", "sasl", "username")

    def __init__(self) -> None:
        self.phase = Phase.START
        self.closing: Closing | None = None
        self.username: str | None = None
        self.password: str | None = None
        self.mechanism = "PLAIN"
        self.sasl: str | None = None
        self.metadata: dict[str, str] | None = None


@dataclass(slots=True)
class Closing:
    """Why a connection must close after what has been rendered (IRC ends a refused login with
    ERROR, it does not let the client guess again), and whether its transport has asked the
    core for that close yet (it asks once: palaver.transports.irc_port)."""

    reason: str
    asked: bool = False
