"""Upload throughput on loopback, and the server's memory while a large file streams in.

One in-process server (SQLite in a temporary data dir, the web door on port 0); a JSON-lines
client asks UPLOAD, then an aiohttp client PUTs ``--mb`` megabytes (the same 1 MiB buffer
again and again, so the sender holds no more than that) to the URL it was given. Reports MB/s
and the process's resident memory before and after (it must stay flat: the body is streamed to
disk, never buffered). Run: ``python -m benchmarks.upload --mb 500``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from palaver.client import Client
from palaver.protocol.messages import Upload, UploadReady
from palaver.server.app import running
from palaver.server.config import Settings

MIB = 1_048_576


def rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4_096 / 1e6


async def run(megabytes: int) -> dict[str, float]:
    size = megabytes * MIB
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(port=0, web_port=0, irc_port=0, data_dir=data,
                            upload_max_bytes=size, upload_quota_bytes=0)
        async with running(settings) as server:
            await server.open_web(0)  # web_port=0 in settings: off until opened here
            client = await Client.connect("127.0.0.1", server.port, "bench")
            ready = await client.request(Upload(name="big.bin", size=size, room="#lobby"))
            assert isinstance(ready, UploadReady)
            block = bytes(range(256)) * (MIB // 256)

            async def body() -> AsyncIterator[bytes]:
                for _ in range(megabytes):
                    yield block

            before = rss_mb()
            started = time.perf_counter()
            async with aiohttp.ClientSession() as http, http.put(
                    ready.url, data=body(), headers={"Content-Length": str(size)}) as response:
                assert response.status == 201, await response.text()
            seconds = time.perf_counter() - started
            after = rss_mb()
            await client.close()
    return {"megabytes": megabytes, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
            "rss_before_mb": before, "rss_after_mb": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="MiB to upload (default 500)")
    result = asyncio.run(run(parser.parse_args().mb))
    print(f"upload {result['megabytes']:.0f} MiB in {result['seconds']:.2f} s: "
          f"{result['mb_per_s']:.0f} MB/s; RSS {result['rss_before_mb']:.1f} MB before, "
          f"{result['rss_after_mb']:.1f} MB after")


if __name__ == "__main__":
    main()
