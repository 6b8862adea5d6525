-- Metadata (hub/metadata.py): key/value pairs of accounts (target: the account key) and rooms
-- (target: the folded room name, '#...'). Guests' metadata is never stored.
CREATE TABLE metadata (
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (target, key)
);
