-- Cluster-wide nick claims (palaver.claims, PostgresClaims): which node holds each nick, under
-- the nick's lookalike skeleton (unique: lookalike nicks collide across nodes), and each node's
-- lease (a claim whose node's lease has expired is free). Times are the database's clock, the
-- one every node goes by. PostgreSQL only: SQLite's 018 is empty (one process needs no claims).
CREATE TABLE node_leases (
    node TEXT COLLATE "C" PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE nick_claims (
    skeleton TEXT COLLATE "C" PRIMARY KEY,
    nick TEXT COLLATE "C" NOT NULL,
    node TEXT COLLATE "C" NOT NULL REFERENCES node_leases (node) ON DELETE CASCADE,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX nick_claims_by_node ON nick_claims (node, nick);
