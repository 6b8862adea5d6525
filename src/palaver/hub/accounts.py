"""Accounts and nicks: REGISTER, NICK, and the nicks the hub knows.

How this works: :class:`Accounts` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.moderation.Moderation`.

- REGISTER makes the asker's own nick an account. Creating it needs the store and a password
  hash, so the hub only checks the request, holds the nick in ``_pending_accounts`` (nobody may
  take it meanwhile) and returns ``CreateAccount``; the core's answer is
  :meth:`Accounts.account_created`. It turns the guest into the account in place
  (:meth:`Accounts._become_account`: its key becomes the folded nick, its token is dropped) and
  keeps its rooms, read markers and metadata under the new key; its room-mates are told.
- NICK refuses a nick in use, an account's, one being registered, or one that looks like a name
  in use (:meth:`Accounts._refuse_lookalike`, hub/lookalikes.py). A change goes to the user's
  sessions, everyone sharing a room with it and its watchers; the old nick goes to WHOWAS.
- ``_known_nicks`` (:meth:`Accounts._known`) names the identities behind direct conversations:
  every account's nick, and the last ``known_guests`` guests', most recently seen last.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from palaver.hub.effects import CreateAccount, Deliver, Effect, Remember, SessionId
from palaver.hub.lookalikes import LookalikeIndex
from palaver.hub.messaging import format_ts
from palaver.hub.names import check_nick, fold
from palaver.hub.state import Room, Session, User
from palaver.hub.whowas import NickHistory
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Presence, Register, Registered, ServerMessage, SetNick

if TYPE_CHECKING:
    from palaver.hub.hub import HubConfig

MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 1_024


class Accounts:
    """Mixed into the hub: needs its users, accounts and a few of its helpers."""

    if TYPE_CHECKING:
        config: HubConfig
        history: NickHistory
        _sessions: dict[SessionId, Session]
        _online: dict[str, User]
        _online_accounts: dict[str, User]
        _guests: dict[str, User]
        _accounts: dict[str, str]
        _pending_accounts: set[str]
        _lookalikes: LookalikeIndex
        _known_nicks: dict[str, str]
        _default_keys: frozenset[str]  # the default rooms, folded

        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...
        @staticmethod
        def _audience(rooms: Iterable[Room]) -> tuple[SessionId, ...]: ...
        def _membership(self, user: User, room: Room, *, member: bool) -> Remember | None: ...
        def account_noted(self, user: User) -> list[Effect]: ...
        def _markers_rekeyed(self, old_key: str, user: User, sid: SessionId) -> list[Effect]: ...
        def _levels_rekeyed(self, old_key: str, user: User, sid: SessionId) -> list[Effect]: ...
        def _metadata_rekeyed(self, old_key: str, user: User) -> list[Effect]: ...
        def _renamed(self, old_nick: str, user: User) -> list[Effect]: ...

    def _register(self, session: Session, msg: Register, now: float) -> list[Effect]:
        user = self._user(session)
        if user.account:
            raise PeerError(ErrorCode.ACCOUNT_EXISTS, "you are logged in to an account already")
        key = fold(check_nick(msg.nick))
        if key != user.folded_nick:
            raise PeerError(ErrorCode.INVALID_NICK, "you can only register the nick you use")
        if key in self._accounts or key in self._pending_accounts:
            raise PeerError(ErrorCode.ACCOUNT_EXISTS, "that nick is already an account")
        if not MIN_PASSWORD <= len(msg.password) <= MAX_PASSWORD:
            raise PeerError(ErrorCode.INVALID_PASSWORD,
                            f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        self._pending_accounts.add(key)
        return [CreateAccount(session.sid, msg.id, key, user.nick, msg.password)]

    def account_created(
        self, sid: SessionId, key: str, *, created: bool, request_id: str | None,
        failed: bool = False,
    ) -> list[Effect]:
        """The store has made ``key`` an account — or not: it is taken (``created`` false) or
        the store failed (``failed``)."""
        self._pending_accounts.discard(key)
        session = self._sessions.get(sid)
        user = session.user if session else None
        if failed or not created:
            error = (PeerError(ErrorCode.UNAVAILABLE, "cannot create accounts right now",
                               request_id) if failed else
                     PeerError(ErrorCode.ACCOUNT_EXISTS, "that nick is already an account",
                               request_id))
            return [self.error_effect(sid, error)] if session else []
        nick = user.nick if user is not None and user.folded_nick == key else key
        self._accounts[key] = nick
        self._lookalikes.add(key, nick)
        if user is None or user.folded_nick != key or user.account:
            return []
        guest_key = user.key
        self._become_account(user, key)
        effects = self._to_user(user, sid, Registered(nick=user.nick), request_id)
        effects.extend(self.account_noted(user))  # its room-mates (hub/profile.py)
        effects.extend(self._markers_rekeyed(guest_key, user, sid))
        effects.extend(self._levels_rekeyed(guest_key, user, sid))  # hub/notify.py
        effects.extend(self._metadata_rekeyed(guest_key, user))  # kept now (hub/metadata.py)
        for room in user.rooms.values():
            if room.key in self._default_keys:
                continue  # put there on arrival, not by choice: a JOIN of it would note it
            remember = self._membership(user, room, member=True)
            if remember is not None:
                effects.append(remember)
        return effects

    def _become_account(self, user: User, key: str) -> None:
        del self._guests[user.key]
        for room in user.rooms.values():
            del room.members[user.key]
            room.members[key] = user
            room.changed()  # (its place in the order moved)
            if room.arrived is not None and user.key in room.arrived:  # hub/crowds.py
                del room.arrived[user.key]
                room.arrived[key] = None
        user.key, user.account = key, True
        self._online_accounts[key] = user
        self._known(user)

    def _set_nick(self, session: Session, msg: SetNick, now: float) -> list[Effect]:
        user = self._user(session)
        new = check_nick(msg.nick)
        new_fold = fold(new)
        if user.folded_nick in self._pending_accounts and new_fold != user.folded_nick:
            raise PeerError(ErrorCode.NICK_REGISTERED, "your nick is being registered; wait")
        if new_fold in self._pending_accounts and new_fold != user.folded_nick:
            raise PeerError(ErrorCode.NICK_REGISTERED, f"{new} is being registered")
        if new_fold in self._accounts and new_fold != user.key:
            raise PeerError(ErrorCode.NICK_REGISTERED, f"{new} is another user's account")
        holder = self._online.get(new_fold)
        if holder is not None and holder is not user:
            raise PeerError(ErrorCode.NICK_TAKEN, f"the nick {new} is taken")
        self._refuse_lookalike(new, new_fold, (user.folded_nick, user.key))
        event = Presence(nick=user.nick, event="nick", new_nick=new)
        if new == user.nick:  # nothing changes: confirm to the asker, tell nobody
            return self._to_user(user, session.sid, event, msg.id)
        mine = set(user.sessions)
        audience = tuple(s for s in self._audience(user.rooms.values()) if s not in mine)
        self.history.note(user, format_ts(now))  # WHOWAS: the nick as it was
        del self._online[user.folded_nick]
        self._lookalikes.discard(user.folded_nick)
        user.nick = new
        for room in user.rooms.values():
            room.changed()  # its member pages are sorted by nick
        self._online[new_fold] = user
        self._lookalikes.add(new_fold, new)
        self._known(user)
        effects = self._to_user(user, session.sid, event, msg.id)
        effects.append(Deliver(event, audience))
        effects.extend(self._renamed(event.nick, user))  # to watchers (hub/watch.py)
        return effects

    def _refuse_lookalike(self, nick: str, folded: str, mine: tuple[str, ...]) -> None:
        """Refuse a nick that looks like another's name in use (hub/lookalikes.py)."""
        other = self._lookalikes.lookalike(nick, folded, mine)
        if other is not None:
            raise PeerError(ErrorCode.NICK_CONFUSABLE,
                            f"{nick} looks too much like {other}, a nick in use")

    def _known(self, user: User) -> None:
        known = self._known_nicks
        known.pop(user.key, None)  # re-inserted last: the most recently seen
        known[user.key] = user.nick
        while len(known) > len(self._accounts) + self.config.known_guests:
            del known[next(iter(known))]
