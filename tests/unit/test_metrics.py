"""Metrics as plain numbers, turned into Prometheus families at scrape time."""

from __future__ import annotations

import ipaddress

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.jsonl import JsonLinesDialect
from palaver.protocol.text import TextDialect
from palaver.server.metrics import Buckets, ServerMetrics, door_of, make_registry
from palaver.transports.metrics_http import allowed


class _Conn:
    def __init__(self, dialect: object = None, door: str | None = None) -> None:
        self.dialect = dialect
        if door is not None:
            self.door = door


class _Core:
    def __init__(self, connections: list[object]) -> None:
        self.metrics = ServerMetrics()
        self._connections = connections
        self.cluster = None  # one server, not a node of a cluster

    def connections(self) -> list[object]:
        return self._connections


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_door_of_each_kind_of_connection() -> None:
    assert door_of(_Conn(JsonLinesDialect())) == "json"
    assert door_of(_Conn(TextDialect())) == "text"
    assert door_of(_Conn(IrcDialect(ids=RequestIds("irc-1"), nick_of=lambda: None))) == "irc"
    assert door_of(_Conn(door="web")) == "web"


def test_buckets_are_cumulative_with_an_infinite_one() -> None:
    buckets = Buckets((1.0, 2.0))
    for value in (0.5, 1.0, 1.5, 3.0, 3.0):
        buckets.observe(value)
    family = buckets.family("x_seconds", "test")
    by_bound = {s.labels["le"]: s.value for s in family.samples if s.name == "x_seconds_bucket"}
    assert by_bound == {"1.0": 2, "2.0": 3, "+Inf": 5}
    assert buckets.count == 5 and buckets.total == 9.0


def test_registry_reports_every_palaver_metric() -> None:
    core = _Core([_Conn(JsonLinesDialect()), _Conn(JsonLinesDialect()), _Conn(door="web")])
    m = core.metrics
    m.room_messages += 3
    m.direct_messages += 1
    m.deliveries += 40
    m.committed(4, 0.002, failed=False)
    m.committed(2, 0.5, failed=True)
    m.send_queue_dropped("irc")
    m.rate_limited("text")
    m.rate_limited("text")
    m.connection_refused("json", "per_ip")
    m.login_throttled()
    found = samples(generate_latest(make_registry(core)).decode())
    assert found[("palaver_connections", (("door", "json"),))] == 2
    assert found[("palaver_connections", (("door", "web"),))] == 1
    assert found[("palaver_connections", (("door", "irc"),))] == 0
    assert found[("palaver_messages_stored_total", (("kind", "room"),))] == 3
    assert found[("palaver_messages_stored_total", (("kind", "direct"),))] == 1
    assert found[("palaver_store_failures_total", ())] == 2
    assert found[("palaver_deliveries_total", ())] == 40
    assert found[("palaver_send_queue_drops_total", (("door", "irc"),))] == 1
    assert found[("palaver_rate_limited_total", (("door", "text"),))] == 2
    assert found[("palaver_connections_refused_total",
                  (("door", "json"), ("reason", "per_ip")))] == 1
    assert found[("palaver_logins_throttled_total", ())] == 1
    assert found[("palaver_store_commit_seconds_count", ())] == 2
    assert found[("palaver_store_commit_seconds_bucket", (("le", "0.0025"),))] == 1
    assert found[("palaver_store_batch_size_sum", ())] == 6
    assert ("process_resident_memory_bytes", ()) in found


@pytest.mark.parametrize(("remote", "networks", "expected"), [
    ("127.0.0.1", ["127.0.0.0/8", "::1/128"], True),
    ("::1", ["127.0.0.0/8", "::1/128"], True),
    ("::ffff:127.0.0.1", ["127.0.0.0/8"], True),
    ("fe80::1%eth0", ["fe80::/10"], True),
    ("192.0.2.7", ["127.0.0.0/8", "::1/128"], False),
    ("192.0.2.7", [], True),
    (None, ["127.0.0.0/8"], False),
    ("not an address", ["127.0.0.0/8"], False),
])
def test_who_may_scrape(remote: str | None, networks: list[str], expected: bool) -> None:
    parsed = [ipaddress.ip_network(network) for network in networks]
    assert allowed(remote, parsed) is expected
