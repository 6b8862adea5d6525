"""Rooms' rules: who may do what in a room, as a table, and each room's rules as state.

How this works: every room that was ever made (but a default room, until someone changes it)
has a :class:`RoomRules` — topic, creation time, operators, voiced members and invitations (by
identity key), bans (by folded nick, plus the identity that wore it when banned, who set it and
when), and settings: *invite-only* (only the invited, the room's operators and server operators
may join), *private* (not listed, and invisible to non-members: they get exactly the answers a
room that does not exist gets), *moderated* (only operators and voiced members speak),
*outside messages* (non-members may CHAT to it), *open topic* (every member may set the topic),
a member *limit* and a *key* (JOIN must give it). The rules outlive the room's members and
server restarts (the store keeps them, ``SaveRoom``).

Who may do what is :data:`PERMISSIONS`: an action and the kind of room (:class:`Kind`: which of
its settings decides that action, :data:`GOVERNED_BY`) give the roles that may do it. A
non-member (who is not a server operator) is refused before the table is consulted, unless the
table names non-members: ``no_such_room`` for a private room (it does not exist, as far as they
can tell) and ``not_in_room`` for the others. :func:`authorize` applies all of that, in that
order, so what a refusal says never depends on facts the asker may not know;
:func:`check_entry` does the same for JOIN. The moderation handlers are in
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
MAX_KEY: Final = 23  # RFC 2812's key length
_KEY: Final = re.compile(rf"[\x21-\x2b\x2d-\x7e]{{1,{MAX_KEY}}}", re.ASCII)
_FORBIDDEN_IN_TOPIC: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Role(enum.Enum):
    """The asker's standing in a room, strongest first."""

    SERVER_OP = "server operator"
    ROOM_OP = "room operator"
    VOICED = "voiced member"  # may speak in a moderated room
    MEMBER = "member"
    OUTSIDER = "non-member"  # banned users are outsiders too: a ban puts them out


class Action(enum.Enum):
    TOPIC = "topic"
    OP = "op"
    DEOP = "deop"
    VOICE = "voice"
    DEVOICE = "devoice"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    INVITE = "invite"
    MUTE = "mute"  # a nick may not speak in the room (IRC's mute extban): voices pass
    UNMUTE = "unmute"
    ALLOW = "allow"  # a nick on the room's allow list (IRC +I): past invite-only, always
    DISALLOW = "disallow"
    MODE = "mode"
    SPEAK = "speak"  # CHAT to the room


class Kind(enum.Enum):
    """Which of a room's flags decides who may do an action (:data:`GOVERNED_BY`)."""

    PLAIN = "none of the flags that matter for it"
    INVITE_ONLY = "invite-only"  # +i
    OPEN_TOPIC = "topic open to members"  # -t
    MODERATED = "moderated"  # +m
    OUTSIDE_MESSAGES = "messages from outside allowed"  # -n


_OPS: Final = frozenset({Role.SERVER_OP, Role.ROOM_OP})
_VOICES: Final = _OPS | {Role.VOICED}
_MEMBERS: Final = _VOICES | {Role.MEMBER}
_ANYONE: Final = _MEMBERS | {Role.OUTSIDER}

# (action, kind of room) -> the roles that may do it. A non-member gets this far only where the
# table names OUTSIDER (CHAT to a room with outside messages allowed); see authorize().
PERMISSIONS: Final[dict[tuple[Action, Kind], frozenset[Role]]] = {
    **{(action, Kind.PLAIN): _OPS for action in Action},
    (Action.INVITE, Kind.PLAIN): _MEMBERS,  # anyone in an open room may bring a friend
    (Action.INVITE, Kind.INVITE_ONLY): _OPS,
    (Action.TOPIC, Kind.OPEN_TOPIC): _MEMBERS,
    (Action.SPEAK, Kind.PLAIN): _MEMBERS,
    (Action.SPEAK, Kind.MODERATED): _VOICES,  # outsiders too are silenced by +m
    (Action.SPEAK, Kind.OUTSIDE_MESSAGES): _ANYONE,
}

