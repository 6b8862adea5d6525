"""Big audiences, kept grouped by rendering between messages (the fan-out hot path).

A room's message goes to every session of its members: the hub hands the core the room's
audience, a tuple of session ids that the room keeps — the same object — until its membership
changes (:meth:`palaver.hub.state.Room.targets`). For a big audience :class:`Audiences` keeps
that tuple's connections grouped by encode key, so that the next message to the room costs one
rendering per group and one tight loop over each group's connections
(:meth:`~palaver.transports.outbox.QueuedSender.send_each`), instead of looking up every
session's connection and asking it for its key, message after message.

How this works: the groups are true until a connection goes, or changes how it renders (IRC
capabilities, the main port choosing text or JSON); the core then calls
:meth:`Audiences.changed` and every group is made again at its next use. (A connection that
attaches is in no audience kept: its session id is new, and an audience that takes it in is a
new tuple.) An audience seen for the first time is not grouped: a tuple used once (a private
message, a room whose membership changes at every join during a join storm) would cost more to
group than to go through once; the second time it is. What is kept is bounded (``MAX_KEPT``
audiences); holding each tuple keeps its ``id`` from being reused while it is a key.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Final

from palaver.hub.effects import SessionId

if TYPE_CHECKING:
    from palaver.server.core import Connection

GROUPED_MIN: Final = 32  # smaller audiences are simply gone through at each message
MAX_KEPT: Final = 128  # audiences kept at most (all are forgotten when it is reached)

Groups = list[list["Connection"]]


class Audiences:
    __slots__ = ("_kept",)

    def __init__(self) -> None:
        # id(audience) -> (the audience, its groups; None: seen once, not grouped yet)
        self._kept: dict[int, tuple[tuple[SessionId, ...], Groups | None]] = {}

    def changed(self) -> None:
        """A connection went, or renders differently now: group again."""
        if self._kept:
            self._kept.clear()

    def groups(self, audience: tuple[SessionId, ...],
               connections: Mapping[SessionId, Connection]) -> Groups | None:
        """``audience``'s connections, one list per encode key (sessions without a connection
        left out), or None the first time ``audience`` is seen: go through it yourself."""
        kept = self._kept.get(id(audience))
        if kept is not None and kept[0] is audience:
            groups = kept[1]
            if groups is None:
                groups = _grouped(audience, connections)
                self._kept[id(audience)] = (audience, groups)
            return groups
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()
        self._kept[id(audience)] = (audience, None)
        return None


def _grouped(audience: tuple[SessionId, ...],
             connections: Mapping[SessionId, Connection]) -> Groups:
    by_key: dict[Hashable, list[Connection]] = {}
    for sid in audience:
        conn = connections.get(sid)
        if conn is None:
            continue
        group = by_key.get(conn.encode_key)
        if group is None:
            by_key[conn.encode_key] = [conn]
        else:
            group.append(conn)
    return list(by_key.values())
