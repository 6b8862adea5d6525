-- Files (UPLOAD, docs/protocol.md "Files"): a message may carry one. ``file`` is its reference
-- as JSON (name, size, type, sha256, url); ``file_id`` names it in download URLs. The bytes are
-- blobs/<sha256> in the data dir, shared by every message with the same content.
ALTER TABLE messages ADD COLUMN file_id TEXT;
ALTER TABLE messages ADD COLUMN file TEXT;
CREATE UNIQUE INDEX messages_file_id ON messages (file_id) WHERE file_id IS NOT NULL;