# action -> the flags (RoomRules attributes) that may decide it, the first one on wins.
GOVERNED_BY: Final[dict[Action, tuple[tuple[str, Kind], ...]]] = {
    Action.INVITE: (("invite_only", Kind.INVITE_ONLY),),
    Action.TOPIC: (("open_topic", Kind.OPEN_TOPIC),),
    Action.SPEAK: (("moderated", Kind.MODERATED), ("outside_messages", Kind.OUTSIDE_MESSAGES)),
}


@dataclass(slots=True)
class RoomRules:
    name: str
    topic: str = ""
    topic_by: str | None = None
    topic_at: str | None = None
    created_at: str | None = None  # when the room was first made (ISO 8601 UTC)
    invite_only: bool = False  # +i
    private: bool = False  # +s
    moderated: bool = False  # +m: only operators and voiced members speak
    outside_messages: bool = False  # -n: non-members may CHAT to the room
    open_topic: bool = False  # -t: every member may set the topic
    limit: int = 0  # +l: at most this many members (0: no limit)
    key: str | None = None  # +k: JOIN needs it
    operators: set[str] = field(default_factory=set)  # identity keys
    voiced: set[str] = field(default_factory=set)  # identity keys
    bans: dict[str, RoomBan] = field(default_factory=dict)  # folded nick -> the ban
    invited: set[str] = field(default_factory=set)  # identity keys
    allowed: dict[str, RoomBan] = field(default_factory=dict)  # folded nick -> who, when
    muted: dict[str, RoomBan] = field(default_factory=dict)  # folded nick -> who, when

    def kind(self, action: Action) -> Kind:
        """The flag that decides ``action`` here (:data:`GOVERNED_BY`)."""
        for flag, kind in GOVERNED_BY.get(action, ()):
            if getattr(self, flag):
                return kind
        return Kind.PLAIN

    def is_banned(self, key: str, folded_nick: str) -> bool:
        return folded_nick in self.bans or (key in self._banned_keys())

    def _banned_keys(self) -> set[str]:
        return {ban.key for ban in self.bans.values() if ban.key is not None}

    def ban(self, folded_nick: str, key: str | None, by: str | None = None,
            at: str | None = None) -> None:
        self.bans[folded_nick] = RoomBan(nick=folded_nick, key=key, by=by, at=at)
        if key is not None:
            self.invited.discard(key)
            self.operators.discard(key)
            self.voiced.discard(key)

    def unban(self, folded_nick: str, key: str | None) -> bool:
        """Lift the ban on the nick and on the identity ``key`` (whatever nick it had)."""
        lifted = self.bans.pop(folded_nick, None) is not None
        if key is not None:
            for nick in [n for n, b in self.bans.items() if b.key == key]:
                del self.bans[nick]
                lifted = True
        return lifted

    def settings(self) -> RoomSettings:
        return RoomSettings(
            room=self.name, topic=self.topic, topic_by=self.topic_by, topic_at=self.topic_at,
            invite_only=self.invite_only, private=self.private,
            operators=tuple(sorted(self.operators)),
            bans=tuple(ban for _, ban in sorted(self.bans.items())),
            invited=tuple(sorted(self.invited)),
            created_at=self.created_at, moderated=self.moderated,
            outside_messages=self.outside_messages, open_topic=self.open_topic,
            limit=self.limit, key=self.key, voiced=tuple(sorted(self.voiced)),
            allowed=tuple(entry for _, entry in sorted(self.allowed.items())),
            muted=tuple(entry for _, entry in sorted(self.muted.items())),
        )

    @classmethod
    def from_settings(cls, s: RoomSettings) -> RoomRules:
        return cls(name=s.room, topic=s.topic, topic_by=s.topic_by, topic_at=s.topic_at,
                   invite_only=s.invite_only, private=s.private, operators=set(s.operators),
                   bans={b.nick: b for b in s.bans}, invited=set(s.invited),
                   created_at=s.created_at, moderated=s.moderated,
                   outside_messages=s.outside_messages, open_topic=s.open_topic,
                   limit=s.limit, key=s.key, voiced=set(s.voiced),
                   allowed={a.nick: a for a in s.allowed},
                   muted={m.nick: m for m in s.muted})


