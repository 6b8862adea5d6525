-- Who is in which room on which node of a cluster (palaver.roster, PostgresRoster): each node
-- writes its own members; its version moves with every change, so the others re-read only the
-- nodes that changed. Live nodes are those with a live lease (node_leases, migration 018).
-- PostgreSQL only: SQLite's 020 is empty (one process has nobody to tell).
CREATE TABLE roster_versions (
    node TEXT COLLATE "C" PRIMARY KEY,
    version BIGINT NOT NULL
);

CREATE TABLE roster (
    node TEXT COLLATE "C" NOT NULL,
    room TEXT COLLATE "C" NOT NULL,
    user_key TEXT COLLATE "C" NOT NULL,
    nick TEXT NOT NULL,
    account BOOLEAN NOT NULL,
    PRIMARY KEY (node, room, user_key)
);
