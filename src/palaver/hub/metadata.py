"""Metadata: small key/value pairs on users and rooms (an avatar, a display name, pronouns, a
status, a room's url), and who hears of their changes (IRCv3 ``draft/metadata-3``).

How this works: :class:`Metadata` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.watch.WatchLists`. ``_metadata`` maps a *target* — a user's identity key
or a room's folded name (``#dev``) — to its keys and values, in the order they were first set.

- Keys are 1-50 of ``a-z 0-9 _ . / -`` (:func:`check_key`); a value is at most
  :data:`MAX_VALUE_BYTES` bytes of UTF-8, one line without control characters (it may be
  empty); a user or room holds at most :data:`MAX_KEYS` keys.
- Who may change what: a user its own metadata, a room's operators the room's (MODE's rule,
  :mod:`palaver.hub.rules`), server operators anyone's. Who may read: anyone a user's; a room's
  is for its members — and for anyone when the room is neither invite-only nor private (a
  private room does not exist for outsiders: ``no_such_room``).
- What is kept: an account's metadata and every room's are stored (``SaveMetadata``, the whole
  target at once) and loaded at start; a guest's lives on its user and dies with it (its last
  session ends). A guest who registers takes its metadata into the account.
- Subscriptions are a session's (``METADATA_SUB``, allowed before HELLO: IRC's
  before-connect), at most :data:`MAX_SUBS` keys. A change goes to the sessions subscribed to
  its key — for a user: its own other sessions, those sharing a room with it and those
  watching it (WATCH); for a room: its members' — never to the session that made it; one
  ``Deliver`` per group of sessions that get the same entries, so their bytes are shared.
- Joining a room brings the joiner's sessions the room's metadata and its members' (the keys
  each session subscribes to), and brings the members who did not share a room with the
  joiner yet the joiner's. A HELLO may carry metadata (set before registering); WELCOME
  carries the user's own metadata whenever it has some or the HELLO carried any.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from palaver.hub.effects import Deliver, Effect, SaveMetadata, SessionId
from palaver.hub.names import check_nick, check_room, fold
from palaver.hub.rules import Action, Role, RoomRules, authorize, no_such_room
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    ClearMetadata,
    GetMetadata,
    Hello,
    MetadataEntry,
    MetadataSubscriptions,
    MetadataValues,
    SetMetadata,
    SubscribeMetadata,
    SyncMetadata,
)

MAX_KEYS: Final = 20  # keys on one user or room
MAX_VALUE_BYTES: Final = 300  # UTF-8 bytes of a value (an IRC line must hold key and value)
MAX_KEY_LENGTH: Final = 50
MAX_SUBS: Final = 50  # keys one session subscribes to

_KEY: Final = re.compile(rf"[a-z0-9_./-]{{1,{MAX_KEY_LENGTH}}}", re.ASCII)
# One line: no control character (not even a tab), no bidi override, no lone surrogate.
_FORBIDDEN_IN_VALUE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def is_valid_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def check_key(key: str, field: str = "key") -> str:
    if not is_valid_key(key):
        raise PeerError(ErrorCode.INVALID_FIELD, f"a metadata key is 1-{MAX_KEY_LENGTH} of "
                        "a-z, 0-9, '_', '.', '/' and '-'", field=field)
    return key


def check_value(value: str) -> str:
    if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
        raise PeerError(ErrorCode.INVALID_FIELD, f"a metadata value is at most "
                        f"{MAX_VALUE_BYTES} bytes of UTF-8", field="value")
    if _FORBIDDEN_IN_VALUE.search(value) is not None:
        raise PeerError(ErrorCode.INVALID_FIELD, "a metadata value is one line without "
                        "control characters", field="value")
    return value


def check_metadata(values: Mapping[str, str] | None) -> None:
    """Refuse a HELLO's ``metadata`` that could not be set key by key."""
    if values is None:
        return
    if len(values) > MAX_KEYS:
        raise PeerError(ErrorCode.METADATA_LIMIT, f"at most {MAX_KEYS} metadata keys",
                        field="metadata")
    for key, value in values.items():
        check_key(key, "metadata")
        check_value(value)


