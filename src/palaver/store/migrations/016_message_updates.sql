-- Message updates (docs/protocol.md §15): each edit, deletion and reaction added or taken back
-- is an event of its conversation, with an id (seq) from the same counter as msg_ids, stored in
-- the transaction that makes the change, so a resume replays it like a message. msg_id: the
-- message it changes; value: the new text (edit), the reason (delete) or the reaction;
-- by_key: who made it (an identity), by_nick: as shown then. A deletion forgets the message's
-- earlier updates (their texts go with it).
CREATE TABLE message_updates (
    conversation TEXT NOT NULL,
    seq BIGINT NOT NULL,
    msg_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    ts TEXT NOT NULL,
    by_nick TEXT NOT NULL,
    by_key TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (conversation, seq)
);
CREATE INDEX message_updates_by_message ON message_updates (conversation, msg_id);
CREATE INDEX message_updates_by_identity ON message_updates (by_key);
