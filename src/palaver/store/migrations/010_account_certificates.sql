-- TLS client certificates bound to accounts (SASL EXTERNAL, docs/tls.md): the SHA-256
-- fingerprint of a certificate (64 lowercase hex digits) logs in to the account it is bound
-- to. A fingerprint is bound to one account at most; an account may have several, listed in
-- the order they were bound (rowid).
CREATE TABLE account_certificates (
    fingerprint TEXT PRIMARY KEY,
    account_key TEXT NOT NULL
);
CREATE INDEX account_certificates_by_account ON account_certificates (account_key);
