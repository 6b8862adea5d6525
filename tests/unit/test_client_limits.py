"""The limits a client checks before sending: the server's own rules, the frame size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.client.limits import MAX_FRAME, frame_size, refusal, text_problem, topic_problem
from palaver.hub.names import check_text
from palaver.hub.rules import check_topic
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import Error, RunCommand, Say, SendDirect, SetTopic


@pytest.mark.parametrize(("text", "why"), [
    ("", "cannot be empty"),
    (" ", "only spaces"),
    (" \t\n \u3000", "only spaces"),
    ("x" * 4_001, "at most 4,000 characters (this one has 4,001)"),
    ("x" * 70_000, "at most 4,000 characters (this one has 70,000)"),
    ("a\rb", "control characters"),
    ("txt.\u202eexe", "bidi"),
])
def test_texts_the_server_refuses(text: str, why: str) -> None:
    problem = text_problem(text)
    assert problem is not None and why in problem
    error = refusal(Say(room="#dev", text=text, id="r1"))
    assert error == Error(code="invalid_text", message=problem, id="r1")
    assert refusal(SendDirect(to="bob", text=text, id="r2")) is not None


@pytest.mark.parametrize("text", ["x", "x" * 4_000, " x ", "a\nb\tc", "\u05e9\u200f ok",
                                  "\U0001f600" * 4_000])
def test_texts_the_server_takes(text: str) -> None:
    assert text_problem(text) is None
    assert refusal(Say(room="#dev", text=text, id="r1")) is None


@given(st.text(max_size=30) | st.text(alphabet=" \t\n\u202ea\x07", max_size=6))
def test_the_text_rule_is_the_servers(text: str) -> None:
    try:
        check_text(text)
    except PeerError as refused:
        assert text_problem(text) == refused.message or len(text) > 4_000
    else:
        assert text_problem(text) is None


@given(st.text(max_size=310))
def test_the_topic_rule_is_the_servers(topic: str) -> None:
    try:
        check_topic(topic)
    except PeerError:
        assert topic_problem(topic) is not None
    else:
        assert topic_problem(topic) is None or any(0xD800 <= ord(c) < 0xE000 for c in topic)


def test_a_topic_over_300_characters_or_two_lines() -> None:
    assert refusal(SetTopic(room="#dev", topic="t" * 301, id="t")) is not None
    assert refusal(SetTopic(room="#dev", topic="a\nb", id="t")) is not None
    assert refusal(SetTopic(room="#dev", topic="", id="t")) is None


def test_any_request_over_the_frame_limit() -> None:
    echo = RunCommand(name="echo", args=("e" * 70_000,), id="c1")
    error = refusal(echo)
    assert error is not None and (error.code, error.id) == ("frame_too_large", "c1")
    assert f"{frame_size(echo):,} bytes" in error.message and "65,536" in error.message
    fits = RunCommand(name="echo", args=("e" * 1_000,), id="c1")
    assert refusal(fits) is None
    assert refusal(fits, max_frame=frame_size(fits)) is None  # the newline counts: exactly
    assert refusal(fits, max_frame=frame_size(fits) - 1) is not None
    assert MAX_FRAME == 65_536
