"""The pure halves of the limits: token bucket, frame gate, admission, login throttle, send
queue.

Every clock here is a number the test passes in.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.server.admission import Admission, AdmissionRules, address_key
from palaver.server.limits import Limits, SendQueueRule
from palaver.server.login_throttle import LoginThrottle, ThrottleRules
from palaver.server.ratelimit import BucketRule, TokenBucket, retry_after_ms

# ---------------------------------------------------------------------------- token bucket


def test_bucket_gives_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(BucketRule(rate=2.0, burst=3))
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token takes 1/rate seconds
    assert bucket.take(0.25) == pytest.approx(0.25)  # half a token there already
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == pytest.approx(0.5)


def test_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(BucketRule(rate=10.0, burst=2))
    assert bucket.available(1_000.0) == 2
    assert bucket.take(1_000.0, 3) > 0  # three at once: never, however long one waits
    assert bucket.take(1_000.0, 2) == 0.0


def test_a_refused_take_takes_nothing() -> None:
    bucket = TokenBucket(BucketRule(rate=1.0, burst=5))
    assert bucket.take(0.0, 4) == 0.0
    assert bucket.take(0.0, 2) > 0
    assert bucket.take(0.0, 1) == 0.0


def test_a_bucket_keeps_no_number_of_its_own_until_a_take() -> None:
    rule = BucketRule(rate=1.0, burst=2)
    a, b = TokenBucket(rule), TokenBucket(rule)
    assert a._full_at is b._full_at  # full: one float shared by every new bucket
    assert a.full(0.0) and a.available(0.0) == 2
    assert a.take(5.0) == 0.0 and not a.full(5.0) and a.available(5.0) == 1
    assert a.full(6.0) and b.full(5.0)


def test_time_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket(BucketRule(rate=1.0, burst=1))
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) > 0


@given(st.lists(st.tuples(st.floats(0, 5), st.integers(1, 4)), max_size=60),
       st.floats(0.5, 20), st.integers(1, 20))
def test_bucket_never_lets_more_through_than_burst_plus_rate_times_time(
        steps: list[tuple[float, int]], rate: float, burst: int) -> None:
    bucket = TokenBucket(BucketRule(rate=rate, burst=burst))
    now = 0.0
    taken = 0
    for delta, count in steps:
        now += delta
        wait = bucket.take(now, count)
        if wait == 0.0:
            taken += count
        else:
            assert wait > 0
        assert taken <= burst + rate * now + 1e-6


def test_retry_after_is_whole_milliseconds_rounded_up_never_zero() -> None:
    assert retry_after_ms(0.25) == 250
    assert retry_after_ms(0.2501) == 251
    assert retry_after_ms(0.0) == 1


# ---------------------------------------------------------------------------- frame gate


def test_json_doors_report_the_first_episode_of_each_storm() -> None:
    gate = Limits(rate_per_second=2.0, rate_burst=2).gate()
    assert gate.take(0.0, 2) == 0.0
    wait = gate.take(0.0)
    assert gate.episode(0.0, wait) == 500
    assert gate.episode(0.5, 0.5) is None  # the same storm: the pause says enough
    assert gate.episode(2.1, 0.5) == 500  # calm for burst / rate seconds: a new storm


def test_irc_is_delayed_silently_then_told_after_episodes_in_a_row() -> None:
    gate = Limits(rate_per_second=2.0, rate_burst=2).gate(notice_after=3)
    assert gate.episode(0.0, 0.5) is None
    assert gate.episode(0.5, 0.5) is None
    assert gate.episode(1.0, 0.5) == 500
    assert gate.episode(1.5, 0.5) is None
    # Calm for long enough to fill the bucket (burst / rate = 1 s after the last pause ended):
    # the count starts again.
    assert gate.episode(3.1, 0.5) is None


def test_the_gates_of_a_door_share_one_rule_and_keep_only_their_state() -> None:
    limits = Limits(rate_per_second=2.0, rate_burst=2)
    a, b, irc = limits.gate(), limits.gate(), limits.gate(notice_after=3)
    assert a._rule is b._rule is limits.gate_rule() and irc._rule is limits.gate_rule(3)
    assert a.take(0.0, 2) == 0.0 and b.take(1.0, 2) == 0.0  # one's tokens are not the other's
    with pytest.raises(ValueError, match="rate > 0"):
        BucketRule(rate=0.0, burst=2)


# ---------------------------------------------------------------------------- admission


def test_at_most_max_open_at_once_per_address() -> None:
    admission = Admission(AdmissionRules(max_open=2, max_new=100, exempt_loopback=False))
    assert admission.admit("10.0.0.1", 0.0) is None
    assert admission.admit("10.0.0.1", 0.0) is None
    refusal = admission.admit("10.0.0.1", 0.0)
    assert refusal is not None and "at most 2 at once" in refusal
    assert admission.admit("10.0.0.2", 0.0) is None  # another address is not affected
    admission.release("10.0.0.1")
    assert admission.admit("10.0.0.1", 0.0) is None


def test_at_most_max_new_per_window_per_address() -> None:
    admission = Admission(AdmissionRules(max_open=100, max_new=3, window=600.0))
    for t in (0.0, 1.0, 2.0):
        assert admission.admit("10.0.0.1", t) is None
        admission.release("10.0.0.1")
    refusal = admission.admit("10.0.0.1", 3.0)
    assert refusal is not None and "per 600 s" in refusal and "try again in 598 s" in refusal
    assert admission.admit("10.0.0.1", 599.9) is not None
    assert admission.admit("10.0.0.1", 600.0) is None  # the first has left the window


def test_loopback_is_exempt_unless_told_otherwise() -> None:
    exempt = Admission(AdmissionRules(max_open=1, max_new=1))
    for _ in range(5):
        assert exempt.admit("127.0.0.1", 0.0) is None
        assert exempt.admit("::1", 0.0) is None
    strict = Admission(AdmissionRules(max_open=1, max_new=10, exempt_loopback=False))
    assert strict.admit("127.0.0.1", 0.0) is None
    assert strict.admit("127.0.0.1", 0.0) is not None


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2::5") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::5") != address_key("2001:db8:1:3::5")
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("not an address") is None
    admission = Admission(AdmissionRules(max_open=1, exempt_loopback=False))
    assert admission.admit("2001:db8::1", 0.0) is None
    assert admission.admit("2001:db8::2", 0.0) is not None


def test_admission_forgets_quiet_addresses() -> None:
    admission = Admission(AdmissionRules(max_open=5, max_new=5, window=10.0))
    for n in range(1_000):
        host = f"10.0.{n // 256}.{n % 256}"
        assert admission.admit(host, 0.0) is None
        admission.release(host)
    assert admission.tracked == 1_000
    assert admission.admit("10.9.9.9", 20.0) is None
    assert admission.tracked == 1  # swept: only the one still in its window


# ---------------------------------------------------------------------------- login throttle


def test_three_wrong_passwords_per_account_and_address_then_throttled() -> None:
    throttle = LoginThrottle(ThrottleRules(per_address=3, window=60.0))
    for t in (0.0, 1.0, 2.0):
        assert throttle.wait("bob", "10.0.0.9", t) == 0.0
        throttle.failed("bob", "10.0.0.9", t)
    assert throttle.wait("bob", "10.0.0.9", 3.0) == pytest.approx(57.0)
    assert throttle.wait("bob", "10.0.0.9", 60.0) == 0.0  # the first left the window
    # The owner, elsewhere, is not affected; nor is another account from the guesser's address.
    assert throttle.wait("bob", "10.0.0.1", 3.0) == 0.0
    assert throttle.wait("alice", "10.0.0.9", 3.0) == 0.0


def test_many_addresses_hit_the_account_ceiling_but_not_the_owners_known_address() -> None:
    throttle = LoginThrottle(ThrottleRules(per_address=3, per_account=5, window=60.0))
    throttle.succeeded("bob", "10.0.0.1")  # the owner logged in from here before
    for n in range(5):
        throttle.failed("bob", f"10.1.0.{n}", 1.0)
    assert throttle.wait("bob", "10.1.0.99", 2.0) == pytest.approx(59.0)
    assert throttle.wait("bob", "10.0.0.1", 2.0) == 0.0


def test_a_right_password_clears_the_address_record() -> None:
    throttle = LoginThrottle(ThrottleRules(per_address=2, window=60.0))
    throttle.failed("bob", "10.0.0.1", 0.0)
    throttle.succeeded("bob", "10.0.0.1")
    throttle.failed("bob", "10.0.0.1", 1.0)
    assert throttle.wait("bob", "10.0.0.1", 1.0) == 0.0


def test_an_attempt_counts_when_its_check_starts() -> None:
    # Three checks under way at once from one address: the fourth is refused before it starts.
    throttle = LoginThrottle(ThrottleRules(per_address=3, per_account=30, window=60.0))
    assert [throttle.begin("bob", "10.0.0.9", 0.0) for _ in range(3)] == [0.0] * 3
    assert throttle.begin("bob", "10.0.0.9", 0.0) == pytest.approx(60.0)
    assert throttle.wait("bob", "10.0.0.9", 0.5) == pytest.approx(59.5)


def test_a_right_password_uncounts_its_attempt_and_a_check_that_could_not_run_too() -> None:
    throttle = LoginThrottle(ThrottleRules(per_address=3, per_account=2, window=60.0))
    throttle.begin("bob", "10.0.0.1", 1.0)
    throttle.begin("bob", "10.0.0.2", 2.0)
    assert throttle.wait("bob", "10.0.0.3", 2.0) > 0  # the account's ceiling: 2 under way
    throttle.succeeded("bob", "10.0.0.1", started=1.0)  # the owner: not a guess
    assert throttle.wait("bob", "10.0.0.3", 2.0) == 0.0
    throttle.withdraw("bob", "10.0.0.2", started=2.0)  # e.g. the store was down
    throttle.begin("bob", "10.0.0.4", 3.0)
    throttle.begin("bob", "10.0.0.5", 3.0)
    assert throttle.wait("bob", "10.0.0.3", 3.0) > 0
    assert throttle.wait("bob", "10.0.0.1", 3.0) == 0.0  # the owner's known address
    throttle.withdraw("bob", "10.0.0.9", started=5.0)  # nothing counted: nothing happens
    assert throttle.tracked == 3


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(ThrottleRules(max_tracked=100))
    for n in range(1_000):
        throttle.failed(f"user{n}", f"10.0.{n // 256}.{n % 256}", 0.0)
    assert throttle.tracked <= 200


# ---------------------------------------------------------------------------- send queue

RULE = SendQueueRule(limit=1_000, grace=5.0, ceiling=50_000)


def watch(rule: SendQueueRule, looks: list[tuple[float, int]]) -> list[str | None]:
    """Feed a connection's write-buffer sizes at given times; the verdict after each look."""
    since: float | None = None
    verdicts = []
    for now, buffered in looks:
        since = rule.behind_since(buffered, since, now)
        verdicts.append(rule.cut(buffered, since, now))
    return verdicts