def no_such_room(name: str) -> PeerError:
    """The one refusal for a room that does not exist — or is private and not yours."""
    return PeerError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name}")


def authorize(action: Action, rules: RoomRules | None, role: Role, name: str, *,
              muted: bool = False) -> None:
    """Raise the refusal for ``role`` doing ``action`` in the room, if it is refused.
    ``muted``: the asker's nick is muted there — it speaks as in a moderated room.

    For CHAT (``SPEAK``) a non-member always hears ``not_in_room``: what CHAT to a room that
    does not exist (or is private, or is not theirs to speak in) answers."""
    kind = rules.kind(action) if rules is not None else Kind.PLAIN
    if muted and action is Action.SPEAK:
        kind = Kind.MODERATED
    allowed = PERMISSIONS[(action, kind)]
    if action is Action.SPEAK and (rules is None or (role is Role.OUTSIDER
                                                     and role not in allowed)):
        raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {name}")
    if rules is None:
        raise no_such_room(name)
    if role is Role.OUTSIDER and role not in allowed:
        if rules.private:
            raise no_such_room(name)
        raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {name}")
    if role not in allowed:
        if action is Action.SPEAK and muted:
            raise PeerError(ErrorCode.MUTED, f"you are muted in {name}")
        if action is Action.SPEAK:
            raise PeerError(ErrorCode.MODERATED,
                            f"{name} is moderated: only its operators and voiced members speak")
        raise PeerError(ErrorCode.NOT_OPERATOR, f"only {name}'s operators may do that")


def check_entry(rules: RoomRules | None, role: Role, key: str, folded_nick: str,
                name: str, *, member_before: bool = False, members: int = 0,
                room_key: str | None = None) -> None:
    """May this user join? ``role`` is SERVER_OP, ROOM_OP or OUTSIDER (not yet in).
    ``member_before``: an account's stored membership, which counts as an invitation.
    ``members``: how many are in the room now; ``room_key``: the key the JOIN gave.

    In this order: a ban (``banned``), invite-only (``invite_only``), the key (``bad_key``),
    the limit (``room_full``). Operators pass all but bans (server operators pass all); an
    invitation passes invite-only, the key and the limit; a nick on the allow list passes
    invite-only. A refused JOIN of a private room is ``no_such_room`` whatever the reason."""
    if rules is None or role is Role.SERVER_OP:
        return
    invited = role is Role.ROOM_OP or key in rules.invited or member_before
    refusal: PeerError | None = None
    if rules.is_banned(key, folded_nick):
        refusal = PeerError(ErrorCode.BANNED, f"you are banned from {name}")
    elif invited:
        return
    elif rules.invite_only and folded_nick not in rules.allowed:
        refusal = PeerError(ErrorCode.INVITE_ONLY,
                            f"{name} is invite-only: ask an operator for an invitation")
    elif rules.key is not None and room_key != rules.key:
        refusal = PeerError(ErrorCode.BAD_KEY, f"{name} needs a key to join"
                            if not room_key else f"that is not {name}'s key", field="key")
    elif rules.limit and members >= rules.limit:
        refusal = PeerError(ErrorCode.ROOM_FULL, f"{name} is full ({rules.limit} members)")
    if refusal is not None:
        raise no_such_room(name) if rules.private else refusal


def check_key(key: str) -> str:
    """A room key: 1-23 printable ASCII characters, no space or comma (IRC's JOIN lists keys
    with commas)."""
    if not _KEY.fullmatch(key):
        raise PeerError(ErrorCode.INVALID_KEY,
                        f"a key is 1-{MAX_KEY} printable ASCII characters without spaces or "
                        "commas", field="key")
    return key


def check_topic(topic: str) -> str:
    if len(topic) > MAX_TOPIC:
        raise PeerError(ErrorCode.INVALID_TEXT, f"a topic is at most {MAX_TOPIC} characters")
    if _FORBIDDEN_IN_TOPIC.search(topic) is not None:
        raise PeerError(ErrorCode.INVALID_TEXT, "a topic is one line without control characters")
    return topic
