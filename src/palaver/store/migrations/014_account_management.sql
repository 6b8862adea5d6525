-- Accounts that can be managed (hub/account_management.py, docs/operations.md): a lock (a
-- locked account cannot log in), when each account was created and last logged in, and the
-- one-time password reset tokens `palaver admin reset-password` issues (their SHA-256 only).
ALTER TABLE accounts ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN created_at TEXT;
ALTER TABLE accounts ADD COLUMN last_seen TEXT;
CREATE TABLE password_resets (
    account_key TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    expires TEXT NOT NULL
);
