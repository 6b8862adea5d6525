"""The IRC door's SEARCH (palaver's own command): the request it makes and the NOTICEs it
renders (irc/search.py)."""

from __future__ import annotations

from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import Error, Search, SearchHit, SearchResults
from tests.unit.test_irc_watch_markers_redact import lines, registered, requests, send


def test_search_everywhere_one_room_or_one_nick() -> None:
    d = registered()
    [everywhere] = requests(send(d, "SEARCH * :deploy friday"))
    assert isinstance(everywhere, Search)
    assert (everywhere.query, everywhere.room, everywhere.peer) == ("deploy friday", None, None)
    [room] = requests(send(d, "SEARCH #dev deploy friday"))
    assert isinstance(room, Search) and (room.room, room.query) == ("#dev", "deploy friday")
    [peer] = requests(send(d, "SEARCH bob :before=42 deploy"))
    assert isinstance(peer, Search)
    assert (peer.peer, peer.before, peer.query) == ("bob", "42", "deploy")


def test_search_without_words_needs_more_params() -> None:
    d = registered()
    out = send(d, "SEARCH *")
    assert requests(out) == []
    assert any(" 461 ann SEARCH " in line for item in out if isinstance(item, bytes)
               for line in lines(item))


def test_results_are_notices_newest_first_with_msgids_and_how_to_go_on() -> None:
    d = registered()
    [ask] = requests(send(d, "SEARCH * :deploy"))
    assert isinstance(ask, Search)
    hits = (SearchHit(msg_id=41, sender="alice", ts="2026-11-18T11:06:40.123Z",
                      text="Deploying\non Friday", room="#dev", marks=((0, 6),)),
            SearchHit(msg_id=7, sender="bob", ts="2026-11-17T09:00:00.000Z",
                      text="redeploy", peer="bob"))
    out = lines(d.encode(SearchResults(id=ask.id, query="deploy", hits=hits, next="99")))
    assert out == [
        ':palaver NOTICE ann :SEARCH "deploy": 2 messages, newest first',
        ":palaver NOTICE ann :[2026-11-18 11:06] #dev <alice> Deploying on Friday (msgid #dev/41)",
        ":palaver NOTICE ann :[2026-11-17 09:00] bob <bob> redeploy (msgid dm/ann,bob/7)",
        ":palaver NOTICE ann :End of SEARCH; older: SEARCH * before=99 :deploy",
    ]
    none = lines(d.encode(SearchResults(query="zzz")))
    assert none == [':palaver NOTICE ann :SEARCH "zzz": 0 messages',
                    ":palaver NOTICE ann :End of SEARCH"]


def test_a_refused_search_is_a_notice_with_its_code() -> None:
    d = registered()
    [ask] = requests(send(d, "SEARCH * :go"))
    assert isinstance(ask, Search)
    out = lines(d.encode(Error(id=ask.id, code=ErrorCode.INVALID_FIELD, field="query",
                               message="each word of a search is at least 3 characters")))
    assert out == [":palaver NOTICE ann :invalid_field: each word of a search is at least 3 "
                   "characters"]
