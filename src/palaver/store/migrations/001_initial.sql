-- palaver schema, version 1. Portable SQL: SQLite today, PostgreSQL later.
CREATE TABLE messages (
    conversation TEXT NOT NULL,
    msg_id BIGINT NOT NULL,
    ts TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    room TEXT,
    recipient TEXT,
    text TEXT NOT NULL,
    client_id TEXT,
    PRIMARY KEY (conversation, msg_id)
);

-- A resent message (same sender, same request id) is stored once.
CREATE UNIQUE INDEX messages_by_client_id ON messages (sender_key, client_id)
    WHERE client_id IS NOT NULL;

CREATE TABLE accounts (
    account_key TEXT PRIMARY KEY,
    nick TEXT NOT NULL,
    password_hash TEXT NOT NULL
);

CREATE TABLE memberships (
    account_key TEXT NOT NULL,
    room_key TEXT NOT NULL,
    room TEXT NOT NULL,
    PRIMARY KEY (account_key, room_key)
);
