"""A node of a cluster: other nodes' messages and members, told here in order.

How this works: mixed into :class:`~palaver.hub.hub.Hub`. In a cluster the store assigns ids
(``HubConfig.store_assigns_ids``): a post's msg_id is only the hub's guess, and ``_last_id``
moves when an id is *released* here (a :class:`~palaver.hub.effects.Released` effect, carried
out in order with every other effect) — the node's own once stored, other nodes' once the
server's cluster link (server/cluster.py) has them in order. So ``_last_id`` says how far the
users here have been told, and a JOINED or a replay counts up to it *when it goes out* (the
core reads it then): a message released before it is in the replay or before the JOINED's
last id, one released after it is told live. Who is told live is decided when the message
enters the effects (:meth:`Remote.audience`), as for a post on a single server.

Members on other nodes, and rules and kicks from them: hub/remote_members.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from palaver.hub.effects import Deliver, Effect, Released, SessionId
from palaver.hub.names import check_room, fold
from palaver.hub.profile import joining
from palaver.hub.rules import RoomRules
from palaver.hub.state import Room, User
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import (
    Message,
    Presence,
)
from palaver.roster.base import Member
from palaver.store.base import RoomSettings

if TYPE_CHECKING:
    from palaver.hub.interest import Interest
    from palaver.hub.lookalikes import LookalikeIndex
    from palaver.hub.state import Session


class Remote:
    if TYPE_CHECKING:
        _rooms: dict[str, Room]
        _online: dict[str, User]
        _online_accounts: dict[str, User]
        _last_id: dict[str, int]
        _committed: dict[str, int]
        _dm_index: dict[str, set[str]]
        _known_nicks: dict[str, str]
        _sessions: dict[SessionId, Session]
        _accounts: dict[str, str]
        _lookalikes: LookalikeIndex
        _rules: dict[str, RoomRules]
        _default_keys: frozenset[str]

        def _crowd_arrives(self, room: Room, user: User) -> bool: ...
        def _ghost_enters(self, room: Room, key: str, member: Member) -> User: ...

    interest: Interest | None = None  # set by a node of a cluster (hub/interest.py)
    _roster: dict[str, dict[str, Member]]  # hub/remote_members.py

    def remote_message(self, conversation: str, event: Message, sender_key: str = "",
                       member: Member | None = None) -> list[Effect]:
        """Another node stored ``event`` in ``conversation``, and every id before it has been
        released here: it counts as told from where these effects are carried out, to those
        here who should see it now. ``member``: its sender is a member of the room there (key
        ``sender_key``) — shown joining first here if it is not shown yet (the roster would
        tell it later than its message)."""
        audience = self.audience(conversation)
        effects: list[Effect] = [Released(conversation, event.msg_id)]
        room = self._rooms.get(conversation)
        if member is not None and room is not None and sender_key not in room.members:
            self._roster.setdefault(conversation, {})[sender_key] = member
            ghost = self._ghost_enters(room, sender_key, member)
            if audience and not self._crowd_arrives(room, ghost):
                effects.append(Deliver(Presence(nick=ghost.nick, event="join", room=room.name,
                                                **joining(ghost, self._accounts)), audience))
        return [*effects, Deliver(event, audience)] if audience else effects

    def member_here(self, conversation: str, key: str) -> Member | None:
        """``key`` as a member of the room ``conversation`` on this node, if it is one."""
        room = self._rooms.get(conversation)
        user = room.members.get(key) if room is not None else None
        return Member(user.nick, user.account) if user is not None and user.sessions else None

    def audience(self, conversation: str) -> tuple[SessionId, ...]:
        """Who here is told a message of ``conversation`` now: the room's members here, or
        both ends of a direct conversation."""
        if not conversation.startswith("@"):
            room = self._rooms.get(conversation)
            return room.targets() if room is not None else ()
        sessions: list[SessionId] = []
        for key in conversation[1:].split(","):
            self._dm_index.setdefault(key, set()).add(conversation)
            user = self._here_by_key(key)
            if user is not None:
                sessions.extend(user.sessions)
        return tuple(sessions)

    def released(self, conversation: str, msg_id: int) -> None:
        """Id ``msg_id`` of ``conversation`` is stored and told here."""
        if msg_id > self._last_id.get(conversation, 0):
            self._last_id[conversation] = msg_id
        if msg_id > self._committed.get(conversation, 0):
            self._committed[conversation] = msg_id

    def skip_to(self, conversation: str, msg_id: int) -> None:
        """The store goes up to ``msg_id`` in a conversation nobody here follows."""
        self.released(conversation, msg_id)

    def follows(self, conversation: str) -> bool:
        """Does anyone here need ``conversation``'s messages (a member of the room, or one end
        of the direct conversation, online here)?"""
        if not conversation.startswith("@"):
            return conversation in self._rooms
        return any(self._here_by_key(key) is not None for key in conversation[1:].split(","))

    def last_id_of(self, conversation: str) -> int:
        """How far ``conversation`` has been released here (0: nothing yet)."""
        return self._last_id.get(conversation, 0)

    def last_ids(self) -> dict[str, int]:
        """How far each conversation has been released here (a copy)."""
        return dict(self._last_id)

    def knows_nick(self, nick: str) -> bool:
        """Is ``nick`` someone here, or an account this node knows?"""
        folded = fold(nick)
        return folded in self._online or folded in self._accounts

    def _here_by_key(self, key: str) -> User | None:
        """The user online here with identity ``key``, if any."""
        user = self._online_accounts.get(key)
        if user is not None or not key.startswith("~"):
            return user
        nick = self._known_nicks.get(key)
        user = self._online.get(fold(nick)) if nick is not None else None
        return user if user is not None and user.key == key else None

    # ------------------------------------------------------------------ nicks across nodes

    def nick_in_use(self, folded: str) -> bool:
        """Is a user online here under the folded nick ``folded``?"""
        return folded in self._online

    def key_of(self, sid: SessionId) -> str | None:
        """The identity of ``sid``'s user, once registered."""
        session = self._sessions.get(sid)
        return session.user.key if session is not None and session.user is not None else None

    def is_guest(self, sid: SessionId) -> bool:
        """Is ``sid`` a registered session of a guest (not an account)?"""
        session = self._sessions.get(sid)
        return session is not None and session.user is not None and not session.user.account

    def room_open(self, name: str) -> bool:
        """Has the room ``name`` a member here?"""
        return fold(name) in self._rooms

    def learn_rules(self, stored: Iterable[RoomSettings]) -> None:
        """The rooms' rules as the store has them now (other nodes change them): taken for the
        rooms not open here (an open room's rules are the ones its members here go by)."""
        for settings in stored:
            key = fold(settings.room)
            if key not in self._rooms:
                self._rules[key] = RoomRules.from_settings(settings)

    def new_room_rules(self, sid: SessionId, name: str, now: float) -> RoomSettings | None:
        """The rules a JOIN of ``sid`` would make for the room ``name`` if it is new (none
        known, not a default room): the joiner its operator. A node of a cluster stores them
        only if no other node has made the room first (``Store.save_room(new=True)``)."""
        from palaver.hub.hub import format_ts  # the hub imports this module

        session = self._sessions.get(sid)
        try:
            key = fold(check_room(name))
        except PeerError:
            return None
        if (session is None or session.user is None or key in self._rules
                or key in self._default_keys or key in self._rooms):
            return None
        return RoomRules(name, operators={session.user.key},
                         created_at=format_ts(now)).settings()

    def learn_account(self, key: str, nick: str) -> None:
        """Another node made the account ``key`` (``nick``): its nick is taken here too."""
        if key not in self._accounts:
            self._accounts[key] = nick
            self._lookalikes.add(key, nick)
            self._known_nicks.setdefault(key, nick)
