"""Who is (and was) here, as far as the asker may know: WHO, WHOWAS, STATS.

How this works: :class:`Directory` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.moderation.Moderation` — the same state, its own handlers.

- ``WHO`` without a room lists everyone online but the *invisible* users (user mode, set with
  ``USER_MODE``) who share no room with the asker; the asker itself and server operators see
  everyone. ``WHO`` of a room shows its members; to someone outside the room, its invisible
  members are left out (a private room is not shown at all: docs/rooms.md). ``WHO`` with a
  ``nick`` asks about that one user, invisible or not (IRC's WHOIS): its ``info`` then also
  has its rooms — those the asker may know of: not private ones the asker is not in, and for
  an invisible user only the rooms the asker shares with it — since when it is online and how
  long it has been idle (seconds since its last CHAT or DM).
- ``info`` says of each user whether it is a server operator and which account it is logged in
  to (its registered spelling).
- ``WHOWAS`` answers from :class:`~palaver.hub.whowas.NickHistory`, which the hub feeds when a
  user goes offline or changes nick.
- ``STATS`` counts users (invisible ones and operators among them), connections that have not
  said HELLO yet, rooms (not private ones: those do not exist for whoever is not in them) and
  the most users ever online at once since the server started (IRC's LUSERS).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from palaver.hub.effects import Deliver, Effect
from palaver.hub.names import check_nick, check_room, fold
from palaver.hub.rules import RoomRules, no_such_room
from palaver.hub.state import Room, Session, User
from palaver.hub.whowas import NickHistory
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    GetStats,
    ListPastUsers,
    ListUsers,
    PastUsers,
    ServerStats,
    UserInfo,
    Users,
)

if TYPE_CHECKING:
    from palaver.hub.effects import SessionId

MAX_WHOWAS_MASK = 64  # characters of a WHOWAS nick mask


class Directory:
    """Mixed into the hub: needs its users, rooms, rules and a few of its helpers."""

    if TYPE_CHECKING:
        _sessions: dict[SessionId, Session]
        _online: dict[str, User]
        _accounts: dict[str, str]
        _rooms: dict[str, Room]
        _rules: dict[str, RoomRules]

        def is_server_operator(self, user: User) -> bool: ...
        def _may_see(self, user: User | None, key: str) -> bool: ...
        def _operators(self, key: str) -> tuple[str, ...]: ...
        def _voiced(self, key: str) -> tuple[str, ...]: ...
        def _metadata_of(self, user: User) -> dict[str, str] | None: ...
        def _page_fields(self, sid: SessionId, room: Room, after: str | None
                         ) -> tuple[list[User], int, str | None] | None: ...
        @staticmethod
        def _user(session: Session) -> User: ...

    history: NickHistory
    peak_users: int

    def directory_handlers(self) -> dict[type[Any], Any]:
        return {ListUsers: self._list_users, ListPastUsers: self._list_past_users,
                GetStats: self._stats}

    def _seen_online(self) -> None:
        """Someone came online: the peak may have grown."""
        self.peak_users = max(self.peak_users, len(self._online))

    # ------------------------------------------------------------------ WHO

    def _list_users(self, session: Session, msg: ListUsers, now: float) -> list[Effect]:
        asker = session.user
        if msg.nick is not None:
            return [Deliver(self._one_user(asker, msg, now), (session.sid,))]
        if msg.room is None:
            online = sorted((u for u in self._online.values() if self._may_list(asker, u)),
                            key=lambda u: u.nick.lower())
            info = self._info(online) if msg.details else ()
            return [Deliver(Users(id=msg.id, users=tuple(u.nick for u in online), info=info),
                            (session.sid,))]
        room = self._rooms.get(fold(check_room(msg.room)))
        if room is None or not room.members or not self._may_see(asker, room.key):
            raise no_such_room(msg.room)
        members = list(room.members.values())
        total = following = None
        if asker is not None and room.key not in asker.rooms \
                and not self.is_server_operator(asker):
            members = [u for u in members if not u.invisible]
        else:  # everyone is shown: a big room goes in pages to who takes them (hub/crowds.py)
            page = self._page_fields(session.sid, room, msg.after)
            if page is not None:
                members, total, following = page
        shown = {u.nick for u in members}
        rules = self._rules.get(room.key)
        event = Users(id=msg.id, room=room.name, users=tuple(u.nick for u in members),
                      operators=tuple(n for n in self._operators(room.key) if n in shown),
                      info=self._info(members) if msg.details else (),
                      voiced=tuple(n for n in self._voiced(room.key) if n in shown),
                      private=rules is not None and rules.private,
                      total=total, next=following)
        return [Deliver(event, (session.sid,))]

    def _may_list(self, asker: User | None, user: User) -> bool:
        """Whether WHO of everyone shows ``user`` to ``asker``."""
        if not user.invisible or asker is None or asker is user:
            return True
        return self.is_server_operator(asker) or any(key in asker.rooms for key in user.rooms)

    def _one_user(self, asker: User | None, msg: ListUsers, now: float) -> Users:
        """WHO ``nick``: that user (even invisible), or nobody."""
        assert msg.nick is not None
        user = self._online.get(fold(msg.nick))
        if user is None:
            return Users(id=msg.id, users=())
        if not msg.details:
            return Users(id=msg.id, users=(user.nick,))
        from palaver.hub.hub import format_ts  # the hub imports this module

        rooms = [room for key, room in user.rooms.items() if self._may_know(asker, user, key)]
        operators = {r.key for r in rooms if user.nick in self._operators(r.key)}
        [info] = self._info([user])
        info = UserInfo(
            nick=info.nick, username=info.username, realname=info.realname, away=info.away,
            operator=info.operator, account=info.account, bot=info.bot,
            rooms=tuple(r.name for r in rooms),
            operator_of=tuple(r.name for r in rooms if r.key in operators),
            online_since=format_ts(user.signon) if user.signon else None,
            idle=max(0, int(now - (user.active or user.signon))) if user.signon else None,
            metadata=self._metadata_of(user),  # hub/metadata.py
            secure=all(s.secure for sid in user.sessions if (s := self._sessions.get(sid))))
        return Users(id=msg.id, users=(user.nick,), info=(info,))

    def _may_know(self, asker: User | None, user: User, key: str) -> bool:
        """Whether ``asker`` may learn that ``user`` is in the room ``key``."""
        if asker is user or (asker is not None and self.is_server_operator(asker)):
            return True
        shared = asker is not None and key in asker.rooms
        if user.invisible and not shared:
            return False
        return shared or self._may_see(asker, key)

    def _info(self, users: Iterable[User]) -> tuple[UserInfo, ...]:
        return tuple(
            UserInfo(nick=u.nick, username=u.username, realname=u.realname, away=u.away,
                     operator=self.is_server_operator(u),
                     account=self._accounts.get(u.key, u.nick) if u.account else None,
                     bot=u.bot)
            for u in users)

    # ------------------------------------------------------------------ WHOWAS and STATS

    def _list_past_users(self, session: Session, msg: ListPastUsers, now: float
                         ) -> list[Effect]:
        mask = msg.nick
        if not mask or len(mask) > MAX_WHOWAS_MASK:
            raise PeerError(ErrorCode.INVALID_NICK, f"a WHOWAS nick (or mask) is 1 to "
                            f"{MAX_WHOWAS_MASK} characters", field="nick")
        if "*" not in mask and "?" not in mask:
            check_nick(mask)
        users = self.history.lookup(mask, msg.count)
        return [Deliver(PastUsers(id=msg.id, nick=mask, users=users), (session.sid,))]

    def _stats(self, session: Session, msg: GetStats, now: float) -> list[Effect]:
        online = self._online.values()
        registered = sum(len(u.sessions) for u in online)
        rooms = sum(1 for key, room in self._rooms.items() if room.members
                    and not ((rules := self._rules.get(key)) is not None and rules.private))
        stats = ServerStats(
            id=msg.id, users=len(self._online), invisible=sum(u.invisible for u in online),
            operators=sum(self.is_server_operator(u) for u in online),
            unregistered=len(self._sessions) - registered, rooms=rooms,
            max_users=max(self.peak_users, len(self._online)))
        return [Deliver(stats, (session.sid,))]
