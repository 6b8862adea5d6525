"""Ephemeral relays: client-only tags (TAGMSG, and tags riding on a message), messages to a
room's operators (STATUS_MESSAGE), and the breaks of a wrapped line. Nothing here is stored.

How this works: :class:`Relay` is a mixin of :class:`~palaver.hub.hub.Hub`. Client-only tags
(IRCv3 message-tags: ``+typing``, ``+draft/reply``, ``+draft/react`` ...) are checked by
:func:`check_tags` (names, total size: what an IRC line can carry) and travel with the live
event only: a CHAT or DM's MESSAGE carries them to whoever is online, the store never sees
them, and history comes without them. A TAGMSG carries tags alone, to a room's members (those
who may speak there may send them) or a user, at once; its ``ref`` is an id of this server's
run (IRC's ``msgid``). A CHAT with ``only`` goes to the room's operators (and voiced members)
only; since the room's history is everyone's, it is not stored either.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

import msgspec

from palaver.hub.effects import Deliver, Effect, SessionId
from palaver.hub.names import check_text, fold
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    Message,
    OnlyTo,
    Say,
    SendTags,
    ServerMessage,
    StatusMessage,
    Tagged,
)

if TYPE_CHECKING:
    from palaver.hub.rules import RoomRules

# "+", an optional vendor (a host name) and "/", a name: IRCv3 message-tags' client-only tags.
TAG_NAME: Final = re.compile(r"\+(?:[A-Za-z0-9.-]+/)?[A-Za-z0-9-]+", re.ASCII)
MAX_TAG_BYTES: Final = 4_094  # the tags as an IRC line would carry them: name=value;...
MAX_TAG_NAME: Final = 100
_UNSAFE_VALUE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ESCAPED: Final = frozenset(";\\ ")  # characters IRC's tag escaping doubles (\r\n refused)


def relayable(name: str, value: str) -> bool:
    """Whether one client tag may be relayed (its name and value; not the total size)."""
    return (len(name) <= MAX_TAG_NAME and TAG_NAME.fullmatch(name) is not None
            and _UNSAFE_VALUE.search(value) is None)


def check_tags(tags: dict[str, str] | None) -> dict[str, str] | None:
    """Client-only tags as they may be relayed (None: none); ``invalid_field`` (``tags``) for
    a name that is not ``+name`` or ``+vendor/name``, a value with control characters, or more
    than 4,094 bytes in all (as IRC carries them)."""
    if not tags:
        return None
    size = -1
    for name, value in tags.items():
        if len(name) > MAX_TAG_NAME or TAG_NAME.fullmatch(name) is None:
            raise PeerError(ErrorCode.INVALID_FIELD,
                            f"a client tag is named +name or +vendor/name, not {name[:40]!r}",
                            field="tags")
        if _UNSAFE_VALUE.search(value) is not None:
            raise PeerError(ErrorCode.INVALID_FIELD,
                            f"the value of {name} has control characters", field="tags")
        size += 1 + len(name) + (1 + len(value.encode()) + sum(c in _ESCAPED for c in value)
                                 if value else 0)
    if size > MAX_TAG_BYTES:
        raise PeerError(ErrorCode.INVALID_FIELD,
                        f"client tags are at most {MAX_TAG_BYTES} bytes in all", field="tags")
    return dict(tags)


def check_breaks(breaks: tuple[int, ...], text: str) -> tuple[int, ...]:
    """Breaks as they may be relayed: increasing offsets inside ``text``, none next to a
    newline; else ``invalid_field`` (``breaks``)."""
    last = 0
    for offset in breaks:
        if not last < offset < len(text) or "\n" in (text[offset - 1], text[offset]):
            raise PeerError(ErrorCode.INVALID_FIELD, "breaks are increasing offsets inside "
                            "the text, not next to a newline", field="breaks")
        last = offset
    return breaks


def live_fields(tags: dict[str, str] | None, breaks: tuple[int, ...], text: str
                ) -> dict[str, Any]:
    """What a MESSAGE carries live but the store never sees (checked)."""
    live: dict[str, Any] = {}
    checked = check_tags(tags)
    if checked:
        live["tags"] = checked
    if breaks:
        live["breaks"] = check_breaks(breaks, text)
    return live


def with_live(event: Message, live: dict[str, Any]) -> Message:
    return msgspec.structs.replace(event, **live) if live else event


class Relay:
    """Mixed into the hub: needs its users, rooms, rules and a few of its helpers."""

    if TYPE_CHECKING:
        _online: dict[str, User]
        _online_accounts: dict[str, User]
        _rules: dict[str, RoomRules]

        def _peer_key(self, nick: str) -> str | None: ...
        def _speaker_room(self, user: User, name: str) -> Room: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...

    _relays = 0

    def relay_handlers(self) -> dict[type[Any], Any]:
        return {SendTags: self._send_tags}

    def _next_ref(self) -> str:
        """An id for something relayed and not stored (unique for this hub's run)."""
        self._relays += 1
        return f"r{self._relays}"

    def _audience_of(self, room: Room, only: OnlyTo | None) -> tuple[SessionId, ...]:
        """The sessions of the room's members ``only`` names (all of them for None)."""
        if only is None:
            return room.targets()
        rules = self._rules.get(room.key)
        if rules is None:
            return ()
        keys = rules.operators | (rules.voiced if only == "voiced" else set())
        return tuple(s for user in room.members.values() if user.key in keys
                     for s in user.sessions)

    def _send_tags(self, session: Session, msg: SendTags, now: float) -> list[Effect]:
        from palaver.hub.hub import format_ts  # the hub imports this module

        user = self._user(session)
        tags = check_tags(msg.tags)
        if tags is None:
            raise PeerError(ErrorCode.INVALID_FIELD, "TAGMSG needs tags", field="tags")
        if (msg.room is None) == (msg.to is None):
            raise PeerError(ErrorCode.INVALID_FIELD, "TAGMSG needs exactly one of room, to",
                            field="room")
        ts, ref = format_ts(now), self._next_ref()
        if msg.room is not None:
            room = self._speaker_room(user, msg.room)
            event = Tagged(ref=ref, ts=ts, sender=user.nick, tags=tags, room=room.name,
                           only=msg.only)
            return self._answered(session, msg.id, event, self._audience_of(room, msg.only))
        assert msg.to is not None
        target = self._online.get(fold(msg.to))
        if target is None:  # tags are not kept for later: the user must be online
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.to[:40]!r} is here")
        event = Tagged(ref=ref, ts=ts, sender=user.nick, tags=tags, to=target.nick)
        effects = self._to_user(user, session.sid, event, msg.id)
        if target is not user:
            effects.append(Deliver(event, tuple(target.sessions)))
        return effects

    def _status_message(self, session: Session, room: Room, msg: Say, text: str,
                        live: dict[str, Any], now: float) -> list[Effect]:
        """A CHAT with ``only``: to those members, and the sender's copy, not stored."""
        from palaver.hub.hub import format_ts

        user = self._user(session)
        assert msg.only is not None
        event = StatusMessage(ref=self._next_ref(), ts=format_ts(now), sender=user.nick,
                              text=check_text(text), room=room.name, only=msg.only,
                              notice=msg.notice, **live)
        return self._answered(session, msg.id, event, self._audience_of(room, msg.only))

    @staticmethod
    def _answered(session: Session, request_id: str | None,
                  event: Tagged | StatusMessage, audience: tuple[SessionId, ...]
                  ) -> list[Effect]:
        """``event`` to ``audience``; the sender's copy (wherever it is) carries the id."""
        if request_id is None:
            return [Deliver(event, (*audience, session.sid) if session.sid not in audience
                            else audience)]
        return [Deliver(msgspec.structs.replace(event, id=request_id), (session.sid,)),
                Deliver(event, audience, skip=session.sid)]
