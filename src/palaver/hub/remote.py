"""Messages stored by other nodes of a cluster, released here in id order.

How this works: mixed into :class:`~palaver.hub.hub.Hub`. In a cluster the store assigns ids
(``HubConfig.store_assigns_ids``): a post's msg_id is only the hub's guess, and ``_last_id``
moves when a message is *released* here — the node's own once stored, other nodes' once the
server's cluster link (server/cluster.py) has them in order — so it always says how far the
users here have been told, which is what JOINED, a replay and a resume count from.
:meth:`Remote.remote_message` is one of another node's messages, told to the users here who
should see it: the room's members here, or the two ends of a direct conversation.
:meth:`Remote.skip_to` moves a conversation nobody here follows to where the store says it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from palaver.hub.effects import Deliver, Effect, SessionId
from palaver.hub.names import fold
from palaver.protocol.messages import Message

if TYPE_CHECKING:
    from palaver.hub.interest import Interest
    from palaver.hub.lookalikes import LookalikeIndex
    from palaver.hub.state import Room, Session, User


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

    interest: Interest | None = None  # set by a node of a cluster (hub/interest.py)

    def remote_message(self, conversation: str, sender_key: str, event: Message
                       ) -> list[Effect]:
        """Another node stored ``event`` (from ``sender_key``) in ``conversation``, and every
        id before it has been released here: tell it to whoever here should see it."""
        self.released(conversation, event.msg_id)
        if not conversation.startswith("@"):
            room = self._rooms.get(conversation)
            return [Deliver(event, room.targets())] if room is not None else []
        sessions: list[SessionId] = []
        for key in conversation[1:].split(","):
            self._dm_index.setdefault(key, set()).add(conversation)
            user = self._here_by_key(key)
            if user is not None:
                sessions.extend(user.sessions)
        return [Deliver(event, tuple(sessions))] if sessions else []

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

    def is_guest(self, sid: SessionId) -> bool:
        """Is ``sid`` a registered session of a guest (not an account)?"""
        session = self._sessions.get(sid)
        return session is not None and session.user is not None and not session.user.account

    def learn_account(self, key: str, nick: str) -> None:
        """Another node made the account ``key`` (``nick``): its nick is taken here too."""
        if key not in self._accounts:
            self._accounts[key] = nick
            self._lookalikes.add(key, nick)
            self._known_nicks.setdefault(key, nick)
