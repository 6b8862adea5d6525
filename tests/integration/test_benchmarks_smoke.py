"""The benchmark itself must not rot: ``python -m benchmarks --quick`` runs and counts right.

Only completeness and counts are checked here, never timings: those belong to the benchmark's
report, not to a test.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("psutil")


def test_quick_benchmark_completes_and_counts_every_delivery(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Fan-out" in done.stdout and "Idle connections" in done.stdout
    for title in ("Fan-out sweep:", "Churn:", "Join storm:", "Rooms:"):
        assert title in done.stdout
    if importlib.util.find_spec("matplotlib"):  # the bench extra: the sweep's chart
        assert (output.parent / "results-fanout.png").stat().st_size > 0
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
    # where presence is one frame per join (a server with a lower presence_limit batches it)
    if idle["presence_per_event"]:
        assert idle["presence_settled"]["frames"] == idle["frames_expected"]
        assert idle["frames_expected"] == 3 * n + n * (n - 1) // 2
    else:
        assert idle["presence_settled"]["frames"] >= 3 * n
    assert idle["rss_registered_bytes"] > 0
    assert idle["disconnect"]["complete"]

    upload = results["upload"]  # --quick: 20 MiB
    assert upload["complete"] and upload["stored_bytes"] == upload["bytes"] == 20 * 2**20

    _check_step6(results, done.stderr)


def _ran(scenario: dict[str, Any], palaver: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The runs by server: palaver's always, each C server's unless it is not installed."""
    runs = {run["server"]: run for run in scenario["runs"]}
    assert not scenario["failed"], scenario["skipped"]
    for name in palaver:
        assert name in runs, scenario["skipped"]
    for name in ("ngircd", "inspircd"):
        assert name in runs or "not installed" in scenario["skipped"][name]
    return runs


def _check_step6(results: dict[str, Any], stderr: str) -> None:
    sweep = results["sweep"]
    members = sweep["params"]["members"]
    runs = _ran(sweep, ("palaver-json", "palaver"))
    for name, run in runs.items():
        assert [ph["rate_msgs_per_s"] for ph in run["phases"]] == sweep["params"]["rates"]
        per_message = members if name == "palaver-json" else members - 1
        for phase in run["phases"]:
            assert phase["messages_sent"] == phase["messages_planned"], (name, phase)
            assert phase["deliveries"] == phase["messages_sent"] * per_message, (name, phase)
            assert phase["loss"] == 0 and phase["lost_connections"] == {}, (name, phase)
            assert phase["latency"]["samples"] > 0
        assert "best_rate_msgs_per_s" in run
    assert "[sweep palaver-json]" in stderr  # the progress lines go to stderr

    churn = results["churn"]
    for run in _ran(churn, ("palaver-json", "palaver-irc")).values():
        assert run["complete"] and run["registrations"] == churn["params"]["count"], run
        assert run["failed"] == {} and run["lost"] == {}, run

    storm = results["joinstorm"]
    for run in _ran(storm, ("palaver-json", "palaver-irc")).values():
        assert run["setup"]["clients"] == storm["params"]["clients"], run
        assert run["answered"] == storm["params"]["clients"] and run["missing"] == 0, run
        assert run["complete"] and run["lost"] == {}, run

    rooms = results["rooms"]
    for run in _ran(rooms, ("palaver-json", "palaver-irc")).values():
        assert run["online"] == rooms["params"]["clients"] and run["missing"] == 0, run
        assert run["complete"] and run["rss_per_connection_bytes"] is not None, run
    for scenario in ("churn", "joinstorm", "rooms"):
        for name, why in results[scenario]["skipped"].items():
            assert "not installed" in why and f"[{_label(scenario)} {name}] " in stderr


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


def _label(scenario: str) -> str:
    return {"joinstorm": "join storm"}.get(scenario, scenario)


def test_the_cluster_benchmark_counts_every_delivery_on_each_setup(tmp_path: Path) -> None:
    """``--quick --only cluster``: the embedded server, one node and two nodes on a real
    PostgreSQL and Redis (skipped without them) deliver every message to every member, each
    sender's acknowledgements come back, and messages cross between the two nodes."""
    from benchmarks.backing import missing

    why = missing()
    if why is not None:
        pytest.skip(why)
    output = tmp_path / "cluster.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "cluster", "--output",
         str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Cluster: " in done.stdout and "[cluster two-nodes] starting" in done.stderr
    cluster = json.loads(output.read_text())["cluster"]
    params = cluster["params"]
    members = params["members"]
    assert not cluster["failed"] and not cluster["skipped"], cluster["skipped"]
    assert [run["setup"] for run in cluster["runs"]] == ["embedded", "one-node", "two-nodes"]
    for run in cluster["runs"]:
        assert run["nodes"] == (2 if run["setup"] == "two-nodes" else 1)
        assert run["populate"]["hello"]["registered"] == members
        for phase in [run["warmup"], *run["phases"]]:
            assert phase["complete"], (run["setup"], phase)
            assert phase["messages_sent"] == phase["messages_planned"]
            assert phase["deliveries"] == phase["messages_sent"] * members
            assert phase["lost_connections"] == {}
            # every sender's every message acknowledged (latency measured for each)
            assert phase["ack_latency"]["samples"] == phase["messages_sent"]
            assert phase["server_cpu_s"] >= 0
            crossed = phase["remote_latency"]["samples"]
            if run["setup"] == "two-nodes":
                assert crossed > 0 and len(phase["palaver_cpu_s_by_node"]) == 2
            else:
                assert crossed == 0
            if run["setup"] == "embedded":
                assert phase["postgres_cpu_s"] == phase["redis_cpu_s"] == 0
    ratios = cluster["summary"][0]["ratios"]
    assert "one-node/embedded (palaver)" in ratios and "two-nodes/one-node (all)" in ratios
