"""What a request the IRC door sent the hub was for, so that its answer is rendered right."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pending:
    """What an id we sent answers: the IRC command and its argument (a channel, a nick)."""

    kind: str
    arg: str = ""
    nick: str = ""  # the nick a channel command is about (KICK, INVITE, MODE +o/+b)
    text: str = ""  # a PART's reason, shown back with our own PART
    detail: object = None  # anything else the answer needs (a CHATHISTORY query)
