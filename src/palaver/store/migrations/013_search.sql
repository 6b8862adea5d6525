-- Full-text search (docs/protocol.md, SEARCH): an FTS5 index of every message's text with the
-- trigram tokenizer, so that any substring of 3 characters or more matches, in any script,
-- ignoring case. The index is contentless (it keeps no copy of the text).
--
-- search_docs gives each indexed message a stable position (in the order messages were stored:
-- newest first is position descending) and says which message it is; search_conversations
-- numbers each conversation. A message's rowid in the index is its position * 256 + its
-- conversation's number modulo 256 (its bucket): newest first is still rowid descending, and a
-- search skips the matches of the buckets none of its conversations is in by the rowid alone,
-- looking up only the others (a word common in conversations the searcher may not read costs
-- a walk of the index and a lookup for 1 match in 256 / buckets asked about, not one per match).
-- The low bits cost little room: rowids a few positions apart stay small deltas in the index.
-- Triggers keep all three in step with messages, whoever writes it: a new message is indexed; a
-- message whose text changes (an edit) is indexed anew; a tombstone (deleted = 1) and a removed
-- row leave the index.
CREATE TABLE search_conversations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE search_docs (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    msg_id BIGINT NOT NULL,
    UNIQUE (conversation, msg_id)
);
CREATE VIRTUAL TABLE message_search USING fts5(text, content='', tokenize='trigram');

-- The messages stored before this migration, oldest first.
INSERT INTO search_conversations (name)
    SELECT DISTINCT conversation FROM messages WHERE deleted = 0 ORDER BY conversation;
INSERT INTO search_docs (conversation, msg_id)
    SELECT conversation, msg_id FROM messages WHERE deleted = 0 ORDER BY rowid;
INSERT INTO message_search (rowid, text)
    SELECT d.id * 256 + (c.id & 255), m.text FROM search_docs AS d
    JOIN search_conversations AS c ON c.name = d.conversation
    JOIN messages AS m ON m.conversation = d.conversation AND m.msg_id = d.msg_id;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN NEW.deleted = 0
BEGIN
    INSERT OR IGNORE INTO search_conversations (name) VALUES (NEW.conversation);
    INSERT INTO search_docs (conversation, msg_id) VALUES (NEW.conversation, NEW.msg_id);
    INSERT INTO message_search (rowid, text)
        SELECT d.id * 256 + (c.id & 255), NEW.text FROM search_docs AS d
        JOIN search_conversations AS c ON c.name = d.conversation
        WHERE d.conversation = NEW.conversation AND d.msg_id = NEW.msg_id;
END;

-- An edited message keeps its place (its position), and so does a message moved to another
-- conversation (an account's direct messages when the account is deleted: it is indexed anew
-- in the other conversation's partition); a tombstone leaves the index.
CREATE TRIGGER messages_search_update
AFTER UPDATE OF conversation, msg_id, text, deleted ON messages
WHEN OLD.conversation IS NOT NEW.conversation OR OLD.msg_id IS NOT NEW.msg_id
    OR OLD.text IS NOT NEW.text OR OLD.deleted IS NOT NEW.deleted
BEGIN
    INSERT INTO message_search (message_search, rowid, text)
        SELECT 'delete', d.id * 256 + (c.id & 255), OLD.text FROM search_docs AS d
        JOIN search_conversations AS c ON c.name = d.conversation
        WHERE d.conversation = OLD.conversation AND d.msg_id = OLD.msg_id AND OLD.deleted = 0;
    DELETE FROM search_docs
        WHERE conversation = OLD.conversation AND msg_id = OLD.msg_id AND NEW.deleted <> 0;
    UPDATE search_docs SET conversation = NEW.conversation, msg_id = NEW.msg_id
        WHERE conversation = OLD.conversation AND msg_id = OLD.msg_id;
    INSERT OR IGNORE INTO search_docs (conversation, msg_id)
        SELECT NEW.conversation, NEW.msg_id WHERE NEW.deleted = 0;
    INSERT OR IGNORE INTO search_conversations (name)
        SELECT NEW.conversation WHERE NEW.deleted = 0;
    INSERT INTO message_search (rowid, text)
        SELECT d.id * 256 + (c.id & 255), NEW.text FROM search_docs AS d
        JOIN search_conversations AS c ON c.name = d.conversation
        WHERE d.conversation = NEW.conversation AND d.msg_id = NEW.msg_id AND NEW.deleted = 0;
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages WHEN OLD.deleted = 0
BEGIN
    INSERT INTO message_search (message_search, rowid, text)
        SELECT 'delete', d.id * 256 + (c.id & 255), OLD.text FROM search_docs AS d
        JOIN search_conversations AS c ON c.name = d.conversation
        WHERE d.conversation = OLD.conversation AND d.msg_id = OLD.msg_id;
    DELETE FROM search_docs WHERE conversation = OLD.conversation AND msg_id = OLD.msg_id;
END;
