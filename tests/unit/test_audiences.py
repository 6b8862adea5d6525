"""Big audiences grouped by encode key (server/audiences.py): grouped the second time an
audience is seen, forgotten when anything changes, bounded."""

from __future__ import annotations

from dataclasses import dataclass

from palaver.server.audiences import MAX_KEPT, Audiences


@dataclass(eq=False)
class Conn:
    encode_key: object


def test_an_audience_is_grouped_by_key_the_second_time_it_is_seen() -> None:
    json, irc, other = Conn("json"), Conn(("irc", frozenset())), Conn("json")
    connections = {1: json, 2: irc, 3: other}
    audiences = Audiences()
    audience = (1, 2, 3, 4)  # 4: no connection (gone meanwhile)
    assert audiences.groups(audience, connections) is None  # first: go through it
    groups = audiences.groups(audience, connections)
    assert groups == [[json, other], [irc]]
    assert audiences.groups(audience, connections) is groups  # kept
    assert audiences.groups(tuple([1, 2, 3, 4]), connections) is None  # an equal one is not it


def test_a_change_forgets_every_group() -> None:
    a, b = Conn("json"), Conn("json")
    connections = {1: a, 2: b}
    audiences = Audiences()
    audience = (1, 2)
    audiences.groups(audience, connections)
    assert audiences.groups(audience, connections) == [[a, b]]
    b.encode_key = "text"
    audiences.changed()
    assert audiences.groups(audience, connections) is None
    assert audiences.groups(audience, connections) == [[a], [b]]


def test_what_is_kept_is_bounded() -> None:
    audiences = Audiences()
    connections = {1: Conn("json")}
    first = (1,)
    audiences.groups(first, connections)
    for n in range(MAX_KEPT):  # as many new audiences: the first is forgotten
        audiences.groups((1,) * (n + 2), connections)
    assert audiences.groups(first, connections) is None
    assert len(audiences._kept) <= MAX_KEPT
