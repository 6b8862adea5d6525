-- Edits (EDIT, hub/editing.py, docs/protocol.md): a message keeps its row and msg_id; its text
-- is the current one and edited_at says when it was last changed (NULL: never).
ALTER TABLE messages ADD COLUMN edited_at TEXT;
-- The texts an edited message had before, oldest first (version 1: as sent), each with the
-- time it became the text (when sent, or the edit before). EDITS lists them.
CREATE TABLE message_edits (
    conversation TEXT NOT NULL,
    msg_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    ts TEXT NOT NULL,
    PRIMARY KEY (conversation, msg_id, version)
);

-- A message deleted (a tombstone) or removed forgets its earlier texts too, whoever does it
-- (DELETE, an account erased); a message moved to another conversation takes them along.
CREATE TRIGGER message_edits_tombstone AFTER UPDATE OF deleted ON messages
WHEN NEW.deleted <> 0
BEGIN
    DELETE FROM message_edits WHERE conversation = OLD.conversation AND msg_id = OLD.msg_id;
END;

CREATE TRIGGER message_edits_removed AFTER DELETE ON messages
BEGIN
    DELETE FROM message_edits WHERE conversation = OLD.conversation AND msg_id = OLD.msg_id;
END;

CREATE TRIGGER message_edits_moved AFTER UPDATE OF conversation, msg_id ON messages
WHEN OLD.conversation IS NOT NEW.conversation OR OLD.msg_id IS NOT NEW.msg_id
BEGIN
    UPDATE message_edits SET conversation = NEW.conversation, msg_id = NEW.msg_id
    WHERE conversation = OLD.conversation AND msg_id = OLD.msg_id;
END;
