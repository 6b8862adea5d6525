-- A room's mutes (docs/rooms.md, IRC's mute extban +b m:nick!*@*): nicks that may be in the
-- room but not speak in it (unless voiced or operators), with who and when, as a JSON array.
ALTER TABLE room_settings ADD COLUMN muted TEXT NOT NULL DEFAULT '[]';
