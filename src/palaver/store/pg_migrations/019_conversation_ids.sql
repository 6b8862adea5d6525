-- Each conversation's id counter: the last id given to its messages (msg_id) and its updates
-- (message_updates.seq), which share it. PostgresStore takes ids from it in the transaction
-- that stores them (INSERT ... ON CONFLICT DO UPDATE SET last_id = last_id + n RETURNING
-- last_id), so that nodes appending to one conversation get dense, increasing ids, and a
-- transaction rolled back gives its ids back. Filled here from what is stored already.
CREATE TABLE conversation_ids (
    conversation TEXT COLLATE "C" PRIMARY KEY,
    last_id BIGINT NOT NULL
);

INSERT INTO conversation_ids (conversation, last_id)
SELECT conversation, MAX(last_id) FROM (
    SELECT conversation, MAX(msg_id) AS last_id FROM messages GROUP BY conversation
    UNION ALL
    SELECT conversation, MAX(seq) FROM message_updates GROUP BY conversation
) AS stored GROUP BY conversation;
