"""Search latency over a large SQLite store (``--only search``; in the default run too).

How this works: a fresh data file is made by :class:`~palaver.store.sqlite.SqliteStore` (every
migration, the FTS5 trigram index of migration 013 and its triggers included), then filled with
``messages`` messages straight through ``sqlite3`` in large transactions — the triggers index
each one, exactly as the server's appends are indexed. The texts are drawn (seeded, so every run
has the same data) from a Zipf-like vocabulary of made-up words, a few real words at chosen
frequencies (the queries' targets) and some Cyrillic and Japanese words. Then the store itself
(``SqliteStore.search``, through aiosqlite as the server calls it) answers a fixed set of queries
for a user who may read ``rooms_in_scope`` of the ``rooms`` rooms and ``dms`` direct
conversations, each query ``repeats`` times; the figures are the latency of each call, p50 and
p99, per kind of query and over all of them. The goal (issue 12): p99 ≤ 50 ms at 1,000,000.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from palaver.store.sqlite import SqliteStore

GOAL_P99_MS = 50.0

# (kind, words, scope: "all" | "room" | "dm") — the targets' frequencies are set in _text().
QUERIES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("common word", ("deploy",), "all"),
    ("common substring", ("ploy",), "all"),
    ("3 characters", ("dep",), "all"),
    ("rare word", ("kerfuffle",), "all"),
    ("two words", ("deploy", "friday"), "all"),
    ("cyrillic", ("привет",), "all"),
    ("japanese", ("東京都",), "all"),
    ("absent", ("xyzzyq",), "all"),
    ("one room", ("deploy",), "room"),
    ("one dm", ("friday",), "dm"),
    ("only elsewhere", ("outofscope",), "all"),
)


@dataclass(frozen=True)
class SearchParams:
    messages: int = 1_000_000
    rooms: int = 200
    rooms_in_scope: int = 20
    dms: int = 2_000  # direct conversations in all, 20 of them the searcher's
    dms_in_scope: int = 20
    repeats: int = 30
    limit: int = 20
    chunk: int = 50_000
    seed: int = 12


def _vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "so", "ta", "vi", "ze", "po", "qu", "fa", "de",
                 "gi", "bo", "wu", "xe", "ly", "sch", "tr"]
    words = {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
             for _ in range(6_000)}
    return sorted(words)


def _text(rng: random.Random, vocabulary: list[str], weights: list[float],
          in_scope: bool) -> str:
    words = rng.choices(vocabulary, cum_weights=weights, k=rng.randint(4, 14))
    roll = rng.random()
    if roll < 0.05:
        words.insert(rng.randrange(len(words) + 1), "deploy")
    if roll < 0.01:
        words.append("Friday")
    if rng.random() < 0.0001:
        words.append("kerfuffle")
    if rng.random() < 0.02:
        words.append(rng.choice(["привет", "мир", "東京都", "日本語", "Größe"]))
    if not in_scope and rng.random() < 0.05:  # common, but never where the searcher looks
        words.append("outofscope")
    return " ".join(words)


def _fill(path: Path, params: SearchParams) -> dict[str, Any]:
    rng = random.Random(params.seed)
    vocabulary = _vocabulary(rng)
    weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(vocabulary))))
    rooms = [f"#room{n}" for n in range(params.rooms)]
    dms = [f"@user{n},zed{n}" for n in range(params.dms)]
    conversations = rooms + dms
    scope = set(rooms[:params.rooms_in_scope]) | set(dms[:params.dms_in_scope])
    last: dict[str, int] = {}
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")  # 256 MiB for the bulk load
    started = time.perf_counter()
    second = 1_790_000_000
    for start in range(0, params.messages, params.chunk):
        rows = []
        for n in range(start, min(start + params.chunk, params.messages)):
            # rooms carry most of the traffic, direct conversations the rest
            conversation = (rng.choice(rooms) if rng.random() < 0.8 else rng.choice(dms))
            msg_id = last[conversation] = last.get(conversation, 0) + 1
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second + n)) + ".000Z"
            room = conversation if conversation[0] == "#" else None
            rows.append((conversation, msg_id, ts, "sender", "sender", room,
                         None if room else "zed",
                         _text(rng, vocabulary, weights, conversation in scope)))
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO messages (conversation, msg_id, ts, sender, sender_key, room, "
            "recipient, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    fill_s = time.perf_counter() - started
    db.close()
    return {"fill_s": round(fill_s, 1), "conversations": len(conversations),
            "scope": sorted(scope), "bytes": path.stat().st_size}


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(path: Path, params: SearchParams, scope: list[str]) -> dict[str, Any]:
    store = SqliteStore(path)
    await store.open()
    rooms = [c for c in scope if c.startswith("#")]
    dms = [c for c in scope if c.startswith("@")]
    kinds: list[dict[str, Any]] = []
    everything: list[float] = []
    try:
        for kind, words, where in QUERIES:
            conversations = {"all": scope, "room": rooms[:1], "dm": dms[:1]}[where]
            samples: list[float] = []
            hits = 0
            for _ in range(params.repeats):
                started = time.perf_counter()
                page = await store.search(conversations, words, limit=params.limit)
                samples.append((time.perf_counter() - started) * 1000)
                hits = len(page.hits)
                if page.more:  # the next page too, as a client scrolling back would
                    started = time.perf_counter()
                    await store.search(conversations, words, limit=params.limit,
                                       before=page.hits[-1].position)
                    samples.append((time.perf_counter() - started) * 1000)
            everything.extend(samples)
            kinds.append({"kind": kind, "words": list(words), "scope": where, "hits": hits,
                          "samples": len(samples),
                          "p50_ms": round(statistics.median(samples), 2),
                          "p99_ms": round(_percentile(samples, 0.99), 2),
                          "max_ms": round(max(samples), 2)})
    finally:
        await store.close()
    p99 = _percentile(everything, 0.99)
    return {"queries": kinds, "samples": len(everything),
            "p50_ms": round(statistics.median(everything), 2), "p99_ms": round(p99, 2),
            "goal_p99_ms": GOAL_P99_MS, "goal_met": p99 <= GOAL_P99_MS}


async def run_search(params: SearchParams) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="palaver-search-bench-") as tmp:
        path = Path(tmp) / "palaver.db"
        store = SqliteStore(path)
        await store.open()  # the schema, every migration
        await store.close()
        fill = await asyncio.to_thread(_fill, path, params)
        measured = await _measure(path, params, fill.pop("scope"))
    return {"params": asdict(params), "fill": fill, **measured,
            "complete": bool(measured["queries"])}


def render_search(results: dict[str, Any]) -> list[str]:
    p = results["params"]
    fill = results["fill"]
    lines = ["", f"Search ({p['messages']:,} messages in {fill['conversations']:,} "
                 f"conversations, {fill['bytes'] / 2**20:,.0f} MiB; filled in "
                 f"{fill['fill_s']} s; scope {p['rooms_in_scope']} rooms + "
                 f"{p['dms_in_scope']} DMs; limit {p['limit']})"]
    lines.append(f"{'query':<18}{'words':<22}{'hits':>5}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for q in results["queries"]:
        lines.append(f"{q['kind']:<18}{' '.join(q['words']):<22}{q['hits']:>5}"
                     f"{q['p50_ms']:>9.2f}{q['p99_ms']:>9.2f}{q['max_ms']:>9.2f}")
    verdict = "met" if results["goal_met"] else "NOT met"
    lines.append(f"all {results['samples']} searches: p50 {results['p50_ms']:.2f} ms, "
                 f"p99 {results['p99_ms']:.2f} ms (goal p99 <= {GOAL_P99_MS:.0f} ms: {verdict})")
    return lines
