-- palaver's schema in PostgreSQL, as SQLite's migrations 001-017 built it (store/migrations/:
-- what each table is for is said there). The differences:
-- - keys and times are COLLATE "C": compared and sorted by code point, as SQLite does (ISO 8601
--   times sort as text); message texts keep the database's collation;
-- - flags are BOOLEAN, a file reference is JSONB;
-- - what SQLite orders by rowid has an identity column: messages.position (the order stored,
--   SEARCH's cursor), reactions.id (the order given), account_certificates.id (bound);
-- - search is a pg_trgm GIN index of the lowered text (ICU's lowering, so that case is ignored
--   in every script whatever the database's locale), instead of FTS5's trigram tokenizer;
-- - a message's earlier texts (message_edits) follow it by triggers, as in SQLite.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE messages (
    conversation TEXT COLLATE "C" NOT NULL,
    msg_id BIGINT NOT NULL,
    ts TEXT COLLATE "C" NOT NULL,
    sender TEXT NOT NULL,
    sender_key TEXT COLLATE "C" NOT NULL,
    room TEXT,
    recipient TEXT,
    text TEXT NOT NULL,
    client_id TEXT COLLATE "C",
    notice BOOLEAN NOT NULL DEFAULT FALSE,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    edited_at TEXT COLLATE "C",
    reply_to BIGINT,
    file_id TEXT COLLATE "C",
    file JSONB,
    position BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    PRIMARY KEY (conversation, msg_id)
);
CREATE UNIQUE INDEX messages_by_client_id ON messages (sender_key, client_id)
    WHERE client_id IS NOT NULL;
CREATE UNIQUE INDEX messages_file_id ON messages (file_id) WHERE file_id IS NOT NULL;
CREATE INDEX messages_search ON messages
    USING GIN (lower(text COLLATE "und-x-icu") gin_trgm_ops) WHERE NOT deleted;

CREATE TABLE accounts (
    account_key TEXT COLLATE "C" PRIMARY KEY,
    nick TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    locked BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT COLLATE "C",
    last_seen TEXT COLLATE "C"
);

CREATE TABLE memberships (
    account_key TEXT COLLATE "C" NOT NULL,
    room_key TEXT COLLATE "C" NOT NULL,
    room TEXT NOT NULL,
    PRIMARY KEY (account_key, room_key)
);

CREATE TABLE resume_marks (
    account_key TEXT COLLATE "C" NOT NULL,
    conversation TEXT COLLATE "C" NOT NULL,
    msg_id BIGINT NOT NULL,
    PRIMARY KEY (account_key, conversation)
);

CREATE TABLE room_settings (
    room_key TEXT COLLATE "C" PRIMARY KEY,
    room TEXT NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    topic_by TEXT,
    topic_at TEXT,
    invite_only BOOLEAN NOT NULL DEFAULT FALSE,
    private BOOLEAN NOT NULL DEFAULT FALSE,
    operators TEXT NOT NULL DEFAULT '[]',
    bans TEXT NOT NULL DEFAULT '[]',
    invited TEXT NOT NULL DEFAULT '[]',
    created_at TEXT,
    moderated BOOLEAN NOT NULL DEFAULT FALSE,
    outside_messages BOOLEAN NOT NULL DEFAULT FALSE,
    open_topic BOOLEAN NOT NULL DEFAULT FALSE,
    member_limit INTEGER NOT NULL DEFAULT 0,
    join_key TEXT,
    voiced TEXT NOT NULL DEFAULT '[]',
    allowed TEXT NOT NULL DEFAULT '[]',
    muted TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE read_markers (
    identity TEXT COLLATE "C" NOT NULL,
    conversation TEXT COLLATE "C" NOT NULL,
    msg_id BIGINT NOT NULL DEFAULT 0,
    ts TEXT COLLATE "C",
    PRIMARY KEY (identity, conversation)
);

CREATE TABLE metadata (
    target TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (target, key)
);

CREATE TABLE account_certificates (
    fingerprint TEXT COLLATE "C" PRIMARY KEY,
    account_key TEXT COLLATE "C" NOT NULL,
    id BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX account_certificates_by_account ON account_certificates (account_key, id);

CREATE TABLE message_edits (
    conversation TEXT COLLATE "C" NOT NULL,
    msg_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    ts TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (conversation, msg_id, version)
);

CREATE TABLE reactions (
    conversation TEXT COLLATE "C" NOT NULL,
    msg_id BIGINT NOT NULL,
    reaction TEXT COLLATE "C" NOT NULL,
    identity TEXT COLLATE "C" NOT NULL,
    nick TEXT NOT NULL,
    ts TEXT COLLATE "C" NOT NULL,
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (conversation, msg_id, reaction, identity)
);
CREATE INDEX reactions_by_identity ON reactions (identity);

CREATE TABLE password_resets (
    account_key TEXT COLLATE "C" PRIMARY KEY,
    token_hash TEXT COLLATE "C" NOT NULL,
    expires TEXT COLLATE "C" NOT NULL
);

CREATE TABLE message_updates (
    conversation TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    msg_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('edit', 'delete', 'react', 'unreact')),
    ts TEXT COLLATE "C" NOT NULL,
    by_nick TEXT NOT NULL,
    by_key TEXT COLLATE "C" NOT NULL,
    value TEXT,
    PRIMARY KEY (conversation, seq)
);
CREATE INDEX message_updates_by_message ON message_updates (conversation, msg_id);
CREATE INDEX message_updates_by_identity ON message_updates (by_key);

CREATE TABLE notify_levels (
    identity TEXT COLLATE "C" NOT NULL,
    conversation TEXT COLLATE "C" NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('mentions', 'none')),
    PRIMARY KEY (identity, conversation)
);

-- A message deleted (a tombstone) or removed forgets its earlier texts too, whoever does it;
-- a message moved to another conversation takes them along (SQLite's migration 011).
CREATE FUNCTION message_edits_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.deleted THEN
        DELETE FROM message_edits
            WHERE conversation = OLD.conversation AND msg_id = OLD.msg_id;
    ELSIF OLD.conversation <> NEW.conversation OR OLD.msg_id <> NEW.msg_id THEN
        UPDATE message_edits SET conversation = NEW.conversation, msg_id = NEW.msg_id
            WHERE conversation = OLD.conversation AND msg_id = OLD.msg_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER message_edits_follow
    AFTER UPDATE OF conversation, msg_id, deleted OR DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION message_edits_follow();
