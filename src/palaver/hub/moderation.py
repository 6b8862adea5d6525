"""The hub's room-rules handlers: topic, operators, kick, ban, invitations, flags.

How this works: :class:`Moderation` is a mixin of :class:`~palaver.hub.hub.Hub` — the same
state, the rules in :mod:`palaver.hub.rules`. Each handler finds the asker's :class:`Role` in
the room, lets :func:`~palaver.hub.rules.authorize` refuse it (before looking at the target, so
a refusal tells nothing about anyone), changes the rules, stores them (``SaveRoom``) and tells
the room's members (``ROOM_UPDATED``, a ``kick`` PRESENCE, an INVITED to the invited). The
asker's copy carries the request id; a server operator who is not in the room gets only that.
The hub asks this module, too, who may join a room and who may see one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from palaver.hub.effects import Deliver, Effect, Remember, SaveRoom, SessionId
from palaver.hub.names import check_nick, check_room, fold
from palaver.hub.rules import (
    Action,
    Role,
    RoomRules,
    authorize,
    check_entry,
    check_key,
    check_topic,
    no_such_room,
)
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    Allow,
    AllowList,
    Ban,
    BanEntry,
    Disallow,
    GrantOperator,
    GrantVoice,
    InvitationList,
    Invite,
    Invited,
    Kick,
    ListAllowed,
    ListInvitations,
    Mute,
    Presence,
    RevokeOperator,
    RevokeVoice,
    RoomChange,
    RoomInfo,
    RoomSetting,
    RoomUpdated,
    ServerMessage,
    SetRoomMode,
    SetTopic,
    Unban,
    Unmute,
)
from palaver.store.base import RoomBan, RoomSettings

if TYPE_CHECKING:
    from palaver.hub.hub import HubConfig

MAX_KICK_REASON = 200


class Moderation:
    """Mixed into the hub: needs its users, rooms and a few of its helpers."""

    if TYPE_CHECKING:
        config: HubConfig
        _rooms: dict[str, Room]
        _online: dict[str, User]
        _online_accounts: dict[str, User]
        _account_rooms: dict[str, dict[str, str]]
        _default_keys: frozenset[str]  # the default rooms, folded

        def _peer_key(self, nick: str) -> str | None: ...
        def _membership(self, user: User, room: Room, *, member: bool) -> Remember | None: ...
        def _forget_if_empty(self, room: Room) -> None: ...
        def _remote_named(self, folded: str) -> User | None: ...
        def _put_out_elsewhere(self, target: User, room: Room, by: str, reason: str,
                               sid: SessionId, request_id: str | None) -> list[Effect]: ...
        @staticmethod
        def _user(session: Session) -> User: ...

    _rules: dict[str, RoomRules]

    def _load_rules(self, stored: Iterable[RoomSettings]) -> None:
        self._rules = {fold(s.room): RoomRules.from_settings(s) for s in stored}

    def moderation_handlers(self) -> dict[type[Any], Any]:
        return {
            SetTopic: self._set_topic,
            GrantOperator: self._grant_operator,
            RevokeOperator: self._revoke_operator,
            GrantVoice: self._grant_voice,
            RevokeVoice: self._revoke_voice,
            Allow: self._allow,
            Mute: self._mute,
            Unmute: self._unmute,
            Disallow: self._disallow,
            ListAllowed: self._list_allowed,
            ListInvitations: self._list_invitations,
            Kick: self._kick,
            Ban: self._ban,
            Unban: self._unban,
            Invite: self._invite,
            SetRoomMode: self._set_room_mode,
        }

    # ------------------------------------------------------------------ asked by the hub

    def is_server_operator(self, user: User) -> bool:
        """A ``server_operators`` account, or logged in with OPER (hub/operators.py)."""
        return user.oper is not None or (user.account
                                         and user.key in self.config.server_operators)

    def _role(self, user: User, key: str) -> Role:
        if self.is_server_operator(user):
            return Role.SERVER_OP
        if key not in user.rooms:
            return Role.OUTSIDER
        rules = self._rules.get(key)
        if rules is None:
            return Role.MEMBER
        if user.key in rules.operators:
            return Role.ROOM_OP
        return Role.VOICED if user.key in rules.voiced else Role.MEMBER

    def _speaker_room(self, user: User, name: str) -> Room:
        """The room ``user`` may CHAT to (a member's, or one open to outside messages), or the
        refusal (hub/rules.py: SPEAK)."""
        key = fold(check_room(name))
        room = user.rooms.get(key)
        rules = self._rules.get(key)
        if room is not None and (rules is None or not (rules.moderated or rules.outside_messages
                                                       or rules.muted)):
            return room  # the common case: a member of a room anyone in it may speak in
        room = self._rooms.get(key)
        role = self._role(user, key) if key in user.rooms else Role.OUTSIDER
        if role is Role.OUTSIDER and rules is not None and rules.is_banned(user.key,
                                                                           user.folded_nick):
            rules = None  # a banned user is not there as far as speaking goes
        muted = rules is not None and user.folded_nick in rules.muted
        authorize(Action.SPEAK, rules if room is not None else None, role, name, muted=muted)
        assert room is not None
        return room

    def _rules_of(self, key: str) -> RoomRules | None:
        """A room's rules; a live room without any (the default room) gets empty ones."""
        rules = self._rules.get(key)
        if rules is None and key in self._rooms:
            room = self._rooms[key]
            rules = self._rules[key] = RoomRules(room.name, created_at=room.created_at)
        return rules

    def _may_see(self, user: User | None, key: str) -> bool:
        """Whether ``user`` may learn that the room exists and what is in it."""
        rules = self._rules.get(key)
        if rules is None or not rules.private:
            return True
        return user is not None and (key in user.rooms or self.is_server_operator(user))

    def _check_entry(self, user: User, name: str, *, quietly: bool = False,
                     room_key: str | None = None) -> bool:
        """May ``user`` join ``name`` (with the key ``room_key``)? Raises the refusal, or
        (``quietly``) returns False."""
        key = fold(name)
        rules = self._rules.get(key)
        role = Role.SERVER_OP if self.is_server_operator(user) else (
            Role.ROOM_OP if rules is not None and user.key in rules.operators else Role.OUTSIDER)
        member_before = key in self._account_rooms.get(user.key, {})
        room = self._rooms.get(key)
        try:
            check_entry(rules, role, user.key, user.folded_nick, name,
                        member_before=member_before, room_key=room_key,
                        members=len(room.members) if room is not None else 0)
        except PeerError:
            if quietly:
                return False
            raise
        return True

    def _room_opened(self, user: User, room: Room, now: float) -> list[Effect]:
        """A live room was made: the rules it had, or new ones with its creator as operator
        (the default room has no creator: server operators appoint its operators)."""
        from palaver.hub.hub import format_ts  # the hub imports this module

        room.created_at = format_ts(now)
        rules = self._rules.get(room.key)
        if rules is not None:
            room.topic = rules.topic
            return []
        if room.key in self._default_keys:
            return []
        rules = self._rules[room.key] = RoomRules(room.name, operators={user.key},
                                                  created_at=room.created_at)
        return [SaveRoom(rules.settings())]

    def _entered(self, user: User, room: Room, audience: tuple[SessionId, ...]) -> list[Effect]:
        """``user`` joined ``room``: an operator is announced as one (IRC's ``MODE +o``), a
        voiced member as one (``MODE +v``)."""
        rules = self._rules.get(room.key)
        if not audience or rules is None:
            return []
        effects: list[Effect] = []
        if user.key in rules.operators:
            effects.append(Deliver(self._updated(room.key, "op", None, user.nick), audience))
        if user.key in rules.voiced:
            effects.append(Deliver(self._updated(room.key, "voice", None, user.nick), audience))
        return effects

    def _left_room(self, user: User, room: Room) -> list[Effect]:
        """``user`` left: an invitation was for one visit."""
        rules = self._rules.get(room.key)
        if rules is None or user.key not in rules.invited:
            return []
        rules.invited.discard(user.key)
        return [SaveRoom(rules.settings())]

    def _room_state(self, key: str) -> dict[str, Any]:
        """The fields of JOINED (and ROOM_UPDATED) that describe the room's rules."""
        rules, room = self._rules.get(key), self._rooms.get(key)
        created_at = room.created_at if room is not None else None
        if rules is None:
            return {"created_at": created_at}
        return {"topic_by": rules.topic_by, "topic_at": rules.topic_at,
                "operators": self._operators(key), "invite_only": rules.invite_only,
                "private": rules.private, "voiced": self._voiced(key),
                "moderated": rules.moderated, "outside_messages": rules.outside_messages,
                "open_topic": rules.open_topic, "limit": rules.limit, "key": rules.key,
                "created_at": rules.created_at or created_at}

    def _room_info(self, room: Room, asker: User | None) -> RoomInfo:
        """ROOM_LIST's entry for ``room`` as ``asker`` may see it (the key: members only)."""
        rules = self._rules.get(room.key)
        if rules is None:
            return RoomInfo(room=room.name, members=len(room.members), topic=room.topic,
                            created_at=room.created_at)
        member = asker is not None and room.key in asker.rooms
        return RoomInfo(room=room.name, members=len(room.members), topic=room.topic,
                        invite_only=rules.invite_only, private=rules.private,
                        topic_by=rules.topic_by, topic_at=rules.topic_at,
                        created_at=rules.created_at or room.created_at,
                        moderated=rules.moderated, outside_messages=rules.outside_messages,
                        open_topic=rules.open_topic, limit=rules.limit,
                        keyed=rules.key is not None, key=rules.key if member else None)

    def _operators(self, key: str) -> tuple[str, ...]:
        rules, room = self._rules.get(key), self._rooms.get(key)
        if rules is None or room is None:
            return ()
        members = room.members
        if len(rules.operators) < len(members):  # (a big room, a few operators: no pass over all)
            here = [key for key in rules.operators if key in members]
            if len(here) <= 1:  # (in the order of joining, as below, when there are several)
                return tuple(members[key].nick for key in here)
        return tuple(u.nick for u in members.values() if u.key in rules.operators)

    def _voiced(self, key: str) -> tuple[str, ...]:
        rules, room = self._rules.get(key), self._rooms.get(key)
        if rules is None or room is None or not rules.voiced:
            return ()
        return tuple(u.nick for u in room.members.values() if u.key in rules.voiced)

    # ------------------------------------------------------------------ handlers

    def _set_topic(self, session: Session, msg: SetTopic, now: float) -> list[Effect]:
        from palaver.hub.hub import format_ts  # the hub imports this module

        user, rules, key = self._authorized(session, msg.room, Action.TOPIC)
        rules.topic = check_topic(msg.topic)
        rules.topic_by, rules.topic_at = (user.nick, format_ts(now)) if msg.topic else (None,
                                                                                        None)
        room = self._rooms.get(key)
        if room is not None:
            room.topic = rules.topic
        return self._changed(session.sid, msg.id, key, rules, "topic", user.nick)

    def _grant_operator(self, session: Session, msg: GrantOperator, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.OP)
        target = self._member(key, msg.nick, rules.name)
        rules.operators.add(target.key)
        return self._changed(session.sid, msg.id, key, rules, "op", user.nick, target.nick)

    def _revoke_operator(self, session: Session, msg: RevokeOperator, now: float
                         ) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.DEOP)
        target_key = self._peer_key(check_nick(msg.nick))
        if target_key is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.nick} is here",
                            field="nick")
        rules.operators.discard(target_key)
        return self._changed(session.sid, msg.id, key, rules, "deop", user.nick,
                             self._nick_of(target_key, msg.nick))

    def _grant_voice(self, session: Session, msg: GrantVoice, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.VOICE)
        target = self._member(key, msg.nick, rules.name)
        rules.voiced.add(target.key)
        return self._changed(session.sid, msg.id, key, rules, "voice", user.nick, target.nick)

    def _revoke_voice(self, session: Session, msg: RevokeVoice, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.DEVOICE)
        target_key = self._peer_key(check_nick(msg.nick))
        if target_key is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.nick} is here",
                            field="nick")
        rules.voiced.discard(target_key)
        return self._changed(session.sid, msg.id, key, rules, "devoice", user.nick,
                             self._nick_of(target_key, msg.nick))

    def _allow(self, session: Session, msg: Allow, now: float) -> list[Effect]:
        from palaver.hub.hub import format_ts  # the hub imports this module

        user, rules, key = self._authorized(session, msg.room, Action.ALLOW)
        nick = check_nick(msg.nick)
        rules.allowed[fold(nick)] = RoomBan(nick=fold(nick), by=user.nick, at=format_ts(now))
        return self._changed(session.sid, msg.id, key, rules, "allow", user.nick, nick)

    def _mute(self, session: Session, msg: Mute, now: float) -> list[Effect]:
        from palaver.hub.hub import format_ts  # the hub imports this module

        user, rules, key = self._authorized(session, msg.room, Action.MUTE)
        nick = check_nick(msg.nick)
        target = self._online.get(fold(nick))
        if target is not None:
            self._protect(user, target)
        rules.muted[fold(nick)] = RoomBan(nick=fold(nick), by=user.nick, at=format_ts(now))
        return self._changed(session.sid, msg.id, key, rules, "mute", user.nick, nick)

    def _unmute(self, session: Session, msg: Unmute, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.UNMUTE)
        nick = check_nick(msg.nick)
        rules.muted.pop(fold(nick), None)
        return self._changed(session.sid, msg.id, key, rules, "unmute", user.nick, nick)

    def _disallow(self, session: Session, msg: Disallow, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.DISALLOW)
        nick = check_nick(msg.nick)
        rules.allowed.pop(fold(nick), None)
        return self._changed(session.sid, msg.id, key, rules, "disallow", user.nick, nick)

    def _list_allowed(self, session: Session, msg: ListAllowed, now: float) -> list[Effect]:
        """The allow list, for the room's members and server operators (as BANS)."""
        user = self._user(session)
        key = fold(check_room(msg.room))
        rules = self._rules_of(key)
        if self._role(user, key) is Role.OUTSIDER or rules is None:
            authorize(Action.INVITE, rules, Role.OUTSIDER, msg.room)  # the outsider's refusal
        assert rules is not None
        entries = [entry for _, entry in sorted(rules.allowed.items())]
        event = AllowList(id=msg.id, room=rules.name, nicks=tuple(e.nick for e in entries),
                          allowed=tuple(BanEntry(nick=e.nick, by=e.by, at=e.at)
                                        for e in entries))
        return [Deliver(event, (session.sid,))]

    def _list_invitations(self, session: Session, msg: ListInvitations, now: float
                          ) -> list[Effect]:
        """The rooms whose invitation ``user`` holds (and is not in)."""
        user = self._user(session)
        rooms = sorted(rules.name for key, rules in self._rules.items()
                       if user.key in rules.invited and key not in user.rooms)
        return [Deliver(InvitationList(id=msg.id, rooms=tuple(rooms)), (session.sid,))]

    def _kick(self, session: Session, msg: Kick, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.KICK)
        target = self._member(key, msg.nick, rules.name)
        self._protect(user, target)
        reason = _reason(msg.reason) or user.nick
        if not target.sessions:  # a member on another node: put out there (hub/remote.py)
            effects = self._put_out_elsewhere(target, self._rooms[key], user.nick, reason,
                                              session.sid, msg.id)
        else:
            effects = self._put_out(target, self._rooms[key], user.nick, reason, session.sid,
                                    msg.id)
        rules.invited.discard(target.key)
        return [*effects, SaveRoom(rules.settings())]

    def _ban(self, session: Session, msg: Ban, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.BAN)
        nick = check_nick(msg.nick)
        target = self._online.get(fold(nick))
        if target is not None:
            self._protect(user, target)
        elif fold(nick) in self.config.server_operators and not self.is_server_operator(user):
            raise PeerError(ErrorCode.NOT_OPERATOR, f"{nick} is a server operator")
        from palaver.hub.hub import format_ts  # the hub imports this module

        target_key = target.key if target is not None else self._peer_key(nick)
        rules.ban(fold(nick), target_key, user.nick, format_ts(now))
        effects = self._changed(session.sid, msg.id, key, rules, "ban", user.nick,
                                target.nick if target is not None else nick, save=False)
        room = self._rooms.get(key)
        if target is not None and room is not None and target.key in room.members:
            effects.extend(self._put_out(target, room, user.nick, "banned", session.sid, None))
        effects.append(SaveRoom(rules.settings()))
        return effects

    def _unban(self, session: Session, msg: Unban, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.UNBAN)
        nick = check_nick(msg.nick)
        rules.unban(fold(nick), self._peer_key(nick))
        return self._changed(session.sid, msg.id, key, rules, "unban", user.nick, nick)

    def _invite(self, session: Session, msg: Invite, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.INVITE)
        target_key = self._peer_key(check_nick(msg.nick))
        if target_key is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.nick} is here",
                            field="nick")
        target = self._online.get(fold(msg.nick))
        if target is not None and key in target.rooms:
            raise PeerError(ErrorCode.ALREADY_IN_ROOM, f"{target.nick} is in {rules.name}",
                            field="nick")
        rules.invited.add(target_key)
        event = Invited(room=rules.name, by=user.nick, nick=self._nick_of(target_key, msg.nick))
        effects: list[Effect] = [Deliver(msgspec.structs.replace(event, id=msg.id),
                                         (session.sid,))]
        if target is not None and target is not user:
            effects.append(Deliver(event, tuple(target.sessions)))
        room = self._rooms.get(key)
        members = tuple(s for s in room.targets() if s != session.sid) if room else ()
        if members:  # the room's members hear of it too (IRC's invite-notify)
            effects.append(Deliver(event, members))
        effects.append(SaveRoom(rules.settings()))
        return effects

    def _set_room_mode(self, session: Session, msg: SetRoomMode, now: float) -> list[Effect]:
        user, rules, key = self._authorized(session, msg.room, Action.MODE)
        wanted: dict[RoomSetting, object] = {
            "invite_only": msg.invite_only, "private": msg.private, "moderated": msg.moderated,
            "outside_messages": msg.outside_messages, "open_topic": msg.open_topic,
            "limit": msg.limit, "key": None if msg.key is None else (msg.key or None)}
        if msg.key:
            check_key(msg.key)
        if key in self._default_keys and (msg.invite_only or msg.private or msg.limit
                                          or msg.key):
            raise PeerError(ErrorCode.INVALID_ARGS,
                            f"{rules.name} is a default room: everyone may be in it")
        changed: list[RoomSetting] = []
        for setting, value in wanted.items():
            unset = setting == "key" and msg.key is not None and not msg.key
            if (value is not None or unset) and getattr(rules, setting) != value:
                setattr(rules, setting, value)
                changed.append(setting)
        if not changed:  # nothing changed: the state, to the asker
            return [Deliver(self._updated(key, "state", user.nick, None, msg.id),
                            (session.sid,))]
        change: RoomChange = changed[0] if len(changed) == 1 else "modes"
        event = msgspec.structs.replace(self._updated(key, change, user.nick, None),
                                        changed=tuple(changed))
        room = self._rooms.get(key)
        return [*_tell(session.sid, msg.id, event, room.targets() if room else ()),
                SaveRoom(rules.settings())]

    # ------------------------------------------------------------------ helpers

    def _authorized(self, session: Session, name: str, action: Action
                    ) -> tuple[User, RoomRules, str]:
        user = self._user(session)
        key = fold(check_room(name))
        rules = self._rules_of(key)
        role = self._role(user, key)
        authorize(action, rules, role, name)
        assert rules is not None
        return user, rules, key

    def _member(self, key: str, nick: str, name: str) -> User:
        """The member of the room called ``nick``."""
        folded = fold(check_nick(nick))
        target = self._online.get(folded) or self._remote_named(folded)  # (hub/remote.py)
        if target is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {nick} is here",
                            field="nick")
        if key not in target.rooms:
            raise PeerError(ErrorCode.USER_NOT_IN_ROOM, f"{target.nick} is not in {name}",
                            field="nick")
        return target

    def _protect(self, user: User, target: User) -> None:
        if self.is_server_operator(target) and not self.is_server_operator(user):
            raise PeerError(ErrorCode.NOT_OPERATOR, f"{target.nick} is a server operator")

    def _nick_of(self, key: str, fallback: str) -> str:
        user = self._online_accounts.get(key) or next(
            (u for u in self._online.values() if u.key == key), None)
        return user.nick if user is not None else fallback

    def _updated(self, key: str, change: RoomChange, by: str | None, nick: str | None,
                 request_id: str | None = None) -> RoomUpdated:
        rules = self._rules[key]
        return RoomUpdated(id=request_id, room=rules.name, change=change, by=by, nick=nick,
                           topic=rules.topic, **self._room_state(key))

    def _changed(self, sid: SessionId, request_id: str | None, key: str, rules: RoomRules,
                 change: RoomChange, by: str, nick: str | None = None, *, save: bool = True
                 ) -> list[Effect]:
        room = self._rooms.get(key)
        audience = room.targets() if room is not None else ()
        effects = _tell(sid, request_id, self._updated(key, change, by, nick), audience)
        return [*effects, SaveRoom(rules.settings())] if save else effects

    def _put_out(self, target: User, room: Room, by: str, reason: str, sid: SessionId,
                 request_id: str | None) -> list[Effect]:
        """``target`` leaves ``room`` by force: everyone in it (``target`` too) is told."""
        event = Presence(nick=target.nick, event="kick", room=room.name, by=by, reason=reason)
        effects = _tell(sid, request_id, event, room.targets())
        del room.members[target.key]
        del target.rooms[room.key]
        room.changed()
        remember = self._membership(target, room, member=False)
        self._forget_if_empty(room)
        return effects if remember is None else [*effects, remember]


def _tell(sid: SessionId, request_id: str | None, event: ServerMessage,
          audience: tuple[SessionId, ...]) -> list[Effect]:
    """``event`` to ``audience`` and to the asker ``sid`` (whose copy carries the id)."""
    if request_id is None:
        return [Deliver(event, audience if sid in audience else (*audience, sid))]
    return [Deliver(msgspec.structs.replace(event, id=request_id), (sid,)),
            Deliver(event, audience, skip=sid)]


def _reason(reason: str | None) -> str:
    if not reason:
        return ""
    try:
        return check_topic(reason[:MAX_KICK_REASON])
    except PeerError:
        return ""


__all__ = ["Moderation", "no_such_room"]
