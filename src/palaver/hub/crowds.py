"""Big rooms: presence told in batches, member lists in pages.

How this works: :class:`Crowds` is a mixin of :class:`~palaver.hub.hub.Hub`. Telling every
member of a room about every join, leave and quit costs O(members) per event, O(members²) for a
room filling up. Above ``HubConfig.presence_limit`` members a room is a *crowd*: those events are
not delivered one by one but noted on the room (``Room.arrived``, ``Room.departed``; a join
and a leave of the same user cancel out), and :meth:`Crowds.flush_presence` — the server calls
it every ``presence_interval`` — sends each crowd that changed one ``MEMBERS_CHANGED`` with who
joined, who left and how many are there (the IRC door shows it as JOIN and PART lines). Kicks
and nick changes are still told at once: they are rare and say who did what.

A member list longer than ``HubConfig.member_page`` goes, to a session that said
``member_pages`` in its HELLO, as pages sorted by folded nick: JOINED carries the first with
``members_total`` and ``members_next``; WHO with ``after`` gives the next (``USERS.next``).
Other sessions (the IRC and text doors, older clients) get the whole list, as before.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

import msgspec

from palaver.hub.effects import Deliver, Effect, SessionId
from palaver.hub.names import fold
from palaver.hub.state import Room, Session, User
from palaver.protocol.messages import Joined, MembersChanged

if TYPE_CHECKING:
    from palaver.hub.hub import HubConfig


class Crowds:
    if TYPE_CHECKING:
        config: HubConfig
        _rooms: dict[str, Room]
        _sessions: dict[SessionId, Session]

        def _joined(self, room: Room, request_id: str | None, user: User | None = None
                    ) -> Joined: ...

    def _init_crowds(self) -> None:
        self._crowded: set[str] = set()  # rooms with presence not yet told

    # ------------------------------------------------------------------ presence in batches

    def _crowd_arrives(self, room: Room, user: User) -> bool:
        """``user`` has just joined ``room``: True if the room is a crowd and the join is
        noted for the next MEMBERS_CHANGED (else it is told at once, as a PRESENCE)."""
        crowd = len(room.members) > self.config.presence_limit
        came_back = room.departed is not None and room.departed.pop(user.key, None) is not None
        if not crowd or came_back:  # told now; or left and came back since the last batch
            return crowd
        if room.arrived is None:
            room.arrived = {}
        room.arrived[user.key] = None
        self._crowded.add(room.key)
        return True

    def _crowd_departs(self, room: Room, user: User, size: int) -> bool:
        """``user`` is leaving ``room``, which had ``size`` members with it: True if the room
        is a crowd and the leave is noted (else told at once)."""
        crowd = size > self.config.presence_limit
        came = room.arrived is not None and room.arrived.pop(user.key, 0) is None
        if not crowd or came:  # told now; or came and went since the last batch
            return crowd
        if room.departed is None:
            room.departed = {}
        room.departed[user.key] = user.nick
        self._crowded.add(room.key)
        return True

    def flush_presence(self) -> list[Effect]:
        """One MEMBERS_CHANGED for each room whose members changed unannounced."""
        effects: list[Effect] = []
        for key in sorted(self._crowded):
            room = self._rooms.get(key)
            if room is None:  # everyone left: nobody to tell
                continue
            members = room.members
            joined = tuple(members[k].nick for k in room.arrived or () if k in members)
            left = tuple(room.departed.values()) if room.departed else ()
            room.arrived = room.departed = None
            if joined or left:
                effects.append(Deliver(MembersChanged(room=room.name, joined=joined, left=left,
                                                      count=len(members)), room.targets()))
        self._crowded.clear()
        return effects

    # ------------------------------------------------------------------ member pages

    def _paged(self, sid: SessionId, room: Room) -> bool:
        session = self._sessions.get(sid)
        return (session is not None and session.member_pages
                and len(room.members) > self.config.member_page)

    def _member_page(self, room: Room, after: str | None) -> tuple[list[User], str | None]:
        """The members of ``room`` after the nick ``after`` (from the start: None), in folded
        nick order, at most ``member_page``; and where the next page starts (None: the last)."""
        ordered = room.by_nick()
        start = 0 if after is None else bisect.bisect_right(ordered, fold(after),
                                                        key=lambda entry: entry[0])
        page = [user for _, user in ordered[start:start + self.config.member_page]]
        more = start + len(page) < len(ordered)
        return page, (page[-1].nick if more and page else None)

    def _joined_for(self, sid: SessionId, room: Room, user: User,
                    request_id: str | None = None) -> Joined:
        """JOINED of ``room`` to the session ``sid`` of ``user`` alone."""
        joined = self._joined(room, request_id, user)
        return self._first_page(joined, room) if self._paged(sid, room) else joined

    def _first_page(self, joined: Joined, room: Room) -> Joined:
        """``joined`` with only the first page of ``room``'s members, and where the rest is."""
        members, after = self._member_page(room, None)
        return msgspec.structs.replace(joined, members=tuple(u.nick for u in members),
                                       members_total=len(room.members), members_next=after)

    def _joined_to(self, user: User, sid: SessionId, room: Room, request_id: str | None
                   ) -> list[Effect]:
        """JOINED of ``room`` to each of ``user``'s sessions (the asker's copy, ``sid``, with
        the request id): the whole member list, or its first page to those that take pages."""
        full = self._joined(room, None, user)
        paged: Joined | None = None
        effects: list[Effect] = []
        plain: list[SessionId] = []
        for target in user.sessions:
            event = full
            if self._paged(target, room):
                paged = paged or self._first_page(full, room)
                event = paged
            if target == sid and request_id is not None:
                effects.append(Deliver(msgspec.structs.replace(event, id=request_id), (sid,)))
            elif event is full:
                plain.append(target)
            else:
                effects.append(Deliver(event, (target,)))
        if plain:
            effects.append(Deliver(full, tuple(plain)))
        return effects

    def _page_fields(self, sid: SessionId, room: Room, after: str | None
                     ) -> tuple[list[User], int, str | None] | None:
        """For WHO of ``room``: a page of its members, how many in all, where the next page
        starts; None when the asker gets them all (not paged, and no ``after``)."""
        if after is None and not self._paged(sid, room):
            return None
        members, following = self._member_page(room, after)
        return members, len(room.members), following
