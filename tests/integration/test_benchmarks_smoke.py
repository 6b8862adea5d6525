"""The benchmark itself must not rot: ``python -m benchmarks --quick`` runs and counts right.

Only completeness and counts are checked here, never timings: those belong to the benchmark's
report, not to a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("psutil")


def test_quick_benchmark_completes_and_counts_every_delivery(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Fan-out" in done.stdout and "Idle connections" in done.stdout
    results = json.loads(output.read_text())

    assert results["mode"] == "quick"
    assert results["machine"]["python"]
    assert results["machine"]["logical_cpus"] >= 1

    fanout = results["fanout"]
    members = fanout["params"]["members"]
    assert fanout["setup"]["hello"]["registered"] == members
    assert fanout["setup"]["presence_settled"]["missing"] == 0
    assert fanout["phases"]
    for phase in fanout["phases"]:
        assert phase["complete"], phase
        assert phase["members"] == members
        assert phase["messages_sent"] == phase["messages_planned"]
        expected = phase["messages_sent"] * members
        assert phase["deliveries"] == phase["deliveries_expected"] == expected
        assert phase["lost_connections"] == {}
        assert phase["latency"]["samples"] > 0
        assert phase["server_cpu_s"] >= 0 and phase["generator_cpu_s"] >= 0

    idle = results["idle"]
    n = idle["params"]["connections"]
    assert idle["all_registered"]
    assert idle["connect"]["connected"] == idle["registered_live"] == n
    assert idle["presence_settled"]["missing"] == 0
    # every client saw WELCOME, JOINED and the barrier token, plus one PRESENCE per later joiner
    assert idle["presence_settled"]["frames"] == 3 * n + n * (n - 1) // 2
    assert idle["rss_registered_bytes"] > 0
    assert idle["disconnect"]["complete"]

    upload = results["upload"]  # --quick: 20 MiB
    assert upload["complete"] and upload["stored_bytes"] == upload["bytes"] == 20 * 2**20


def test_the_upload_benchmark_runs_alone_and_reports_its_figure(tmp_path: Path) -> None:
    output = tmp_path / "upload.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "upload", "--output",
         str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Upload (20 MiB over HTTP PUT" in done.stdout and " MB/s; RSS " in done.stdout
    upload = json.loads(output.read_text())["upload"]
    assert upload["status"] == 201 and upload["sha256_matches"]
    assert upload["complete"] and upload["stored_bytes"] == upload["bytes"] == 20 * 2**20
    assert upload["rss_before_mb"] > 0 and upload["rss_peak_mb"] >= upload["rss_before_mb"]
