"""A cluster fault soak: palaver nodes on one PostgreSQL and one Redis, killed while 20 senders
send through the resending client (docs/benchmarks.md, "Cluster soak").

    .venv/bin/python -m tools.soak            # the full run (about 10 minutes)
    .venv/bin/python -m tools.soak --quick    # a few faults, under a minute

How this works (one module per concept):

- services.py: PostgreSQL (tests/pg_server.py's cluster: initdb as the postgres user, pg_ctl)
  and Redis (tests/redis_server.py) on free loopback ports in temporary directories, each
  behind a tests/fault_proxy.py proxy; the nodes only know the proxies, so a server can be
  killed -9 and started again (PostgreSQL on a new port: the proxy is pointed at it), and Redis
  can be blackholed.
- nodes.py: ``palaver serve --store ... --bus ... --node-id a`` subprocesses, each on its own
  fixed ports and data dir, killed -9 and started again on the same ones.
- members.py: the room's members, all accounts: senders send numbered CHATs through
  :class:`~palaver.client.ResilientClient` (resent with the same ids after each reconnect;
  a refused one, ``unavailable`` while PostgreSQL is down, submitted again with its id) and
  receivers record what their client shows. A member that loses its node tries its own node
  first, then the others in turn (the client's ``port`` is changed while it waits to
  reconnect).
- schedule.py: when each fault happens (pure, seeded).
- audit.py: the checks, over what the members recorded and what PostgreSQL stored (pure).
- run.py: the phases (calm, faults, calm, Redis blackholed, settle), the summary and the JSON.
"""
