"""What users say of themselves and may ask of others: username, realname, away, ban lists.

How this works: :class:`Profile` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.moderation.Moderation` — the same state, its own handlers, merged into the
hub's table by :meth:`Profile.profile_handlers`.

- A HELLO may carry ``username`` and ``realname`` (IRC's ``USER``). :func:`check_profile`
  refuses bad ones with the HELLO; :func:`set_profile` keeps them on the :class:`User` when it
  comes online (its later sessions change nothing). They are shown by WHO with ``details``.
- ``AWAY`` is the user's, not the session's: it holds for every session and door until the user
  goes offline (the :class:`User` is forgotten then). Its sessions are told (``AWAY``; the
  asker's copy answers the request). Whoever sends a DM to an away user gets an ``AWAY`` with
  its message after the DM (IRC's 301): the hub's DM handler is wrapped for that
  (:meth:`Profile._send_direct_noting_away`), so the DM rules stay in one place.
- ``BANS``: a room's banned nicks, for its members and server operators; anyone else is refused
  as every room-rules question is (:func:`~palaver.hub.rules.authorize`: ``no_such_room`` for a
  private or unknown room, ``not_in_room`` for the others).
- A ``LEAVE`` reason goes to the room with the PRESENCE (:func:`part_reason`); like a quit
  reason, one that is not a valid one-line text is dropped, not refused.
- What others see of a user changing — away or back, a new realname (``REALNAME``, IRC's
  SETNAME), becoming an account — goes to everyone sharing a room with it as ``USER_UPDATED``
  (:meth:`Profile._tell_room_mates`: IRC's away-notify, setname and account-notify), and a
  join's PRESENCE says who joined (:func:`joining`: realname, account, away; IRC's
  extended-join, and away-notify on join).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from palaver.hub.effects import Deliver, Effect
from palaver.hub.names import check_room, fold
from palaver.hub.rules import Role, RoomRules, no_such_room
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    Away,
    BanEntry,
    BanList,
    Hello,
    ListBans,
    SendDirect,
    ServerMessage,
    SetAway,
    SetRealname,
    UserChange,
    UserInfo,
    UserUpdated,
)

if TYPE_CHECKING:
    from palaver.hub.effects import SessionId

MAX_USERNAME: Final = 32
MAX_REALNAME: Final = 100
MAX_AWAY: Final = 200
MAX_PART_REASON: Final = 200

_USERNAME: Final = re.compile(r"[A-Za-z0-9_.~-]{1,32}", re.ASCII)
# One line of text: no control character at all (not even a tab), no bidi override.
_FORBIDDEN_IN_LINE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def check_profile(hello: Hello) -> None:
    """Refuse a HELLO whose username or realname palaver cannot show."""
    if hello.username is not None and _USERNAME.fullmatch(hello.username) is None:
        raise PeerError(ErrorCode.INVALID_FIELD, "a username is 1-32 ASCII letters, digits, "
                        "'_', '.', '~' or '-'", field="username")
    if hello.realname is not None and not _is_line(hello.realname, MAX_REALNAME):
        raise PeerError(ErrorCode.INVALID_FIELD, f"a realname is one line of at most "
                        f"{MAX_REALNAME} characters, without control characters",
                        field="realname")


def set_profile(user: User, hello: Hello) -> None:
    """The user comes online with this HELLO (checked by :func:`check_profile`)."""
    user.username = hello.username or ""
    user.realname = hello.realname or ""


def check_realname(realname: str) -> str:
    """A REALNAME's realname, or ``invalid_field``."""
    if not realname.strip() or not _is_line(realname, MAX_REALNAME):
        raise PeerError(ErrorCode.INVALID_FIELD, f"a realname is one line of 1 to "
                        f"{MAX_REALNAME} characters, without control characters",
                        field="realname")
    return realname


def joining(user: User, accounts: Mapping[str, str]) -> dict[str, Any]:
    """What a join's PRESENCE says of who joined (only what is said: a guest without a
    realname adds nothing)."""
    said: dict[str, Any] = {}
    if user.realname:
        said["realname"] = user.realname
    if user.account:
        said["account"] = accounts.get(user.key, user.nick)
    if user.away is not None:
        said["away"] = user.away
    return said


def sender_fields(user: User, accounts: Mapping[str, str]) -> dict[str, Any]:
    """What a MESSAGE says of its sender as it is sent (not stored): its account and whether
    it is a bot (IRC's account-tag and bot tag). Nothing for a guest that is no bot."""
    said: dict[str, Any] = {}
    if user.account:
        said["account"] = accounts.get(user.key, user.nick)
    if user.bot:
        said["bot"] = True
    return said


def check_away(message: str | None) -> str | None:
    """The away message to keep (None: back)."""
    if not message:
        return None
    if not _is_line(message, MAX_AWAY):
        raise PeerError(ErrorCode.INVALID_TEXT, f"an away message is one line of at most "
                        f"{MAX_AWAY} characters, without control characters", field="message")
    return message


