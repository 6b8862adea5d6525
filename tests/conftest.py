"""Fixtures shared by every test directory: a real PostgreSQL (tests/pg_server.py)."""

from tests.pg_server import pg_empty_url, pg_server, pg_url
from tests.redis_server import redis_own, redis_server, redis_servers  # noqa: F401

__all__ = ["pg_empty_url", "pg_server", "pg_url"]
