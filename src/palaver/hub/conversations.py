"""History by time: HISTORY's ``before_ts``/``after_ts`` and CONVERSATIONS (which of one's
conversations were active when) — IRC's CHATHISTORY timestamps and TARGETS.

How this works: a time a client gives is checked and put on the grid the store keeps times on
(ISO 8601 UTC, milliseconds, ``Z``). An exclusive bound becomes an inclusive one on that grid
(:func:`history_times`): messages sent before ``T`` are those sent at or before the last
millisecond before ``T``; messages sent after ``T`` are those after its millisecond. The store
turns such a time into a ``msg_id`` (``Store.msg_id_at``) and the page is read as by ids.
:class:`Conversations` is a mixin of :class:`~palaver.hub.hub.Hub`: CONVERSATIONS names the
rooms the user is in and its direct conversations, and the store says which were active.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from palaver.hub.effects import Effect, FetchActivity
from palaver.hub.state import Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import History, ListConversations

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)


def _micros(value: str, field: str) -> int:
    """An ISO 8601 time with a zone (``Z`` or an offset) as microseconds since the epoch."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not 1970 <= when.year <= 9999:
        raise PeerError(ErrorCode.INVALID_FIELD, f"{field} is an ISO 8601 UTC time such as "
                        "2026-11-18T11:06:40.123Z", field=field)
    return (when - EPOCH) // MICROSECOND


def grid(ms: int) -> str:
    """A time in milliseconds as the store keeps times: ``2026-11-18T11:06:40.123Z``."""
    when = EPOCH + timedelta(milliseconds=ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def floor_ms(value: str, field: str) -> int:
    return _micros(value, field) // 1000


def ceil_ms(value: str, field: str) -> int:
    return -(-_micros(value, field) // 1000)


def history_times(msg: History) -> dict[str, str]:
    """``until``/``since`` for FetchHistory from HISTORY's time bounds (checked)."""
    if msg.before_ts is None and msg.after_ts is None:
        return {}
    if sum(b is not None for b in (msg.before, msg.after, msg.before_ts, msg.after_ts)) > 1:
        raise PeerError(ErrorCode.INVALID_FIELD, "HISTORY takes one bound at most",
                        field="after_ts" if msg.after_ts is not None else "before_ts")
    if msg.before_ts is not None:  # sent before T: at or before the millisecond before it
        return {"until": grid(ceil_ms(msg.before_ts, "before_ts") - 1)}
    assert msg.after_ts is not None  # sent after T: after its millisecond
    return {"since": grid(floor_ms(msg.after_ts, "after_ts"))}


class Conversations:
    """Mixed into the hub: needs its users and a few of its helpers."""

    if TYPE_CHECKING:
        _dm_index: dict[str, set[str]]
        _known_nicks: dict[str, str]

        @staticmethod
        def _user(session: Session) -> User: ...

    def conversation_handlers(self) -> dict[type[Any], Any]:
        return {ListConversations: self._list_conversations}

    def _list_conversations(self, session: Session, msg: ListConversations, now: float
                            ) -> list[Effect]:
        user = self._user(session)
        after = grid(floor_ms(msg.after_ts, "after_ts"))
        before = grid(ceil_ms(msg.before_ts, "before_ts"))
        mine: list[tuple[str, str | None, str | None]] = [
            (room.key, room.name, None) for room in user.rooms.values()]
        for conversation in sorted(self._dm_index.get(user.key, ())):
            first, second = conversation[1:].split(",")
            other = second if first == user.key else first
            mine.append((conversation, None, self._known_nicks.get(other, other)))
        return [FetchActivity(session.sid, msg.id, tuple(mine), after, before, msg.limit)]