def part_reason(reason: str | None) -> str | None:
    """The reason a LEAVE gives the room, or None (none given, or not a valid line)."""
    if not reason:
        return None
    reason = reason[:MAX_PART_REASON]
    return reason if _is_line(reason, MAX_PART_REASON) and reason.strip() else None


def user_info(users: Iterable[User]) -> tuple[UserInfo, ...]:
    return tuple(UserInfo(nick=u.nick, username=u.username, realname=u.realname, away=u.away)
                 for u in users)


def _is_line(text: str, limit: int) -> bool:
    return len(text) <= limit and _FORBIDDEN_IN_LINE.search(text) is None


class Profile:
    """Mixed into the hub: needs its users, rooms, rules and a few of its helpers."""

    if TYPE_CHECKING:
        _online: dict[str, User]
        _rooms: dict[str, Room]
        _rules: dict[str, RoomRules]
        _accounts: dict[str, str]

        def _role(self, user: User, key: str) -> Role: ...
        def _send_direct(self, session: Session, msg: SendDirect, now: float,
                         resends: bool = True) -> list[Effect]: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...
        @staticmethod
        def _audience(rooms: Iterable[Room]) -> tuple[SessionId, ...]: ...
        def _tell_watchers(self, user: User, event: UserUpdated,
                           skip: Iterable[SessionId]) -> list[Effect]: ...

    def profile_handlers(self) -> dict[type[Any], Any]:
        return {SetAway: self._set_away, ListBans: self._list_bans,
                SetRealname: self._set_realname}

    def profile_posts(self) -> dict[type[Any], Any]:
        """Handlers of stored messages (the hub's ``_posts``) this module wraps."""
        return {SendDirect: self._send_direct_noting_away}

    def _set_away(self, session: Session, msg: SetAway, now: float) -> list[Effect]:
        user = self._user(session)
        away = check_away(msg.message)
        changed = away != user.away
        user.away = away
        effects = self._to_user(user, session.sid, Away(nick=user.nick, message=away), msg.id)
        if changed:
            effects.extend(self._tell_room_mates(user, self._user_updated(user, "away")))
        return effects

    def _set_realname(self, session: Session, msg: SetRealname, now: float) -> list[Effect]:
        """A new realname (the same one again too: the asker is answered, as IRC expects)."""
        user = self._user(session)
        user.realname = check_realname(msg.realname)
        event = self._user_updated(user, "realname")
        return [*self._to_user(user, session.sid, event, msg.id),
                *self._tell_room_mates(user, event)]

    def account_noted(self, user: User) -> list[Effect]:
        """``user`` has just become an account (REGISTER): its room-mates are told."""
        return self._tell_room_mates(user, self._user_updated(user, "account"))

    def _user_updated(self, user: User, change: UserChange) -> UserUpdated:
        return UserUpdated(nick=user.nick, change=change, away=user.away,
                           realname=user.realname,
                           account=self._accounts.get(user.key) if user.account else None)

    def _tell_room_mates(self, user: User, event: UserUpdated) -> list[Effect]:
        """``event`` to everyone sharing a room with ``user`` (not its own sessions), and, as
        ``watched``, to the other sessions watching its nick (hub/watch.py)."""
        mine = set(user.sessions)
        audience = tuple(s for s in self._audience(user.rooms.values()) if s not in mine)
        effects: list[Effect] = [Deliver(event, audience)] if audience else []
        return [*effects, *self._tell_watchers(user, event, (*mine, *audience))]

    def _send_direct_noting_away(self, session: Session, msg: SendDirect, now: float,
                                 resends: bool = True) -> list[Effect]:
        effects = self._send_direct(session, msg, now, resends)  # raises if nobody is there
        target = self._online.get(fold(msg.to))
        if target is not None and target.away is not None and target is not session.user:
            # after the DM: released once it is stored, in the order of the sender's commands
            effects.append(Deliver(Away(nick=target.nick, message=target.away),
                                   (session.sid,)))
        return effects

    def _list_bans(self, session: Session, msg: ListBans, now: float) -> list[Effect]:
        user = self._user(session)
        key = fold(check_room(msg.room))
        rules = self._rules.get(key)
        if self._role(user, key) is Role.OUTSIDER:
            if (rules is None and key not in self._rooms) or (rules is not None
                                                              and rules.private):
                raise no_such_room(msg.room)
            raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {msg.room}")
        if rules is None and key not in self._rooms:  # a server operator asking
            raise no_such_room(msg.room)
        name = rules.name if rules is not None else self._rooms[key].name
        bans = [ban for _, ban in sorted(rules.bans.items())] if rules is not None else []
        mutes = [mute for _, mute in sorted(rules.muted.items())] if rules is not None else []
        return [Deliver(BanList(id=msg.id, room=name, nicks=tuple(b.nick for b in bans),
                                bans=tuple(BanEntry(nick=b.nick, by=b.by, at=b.at)
                                           for b in bans),
                                muted=tuple(BanEntry(nick=m.nick, by=m.by, at=m.at)
                                            for m in mutes)), (session.sid,))]
