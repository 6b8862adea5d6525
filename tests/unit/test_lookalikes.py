"""Confusable nicks (hub/lookalikes.py): the skeleton, the index, and the hub refusing them."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.hub.hub import StoredState
from palaver.hub.lookalikes import (
    LookalikeIndex,
    _skeleton,
    confusable,
    skeleton,
)
from palaver.hub.names import fold
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import Error, Hello, Register, SetNick, Welcome
from tests.unit.hub_harness import Harness, counting_tokens

# --------------------------------------------------------------------------- the skeleton


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("evan", "\u0435van"),  # Cyrillic е
        ("paypal", "p\u0430yp\u0430l"),  # Cyrillic а
        ("alice", "\uff41lice"),  # fullwidth a
        ("al", "aI"),  # capital i looks like small L
        ("al", "a1"),
        ("bill", "biII"),
        ("bob", "b0b"),
        ("Bob", "BOB"),
        ("m", "rn"),
        ("worm", "worrn"),
        ("ai", "al"),  # "ai" may show as "aI": the same person, looking like "al"
        ("x", "x"),
    ],
)
def test_lookalikes_share_a_skeleton(a: str, b: str) -> None:
    assert confusable(a, b)
    assert skeleton(a) == skeleton(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("evan", "ivan"), ("han", "nan"), ("x_y", "x-y"), ("bob", "rob"), ("ab", "ba"),
     ("a", "b"), ("sam", "sarn2"), ("anna", "anne"), ("e", "\u00e9")],
)
def test_different_looking_nicks_do_not(a: str, b: str) -> None:
    assert not confusable(a, b)


def test_ascii_case_does_not_merge_unrelated_letters_through_other_scripts() -> None:
    # H~Greek Eta and eta~n: closing Unicode case pairs would make h look like n.
    letters = "abcdefghijklmnopqrstuvwxyz"
    skeletons = {skeleton(c) for c in letters}
    # l and i are one class (m is "rn", a look of its own): 25 looks for 26 letters.
    assert len(skeletons) == 25
    assert skeleton("i") == skeleton("l")
    assert skeleton("m") == skeleton("r") + skeleton("n")


NICKS = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,31}", fullmatch=True)


@given(NICKS)
def test_skeleton_ignores_case_and_is_stable(nick: str) -> None:
    assert skeleton(nick) == skeleton(nick.lower()) == skeleton(nick.upper())
    assert skeleton(skeleton(nick)) == skeleton(nick)


@given(st.text(max_size=40))
def test_skeleton_takes_any_text(text: str) -> None:
    assert isinstance(skeleton(text), str)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_the_ascii_shortcut_gives_the_skeleton_the_long_way_gives(text: str) -> None:
    assert skeleton(text) == _skeleton(text)


def test_every_character_of_a_nick_looks_like_ascii() -> None:
    # (what lets the shortcut end at one translate for every nick; for the rest of ASCII, "%"
    # looks like "º/₀", the long way is taken: the test above covers both)
    nick_characters = string.ascii_letters + string.digits + "_-"
    assert all(skeleton(c).isascii() for c in nick_characters)
    assert not skeleton("%").isascii()


# --------------------------------------------------------------------------- the index


def test_index_finds_others_not_the_same_name_or_mine() -> None:
    index = LookalikeIndex([("al", "Al")])
    assert index.lookalike("aI", "ai") == "Al"
    assert index.lookalike("Al", "al") is None  # the same name: nick_taken's business
    assert index.lookalike("aI", "ai", mine=("al",)) is None
    assert index.lookalike("bob", "bob") is None


def test_index_counts_additions() -> None:
    index = LookalikeIndex()
    index.add("al", "al")  # an account
    index.add("al", "al")  # ... online
    index.discard("al")
    assert index.lookalike("a1", "a1") == "al"
    index.discard("al")
    assert index.lookalike("a1", "a1") is None
    assert "al" not in index
    index.discard("al")  # harmless


def test_a_name_shown_differently_the_second_time_leaves_no_skeleton_behind() -> None:
    index = LookalikeIndex()
    index.add("mia", "Xia")  # indexed under the skeletons of "mia" ("rnia") and "Xia" ("xia")
    index.add("mia", "Mia")  # in use again, shown otherwise: the skeletons stay those two
    assert index.lookalike("xia", "xia") == index.lookalike("rnia", "rnia") == "Mia"
    index.discard("mia")
    assert index.lookalike("xia", "xia") == "Mia"
    index.discard("mia")  # both go, not the skeletons of how it was shown last
    assert index.lookalike("xia", "xia") is None and index.lookalike("rnia", "rnia") is None
    assert index._owners == {} and "mia" not in index  # nothing kept of it


# --------------------------------------------------------------------------- the hub


def harness(stored: StoredState | None = None) -> Harness:
    return Harness(stored=stored, new_token=counting_tokens())


def error_code(h: Harness, sid: int) -> str:
    [event] = h.take(sid)
    assert isinstance(event, Error), event
    return event.code


def test_a_nick_like_an_online_one_is_refused_at_hello() -> None:
    h = harness()
    h.login("evan")
    h.clear()
    sid = h.open()
    h.send(sid, Hello(version=1, nick="evan"))
    assert error_code(h, sid) == ErrorCode.NICK_TAKEN
    for lookalike in ("EVAN", "evan"):
        h.send(sid, Hello(version=1, nick=lookalike))
        assert error_code(h, sid) == ErrorCode.NICK_TAKEN
    for lookalike in ("evaN", "Evan"):  # the same identity, not a lookalike
        h.send(sid, Hello(version=1, nick=lookalike))
        assert error_code(h, sid) == ErrorCode.NICK_TAKEN


def test_ascii_lookalikes_are_refused_at_hello_and_nick_change() -> None:
    h = harness()
    h.login("al")
    h.login("bob")
    h.clear()
    sid = h.open()
    h.send(sid, Hello(version=1, nick="aI"))
    event = h.take(sid)[0]
    assert isinstance(event, Error) and event.code == ErrorCode.NICK_CONFUSABLE
    assert "al" in event.message
    h.send(sid, Hello(version=1, nick="carol"))
    assert isinstance(h.take(sid)[0], Welcome)
    for nick in ("b0b", "a1", "AL", "rnallory"):
        h.send(sid, SetNick(nick=nick))
        expected = ErrorCode.NICK_TAKEN if nick == "AL" else ErrorCode.NICK_CONFUSABLE
        if nick == "rnallory":
            assert not any(isinstance(e, Error) for e in h.take(sid))  # nobody is "mallory"
        else:
            assert error_code(h, sid) == expected


def test_a_user_may_wear_a_lookalike_of_their_own_nick() -> None:
    h = harness()
    sid = h.login("al")
    h.clear()
    h.send(sid, SetNick(nick="aI"))  # was "al": their own name, freed by the change
    assert not any(isinstance(e, Error) for e in h.take(sid))
    h.send(sid, SetNick(nick="a1"))
    assert not any(isinstance(e, Error) for e in h.take(sid))


def test_a_freed_nick_frees_its_lookalikes() -> None:
    h = harness()
    alice = h.login("alice")
    h.drop(alice)
    sid = h.login("aIice")
    assert isinstance(h.take(sid)[0], Welcome)


def test_accounts_offline_are_protected_too() -> None:
    h = harness(StoredState(accounts={"evan": "evan"}))
    sid = h.open()
    h.send(sid, Hello(version=1, nick="evan"))
    assert error_code(h, sid) == ErrorCode.NICK_REGISTERED
    h.send(sid, Hello(version=1, nick="evarn"))  # no m: fine
    assert isinstance(h.take(sid)[0], Welcome)
    h.send(sid, SetNick(nick="EVAN"))
    assert error_code(h, sid) == ErrorCode.NICK_REGISTERED
    h.send(sid, SetNick(nick="evaN"))
    assert error_code(h, sid) == ErrorCode.NICK_REGISTERED
    h.send(sid, SetNick(nick="EVAN"[:3] + "rn"))  # "EVArn": no more like "evan" than "evarn"
    assert not any(isinstance(e, Error) for e in h.take(sid))


def test_a_new_account_protects_its_lookalikes_after_its_owner_leaves() -> None:
    h = harness()
    alice = h.login("alice")
    h.send(alice, Register(nick="alice", password="correct horse", id="r"))
    h.apply(h.hub.account_created(alice, "alice", created=True, request_id="r"))
    h.drop(alice)
    sid = h.open()
    h.send(sid, Hello(version=1, nick="aIice"))
    assert error_code(h, sid) == ErrorCode.NICK_CONFUSABLE


def test_the_hub_index_follows_nick_changes() -> None:
    h = harness()
    sid = h.login("zed")
    h.send(sid, SetNick(nick="al"))
    other = h.open()
    h.clear()
    h.send(other, Hello(version=1, nick="zed"))  # freed
    assert isinstance(h.take(other)[0], Welcome)
    h.send(other, SetNick(nick="a1"))  # like "al", now in use
    assert error_code(h, other) == ErrorCode.NICK_CONFUSABLE
    assert fold("AL") == "al"
