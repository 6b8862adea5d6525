-- Notification levels (docs/protocol.md, NOTIFY): per identity (an account's key, or a guest's)
-- and conversation (a folded room name, or a direct conversation's key), how much it may call
-- for attention: 'mentions' or 'none'. No row: 'all', the default.
CREATE TABLE notify_levels (
    identity TEXT NOT NULL,
    conversation TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('mentions', 'none')),
    PRIMARY KEY (identity, conversation)
);
