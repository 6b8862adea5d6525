-- Rooms' further rules (docs/rooms.md): creation time, moderated (+m), outside messages (-n),
-- topic open to members (-t), member limit (+l), key (+k) and voiced members (+v, identity
-- keys as a JSON array). Bans' setter and time live in the bans JSON arrays themselves.
ALTER TABLE room_settings ADD COLUMN created_at TEXT;
ALTER TABLE room_settings ADD COLUMN moderated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE room_settings ADD COLUMN outside_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE room_settings ADD COLUMN open_topic INTEGER NOT NULL DEFAULT 0;
ALTER TABLE room_settings ADD COLUMN member_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE room_settings ADD COLUMN join_key TEXT;
ALTER TABLE room_settings ADD COLUMN voiced TEXT NOT NULL DEFAULT '[]';
