"""The store conformance suite, continued: client certificates bound to accounts (SASL
EXTERNAL, docs/tls.md).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

from palaver.store import Account, Store
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import store

__all__ = ["store"]  # the fixture, shared with test_conformance.py

A, B, C = "a" * 64, "b" * 64, "c" * 64


async def test_a_bound_fingerprint_names_its_account(store: Store) -> None:
    assert await store.certificate_account(A) is None
    assert await store.certificates("alice") == []
    assert await store.bind_certificate("alice", A)
    assert await store.bind_certificate("alice", B)
    assert await store.certificate_account(A) == "alice"
    assert await store.certificate_account(B) == "alice"
    assert await store.certificates("alice") == [A, B]  # in the order they were bound


async def test_binding_again_is_harmless_and_keeps_the_order(store: Store) -> None:
    await store.bind_certificate("alice", A)
    await store.bind_certificate("alice", B)
    assert await store.bind_certificate("alice", A)
    assert await store.certificates("alice") == [A, B]


async def test_a_fingerprint_belongs_to_one_account(store: Store) -> None:
    assert await store.bind_certificate("alice", A)
    assert not await store.bind_certificate("bob", A)
    assert await store.certificate_account(A) == "alice"
    assert await store.certificates("bob") == []


async def test_unbinding_only_one_s_own(store: Store) -> None:
    await store.bind_certificate("alice", A)
    await store.bind_certificate("alice", B)
    assert not await store.unbind_certificate("bob", A)  # not bob's
    assert not await store.unbind_certificate("alice", C)  # bound to nobody
    assert await store.unbind_certificate("alice", A)
    assert not await store.unbind_certificate("alice", A)  # already gone
    assert await store.certificate_account(A) is None
    assert await store.certificates("alice") == [B]
    assert await store.bind_certificate("bob", A)  # free again


async def test_a_renamed_account_keeps_its_certificates(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="h"))
    await store.bind_certificate("alice", A)
    assert await store.rename_account("alice", "al", "Al")
    assert await store.certificate_account(A) == "al"
    assert await store.certificates("al") == [A]
    assert await store.certificates("alice") == []


async def test_certificates_survive_reopening_sqlite(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "palaver.db")
    await first.open()
    await first.bind_certificate("alice", A)
    await first.bind_certificate("alice", C)
    await first.close()
    second = SqliteStore(tmp_path / "palaver.db")
    await second.open()
    try:
        assert await second.certificates("alice") == [A, C]
        assert await second.certificate_account(C) == "alice"
    finally:
        await second.close()
