"""Small statistics helpers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary(values_us: list[int]) -> dict[str, float | int | None]:
    """p50/p90/p99/max of latencies in microseconds, reported in milliseconds."""
    ordered = sorted(values_us)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value / 1_000, 3)

    return {
        "samples": len(ordered),
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p90_ms": ms(percentile(ordered, 0.90)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else None),
    }


def split_evenly(items: Sequence[T], parts: int) -> list[list[T]]:
    """``items`` dealt into ``parts`` contiguous chunks whose sizes differ by at most one."""
    size, extra = divmod(len(items), parts)
    out: list[list[T]] = []
    at = 0
    for i in range(parts):
        step = size + (1 if i < extra else 0)
        out.append(list(items[at:at + step]))
        at += step
    return out


def merge_counts(counters: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The per-key sums of several counts (``lost``, ``failed``, ``errors`` from each worker)."""
    out: dict[str, int] = {}
    for counter in counters:
        for key, value in counter.items():
            out[key] = out.get(key, 0) + value
    return out