@dataclass(frozen=True, slots=True)
class Target:
    """Whose metadata: a user online (``user``) or a room (``room``: its display name)."""

    key: str  # the user's identity key, or the room's folded name
    user: User | None = None
    room: str | None = None

    def entry(self, key: str, value: str | None) -> MetadataEntry:
        if self.user is not None:
            return MetadataEntry(key=key, value=value, nick=self.user.nick)
        return MetadataEntry(key=key, value=value, room=self.room)

    @property
    def nick(self) -> str | None:
        return self.user.nick if self.user is not None else None

    def values(self, entries: tuple[MetadataEntry, ...], request_id: str | None = None,
               *, by: str | None = None) -> MetadataValues:
        """METADATA about this target: an answer (``request_id``) or a change (``by``)."""
        return MetadataValues(id=request_id, nick=self.nick, room=self.room, entries=entries,
                              change=by is not None, by=by)


class Metadata:
    """Mixed into the hub: needs its users, rooms, rules, watch lists and a few helpers."""

    if TYPE_CHECKING:
        _online: dict[str, User]
        _rooms: dict[str, Room]
        _rules: dict[str, RoomRules]
        _sessions: dict[SessionId, Session]

        def is_server_operator(self, user: User) -> bool: ...
        def _role(self, user: User, key: str) -> Role: ...
        def _rules_of(self, key: str) -> RoomRules | None: ...
        def _watchers_of(self, nick: str, skip: Iterable[SessionId] = ()
                         ) -> tuple[SessionId, ...]: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _audience(rooms: Iterable[Room]) -> tuple[SessionId, ...]: ...

    _metadata: dict[str, dict[str, str]]
    _subscriptions: dict[SessionId, dict[str, None]]  # keys, in the order subscribed

    def metadata_handlers(self, stored: Mapping[str, Mapping[str, str]]) -> dict[type[Any], Any]:
        """The handlers; ``stored``: the store's metadata (target -> key -> value)."""
        self._metadata = {target: dict(values) for target, values in stored.items() if values}
        self._subscriptions = {}
        return {SetMetadata: self._set_metadata, ClearMetadata: self._clear_metadata,
                GetMetadata: self._get_metadata, SyncMetadata: self._sync_metadata,
                SubscribeMetadata: self._subscribe_metadata}

    # ------------------------------------------------------------------ handlers

    def _set_metadata(self, session: Session, msg: SetMetadata, now: float) -> list[Effect]:
        user = self._user(session)
        target = self._target(user, msg.nick, msg.room)
        key = check_key(msg.key)
        self._may_change(user, target, msg.room)
        values = self._metadata.get(target.key, {})
        if msg.value is None:
            if key not in values:
                raise PeerError(ErrorCode.METADATA_NOT_SET, f"{key} is not set", field="key")
            changed = True
            del values[key]
        else:
            value = check_value(msg.value)
            if key not in values and len(values) >= MAX_KEYS:
                raise PeerError(ErrorCode.METADATA_LIMIT,
                                f"at most {MAX_KEYS} metadata keys", field="key")
            changed = values.get(key) != value
            values[key] = value
        self._keep(target.key, values)
        entry = target.entry(key, msg.value)
        effects: list[Effect] = [Deliver(target.values((entry,), msg.id), (session.sid,))]
        if changed:
            effects.extend(self._notify(target, (entry,), session.sid, user.nick))
            effects.extend(self._save(target))
        return effects

    def _clear_metadata(self, session: Session, msg: ClearMetadata, now: float
                        ) -> list[Effect]:
        user = self._user(session)
        target = self._target(user, msg.nick, msg.room)
        self._may_change(user, target, msg.room)
        cleared = self._metadata.pop(target.key, {})
        entries = tuple(target.entry(key, None) for key in cleared)
        effects: list[Effect] = [Deliver(target.values(entries, msg.id), (session.sid,))]
        if entries:
            effects.extend(self._notify(target, entries, session.sid, user.nick))
            effects.extend(self._save(target))
        return effects

    def _get_metadata(self, session: Session, msg: GetMetadata, now: float) -> list[Effect]:
        user = self._user(session)
        target = self._target(user, msg.nick, msg.room)
        keys = [check_key(key, "keys") for key in msg.keys]
        self._may_read(user, target, msg.room)
        values = self._metadata.get(target.key, {})
        if keys:
            entries = tuple(target.entry(key, values.get(key)) for key in keys)
        else:
            entries = tuple(target.entry(key, value) for key, value in values.items())
        return [Deliver(target.values(entries, msg.id), (session.sid,))]

    def _sync_metadata(self, session: Session, msg: SyncMetadata, now: float) -> list[Effect]:
        user = self._user(session)
        target = self._target(user, msg.nick, msg.room)
        self._may_read(user, target, msg.room)
        subs = self._subscriptions.get(session.sid, {})
        if target.user is not None:
            entries = self._entries(target.user, subs)
        else:
            room = self._rooms.get(target.key)
            entries = self._room_entries(target, room, subs)
        return [Deliver(target.values(entries, msg.id), (session.sid,))]

    def _subscribe_metadata(self, session: Session, msg: SubscribeMetadata, now: float
                            ) -> list[Effect]:
        """Allowed before HELLO: subscriptions are the session's, not the user's."""
        for key in msg.remove:
            check_key(key, "remove")
        for key in msg.add:
            check_key(key, "add")
        subs = self._subscriptions.pop(session.sid, {})
        for key in msg.remove:
            subs.pop(key, None)
        added: list[str] = []
        refused: Sequence[str] = ()
        for index, key in enumerate(msg.add):
            if key not in subs and len(subs) >= MAX_SUBS:
                refused = msg.add[index:]  # the first that did not fit, and all after it
                break
            subs[key] = None
            added.append(key)
        if subs:
            self._subscriptions[session.sid] = subs
        return [Deliver(MetadataSubscriptions(id=msg.id, keys=tuple(subs), added=tuple(added),
                                              removed=msg.remove, refused=tuple(refused)),
                        (session.sid,))]

    # ------------------------------------------------------------------ asked by the hub

    def _metadata_of(self, user: User) -> dict[str, str] | None:
        """``user``'s metadata (WHOIS), None when it has none."""
        values = self._metadata.get(user.key)
        return dict(values) if values else None

    def _welcome_metadata(self, user: User, hello: Hello) -> dict[str, str] | None:
        """WELCOME's ``metadata``: the user's own, when it has some or the HELLO sent some."""
        values = self._metadata.get(user.key)
        if values:
            return dict(values)
        return {} if hello.metadata is not None else None

    def _metadata_arrive(self, user: User, sid: SessionId, hello: Hello) -> list[Effect]:
        """A session comes online with ``hello`` (checked by :func:`check_metadata`): the
        metadata it set before registering is the user's now, as far as the limit allows
        (an account's stored keys stay unless it set them again)."""
        if not hello.metadata:
            return []
        target = Target(user.key, user=user)
        values = self._metadata.get(user.key, {})
        changed: list[MetadataEntry] = []
        for key, value in hello.metadata.items():
            if values.get(key) == value or (key not in values and len(values) >= MAX_KEYS):
                continue
            values[key] = value
            changed.append(target.entry(key, value))
        self._keep(user.key, values)
        if not changed:
            return []
        return [*self._notify(target, tuple(changed), sid, user.nick), *self._save(target)]

    def _metadata_session_closed(self, sid: SessionId) -> None:
        self._subscriptions.pop(sid, None)

    def _metadata_gone(self, user: User) -> None:
        """``user`` went offline (its last session ended): a guest's metadata dies with it."""
        if not user.account:
            self._metadata.pop(user.key, None)

    def _metadata_rekeyed(self, old_key: str, user: User) -> list[Effect]:
        """A guest became the account ``user.key``: its metadata is the account's, stored."""
        values = self._metadata.pop(old_key, None)
        if not values:
            return []
        self._metadata[user.key] = values
        return self._save(Target(user.key, user=user))

    def _metadata_entered(self, user: User, room: Room, audience: tuple[SessionId, ...]
                          ) -> list[Effect]:
        """``user`` joined ``room`` (``audience``: the sessions there before it): what its
        sessions and the members it meets here first subscribe to."""
        if not self._subscriptions:  # the common case: nobody subscribes to anything
            return []
        effects: list[Effect] = []
        target = Target(room.key, room=room.name)
        for sid in user.sessions:
            subs = self._subscriptions.get(sid)
            entries = self._room_entries(target, room, subs) if subs else ()
            if entries:
                effects.append(Deliver(MetadataValues(room=room.name, entries=entries),
                                       (sid,)))
        if not self._metadata.get(user.key):
            return effects
        met = [sid for sid in audience if sid in self._subscriptions
               and not self._shares_another_room(sid, user, room.key)]
        for entries, sids in self._groups(met, self._entries(user, None)).items():
            effects.append(Deliver(MetadataValues(nick=user.nick, entries=entries), sids))
        return effects

    def _metadata_synced(self, sid: SessionId, rooms: Iterable[Room]) -> list[Effect]:
        """A new session of a user already in ``rooms``: their metadata, as at a JOIN."""
        subs = self._subscriptions.get(sid)
        if not subs:
            return []
        effects: list[Effect] = []
        for room in rooms:
            entries = self._room_entries(Target(room.key, room=room.name), room, subs)
            if entries:
                effects.append(Deliver(MetadataValues(room=room.name, entries=entries),
                                       (sid,)))
        return effects

    # ------------------------------------------------------------------ helpers

    def _target(self, user: User, nick: str | None, room: str | None) -> Target:
        if nick is not None and room is not None:
            raise PeerError(ErrorCode.INVALID_FIELD, "name a nick or a room, not both",
                            field="room")
        if room is not None:
            key = fold(check_room(room))
            live, rules = self._rooms.get(key), self._rules.get(key)
            if live is not None:
                return Target(key, room=live.name)
            if rules is None:
                raise no_such_room(room)
            return Target(key, room=rules.name)
        if nick is None or fold(nick) == user.folded_nick:
            return Target(user.key, user=user)
        other = self._online.get(fold(check_nick(nick)))
        if other is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {nick} is here",
                            field="nick")
        return Target(other.key, user=other)

    def _may_change(self, user: User, target: Target, name: str | None) -> None:
        if target.user is not None:
            if target.user is not user and not self.is_server_operator(user):
                raise PeerError(ErrorCode.NOT_OPERATOR, "only server operators may change "
                                "another user's metadata")
            return
        authorize(Action.MODE, self._rules_of(target.key), self._role(user, target.key),
                  name or target.room or target.key)

    def _may_read(self, user: User, target: Target, name: str | None) -> None:
        if target.user is not None or self._role(user, target.key) is not Role.OUTSIDER:
            return
        rules = self._rules.get(target.key)
        if rules is not None and rules.private:
            raise no_such_room(name or target.key)
        if rules is not None and rules.invite_only:
            raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {name or target.room}")

    def _keep(self, key: str, values: dict[str, str]) -> None:
        if values:
            self._metadata[key] = values
        else:
            self._metadata.pop(key, None)

    def _save(self, target: Target) -> list[Effect]:
        """Store the target's metadata whole: a room's, an account's; never a guest's."""
        if target.user is not None and not target.user.account:
            return []
        values = self._metadata.get(target.key, {})
        return [SaveMetadata(target=target.key, values=tuple(values.items()))]

    def _entries(self, user: User, subs: Mapping[str, None] | None
                 ) -> tuple[MetadataEntry, ...]:
        """``user``'s metadata (only the keys in ``subs``, unless None)."""
        values = self._metadata.get(user.key, {})
        return tuple(MetadataEntry(key=key, value=value, nick=user.nick)
                     for key, value in values.items() if subs is None or key in subs)

    def _room_entries(self, target: Target, room: Room | None, subs: Mapping[str, None]
                      ) -> tuple[MetadataEntry, ...]:
        """A room's metadata and its members', the keys in ``subs``."""
        values = self._metadata.get(target.key, {})
        entries = [target.entry(key, value) for key, value in values.items() if key in subs]
        if room is not None:
            for member in room.members.values():
                entries.extend(self._entries(member, subs))
        return tuple(entries)

    def _shares_another_room(self, sid: SessionId, user: User, key: str) -> bool:
        session = self._sessions.get(sid)
        other = session.user if session is not None else None
        return other is not None and any(k != key and k in user.rooms for k in other.rooms)

    def _notify(self, target: Target, entries: tuple[MetadataEntry, ...], skip: SessionId,
                by: str) -> list[Effect]:
        """A change to the sessions subscribed to its keys that may hear of it."""
        if not self._subscriptions:
            return []
        if target.user is not None:
            user = target.user
            candidates: Iterable[SessionId] = dict.fromkeys(
                [*user.sessions, *self._audience(user.rooms.values()),
                 *self._watchers_of(user.nick)])
        else:
            room = self._rooms.get(target.key)
            candidates = room.targets() if room is not None else ()
        listening = [sid for sid in candidates if sid != skip and sid in self._subscriptions]
        return [Deliver(target.values(mine, by=by), sids)
                for mine, sids in self._groups(listening, entries).items()]

    def _groups(self, sessions: Iterable[SessionId],
                entries: tuple[MetadataEntry, ...]
                ) -> dict[tuple[MetadataEntry, ...], tuple[SessionId, ...]]:
        """The sessions by the entries each subscribes to (none: left out)."""
        groups: dict[tuple[MetadataEntry, ...], list[SessionId]] = {}
        for sid in sessions:
            subs = self._subscriptions.get(sid)
            if not subs:
                continue
            mine = tuple(entry for entry in entries if entry.key in subs)
            if mine:
                groups.setdefault(mine, []).append(sid)
        return {mine: tuple(sids) for mine, sids in groups.items()}
