"""Rooms' rules: who may do what in a room, as a table, and each room's rules as state.

How this works: every room that was ever made (but the default room, until someone changes it)
has a :class:`RoomRules` — topic, operators and invitations (by identity key), bans (by folded
nick, plus the identity that wore it when banned), and two flags: *invite-only* (only the
invited, the room's operators and server operators may join) and *private* (not listed, and
invisible to non-members: they get exactly the answers a room that does not exist gets). The
rules outlive the room's members and server restarts (the store keeps them, ``SaveRoom``).

Who may do what is :data:`PERMISSIONS`: an action and the kind of room give the roles that may
do it. A non-member (who is not a server operator) is refused before the table is consulted:
``no_such_room`` for a private room (it does not exist, as far as they can tell) and
``not_in_room`` for the others. :func:`authorize` applies all of that, in that order, so what a
refusal says never depends on facts the asker may not know. The moderation handlers are in
:mod:`palaver.hub.moderation`; docs/rooms.md is the table in prose.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Final

from palaver.protocol.errors import ErrorCode, PeerError
from palaver.store.base import RoomBan, RoomSettings

MAX_TOPIC: Final = 300
_FORBIDDEN_IN_TOPIC: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Role(enum.Enum):
    """The asker's standing in a room, strongest first."""

    SERVER_OP = "server operator"
    ROOM_OP = "room operator"
    MEMBER = "member"
    OUTSIDER = "non-member"  # banned users are outsiders too: a ban puts them out


class Action(enum.Enum):
    TOPIC = "topic"
    OP = "op"
    DEOP = "deop"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    INVITE = "invite"
    MODE = "mode"


class Kind(enum.Enum):
    """What rules a room has, as far as permissions go."""

    OPEN = "open"  # neither flag, or only private: anyone not banned may join
    INVITE_ONLY = "invite-only"


_OPS: Final = frozenset({Role.SERVER_OP, Role.ROOM_OP})
_MEMBERS: Final = frozenset({Role.SERVER_OP, Role.ROOM_OP, Role.MEMBER})

# (action, kind of room) -> the roles that may do it. Non-members never get this far.
PERMISSIONS: Final[dict[tuple[Action, Kind], frozenset[Role]]] = {
    **{(action, kind): _OPS for action in Action for kind in Kind},
    (Action.INVITE, Kind.OPEN): _MEMBERS,  # anyone in an open room may bring a friend
}


@dataclass(slots=True)
class RoomRules:
    name: str
    topic: str = ""
    topic_by: str | None = None
    topic_at: str | None = None
    invite_only: bool = False
    private: bool = False
    operators: set[str] = field(default_factory=set)  # identity keys
    bans: dict[str, str | None] = field(default_factory=dict)  # folded nick -> identity key
    invited: set[str] = field(default_factory=set)  # identity keys

    @property
    def kind(self) -> Kind:
        return Kind.INVITE_ONLY if self.invite_only else Kind.OPEN

    def is_banned(self, key: str, folded_nick: str) -> bool:
        return folded_nick in self.bans or (key in self._banned_keys())

    def _banned_keys(self) -> set[str]:
        return {key for key in self.bans.values() if key is not None}

    def ban(self, folded_nick: str, key: str | None) -> None:
        self.bans[folded_nick] = key
        if key is not None:
            self.invited.discard(key)
            self.operators.discard(key)

    def unban(self, folded_nick: str, key: str | None) -> bool:
        """Lift the ban on the nick and on the identity ``key`` (whatever nick it had)."""
        lifted = self.bans.pop(folded_nick, "") != ""
        if key is not None:
            for nick in [n for n, k in self.bans.items() if k == key]:
                del self.bans[nick]
                lifted = True
        return lifted

    def settings(self) -> RoomSettings:
        return RoomSettings(
            room=self.name, topic=self.topic, topic_by=self.topic_by, topic_at=self.topic_at,
            invite_only=self.invite_only, private=self.private,
            operators=tuple(sorted(self.operators)),
            bans=tuple(RoomBan(nick=n, key=k) for n, k in sorted(self.bans.items())),
            invited=tuple(sorted(self.invited)),
        )

    @classmethod
    def from_settings(cls, s: RoomSettings) -> RoomRules:
        return cls(name=s.room, topic=s.topic, topic_by=s.topic_by, topic_at=s.topic_at,
                   invite_only=s.invite_only, private=s.private, operators=set(s.operators),
                   bans={b.nick: b.key for b in s.bans}, invited=set(s.invited))


def no_such_room(name: str) -> PeerError:
    """The one refusal for a room that does not exist — or is private and not yours."""
    return PeerError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name}")


def authorize(action: Action, rules: RoomRules | None, role: Role, name: str) -> None:
    """Raise the refusal for ``role`` doing ``action`` in the room, if it is refused."""
    if rules is None:
        raise no_such_room(name)
    if role is Role.OUTSIDER:
        if rules.private:
            raise no_such_room(name)
        raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {name}")
    if role not in PERMISSIONS[(action, rules.kind)]:
        raise PeerError(ErrorCode.NOT_OPERATOR, f"only {name}'s operators may do that")


def check_entry(rules: RoomRules | None, role: Role, key: str, folded_nick: str,
                name: str, *, member_before: bool = False) -> None:
    """May this user join? ``role`` is SERVER_OP, ROOM_OP or OUTSIDER (not yet in).
    ``member_before``: an account's stored membership, which counts as an invitation."""
    if rules is None or role is Role.SERVER_OP:
        return
    if rules.is_banned(key, folded_nick):
        raise no_such_room(name) if rules.private else PeerError(
            ErrorCode.BANNED, f"you are banned from {name}")
    if rules.invite_only and role is not Role.ROOM_OP and key not in rules.invited \
            and not member_before:
        raise no_such_room(name) if rules.private else PeerError(
            ErrorCode.INVITE_ONLY, f"{name} is invite-only: ask an operator for an invitation")


def check_topic(topic: str) -> str:
    if len(topic) > MAX_TOPIC:
        raise PeerError(ErrorCode.INVALID_TEXT, f"a topic is at most {MAX_TOPIC} characters")
    if _FORBIDDEN_IN_TOPIC.search(topic) is not None:
        raise PeerError(ErrorCode.INVALID_TEXT, "a topic is one line without control characters")
    return topic
