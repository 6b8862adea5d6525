"""Argon2id password hashing in a small thread pool, so a storm of logins never stalls the loop."""

from __future__ import annotations

import asyncio
import getpass
import sys
from concurrent.futures import ThreadPoolExecutor

import argon2


class Passwords:
    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65_536, threads: int = 2) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1,
            type=argon2.Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        # Verifying against this when an account does not exist takes as long as a real check.
        self._decoy = self._hasher.hash("not a password anyone has")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, self._verify, password_hash or self._decoy, password,
            password_hash is not None,
        )

    def _verify(self, password_hash: str, password: str, real: bool) -> bool:
        try:
            return self._hasher.verify(password_hash, password) and real
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def hash_password_command(time_cost: int, memory_kib: int) -> int:
    """``palaver hash-password``: the Argon2id hash of a password, for a setting that holds one
    (``operator_logins``). Asked twice without echo at a terminal, else read from stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("palaver: the two passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("palaver: an empty password", file=sys.stderr)
        return 1
    hasher = argon2.PasswordHasher(time_cost=max(1, time_cost),
                                   memory_cost=max(8, memory_kib), parallelism=1,
                                   type=argon2.Type.ID)
    print(hasher.hash(password))
    return 0
