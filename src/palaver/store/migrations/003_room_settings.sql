-- Rooms' rules (docs/rooms.md): topic, operators, bans, invitations and flags, one row per room.
-- Sets are JSON arrays in TEXT columns: they are read whole at startup and written whole on change.
CREATE TABLE room_settings (
    room_key TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    topic_by TEXT,
    topic_at TEXT,
    invite_only INTEGER NOT NULL DEFAULT 0,
    private INTEGER NOT NULL DEFAULT 0,
    operators TEXT NOT NULL DEFAULT '[]',
    bans TEXT NOT NULL DEFAULT '[]',
    invited TEXT NOT NULL DEFAULT '[]'
);
