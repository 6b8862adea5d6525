"""The SQL both database stores (SQLite, PostgreSQL) use to store a room's rules: how an insert
ends when the room has rules already — replace them, or (a new room) leave them."""

from __future__ import annotations

from typing import Final

ROOM_IS_NEW: Final = "ON CONFLICT (room_key) DO NOTHING"
ROOM_REPLACES: Final = (
    "ON CONFLICT (room_key) DO UPDATE SET room = excluded.room, topic = excluded.topic, "
    "topic_by = excluded.topic_by, topic_at = excluded.topic_at, "
    "invite_only = excluded.invite_only, private = excluded.private, "
    "operators = excluded.operators, bans = excluded.bans, invited = excluded.invited, "
    "created_at = excluded.created_at, moderated = excluded.moderated, "
    "outside_messages = excluded.outside_messages, open_topic = excluded.open_topic, "
    "member_limit = excluded.member_limit, join_key = excluded.join_key, "
    "voiced = excluded.voiced, allowed = excluded.allowed, muted = excluded.muted")
