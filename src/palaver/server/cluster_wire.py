"""What the nodes of a cluster tell each other on the bus (server/cluster.py): the payloads,
as msgpack, and which channel each goes on.

A room's messages, updates and hints go on the room's channel (its key); a direct message on
each end's user channel (``user:`` and the user's key); roster hints on one channel every node
hears. Each payload is a tagged, array-like msgspec struct: small, and decoded by one decoder.
"""

from __future__ import annotations

from typing import Final

import msgspec

from palaver.hub.interest import Channel
from palaver.protocol.messages import Deleted, Edited, Message, Reacted
from palaver.roster.base import Member

USER_CHANNEL: Final = "user:"  # + a user's key: the channel of its direct messages
ROSTER_CHANNEL: Final = "cluster:roster"  # every node: hints that a node's members changed


class BusMessage(msgspec.Struct, frozen=True, array_like=True, tag="m"):
    """What a node publishes for a stored message: its conversation (a direct conversation's
    ends are in its key) and the event as the others see it; for a room, the sender as a member
    there (``sender_key``, ``member``), so that a node that does not show it yet shows it join
    before its message (presence in order with the messages)."""

    conversation: str
    event: Message
    sender_key: str = ""
    member: Member | None = None


class BusUpdate(msgspec.Struct, frozen=True, array_like=True, tag="u"):
    """What a node publishes for a stored edit, deletion or reaction: its conversation and the
    event as the others see it (its ``seq`` is its id in the conversation)."""

    conversation: str
    event: Edited | Deleted | Reacted


class RosterMoved(msgspec.Struct, frozen=True, array_like=True, tag="r"):
    """A hint: ``node`` wrote its room members to the roster (read it now, not at the next
    check)."""

    node: str


class RulesSaved(msgspec.Struct, frozen=True, array_like=True, tag="s"):
    """A hint on a room's channel: ``node`` stored new rules for it (read them now)."""

    room: str
    node: str


class Kicked(msgspec.Struct, frozen=True, array_like=True, tag="k"):
    """On a room's channel: an operator on ``node`` put ``user`` out of ``room``."""

    room: str
    user: str
    by: str
    reason: str
    node: str


Payload = BusMessage | BusUpdate | RosterMoved | RulesSaved | Kicked

encode = msgspec.msgpack.Encoder().encode
decode = msgspec.msgpack.Decoder(Payload).decode


def channel_name(channel: Channel) -> str:
    kind, key = channel
    return key if kind == "room" else USER_CHANNEL + key


def channels_of(conversation: str) -> list[str]:
    """Where a message of ``conversation`` is published: its room's channel, or the channel of
    each end of a direct conversation."""
    if not conversation.startswith("@"):
        return [conversation]
    return [USER_CHANNEL + key for key in dict.fromkeys(conversation[1:].split(","))]
