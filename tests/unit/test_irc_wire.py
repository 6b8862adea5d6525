"""IRC lines: framing with limits, parsing with tags, serialising, splitting, sanitising."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from palaver.protocol.irc.wire import (
    MAX_INPUT,
    MAX_LINE,
    MAX_RUNAWAY,
    RUNAWAY,
    TOO_LONG,
    BadLine,
    IrcFramer,
    IrcLine,
    escape_tag_value,
    format_line,
    parse_line,
    split_text,
    strip_formatting,
    unescape_tag_value,
)

DETERMINISTIC = settings(derandomize=True, deadline=None)


def feed(chunks: list[bytes]) -> list[bytes | object]:
    framer = IrcFramer()
    out: list[bytes | object] = []
    for chunk in chunks:
        out.extend(framer.receive_data(chunk))
    out.extend(framer.receive_eof())
    return out


def test_lines_crlf_lf_and_a_last_unterminated_one() -> None:
    assert feed([b"NICK a\r\nUSER a 0 * :A\nPING x"]) == [b"NICK a", b"USER a 0 * :A", b"PING x"]


def test_a_line_over_the_limit_is_reported_once_and_skipped_then_reading_goes_on() -> None:
    framer = IrcFramer()
    out = framer.receive_data(b"PRIVMSG #a :" + b"x" * MAX_INPUT)
    assert out == [TOO_LONG]
    assert framer.buffered == 0  # nothing of it is kept
    assert framer.receive_data(b"x" * 20_000) == []  # below the hard bound (MAX_RUNAWAY)
    assert framer.receive_data(b"yy\r\nPING a\r\n") == [b"PING a"]


def test_a_line_still_going_at_the_hard_bound_is_a_runaway_and_reading_stops() -> None:
    framer = IrcFramer()
    assert framer.receive_data(b"PRIVMSG #a :" + b"x" * MAX_INPUT) == [TOO_LONG]
    out: list[bytes | object] = []
    for _ in range(MAX_RUNAWAY // 4_096 + 1):
        out.extend(framer.receive_data(b"x" * 4_096))
    assert out == [RUNAWAY]
    assert framer.buffered == 0
    assert framer.receive_data(b"\r\nPING a\r\n") == []  # nothing more is read
    assert framer.receive_eof() == []


def test_the_hard_bound_is_a_few_times_the_limit_and_counts_the_whole_line() -> None:
    framer = IrcFramer(10)
    assert framer.receive_data(b"x" * 39 + b"\nPING a\n") == [TOO_LONG, b"PING a"]
    assert framer.receive_data(b"x" * 39) == [TOO_LONG]
    assert framer.receive_data(b"x") == [RUNAWAY]
    assert IrcFramer(10).receive_data(b"x" * 40 + b"\nPING a\n") == [TOO_LONG, RUNAWAY]


def test_the_limit_is_counted_with_the_newline() -> None:
    framer = IrcFramer(10)
    assert framer.receive_data(b"123456789\n") == [b"123456789"]
    assert framer.receive_data(b"1234567890\n") == [TOO_LONG]


@DETERMINISTIC
@given(st.binary(max_size=3000), st.integers(min_value=2, max_value=600))
def test_any_bytes_whole_or_one_at_a_time_give_the_same_lines(data: bytes, limit: int) -> None:
    whole = IrcFramer(limit)
    out_whole = whole.receive_data(data) + whole.receive_eof()
    split = IrcFramer(limit)
    out_split: list[bytes | object] = []
    for i in range(len(data)):
        out_split.extend(split.receive_data(data[i : i + 1]))
    out_split.extend(split.receive_eof())
    assert out_whole == out_split
    for item in out_whole:
        assert item in (TOO_LONG, RUNAWAY) or (isinstance(item, bytes) and len(item) < limit)
    assert out_whole.count(RUNAWAY) <= 1 and RUNAWAY not in out_whole[:-1]


def test_parse_tags_source_params_trailing() -> None:
    line = parse_line(rb"@time=x;a=b\sc\:d\\e;flag :nick!u@h privmsg #room  :hello :world ")
    assert line == IrcLine("PRIVMSG", ["#room", "hello :world "],
                           {"time": "x", "a": "b c;d\\e", "flag": ""}, "nick!u@h")
    assert parse_line(b"NICK alice").params == ["alice"]
    assert parse_line(b"PRIVMSG #a :").params == ["#a", ""]
    assert parse_line(b"user a 0 * :Real Name").params == ["a", "0", "*", "Real Name"]


def test_parameters_are_split_on_ascii_spaces_only() -> None:
    assert parse_line("NICK iv\u0085il".encode()).params == ["iv\u0085il"]
    assert parse_line("NICK a\tb\u00a0c\u3000d\u2028e".encode()).params == [
        "a\tb\u00a0c\u3000d\u2028e"]
    assert parse_line(b"USER  a   0 * :x  y").params == ["a", "0", "*", "x  y"]


def test_lines_without_a_command_are_refused() -> None:
    for raw in (b":src", b":src :only trailing", b"@tags", b"  ", b"FOO/BAR x", b"12 x"):
        try:
            parse_line(raw)
        except BadLine:
            continue
        raise AssertionError(raw)


def test_non_utf8_is_read_as_latin1() -> None:
    assert parse_line(b"PRIVMSG #a :caf\xe9").params[1] == "café"


@DETERMINISTIC
@given(st.binary(max_size=600))
def test_any_line_parses_or_is_refused_cleanly(raw: bytes) -> None:
    try:
        line = parse_line(raw)
    except BadLine:
        return
    assert line.command.isupper() or line.command.isdigit()


@DETERMINISTIC
@given(st.text())
def test_tag_values_round_trip(value: str) -> None:
    value = value.replace("\0", "")
    escaped = escape_tag_value(value)
    assert not any(c in escaped for c in " ;\r\n\0")
    assert unescape_tag_value(escaped) == value


def test_format_line_uses_a_trailing_parameter_when_needed() -> None:
    assert format_line("PRIVMSG", "#a", "hi", source="n!n@h") == b":n!n@h PRIVMSG #a :hi\r\n"
    assert format_line("JOIN", "#a", source="n", trailing=False) == b":n JOIN #a\r\n"
    assert format_line("X", "a", tags={"time": "t", "msgid": "#a/1"}) == (
        b"@time=t;msgid=#a/1 X :a\r\n")


@DETERMINISTIC
@given(st.lists(st.text(), min_size=1, max_size=4), st.text(max_size=30))
def test_no_cr_lf_nul_ever_leaves_format_line(params: list[str], source: str) -> None:
    line = format_line("PRIVMSG", *params, source=source or None)
    assert line.endswith(b"\r\n")
    body = line[:-2]
    assert b"\r" not in body and b"\n" not in body and b"\0" not in body
    assert len(body) <= MAX_LINE - 2
    parsed = parse_line(body)  # and it is still a well-formed line
    assert parsed.command == "PRIVMSG"


@DETERMINISTIC
@given(st.text(min_size=1, max_size=3000), st.integers(min_value=4, max_value=500))
def test_split_text_fits_the_budget_and_loses_nothing(text: str, budget: int) -> None:
    pieces = split_text(text, budget)
    for piece in pieces:
        assert 0 < len(piece.encode("utf-8", "replace")) <= budget
        assert "\n" not in piece and "\r" not in piece
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    rebuilt = "".join(pieces)
    expected = "".join(line if line else " " for line in lines)
    assert rebuilt == expected.encode("utf-8", "replace").decode("utf-8")


def test_split_prefers_spaces() -> None:
    assert split_text("aaaa bbbb cccc", 10) == ["aaaa bbbb ", "cccc"]
    assert split_text("ééééé", 4) == ["éé", "éé", "é"]
    assert split_text("a\n\nb", 10) == ["a", " ", "b"]


def test_strip_formatting() -> None:
    assert strip_formatting("\x02bold\x02 \x0304,12red\x03 \x1ditalic\x0f\ttab") == (
        "bold red italic\ttab")
    assert strip_formatting("\x0412ab34colour") == "colour"


def slow_format_line(command: str, *params: str, source: str | None = None) -> bytes:
    """format_line as it was before its printable-ASCII shortcut: every pattern, every time."""
    from palaver.protocol.irc import wire

    parts = [":" + wire._UNSAFE_MIDDLE.sub("_", source)] if source else []
    parts.append(command)
    for param in params[:-1]:
        safe = wire._UNSAFE_MIDDLE.sub("_", param) or "*"
        parts.append("_" + safe[1:] if safe.startswith(":") else safe)
    if params:
        last = ":" + wire._UNSAFE.sub(" ", params[-1])
        parts.append(last)
    body = wire._HOSTILE.sub("\ufffd", " ".join(parts)).encode("utf-8", "replace")
    if len(body) > MAX_LINE - 2:
        body = wire._cut_utf8(body, MAX_LINE - 2)
    return body + b"\r\n"


_PIECES = st.text(alphabet=st.sampled_from(
    [*"ab :,#@!", "\x00", "\r", "\n", "\t", "\x1b", "\x7f", "\x85", "\u202e", "é", "\ud800"]),
    max_size=12)


@DETERMINISTIC
@given(st.lists(_PIECES, min_size=1, max_size=4), st.one_of(st.none(), _PIECES))
def test_the_printable_ascii_shortcut_changes_no_line(params: list[str],
                                                      source: str | None) -> None:
    assert format_line("PRIVMSG", *params, source=source) == slow_format_line(
        "PRIVMSG", *params, source=source)


def test_clean_keeps_printable_ascii_as_is_and_replaces_controls() -> None:
    from palaver.protocol.irc.render import clean

    text = "005 CHANTYPES=# :are supported"
    assert clean(text) is text
    assert clean("a\x01b\tc\x9fd") == "a\ufffdb\tc\ufffdd"


_WORDS = st.text(alphabet=st.sampled_from([*"ab:#*@ ", "\x01", "\r", "é", "\u202e"]),
                 min_size=0, max_size=8)


@DETERMINISTIC
@given(st.sampled_from(["ann", "Zed_9", ":odd", "", "a b", "é"]),
       st.lists(st.one_of(_WORDS, st.just("x" * 300), st.just("é" * 200)), max_size=4),
       st.sampled_from(["palaver", "irc.example", "odd name"]))
def test_numerics_put_together_are_the_lines_format_line_makes(
        target: str, params: list[str], server: str) -> None:
    from palaver.protocol.irc.render import IrcRenderer, clean

    renderer = IrcRenderer(server, frozenset())
    expected = format_line("005", clean(target), *map(clean, params), source=server)
    assert renderer.numeric("005", target, *params) == expected
    assert renderer.numeric("005", target, *params) == expected  # its rest kept: the same
