"""Prometheus metrics, cheap on the hot path: plain integers now, Prometheus text at scrape time.

How this works: the core, the commit pipeline and the transports bump plain attributes of one
:class:`ServerMetrics` per server (an integer add; no lock, no label lookup, nothing per recipient
that a ``for`` loop would not do anyway). Connections per door are not counted at all: they are
read from the core's live connections when Prometheus scrapes. :func:`make_registry` builds a
registry whose collector turns all of it into metric families at scrape time; the web door serves
it at ``/metrics`` (docs/operations.md lists every metric).

For the limits (a transport that refuses something calls one of these; each is a dict update):

- ``core.metrics.rate_limited(door_of(conn))`` — a frame over the connection's rate limit;
- ``core.metrics.connection_refused(door, reason)`` — a connection refused (``"per_ip"``, …);
- ``core.metrics.login_throttled()`` — a login answered ``auth_throttled``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from palaver import __version__
from palaver.protocol.irc import IrcDialect
from palaver.protocol.jsonl import JsonLinesDialect

if TYPE_CHECKING:
    from palaver.server.cluster import ClusterLink
    from palaver.server.core import ServerCore

DOORS: Final = ("json", "text", "irc", "web")
COMMIT_SECONDS_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_SIZE_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0,
                             2_000.0, 5_000.0)


def door_of(conn: object) -> str:
    """Which front door a connection came in by: json, text, irc or web.

    A main-port connection counts as ``json`` until it turns out to speak plain text."""
    door = getattr(conn, "door", None)
    if isinstance(door, str):
        return door
    dialect = getattr(conn, "dialect", None)
    if isinstance(dialect, IrcDialect):
        return "irc"
    if isinstance(dialect, JsonLinesDialect):
        return "json"
    return "text"


class Buckets:
    """A histogram as plain numbers: ``observe`` is a bisect and two adds."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound (+Inf)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def family(self, name: str, documentation: str, unit: str = "") -> HistogramMetricFamily:
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.total,
                                     unit=unit)


class ServerMetrics:
    """What one server counts. Plain attributes: bump them directly on hot paths."""

    def __init__(self) -> None:
        self.room_messages = 0  # stored (acknowledged) messages
        self.direct_messages = 0
        self.store_failures = 0  # messages whose batch could not be committed
        self.deliveries = 0  # events handed to a connection's send queue
        self.send_queue_drops: dict[str, int] = dict.fromkeys(DOORS, 0)
        self.rate_limits: dict[str, int] = dict.fromkeys(DOORS, 0)
        self.refusals: dict[tuple[str, str], int] = {}
        self.login_throttles = 0
        self.commit_seconds = Buckets(COMMIT_SECONDS_BUCKETS)
        self.batch_sizes = Buckets(BATCH_SIZE_BUCKETS)

    def committed(self, size: int, seconds: float, failed: bool) -> None:
        """One group commit of ``size`` messages took ``seconds``."""
        self.commit_seconds.observe(seconds)
        self.batch_sizes.observe(size)
        if failed:
            self.store_failures += size

    def send_queue_dropped(self, door: str) -> None:
        self.send_queue_drops[door] = self.send_queue_drops.get(door, 0) + 1

    def rate_limited(self, door: str) -> None:
        """A frame (or, on IRC, a command) was over its connection's rate limit."""
        self.rate_limits[door] = self.rate_limits.get(door, 0) + 1

    def connection_refused(self, door: str, reason: str) -> None:
        """A new connection was refused (e.g. ``reason="per_ip"``)."""
        key = (door, reason)
        self.refusals[key] = self.refusals.get(key, 0) + 1

    def login_throttled(self) -> None:
        self.login_throttles += 1


class _PalaverCollector(Collector):
    def __init__(self, core: ServerCore) -> None:
        self._core = core

    def collect(self) -> Iterator[Metric]:
        core = self._core
        m = core.metrics
        info = GaugeMetricFamily("palaver_build_info", "palaver's version (always 1)",
                                 labels=["version"])
        info.add_metric([__version__], 1)
        yield info

        connections = GaugeMetricFamily(
            "palaver_connections", "Open client connections, by front door", labels=["door"])
        open_by_door = dict.fromkeys(DOORS, 0)
        for conn in core.connections():
            door = door_of(conn)
            open_by_door[door] = open_by_door.get(door, 0) + 1
        for door, count in open_by_door.items():
            connections.add_metric([door], count)
        yield connections

        messages = CounterMetricFamily(
            "palaver_messages_stored", "Messages stored and acknowledged (rate: messages/s)",
            labels=["kind"])
        messages.add_metric(["room"], m.room_messages)
        messages.add_metric(["direct"], m.direct_messages)
        yield messages
        yield CounterMetricFamily(
            "palaver_store_failures", "Messages not stored because their commit failed",
            value=m.store_failures)
        yield CounterMetricFamily(
            "palaver_deliveries", "Events queued to a client connection (one per recipient)",
            value=m.deliveries)
        yield _by_door("palaver_send_queue_drops",
                       "Connections cut off for not reading (send queue exceeded)",
                       m.send_queue_drops)
        yield _by_door("palaver_rate_limited", "Frames over a connection's rate limit",
                       m.rate_limits)
        refused = CounterMetricFamily("palaver_connections_refused",
                                      "Connections refused, by door and reason",
                                      labels=["door", "reason"])
        for (door, reason), count in sorted(m.refusals.items()):
            refused.add_metric([door, reason], count)
        yield refused
        yield CounterMetricFamily("palaver_logins_throttled",
                                  "Logins refused for too many wrong passwords",
                                  value=m.login_throttles)
        yield m.commit_seconds.family(
            "palaver_store_commit_seconds",
            "Time to commit one batch of messages to the store (group commit)")
        yield m.batch_sizes.family("palaver_store_batch_size",
                                   "Messages per committed batch (group commit)")
        if core.cluster is not None:
            yield from _cluster(core.cluster)


def _cluster(link: ClusterLink) -> Iterator[Metric]:
    """A node of a cluster (server/cluster.py)."""
    node = GaugeMetricFamily("palaver_cluster_node_info", "This node's name (always 1)",
                             labels=["node"])
    node.add_metric([link.node], 1)
    yield node
    up = GaugeMetricFamily("palaver_cluster_bus_up", "Is the bus shard up (1) or down (0)",
                           labels=["shard"])
    for shard, is_up in sorted(link.shards_up.items()):
        up.add_metric([str(shard)], 1 if is_up else 0)
    yield up
    published = CounterMetricFamily(
        "palaver_cluster_published", "This node's stored messages told on the bus, or not "
        "(the bus was down: the other nodes read them from the store)", labels=["outcome"])
    published.add_metric(["published"], link.published)
    published.add_metric(["unpublished"], link.unpublished)
    yield published
    yield CounterMetricFamily(
        "palaver_cluster_filled", "Other nodes' messages read from the store (the bus lost "
        "or delayed them)", value=link.filled)
    yield CounterMetricFamily(
        "palaver_cluster_store_checks", "Comparisons of the released ids with the store's",
        value=link.checks)
    yield link.lag.family(
        "palaver_cluster_lag_seconds",
        "Other nodes' messages: from being posted there to being told here (wall clocks)")


def _by_door(name: str, documentation: str, counts: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=["door"])
    for door, count in counts.items():
        family.add_metric([door], count)
    return family


def make_registry(core: ServerCore) -> CollectorRegistry:
    """A registry for one server: palaver's metrics plus the process's (CPU, memory, files)."""
    from prometheus_client import PlatformCollector, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_PalaverCollector(core))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
