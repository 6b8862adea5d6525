"""The fan-out sweep as a chart: deliveries/s and p99 latency against the offered rate, one line
per server (matplotlib, from the ``bench`` extra; PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.sweep import LABELS, P99_LIMIT_MS


def write_chart(sweep: dict[str, Any], path: Path) -> Path | None:
    """Draw ``sweep`` into ``path``; None (and nothing written) without matplotlib or runs."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import ScalarFormatter
    except ImportError:
        return None
    if not sweep["runs"]:
        return None
    p = sweep["params"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for run in sweep["runs"]:
        ordered = sorted(run["phases"], key=lambda ph: ph["rate_msgs_per_s"])
        rates = [ph["rate_msgs_per_s"] for ph in ordered]
        label = LABELS.get(run["server"], run["server"])
        left.plot(rates, [(ph["deliveries_per_s"] or 0) / 1e6 for ph in ordered], marker="o",
                  label=label)
        right.plot(rates, [ph["latency"]["p99_ms"] or 0 for ph in ordered], marker="o",
                   label=label)
    offered = list(p["rates"])
    left.plot(offered, [r * p["members"] / 1e6 for r in offered], color="grey",
              linestyle=":", label="offered")
    left.set(xlabel="offered messages/s", ylabel="deliveries/s (millions)",
             title=f"Fan-out to {p['members']:,} members: deliveries/s")
    right.axhline(P99_LIMIT_MS, color="grey", linestyle=":", label=f"{P99_LIMIT_MS:.0f} ms")
    right.set(xlabel="offered messages/s", ylabel="p99 latency (ms, log)", yscale="log",
              title="p99 publish → delivery latency")
    right.yaxis.set_major_formatter(ScalarFormatter())
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
