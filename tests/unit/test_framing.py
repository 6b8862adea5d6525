"""LineFramer: lines out of a byte stream, with a hard maximum counted with the terminator."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palaver.protocol.errors import ErrorCode, FrameTooLarge
from palaver.protocol.framing import DEFAULT_MAX_FRAME, LineFramer

# Fixed seeds: the suite gives the same verdict on every run.
DETERMINISTIC = settings(derandomize=True, deadline=None)


def feed(framer: LineFramer, chunks: list[bytes]) -> tuple[list[bytes], FrameTooLarge | None]:
    """All lines and the first error from feeding ``chunks`` in order, then EOF."""
    lines: list[bytes] = []
    error: FrameTooLarge | None = None
    for chunk in chunks:
        got, overflow = framer.receive_data(chunk)
        lines.extend(got)
        if overflow is not None:
            assert error is None, "the framer reports an overflow once"
            error = overflow
    last = framer.receive_eof()
    if last is not None:
        lines.append(last)
    return lines, error


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


STREAM = b'{"type":"PING"}\n{"type":"JOIN","room":"#a"}\r\n\n  \n{"type":"BYE"}\r\ntail'
EXPECTED = [b'{"type":"PING"}', b'{"type":"JOIN","room":"#a"}', b"", b"  ", b'{"type":"BYE"}',
            b"tail"]


def test_default_limit_is_64_kib() -> None:
    assert DEFAULT_MAX_FRAME == 65_536


def test_limit_must_fit_a_byte_and_the_newline() -> None:
    with pytest.raises(ValueError):
        LineFramer(1)
    LineFramer(2)


def test_many_frames_in_one_read() -> None:
    framer = LineFramer()
    lines, error = framer.receive_data(b"a\nb\nc\n" * 100)
    assert lines == [b"a", b"b", b"c"] * 100
    assert error is None
    assert framer.buffered == 0


def test_crlf_and_lf_both_end_a_line_and_are_stripped() -> None:
    framer = LineFramer()
    assert framer.receive_data(b"one\r\ntwo\nthree\r\n") == ([b"one", b"two", b"three"], None)


def test_only_one_trailing_cr_is_stripped_and_inner_cr_stays() -> None:
    framer = LineFramer()
    assert framer.receive_data(b"a\r\r\nb\rc\n") == ([b"a\r", b"b\rc"], None)


def test_a_crlf_split_between_reads_is_still_one_terminator() -> None:
    framer = LineFramer()
    assert framer.receive_data(b"line\r") == ([], None)
    assert framer.buffered == 5
    assert framer.receive_data(b"\nnext") == ([b"line"], None)
    assert framer.buffered == 4


def test_blank_lines_are_returned_empty_for_the_decoder_to_skip() -> None:
    assert LineFramer().receive_data(b"\n\r\n\n") == ([b"", b"", b""], None)


def test_split_at_every_byte_gives_the_same_lines() -> None:
    whole = feed(LineFramer(), [STREAM])
    assert whole == (EXPECTED, None)
    for cut in range(len(STREAM) + 1):
        assert feed(LineFramer(), [STREAM[:cut], STREAM[cut:]]) == whole, cut
    assert feed(LineFramer(), one_byte_at_a_time(STREAM)) == whole


def test_empty_reads_change_nothing() -> None:
    framer = LineFramer()
    assert framer.receive_data(b"") == ([], None)
    assert framer.receive_data(b"ab") == ([], None)
    assert framer.receive_data(b"") == ([], None)
    assert framer.receive_data(b"\n") == ([b"ab"], None)


# --------------------------------------------------------------------------- the limit


@pytest.mark.parametrize("limit", [2, 3, 16, 1_024, DEFAULT_MAX_FRAME])
def test_a_frame_of_exactly_the_limit_is_accepted(limit: int) -> None:
    body = b"x" * (limit - 1)
    assert LineFramer(limit).receive_data(body + b"\n") == ([body], None)


@pytest.mark.parametrize("limit", [2, 3, 16, 1_024, DEFAULT_MAX_FRAME])
def test_a_frame_one_byte_over_the_limit_is_refused(limit: int) -> None:
    lines, error = LineFramer(limit).receive_data(b"x" * limit + b"\n")
    assert lines == []
    assert isinstance(error, FrameTooLarge)
    assert error.code is ErrorCode.FRAME_TOO_LARGE
    assert error.limit == limit
    assert str(limit) in error.message


def test_the_limit_counts_the_cr_of_crlf() -> None:
    limit = 16
    fits = b"x" * (limit - 2)
    assert LineFramer(limit).receive_data(fits + b"\r\n") == ([fits], None)
    lines, error = LineFramer(limit).receive_data(b"x" * (limit - 1) + b"\r\n")
    assert lines == [] and isinstance(error, FrameTooLarge)


def test_exact_limit_fed_one_byte_at_a_time() -> None:
    limit = 32
    body = b"y" * (limit - 1)
    assert feed(LineFramer(limit), one_byte_at_a_time(body + b"\n")) == ([body], None)
    lines, error = feed(LineFramer(limit), one_byte_at_a_time(b"y" * limit + b"\n"))
    assert lines == [] and isinstance(error, FrameTooLarge)


def test_an_unterminated_line_is_refused_as_soon_as_it_cannot_fit() -> None:
    limit = 16
    framer = LineFramer(limit)
    assert framer.receive_data(b"z" * (limit - 1)) == ([], None)  # a "\n" would still fit
    assert framer.buffered == limit - 1
    lines, error = framer.receive_data(b"z")  # now it cannot end within the limit
    assert lines == [] and isinstance(error, FrameTooLarge)
    assert framer.buffered == 0  # nothing is kept past the limit


def test_a_huge_read_is_refused_without_waiting_for_its_newline() -> None:
    framer = LineFramer(1_024)
    lines, error = framer.receive_data(b"a" * 10_000_000)
    assert lines == [] and isinstance(error, FrameTooLarge)
    assert framer.buffered == 0


def test_lines_before_an_oversized_line_are_still_returned() -> None:
    limit = 16
    data = b"first\r\nsecond\n" + b"o" * limit + b"\nafter\n"
    lines, error = LineFramer(limit).receive_data(data)
    assert lines == [b"first", b"second"]
    assert isinstance(error, FrameTooLarge)


def test_lines_before_an_oversized_tail_are_still_returned() -> None:
    limit = 16
    lines, error = LineFramer(limit).receive_data(b"ok\n" + b"o" * limit)
    assert lines == [b"ok"]
    assert isinstance(error, FrameTooLarge)


def test_after_an_overflow_nothing_more_comes_out() -> None:
    framer = LineFramer(8)
    _, error = framer.receive_data(b"x" * 20)
    assert error is not None
    assert framer.receive_data(b"ok\nok\n") == ([], None)
    assert framer.receive_data(b"x" * 20) == ([], None)  # and the error is not repeated
    assert framer.receive_eof() is None


# --------------------------------------------------------------------------- end of stream


def test_eof_hands_back_the_unterminated_last_line() -> None:
    framer = LineFramer()
    assert framer.receive_data(b"a\nlast") == ([b"a"], None)
    assert framer.receive_eof() == b"last"
    assert framer.buffered == 0
    assert framer.receive_eof() is None


def test_eof_strips_a_lone_trailing_cr() -> None:
    framer = LineFramer()
    framer.receive_data(b"last\r")
    assert framer.receive_eof() == b"last"


def test_eof_with_nothing_buffered_gives_nothing() -> None:
    framer = LineFramer()
    assert framer.receive_eof() is None
    framer.receive_data(b"complete\n")
    assert framer.receive_eof() is None


def test_eof_tail_of_limit_minus_one_bytes_is_accepted() -> None:
    limit = 16
    framer = LineFramer(limit)
    framer.receive_data(b"t" * (limit - 1))
    assert framer.receive_eof() == b"t" * (limit - 1)


# --------------------------------------------------------------------------- properties

lines_strategy = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=12
)


@DETERMINISTIC
@given(
    lines=lines_strategy,
    terminators=st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=12, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    limit=st.integers(min_value=2, max_value=48),
)
def test_any_chunking_gives_the_same_result(
    lines: list[bytes], terminators: list[bytes], cuts: list[int], limit: int
) -> None:
    stream = b"".join(line + term for line, term in zip(lines, terminators, strict=False))
    bounds = sorted({0, len(stream), *(min(c, len(stream)) for c in cuts)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    whole = feed(LineFramer(limit), [stream])
    assert feed(LineFramer(limit), chunks) == whole
    assert feed(LineFramer(limit), one_byte_at_a_time(stream)) == whole


@DETERMINISTIC
@given(lines=lines_strategy)
def test_lines_within_the_limit_come_back_exactly(lines: list[bytes]) -> None:
    lines = [line.rstrip(b"\r") for line in lines]
    stream = b"".join(line + b"\n" for line in lines)
    assert feed(LineFramer(64), [stream]) == (lines, None)


@DETERMINISTIC
@given(data=st.binary(max_size=300), limit=st.integers(min_value=2, max_value=64))
def test_no_line_returned_is_over_the_limit(data: bytes, limit: int) -> None:
    lines, _ = feed(LineFramer(limit), one_byte_at_a_time(data))
    assert all(len(line) < limit for line in lines)
    assert all(b"\n" not in line for line in lines)
