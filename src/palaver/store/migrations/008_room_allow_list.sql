-- A room's allow list (docs/rooms.md, IRC +I): nicks that may join it although it is
-- invite-only, each with who put it there and when, as a JSON array like the bans.
ALTER TABLE room_settings ADD COLUMN allowed TEXT NOT NULL DEFAULT '[]';
