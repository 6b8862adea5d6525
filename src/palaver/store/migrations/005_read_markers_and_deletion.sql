-- Read markers (docs/protocol.md, MARK_READ): per identity (an account's key, or a guest's) and
-- conversation, the newest msg_id read and the time read up to; both only ever increase.
CREATE TABLE read_markers (
    identity TEXT NOT NULL,
    conversation TEXT NOT NULL,
    msg_id BIGINT NOT NULL DEFAULT 0,
    ts TEXT,
    PRIMARY KEY (identity, conversation)
);
-- A deleted message (DELETE) stays as a tombstone: its row, with no text and deleted = 1.
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
