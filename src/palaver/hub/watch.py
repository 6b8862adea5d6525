"""Watch lists (IRC's MONITOR): a session is told when the nicks it watches come and go.

How this works: :class:`WatchLists` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.profile.Profile`. A session's watch list (``WATCH``: clear, remove, add;
at most :data:`MAX_WATCH` nicks) lives in ``_watch_lists`` (session -> folded nick -> the nick as
written); ``_watchers`` is the index the other way (folded nick -> sessions), so telling the
watchers of a nick costs nothing per session that does not watch it. The hub calls
:meth:`WatchLists._came_online` when a user comes online (its first session),
:meth:`WatchLists._went_offline` when its last session ends, :meth:`WatchLists._renamed` when
it changes nick (a change of letter case is neither), and :meth:`WatchLists._unwatch_all` when
a session closes. Each watcher gets its own ``Deliver`` (``ONLINE``/``OFFLINE``): an IRC
numeric names its recipient, so these are not shared bytes.

extended-monitor: what a user's room-mates are told of it changing (``USER_UPDATED``: away,
realname, account) goes to its watchers too, marked ``watched``
(:meth:`WatchLists._tell_watchers`, called by the profile's ``_tell_room_mates``); a watcher
who shares a room with it gets the room-mates' copy only. IRC shows a ``watched`` one only to
clients with ``extended-monitor`` (and the capability of the change).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from palaver.hub.effects import Deliver, Effect, SessionId
from palaver.hub.names import check_nick, fold
from palaver.hub.state import Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Offline, Online, UserUpdated, Watch, Watching

MAX_WATCH: Final = 100  # nicks on one session's watch list (IRC's ISUPPORT MONITOR=100)


class WatchLists:
    """Mixed into the hub: needs its users online."""

    if TYPE_CHECKING:
        _online: dict[str, User]

        @staticmethod
        def _user(session: Session) -> User: ...

    _watch_lists: dict[SessionId, dict[str, str]]
    _watchers: dict[str, dict[SessionId, None]]

    def watch_handlers(self) -> dict[type[Any], Any]:
        self._watch_lists = {}
        self._watchers = {}
        return {Watch: self._watch}

    def _watch(self, session: Session, msg: Watch, now: float) -> list[Effect]:
        self._user(session)
        added = {fold(check_nick(nick)): nick for nick in msg.add}
        current = {} if msg.clear else dict(self._watch_lists.get(session.sid, {}))
        for nick in msg.remove:
            current.pop(fold(nick), None)
        for key, nick in added.items():
            current.setdefault(key, nick)
        if len(current) > MAX_WATCH:
            raise PeerError(ErrorCode.WATCH_LIST_FULL,
                            f"a watch list holds at most {MAX_WATCH} nicks", field="add")
        self._set_watch_list(session.sid, current)
        asked = added if msg.add or msg.remove or msg.clear else current
        online = [self._online[key].nick for key in asked if key in self._online]
        offline = [nick for key, nick in asked.items() if key not in self._online]
        return [Deliver(Watching(id=msg.id, online=tuple(online), offline=tuple(offline)),
                        (session.sid,))]

    def _set_watch_list(self, sid: SessionId, wanted: dict[str, str]) -> None:
        old = self._watch_lists.pop(sid, {})
        for key in old.keys() - wanted.keys():
            watchers = self._watchers[key]
            del watchers[sid]
            if not watchers:
                del self._watchers[key]
        for key in wanted.keys() - old.keys():
            self._watchers.setdefault(key, {})[sid] = None
        if wanted:
            self._watch_lists[sid] = wanted

    # ------------------------------------------------------------------ asked by the hub

    def _unwatch_all(self, sid: SessionId) -> None:
        """``sid`` is closing: it watches nothing any more."""
        if sid in self._watch_lists:
            self._set_watch_list(sid, {})

    def _watchers_of(self, nick: str, skip: Iterable[SessionId] = ()) -> tuple[SessionId, ...]:
        """The sessions watching ``nick``, but those in ``skip``."""
        watchers = self._watchers.get(fold(nick))
        if not watchers:
            return ()
        skipped = set(skip)
        return tuple(sid for sid in watchers if sid not in skipped)

    def _tell_watchers(self, user: User, event: UserUpdated,
                       skip: Iterable[SessionId]) -> list[Effect]:
        """extended-monitor: ``event`` about ``user`` (away, realname, account), marked
        ``watched``, to the sessions watching its nick but those in ``skip`` (its room-mates,
        who had it already, and its own)."""
        watchers = self._watchers_of(user.nick, skip)
        if not watchers:
            return []
        return [Deliver(msgspec.structs.replace(event, watched=True), watchers)]

    def _came_online(self, user: User) -> list[Effect]:
        return self._tell(user.folded_nick, Online(nick=user.nick))

    def _went_offline(self, user: User) -> list[Effect]:
        return self._tell(user.folded_nick, Offline(nick=user.nick))

    def _renamed(self, old_nick: str, user: User) -> list[Effect]:
        if fold(old_nick) == user.folded_nick:
            return []  # a change of letter case: the same nick
        return [*self._tell(fold(old_nick), Offline(nick=old_nick)),
                *self._tell(user.folded_nick, Online(nick=user.nick))]

    def _tell(self, key: str, event: Online | Offline) -> list[Effect]:
        watchers = self._watchers.get(key)
        if not watchers:
            return []
        return [Deliver(event, (sid,)) for sid in watchers]
