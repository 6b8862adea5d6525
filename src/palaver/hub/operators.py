"""Server operators and user modes: OPER, USER_MODE, KILL, WALLOPS.

How this works: :class:`Operators` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.moderation.Moderation`.

- A server operator (:class:`~palaver.hub.rules.Role` ``SERVER_OP``) is either an account listed
  in ``server_operators`` (always, while online) or a user — guest or account — that logged in
  with ``OPER`` as one of the ``operator_logins`` (name and Argon2id hash) until it goes offline
  or drops it (``USER_MODE`` with ``operator`` false). The password check needs hashing, which
  is I/O work for the core: OPER asks for it with a :class:`CheckOperator` effect and the core
  calls :meth:`Operators.operator_checked` with the verdict (an unknown name is checked against
  a decoy, so a wrong name and a wrong password look alike).
- User modes are the user's, not the session's, like AWAY: ``invisible`` (WHO leaves it out for
  strangers, :mod:`palaver.hub.directory`), ``wallops`` (receives WALLOPS), ``operator``. Every
  change goes to all the user's sessions as ``USER_MODE``, saying what ``changed``.
- ``KILL`` (operators only) disconnects every session of a user: they get BYE with the reason,
  the others a ``quit`` PRESENCE with ``by``; the killer's copy of it answers the KILL.
- ``WALLOPS`` (operators only) goes to every user with the ``wallops`` mode, and back to the
  sender as the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

from palaver.hub.effects import CheckOperator, Close, Deliver, Effect, SessionId
from palaver.hub.names import check_nick, check_text, fold
from palaver.hub.state import Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    BecomeOperator,
    Kill,
    Presence,
    SendWallops,
    ServerMessage,
    SetUserMode,
    UserMode,
    UserModeName,
    Wallops,
)

if TYPE_CHECKING:
    from palaver.hub.hub import HubConfig

MAX_OPERATOR_PASSWORD: Final = 1_024
MAX_KILL_REASON: Final = 200


class Operators:
    """Mixed into the hub: needs its users, config and a few of its helpers."""

    if TYPE_CHECKING:
        config: HubConfig
        _sessions: dict[SessionId, Session]
        _online: dict[str, User]

        def close_session(self, sid: SessionId, reason: str) -> list[Effect]: ...
        def is_server_operator(self, user: User) -> bool: ...
        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...

    def operator_handlers(self) -> dict[type[Any], Any]:
        return {BecomeOperator: self._oper, SetUserMode: self._set_user_mode, Kill: self._kill,
                SendWallops: self._wallops}

    # ------------------------------------------------------------------ OPER

    def _oper(self, session: Session, msg: BecomeOperator, now: float) -> list[Effect]:
        self._user(session)
        logins: Mapping[str, str] = self.config.operator_logins
        if not msg.name or not msg.password or len(msg.password) > MAX_OPERATOR_PASSWORD:
            raise PeerError(ErrorCode.AUTH_FAILED, "wrong operator name or password")
        return [CheckOperator(session.sid, msg.id, msg.name, logins.get(msg.name),
                              msg.password)]

    def operator_checked(self, sid: SessionId, name: str, *, verified: bool,
                         request_id: str | None) -> list[Effect]:
        """The core has checked an OPER's password (``verified``: it was right)."""
        session = self._sessions.get(sid)
        if session is None or session.user is None:
            return []
        if not verified:
            return [self.error_effect(sid, PeerError(
                ErrorCode.AUTH_FAILED, "wrong operator name or password", request_id))]
        user = session.user
        was = self.is_server_operator(user)
        user.oper = name
        return self._modes_changed(user, sid, request_id, () if was else ("operator",))

    # ------------------------------------------------------------------ USER_MODE

    def _set_user_mode(self, session: Session, msg: SetUserMode, now: float) -> list[Effect]:
        user = self._user(session)
        if msg.operator:
            raise PeerError(ErrorCode.INVALID_FIELD, "become an operator with OPER",
                            field="operator")
        changed: list[UserModeName] = []
        if msg.invisible is not None and msg.invisible != user.invisible:
            user.invisible = msg.invisible
            changed.append("invisible")
        if msg.wallops is not None and msg.wallops != user.wallops:
            user.wallops = msg.wallops
            changed.append("wallops")
        if msg.bot is not None and msg.bot != user.bot:
            user.bot = msg.bot
            changed.append("bot")
        if msg.operator is False and user.oper is not None:
            user.oper = None
            if not self.is_server_operator(user):  # a server_operators account stays one
                changed.append("operator")
        return self._modes_changed(user, session.sid, msg.id, tuple(changed))

    def _modes_changed(self, user: User, sid: SessionId, request_id: str | None,
                       changed: tuple[UserModeName, ...]) -> list[Effect]:
        event = UserMode(nick=user.nick, invisible=user.invisible, wallops=user.wallops,
                         operator=self.is_server_operator(user), changed=changed, bot=user.bot)
        if not changed:  # nothing changed: the asker learns the modes, nobody else
            return [Deliver(msgspec.structs.replace(event, id=request_id), (sid,))]
        return self._to_user(user, sid, event, request_id)

    # ------------------------------------------------------------------ KILL and WALLOPS

    def _kill(self, session: Session, msg: Kill, now: float) -> list[Effect]:
        killer = self._operator(session)
        target = self._online.get(fold(check_nick(msg.nick)))
        if target is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.nick[:40]!r} is here")
        reason = _kill_reason(msg.reason)
        said = f"killed by {killer.nick}" + (f": {reason}" if reason else "")
        effects: list[Effect] = []
        for sid in list(target.sessions):
            for effect in self.close_session(sid, said):
                if isinstance(effect, Deliver) and isinstance(effect.event, Presence):
                    quit_ = msgspec.structs.replace(effect.event, by=killer.nick)
                    effects.append(Deliver(quit_, effect.to, skip=session.sid))
                    if killer is not target:  # the answer to the KILL
                        effects.append(Deliver(msgspec.structs.replace(quit_, id=msg.id),
                                               (session.sid,)))
                else:
                    effects.append(effect)
            effects.append(Close(sid, said, nick=target.nick))
        return effects

    def _wallops(self, session: Session, msg: SendWallops, now: float) -> list[Effect]:
        sender = self._operator(session)
        event = Wallops(sender=sender.nick, text=check_text(msg.text))
        readers = tuple(sid for user in self._online.values() if user.wallops
                        for sid in user.sessions if sid != session.sid)
        return [Deliver(msgspec.structs.replace(event, id=msg.id), (session.sid,)),
                Deliver(event, readers)]

    def _operator(self, session: Session) -> User:
        user = self._user(session)
        if not self.is_server_operator(user):
            raise PeerError(ErrorCode.NOT_OPERATOR, "only server operators may do that")
        return user


def _kill_reason(reason: str | None) -> str:
    """The reason a KILL gives, or "" (none, or not a valid one-line text: dropped)."""
    if not reason or not reason.strip():
        return ""
    try:
        return check_text(reason[:MAX_KILL_REASON].replace("\n", " "))
    except PeerError:
        return ""