def test_a_burst_that_is_read_is_never_cut() -> None:
    # 40 KB at once (40 times the limit), read within the grace: kept.
    assert watch(RULE, [(0.0, 40_000), (1.0, 20_000), (4.9, 900), (5.0, 200), (9.0, 0)]) == \
        [None] * 5


def test_a_client_that_does_not_drain_is_cut_after_the_grace() -> None:
    verdicts = watch(RULE, [(0.0, 1_001), (2.0, 1_500), (4.99, 1_500), (5.0, 1_500)])
    assert verdicts[:3] == [None] * 3
    assert verdicts[3] is not None and verdicts[3].startswith("not reading")


def test_behind_ends_only_at_the_low_water_mark() -> None:
    assert RULE.low == 250
    # Below the limit but above a quarter of it: still behind, the clock keeps running.
    assert watch(RULE, [(0.0, 2_000), (3.0, 600), (5.0, 600)])[2] is not None
    # Drained to a quarter: caught up; behind again later starts a new grace period.
    assert watch(RULE, [(0.0, 2_000), (3.0, 250), (4.0, 2_000), (8.9, 2_000), (9.0, 2_000)]) \
        == [None, None, None, None, RULE.cut(2_000, 4.0, 9.0)]
    assert RULE.behind_since(600, None, 1.0) is None  # never behind: not now either


def test_the_ceiling_cuts_at_once() -> None:
    assert watch(RULE, [(0.0, 50_000)]) == [None]
    verdict = watch(RULE, [(0.0, 50_001)])[0]
    assert verdict is not None and "over 50,000" in verdict


def test_the_send_queue_rule_comes_from_the_settings() -> None:
    from palaver.server.config import Settings

    rule = Limits.from_settings(Settings(send_queue_limit=8_192, send_queue_grace=2.5,
                                         send_queue_ceiling=1_048_576,
                                         socket_send_buffer=65_536)).send_queue
    assert rule == SendQueueRule(limit=8_192, grace=2.5, ceiling=1_048_576,
                                 socket_buffer=65_536)
    with pytest.raises(ValueError, match="send_queue_ceiling"):
        Settings(send_queue_limit=1_048_576, send_queue_ceiling=65_536)
