"""Upload throughput on loopback, and the server's memory while a large file streams in.

One in-process server (SQLite in a temporary data dir, the web door on port 0); a JSON-lines
client asks UPLOAD, then an aiohttp client PUTs ``megabytes`` MiB (the same 1 MiB buffer again
and again, so the sender holds no more than that) to the URL it was given. Reports MB/s and the
process's resident memory before, at its highest while the body streams in (sampled at every
MiB sent) and after: it must stay flat, the body being streamed to disk, never buffered. The
run is complete when the server answered 201 and its blob holds exactly the bytes sent.

Part of ``python -m benchmarks`` (``--only upload``; ``--quick``: 20 MiB); alone:
``python -m benchmarks.upload --mb 500``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from palaver.client import Client
from palaver.protocol.messages import Upload, UploadReady
from palaver.server.app import running
from palaver.server.config import Settings

MIB = 1_048_576
FLOOR_MB_PER_S = 100.0  # the floor: uploads stream at >= 100 MB/s on loopback
FLAT_RSS_MB = 32.0  # "flat memory": the peak at most this far above the start (1 MiB chunks)


@dataclass(frozen=True, slots=True)
class UploadParams:
    megabytes: int = 500  # MiB sent


def rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4_096 / 1e6


async def run_upload(params: UploadParams) -> dict[str, Any]:
    megabytes = params.megabytes
    size = megabytes * MIB
    block = bytes(range(256)) * (MIB // 256)
    digest = hashlib.sha256()
    for _ in range(megabytes):
        digest.update(block)
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(port=0, web_port=0, irc_port=0, data_dir=data,
                            upload_max_bytes=size, upload_quota_bytes=0)
        async with running(settings) as server:
            await server.open_web(0)  # web_port=0 in settings: off until opened here
            client = await Client.connect("127.0.0.1", server.port, "bench")
            ready = await client.request(Upload(name="big.bin", size=size, room="#lobby"))
            assert isinstance(ready, UploadReady)
            peak = before = rss_mb()

            async def body() -> AsyncIterator[bytes]:
                nonlocal peak
                for _ in range(megabytes):
                    yield block
                    peak = max(peak, rss_mb())

            started = time.perf_counter()
            async with aiohttp.ClientSession() as http, http.put(
                    ready.url, data=body(), headers={"Content-Length": str(size)}) as response:
                status = response.status
                answer = await response.json(content_type=None)
            seconds = time.perf_counter() - started
            after = rss_mb()
            await client.close()
            blob = server.blobs.path(digest.hexdigest()) if server.blobs is not None else None
            stored = blob.stat().st_size if blob is not None and blob.is_file() else -1
    mb_per_s = size / 1e6 / seconds
    return {
        "params": asdict(params),
        "bytes": size,
        "status": status,
        "sha256_matches": isinstance(answer, dict)
        and answer.get("file", {}).get("sha256") == digest.hexdigest(),
        "stored_bytes": stored,
        "complete": status == 201 and stored == size,
        "seconds": round(seconds, 3),
        "mb_per_s": round(mb_per_s, 1),
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_after_mb": round(after, 1),
        "floor_mb_per_s": FLOOR_MB_PER_S,
        "floor_met": mb_per_s >= FLOOR_MB_PER_S and peak - before <= FLAT_RSS_MB,
    }


def render_upload(results: dict[str, Any]) -> list[str]:
    verdict = "pass" if results["floor_met"] else "FAIL"
    mib = results["params"]["megabytes"]
    return ["", f"Upload ({mib:,} MiB over HTTP PUT on loopback, in-process server, SQLite)",
            f"{mib:,} MiB in {results['seconds']:.2f} s: {results['mb_per_s']:,.0f} MB/s; RSS "
            f"{results['rss_before_mb']:.1f} MB before, {results['rss_peak_mb']:.1f} MB at the "
            f"peak, {results['rss_after_mb']:.1f} MB after (floor >= {FLOOR_MB_PER_S:.0f} MB/s, "
            f"peak <= before + {FLAT_RSS_MB:.0f} MB: {verdict}); "
            f"{'stored whole' if results['complete'] else 'NOT stored whole'}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="MiB to upload (default 500)")
    result = asyncio.run(run_upload(UploadParams(megabytes=parser.parse_args().mb)))
    print("\n".join(render_upload(result)[1:]))


if __name__ == "__main__":
    main()
