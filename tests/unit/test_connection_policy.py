"""The connection policy every door shares (transports/policy.py): rate gate, caps before
registration, bad frames, read pauses. Pure: the clock is a number the test passes in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from palaver.protocol.errors import ErrorCode
from palaver.server.limits import Limits
from palaver.transports.policy import (
    TOO_MANY_BAD_FRAMES,
    TOO_MUCH_DATA,
    ConnectionPolicy,
    Pause,
)

LIMITS = Limits(rate_per_second=2.0, rate_burst=3, prelogin_bytes=100, prelogin_bad_frames=3)


def policy(**kwargs: object) -> ConnectionPolicy:
    return ConnectionPolicy(LIMITS, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- before registration


def test_bytes_before_registration_are_capped() -> None:
    p = policy()
    assert p.arrived(60, registered=False) is None
    assert p.arrived(40, registered=False) is None  # exactly the cap: still fine
    assert p.arrived(1, registered=False) == TOO_MUCH_DATA


def test_bytes_after_registration_are_not_counted_and_registration_is_learnt_once() -> None:
    p = policy()
    assert p.arrived(90, registered=False) is None
    assert p.arrived(90, registered=True) is None
    assert p.registered
    # Once registered, the transport need not ask the hub again (it passes False, say).
    assert p.arrived(10_000, registered=False) is None
    assert p.refused(registered=False) is None


def test_the_text_door_is_exempt_and_a_switch_back_caps_again_from_zero() -> None:
    p = policy(byte_cap=False)
    assert p.arrived(10_000, registered=False) is None
    p.set_byte_cap(True)  # e.g. a person at the prompt who typed JSON: now a JSON client
    assert p.arrived(100, registered=False) is None
    assert p.arrived(1, registered=False) == TOO_MUCH_DATA
    p.set_byte_cap(False)
    assert p.arrived(10_000, registered=False) is None


def test_the_nth_refused_frame_before_registration_cuts() -> None:
    p = policy()
    assert [p.refused(registered=False) for _ in range(3)] == [None, None, TOO_MANY_BAD_FRAMES]


def test_refused_frames_after_registration_never_cut() -> None:
    p = policy()
    assert p.refused(registered=False) is None
    assert all(p.refused(registered=True) is None for _ in range(10))


def test_the_byte_cap_does_not_count_bad_frames_and_the_reverse() -> None:
    p = policy(byte_cap=False)  # exempt from the byte cap, not from the bad-frame count
    assert p.refused(registered=False) is None
    assert p.refused(registered=False) is None
    assert p.refused(registered=False) == TOO_MANY_BAD_FRAMES


# ---------------------------------------------------------------------------- the rate limit


def test_the_burst_goes_through_then_a_pause_with_the_error_to_tell() -> None:
    p = policy()
    assert [p.admit(0.0) for _ in range(3)] == [None, None, None]
    pause = p.admit(0.0)
    assert isinstance(pause, Pause)
    assert pause.wait == 0.5  # one token at 2 a second
    assert pause.notice is not None
    assert pause.notice.code is ErrorCode.RATE_LIMITED
    assert pause.notice.retry_after_ms == 500
    assert pause.notice.message == "too many messages: wait 500 ms"
    assert p.throttled


def test_one_notice_per_storm_then_a_new_storm_is_told_again() -> None:
    p = policy()
    for _ in range(3):
        p.admit(0.0)
    first = p.admit(0.0)
    assert first is not None and first.notice is not None
    p.unthrottle()
    assert p.admit(0.5) is None  # the token that the pause waited for
    again = p.admit(0.5)  # the same storm: paused, not told
    assert again is not None and again.notice is None
    p.unthrottle()
    # Calm for burst / rate = 1.5 s after the last pause ended: the next pause is a new storm.
    assert [p.admit(3.0) for _ in range(3)] == [None, None, None]
    told = p.admit(3.0)
    assert told is not None and told.notice is not None


def test_irc_fakelag_delays_silently_then_tells() -> None:
    p = policy(notice_after=3)
    for _ in range(3):
        p.admit(0.0)
    notices = []
    now = 0.0
    for _ in range(4):
        pause = p.admit(now)
        assert pause is not None
        notices.append(pause.notice is not None)
        p.unthrottle()
        now += pause.wait
        assert p.admit(now) is None
    assert notices == [False, False, True, False]


def test_admit_all_takes_every_token_or_none() -> None:
    p = policy()
    assert p.admit_all(0.0, 2)
    assert not p.admit_all(0.0, 2)  # one left: nothing taken...
    assert p.admit(0.0) is None  # ...so the one is still there
    assert not p.throttled  # admit_all never starts a pause
    assert p.admit_all(0.0, 0)  # a read without a whole line costs nothing


def test_admit_all_refuses_while_throttled() -> None:
    p = policy()
    for _ in range(3):
        p.admit(0.0)
    assert p.admit(0.0) is not None
    assert not p.admit_all(100.0, 1)  # frames wait behind the pause, even with tokens back
    p.unthrottle()
    assert p.admit_all(100.0, 1)


# ---------------------------------------------------------------------------- read pauses


def test_reading_stops_while_throttled_in_a_login_or_stopped() -> None:
    p = policy()
    assert p.reading(closing=False) and not p.held()
    for _ in range(3):
        p.admit(0.0)
    p.admit(0.0)
    assert not p.reading(closing=False) and p.held()
    p.unthrottle()
    assert p.reading(closing=False)
    p.wait_login()
    assert not p.reading(closing=False) and p.held() and p.waiting_login
    p.login_done()
    assert p.reading(closing=False) and not p.held()
    p.stop()
    assert not p.reading(closing=False) and p.stopped


def test_a_closing_connection_is_read_to_see_its_end_whatever_holds_it() -> None:
    p = policy()
    p.wait_login()
    p.stop()
    assert p.reading(closing=True)


@given(st.lists(st.tuples(st.floats(0, 2), st.sampled_from(["admit", "all", "login", "done"])),
                max_size=80))
def test_never_more_through_than_burst_plus_rate_times_time_and_reading_says_why(
        steps: list[tuple[float, str]]) -> None:
    p = policy()
    now, through = 0.0, 0
    for delta, action in steps:
        now += delta
        if p.throttled:  # a transport asks again only once its pause is over
            p.unthrottle()
        if action == "admit":
            through += p.admit(now) is None
        elif action == "all":
            through += 2 if p.admit_all(now, 2) else 0
        elif action == "login":
            p.wait_login()
        else:
            p.login_done()
        assert through <= LIMITS.rate_burst + LIMITS.rate_per_second * now + 1e-6
        assert p.reading(closing=False) == (not p.throttled and not p.waiting_login)
