"""Fixtures shared by every test directory: a real PostgreSQL (tests/pg_server.py)."""

from tests.pg_server import pg_empty_url, pg_server, pg_url

__all__ = ["pg_empty_url", "pg_server", "pg_url"]
