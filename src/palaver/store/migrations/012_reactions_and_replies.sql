-- Replies (CHAT/DM reply_to, docs/protocol.md): the msg_id of the message of the same
-- conversation that a message answers.
ALTER TABLE messages ADD COLUMN reply_to BIGINT;
-- Reactions (REACT): one row per message, reaction and identity (an account's key or a
-- guest's), with the nick shown as it was when given; listed in the order given (rowid).
CREATE TABLE reactions (
    conversation TEXT NOT NULL,
    msg_id BIGINT NOT NULL,
    reaction TEXT NOT NULL,
    identity TEXT NOT NULL,
    nick TEXT NOT NULL,
    ts TEXT NOT NULL,
    PRIMARY KEY (conversation, msg_id, reaction, identity)
);
CREATE INDEX reactions_by_identity ON reactions (identity);
