"""``/search`` in palaver chat and the text door: the command it sends and how results show."""

from __future__ import annotations

from datetime import UTC

from palaver.client.commands import LocalError, Send, parse_line
from palaver.client.render import View, render
from palaver.protocol.messages import Search, SearchHit, SearchResults


def test_search_parses_a_scope_a_cursor_and_the_words() -> None:
    assert parse_line("/search deploy friday", "#dev") == Send(Search(query="deploy friday"))
    assert parse_line("/search #ops deploy", "#dev") == Send(Search(query="deploy", room="#ops"))
    assert parse_line("/search @bob deploy", None) == Send(Search(query="deploy", peer="bob"))
    assert parse_line("/search before:41 deploy", None) == Send(
        Search(query="deploy", before="41"))
    assert isinstance(parse_line("/search", None), LocalError)
    assert isinstance(parse_line("/search #ops", None), LocalError)
    assert isinstance(parse_line("/search before: x", None), LocalError)


def test_results_show_newest_first_with_where_and_how_to_go_on() -> None:
    view = View(me="ann", room="#dev", tz=UTC)
    event = SearchResults(query="deploy", next="99", hits=(
        SearchHit(msg_id=41, sender="alice", ts="2026-11-18T11:06:40.123Z",
                  text="Deploying\non Friday", room="#dev"),
        SearchHit(msg_id=7, sender="bob", ts="2026-11-17T09:00:00.000Z", text="re\x1bdeploy",
                  peer="bob"),
    ))
    assert render(event, view) == [
        '* 2 messages found for "deploy":',
        "  [11:06] #dev <alice> Deploying",
        "                       on Friday",
        "  [09:00] @bob <bob> re^[deploy",
        "* older ones: the same /search with before:99 before the words",
    ]
    assert render(SearchResults(query="zzz"), view) == ['* no messages found for "zzz"']
