"""The hub's step-2 rules, in memory: persist-then-deliver, idempotent resends, history, resume,
accounts, several sessions per user, guest tokens. No I/O: the harness treats every Persist as
committed at once, and the core's part (checking passwords, creating accounts) is played by hand.

Deterministic guest identities: with ``counting_tokens()`` the first guest gets token ``T1`` and
key ``G1 = guest_key(T1)``, the second ``t2`` and ``G2``, and so on.
"""

from __future__ import annotations

import pytest

from palaver.hub.effects import (
    CreateAccount,
    Deliver,
    Effect,
    FetchHistory,
    Persist,
    Remember,
    Replay,
    ReplayRange,
)
from palaver.hub.hub import StoredState, as_message, format_ts, guest_key
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Error,
    Hello,
    History,
    Join,
    Joined,
    Leave,
    Message,
    Presence,
    Quit,
    Register,
    Registered,
    Say,
    SendDirect,
    ServerMessage,
    SetNick,
    UserUpdated,
    Welcome,
)
from palaver.store.base import StoredMessage, dm_conversation
from tests.unit.hub_harness import Harness, counting_tokens, token

PASSWORD = "correct horse"

T1 = token(1)
G1, G2, G3 = (guest_key(token(n)) for n in (1, 2, 3))


def harness(stored: StoredState | None = None) -> Harness:
    return Harness(stored=stored, new_token=counting_tokens())


@pytest.fixture
def h() -> Harness:
    return harness()


def accounts(*nicks: str) -> dict[str, str]:
    return {nick.lower(): nick for nick in nicks}


def only_error(events: list[ServerMessage]) -> Error:
    [event] = events
    assert isinstance(event, Error), event
    return event


def persist_of(effects: list[Effect]) -> Persist:
    [effect] = effects
    assert isinstance(effect, Persist), effect
    return effect


def welcome_of(events: list[ServerMessage]) -> Welcome:
    assert events, "no events"
    assert isinstance(events[0], Welcome), events[0]
    return events[0]


def messages(events: list[ServerMessage]) -> list[Message]:
    return [e for e in events if isinstance(e, Message)]


def login(h: Harness, nick: str, **fields: object) -> int:
    """Log in to the account ``nick`` (password accepted) and forget the arrival's events."""
    sid, _ = h.login_account(Hello(version=1, nick=nick, password=PASSWORD, **fields))  # type: ignore[arg-type]
    h.clear()
    return sid


# --------------------------------------------------------------------------- Persist


def test_chat_is_persisted_before_anything_is_delivered(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    effects = h.hub.handle(alice, Say(id="m1", room="#lobby", text="hi"), h.clock.now)
    persist = persist_of(effects)  # nothing but the Persist: deliveries wait for the commit
    assert persist.message == StoredMessage(
        conversation="#lobby", msg_id=1, ts=format_ts(h.clock.now), sender="alice",
        sender_key=G1, text="hi", room="#lobby", client_id="m1",
    )
    assert (persist.session, persist.request_id) == (alice, "m1")
    ack, others = persist.then
    original = Message(msg_id=1, ts=format_ts(h.clock.now), sender="alice", text="hi",
                       room="#lobby")
    assert ack == Deliver(Message(id="m1", msg_id=1, ts=original.ts, sender="alice", text="hi",
                                  room="#lobby"), (alice,))
    assert others.event == original and others.skip == alice
    assert set(others.to) == {alice, bob}


def test_chat_ack_to_the_sender_with_id_and_copies_without(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    h.send(alice, Say(id="m1", room="#lobby", text="hi"))
    [ack] = h.take(alice)
    [copy] = h.take(bob)
    assert isinstance(ack, Message) and isinstance(copy, Message)
    assert ack.id == "m1" and copy.id is None
    assert (ack.msg_id, ack.ts, ack.text) == (copy.msg_id, copy.ts, copy.text)
    assert [m.client_id for m in h.stored] == ["m1"]


def test_chat_without_id_is_one_delivery_to_everyone(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    persist = persist_of(h.hub.handle(alice, Say(room="#lobby", text="hi"), h.clock.now))
    assert persist.request_id is None and persist.message.client_id is None
    [everyone] = persist.then
    assert everyone.skip is None and set(everyone.to) == {alice, bob}
    assert everyone.event == Message(msg_id=1, ts=format_ts(h.clock.now), sender="alice",
                                     text="hi", room="#lobby")


def test_dm_is_persisted_in_the_conversation_of_both_identities(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    persist = persist_of(h.hub.handle(alice, SendDirect(id="d1", to="BOB", text="psst"),
                                      h.clock.now))
    assert persist.message == StoredMessage(
        conversation=dm_conversation(G1, G2), msg_id=1, ts=format_ts(h.clock.now),
        sender="alice", sender_key=G1, text="psst", to="bob", client_id="d1",
    )
    h.apply([persist])
    [ack] = h.take(alice)
    [copy] = h.take(bob)
    assert ack == Message(id="d1", msg_id=1, ts=format_ts(h.clock.now), sender="alice",
                          text="psst", to="bob")
    assert copy == Message(msg_id=1, ts=ack.ts, sender="alice", text="psst", to="bob")


def test_rejected_messages_are_not_persisted(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    for message in (Say(id="x", room="#dev", text="hi"), Say(id="y", room="#lobby", text=""),
                    SendDirect(id="z", to="nobody", text="hi")):
        effects = h.send(alice, message)
        assert not any(isinstance(e, Persist) for e in effects)
    assert h.stored == []


# --------------------------------------------------------------------------- idempotent resends


def test_a_resend_gets_the_original_back_and_nothing_else(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, Say(id="m1", room="#lobby", text="hi"))
    h.clear()
    first_ts = format_ts(h.clock.now)
    h.clock.advance(30)
    effects = h.send(alice, Say(id="m1", room="#lobby", text="hi"))
    assert effects == [Deliver(Message(id="m1", msg_id=1, ts=first_ts, sender="alice",
                                       text="hi", room="#lobby"), (alice,))]
    assert h.take(bob) == []
    assert len(h.stored) == 1


def test_a_resend_is_recognised_by_sender_and_id_alone(h: Harness) -> None:
    """The id names the message for its sender: reused with another text, or in a DM, it is
    still a resend of the first message (the store keeps the ids forever)."""
    alice = h.login("alice")
    h.login("bob")
    h.send(alice, Say(id="m1", room="#lobby", text="hi"))
    h.clear()
    for again in (Say(id="m1", room="#lobby", text="changed"),
                  SendDirect(id="m1", to="bob", text="psst")):
        [event] = [e for e in h.send(alice, again) if isinstance(e, Deliver)]
        assert event.event == Message(id="m1", msg_id=1, ts=format_ts(h.clock.now),
                                      sender="alice", text="hi", room="#lobby")
    assert len(h.stored) == 1


def test_dm_resend_gets_the_original(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, SendDirect(id="d1", to="bob", text="psst"))
    h.clear()
    effects = h.send(alice, SendDirect(id="d1", to="bob", text="psst"))
    assert not any(isinstance(e, Persist) for e in effects)
    [ack] = h.take(alice)
    assert isinstance(ack, Message) and (ack.id, ack.msg_id, ack.to) == ("d1", 1, "bob")
    assert h.take(bob) == []


def test_the_same_id_from_two_senders_is_two_messages(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, Say(id="1", room="#lobby", text="from alice"))
    h.send(bob, Say(id="1", room="#lobby", text="from bob"))
    assert [(m.msg_id, m.text) for m in h.stored] == [(1, "from alice"), (2, "from bob")]


def test_a_failed_persist_forgets_the_id_so_a_resend_is_stored_anew(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    failed = persist_of(h.hub.handle(alice, Say(id="m1", room="#lobby", text="hi"), h.clock.now))
    h.hub.persisted(failed.message, stored=False)
    again = persist_of(h.send(alice, Say(id="m1", room="#lobby", text="hi")))
    assert again.message.client_id == "m1"
    assert again.message.msg_id == 2  # ids only grow: the failed one is never reused
    [ack] = h.take(alice)
    assert isinstance(ack, Message) and (ack.id, ack.msg_id) == ("m1", 2)


def test_a_door_s_own_correlation_tags_are_never_idempotency_keys(h: Harness) -> None:
    """The text and IRC doors number their requests themselves, from 1 on every connection: the
    same tag on a later connection is a new message, answered with its own id, never stored."""
    alice = h.login("alice")
    h.login("bob")
    h.clear()
    first = persist_of(h.send(alice, Say(id="t1", room="#lobby", text="first"), resends=False))
    second = persist_of(h.send(alice, Say(id="t1", room="#lobby", text="second!"),
                               resends=False))
    direct = persist_of(h.send(alice, SendDirect(id="t1", to="bob", text="psst"),
                               resends=False))
    assert [m.text for m in h.stored] == ["first", "second!", "psst"]
    assert (first.message.client_id, second.message.client_id, direct.message.client_id) == (
        None, None, None)
    acks = [e for e in h.take(alice) if isinstance(e, Message) and e.id == "t1"]
    assert [(a.msg_id, a.text) for a in acks] == [(1, "first"), (2, "second!"), (1, "psst")]
    # ... and a client that does resend is not confused by them either.
    persist_of(h.send(alice, Say(id="t1", room="#lobby", text="third")))


def test_messages_without_id_are_never_resends(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Say(room="#lobby", text="hi"))
    h.send(alice, Say(room="#lobby", text="hi"))
    assert [m.msg_id for m in h.stored] == [1, 2]


# --------------------------------------------------------------------------- msg_id across restarts


def test_msg_ids_continue_from_the_stored_last_ids() -> None:
    conversation = dm_conversation("alice", "bob")
    h = harness(StoredState(last_ids={"#lobby": 41, conversation: 7},
                            accounts=accounts("alice", "bob")))
    alice, bob = login(h, "alice"), login(h, "bob")
    h.send(alice, Say(room="#lobby", text="next"))
    h.send(bob, SendDirect(to="alice", text="next dm"))
    h.send(alice, Join(room="#new"))
    h.send(alice, Say(room="#new", text="first"))
    h.send(bob, Say(room="#lobby", text="after"))
    assert [(m.conversation, m.msg_id) for m in h.stored] == [
        ("#lobby", 42), (conversation, 8), ("#new", 1), ("#lobby", 43),
    ]


def test_dm_ids_count_per_conversation(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    carol = h.login("carol")
    h.send(alice, SendDirect(to="bob", text="1"))
    h.send(bob, SendDirect(to="alice", text="2"))
    h.send(carol, SendDirect(to="alice", text="3"))
    h.send(alice, SendDirect(to="alice", text="to myself"))
    assert [(m.conversation, m.msg_id) for m in h.stored] == [
        (dm_conversation(G1, G2), 1), (dm_conversation(G1, G2), 2),
        (dm_conversation(G1, G3), 1), (dm_conversation(G1, G1), 1),
    ]


# --------------------------------------------------------------------------- HISTORY


def test_history_of_a_room_the_user_is_in(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    effects = h.send(alice, History(id="h1", room="#LOBBY", before=120, limit=20))
    assert effects == [FetchHistory(alice, "h1", "#lobby", 120, None, 20, room="#lobby")]
    effects = h.send(alice, History(room="#lobby", after=7))
    assert effects == [FetchHistory(alice, None, "#lobby", None, 7, 50, room="#lobby")]
    assert h.take(alice) == []  # the core answers from the store


def test_history_of_a_room_shows_its_spelling() -> None:
    h = harness()
    alice = h.login("alice")
    h.send(alice, Join(room="#Dev"))
    [effect] = h.send(alice, History(room="#dev"))
    assert isinstance(effect, FetchHistory)
    assert (effect.conversation, effect.room, effect.peer) == ("#dev", "#Dev", None)


def test_history_of_a_room_one_is_not_in_looks_like_no_room(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(bob, Join(room="#dev"))
    h.clear()
    h.send(alice, History(id="a", room="#dev"))
    not_member = only_error(h.take(alice))
    h.send(alice, History(id="b", room="#nope"))
    missing = only_error(h.take(alice))
    assert (not_member.code, not_member.id) == (ErrorCode.NO_SUCH_ROOM, "a")
    assert (missing.code, missing.id) == (ErrorCode.NO_SUCH_ROOM, "b")
    assert not_member.message.replace("#dev", "#nope") == missing.message


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (History(room="#lobby", peer="bob"), "room"),
        (History(), "room"),
        (History(room="#lobby", before=5, after=2), "after"),
        (History(peer="bob", before=5, after=2), "after"),
    ],
)
def test_history_requests_that_make_no_sense(h: Harness, request_: History, field: str) -> None:
    alice = h.login("alice")
    h.login("bob")
    h.clear()
    effects = h.send(alice, request_)
    error = only_error(h.take(alice))
    assert (error.code, error.field) == (ErrorCode.INVALID_FIELD, field)
    assert not any(isinstance(e, FetchHistory) for e in effects)


def test_history_with_a_malformed_room_name(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    h.send(alice, History(room="lobby"))
    assert only_error(h.take(alice)).code == ErrorCode.INVALID_ROOM


def test_dm_history_with_someone_online(h: Harness) -> None:
    alice = h.login("alice")
    h.login("Bob")
    h.clear()
    effects = h.send(alice, History(id="h", peer="BOB", before=3))
    assert effects == [FetchHistory(alice, "h", dm_conversation(G1, G2), 3, None, 50,
                                    peer="Bob")]


def test_dm_history_with_an_offline_account() -> None:
    h = harness(StoredState(accounts=accounts("Carol")))
    alice = h.login("alice")
    [effect] = h.send(alice, History(peer="carol", limit=200))
    assert effect == FetchHistory(alice, None, dm_conversation(G1, "carol"), None, None, 200,
                                  peer="Carol")


def test_dm_history_with_nobody_known(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.drop(bob)  # a departed guest is nobody now
    h.clear()
    for peer in ("zed", "bob"):
        h.send(alice, History(id="h", peer=peer))
        error = only_error(h.take(alice))
        assert (error.code, error.id) == (ErrorCode.NO_SUCH_USER, "h")


# --------------------------------------------------------------------------- resume


def test_resume_replays_the_rooms_named_in_since_that_the_user_is_in() -> None:
    h = harness(StoredState(last_ids={"#lobby": 5, "#dev": 4, "#other": 9, "#same": 2}))
    sid = h.open()
    effects = h.send(sid, Hello(version=1, nick="alice", rooms=("#Dev", "#same"),
                                since={"#LOBBY": 3, "#dev": 1, "#other": 0, "#same": 2,
                                       "#nope": 1}))
    assert isinstance(effects[-1], Replay)
    assert effects[-1] == Replay(sid, (ReplayRange("#lobby", 3, 5, room="#lobby"),
                                       ReplayRange("#dev", 1, 4, room="#Dev")))
    assert not any(isinstance(e, Replay) for e in effects[:-1])  # after WELCOME and JOINEDs
    events = h.take(sid)
    assert welcome_of(events).rooms == ("#lobby", "#Dev", "#same")
    assert [e.room for e in events if isinstance(e, Joined)] == ["#lobby", "#Dev", "#same"]


def test_no_replay_when_nothing_was_missed() -> None:
    h = harness(StoredState(last_ids={"#lobby": 5}))
    for since in (None, {"#lobby": 5}, {"#lobby": 9}, {"#dev": 0}):
        sid = h.open()
        effects = h.send(sid, Hello(version=1, nick=f"u{sid}", since=since))
        assert not any(isinstance(e, Replay) for e in effects), since


def test_resume_of_a_dm_conversation_named_with_at_nick(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    for n in range(3):
        h.send(bob, SendDirect(to="alice", text=f"dm{n}"))
    h.send(bob, Say(room="#lobby", text="room"))
    h.drop(alice)
    sid = h.open()
    effects = h.send(sid, Hello(version=1, nick="alice", token=T1,
                                since={"@BOB": 1, "#lobby": 0}))
    assert effects[-1] == Replay(sid, (
        ReplayRange("#lobby", 0, 1, room="#lobby"),
        ReplayRange(dm_conversation(G1, G2), 1, 3, peer="bob"),
    ))


def test_account_login_replays_direct_messages_after_its_marks() -> None:
    bob_conv, carol_conv = dm_conversation("alice", "bob"), dm_conversation("alice", "carol")
    h = harness(StoredState(last_ids={"#lobby": 10, bob_conv: 7, carol_conv: 2},
                            accounts=accounts("alice", "bob", "carol")))
    sid, effects = h.login_account(Hello(version=1, nick="alice", password=PASSWORD),
                                   marks={bob_conv: 5})
    assert effects[-1] == Replay(sid, (ReplayRange(bob_conv, 5, 7, peer="bob"),
                                       ReplayRange(carol_conv, 0, 2, peer="carol")))


def test_since_overrides_the_marks_for_a_conversation() -> None:
    conversation = dm_conversation("alice", "bob")
    h = harness(StoredState(last_ids={conversation: 7}, accounts=accounts("alice", "bob")))
    sid, effects = h.login_account(
        Hello(version=1, nick="alice", password=PASSWORD, since={"@bob": 6}),
        marks={conversation: 2})
    assert effects[-1] == Replay(sid, (ReplayRange(conversation, 6, 7, peer="bob"),))


def test_account_login_with_everything_read_replays_nothing() -> None:
    conversation = dm_conversation("alice", "bob")
    h = harness(StoredState(last_ids={conversation: 7, "#lobby": 3},
                            accounts=accounts("alice", "bob")))
    _, effects = h.login_account(Hello(version=1, nick="alice", password=PASSWORD),
                                 marks={conversation: 7})
    assert not any(isinstance(e, Replay) for e in effects)


def test_offline_dms_to_an_account_are_stored_and_replayed_at_login() -> None:
    h = harness(StoredState(accounts=accounts("alice")))
    alice = login(h, "alice")
    h.drop(alice)
    bob = h.login("bob")
    persist = persist_of(h.hub.handle(bob, SendDirect(id="d", to="ALICE", text="while away"),
                                      h.clock.now))
    assert persist.message.to == "alice"
    assert [d.to for d in persist.then] == [(bob,)]  # only the ack: nobody else is online
    h.apply([persist])
    sid, effects = h.login_account(Hello(version=1, nick="alice", password=PASSWORD),
                                   marks={})
    assert effects[-1] == Replay(sid, (ReplayRange(dm_conversation("alice", G1), 0, 1,
                                                   peer="bob"),))


# --------------------------------------------------------------------------- accounts


def test_register_creates_the_account_then_says_registered(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, Join(room="#dev"))
    h.clear()
    effects = h.send(alice, Register(id="r", nick="ALICE", password=PASSWORD))
    assert effects == [CreateAccount(alice, "r", "alice", "alice", PASSWORD)]
    assert h.take(alice) == []
    effects = h.hub.account_created(alice, "alice", created=True, request_id="r")
    h.apply(effects)
    assert [e for e in effects if isinstance(e, Remember)] == [
        Remember(account="alice", room="#dev", member=True)]
    assert h.take(alice) == [Registered(id="r", nick="alice")]
    assert h.take(bob) == [UserUpdated(nick="alice", change="account", account="alice")]
    h.send(alice, Say(room="#lobby", text="as an account"))
    assert h.stored[-1].sender_key == "alice"


def test_registered_nick_is_refused_to_guests() -> None:
    h = harness(StoredState(accounts=accounts("Alice")))
    for nick in ("alice", "ALICE"):
        sid = h.open()
        h.send(sid, Hello(id="h", version=1, nick=nick))
        error = only_error(h.take(sid))
        assert (error.code, error.id) == (ErrorCode.NICK_REGISTERED, "h")
        assert not h.hub.is_registered(sid)


def test_a_nick_being_registered_is_refused_to_guests_too(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Register(nick="alice", password=PASSWORD))
    h.drop(alice)
    sid = h.open()
    h.send(sid, Hello(version=1, nick="alice"))
    assert only_error(h.take(sid)).code == ErrorCode.NICK_REGISTERED


@pytest.mark.parametrize(
    ("register", "code"),
    [
        (Register(id="r", nick="bob", password=PASSWORD), ErrorCode.INVALID_NICK),
        (Register(id="r", nick="9lives", password=PASSWORD), ErrorCode.INVALID_NICK),
        (Register(id="r", nick="alice", password="x" * 7), ErrorCode.INVALID_PASSWORD),
        (Register(id="r", nick="alice", password="x" * 1_025), ErrorCode.INVALID_PASSWORD),
    ],
)
def test_register_errors(h: Harness, register: Register, code: ErrorCode) -> None:
    alice = h.login("alice")
    h.login("bob")
    h.clear()
    effects = h.send(alice, register)
    error = only_error(h.take(alice))
    assert (error.code, error.id) == (code, "r")
    assert not any(isinstance(e, CreateAccount) for e in effects)


@pytest.mark.parametrize("length", [8, 1_024])
def test_register_password_length_limits(h: Harness, length: int) -> None:
    alice = h.login("alice")
    [effect] = h.send(alice, Register(nick="alice", password="p" * length))
    assert isinstance(effect, CreateAccount)


def test_registering_twice(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    h.send(alice, Register(nick="alice", password=PASSWORD))
    h.send(alice, Register(id="again", nick="alice", password=PASSWORD))  # still pending
    assert only_error(h.take(alice)).code == ErrorCode.ACCOUNT_EXISTS
    h.apply(h.hub.account_created(alice, "alice", created=True, request_id=None))
    h.clear()
    h.send(alice, Register(id="third", nick="alice", password=PASSWORD))
    error = only_error(h.take(alice))
    assert (error.code, error.id) == (ErrorCode.ACCOUNT_EXISTS, "third")


def test_the_store_refusing_an_account_is_account_exists(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Register(nick="alice", password=PASSWORD))
    h.clear()
    h.apply(h.hub.account_created(alice, "alice", created=False, request_id="r"))
    error = only_error(h.take(alice))
    assert (error.code, error.id) == (ErrorCode.ACCOUNT_EXISTS, "r")
    h.send(alice, Register(nick="alice", password=PASSWORD))  # not pending any more
    assert h.take(alice) == []


def test_login_verified_welcomes_the_account_to_its_rooms() -> None:
    h = harness(StoredState(accounts=accounts("Alice"), memberships={"alice": ["#dev"]}))
    bob = h.login("bob")
    h.clear()
    sid, _ = h.login_account(Hello(id="h", version=1, nick="alice", password=PASSWORD))
    events = h.take(sid)
    welcome = welcome_of(events)
    assert (welcome.id, welcome.nick, welcome.account, welcome.token) == ("h", "Alice", True,
                                                                          None)
    assert welcome.rooms == ("#lobby", "#dev")
    assert [e.room for e in events if isinstance(e, Joined)] == ["#lobby", "#dev"]
    assert h.take(bob) == [Presence(nick="Alice", event="join", room="#lobby",
                                    account="Alice")]


@pytest.mark.parametrize("stored_accounts", [accounts("alice"), {}])
def test_login_refused(stored_accounts: dict[str, str]) -> None:
    h = harness(StoredState(accounts=stored_accounts))
    verified = not stored_accounts  # an account that does not exist fails even if "verified"
    sid, _ = h.login_account(Hello(id="h", version=1, nick="alice", password="wrong"),
                             verified=verified)
    error = only_error(h.take(sid))
    assert (error.code, error.id) == (ErrorCode.AUTH_FAILED, "h")
    assert not h.hub.is_registered(sid)


def test_a_password_hello_handled_without_a_check_is_refused(h: Harness) -> None:
    sid = h.open()
    assert h.hub.needs_login(sid, Hello(version=1, nick="alice", password=PASSWORD))
    assert not h.hub.needs_login(sid, Hello(version=1, nick="alice"))
    assert not h.hub.needs_login(sid, Hello(version=2, nick="alice", password=PASSWORD))
    registered = h.login("bob")
    assert not h.hub.needs_login(registered, Hello(version=1, nick="alice", password=PASSWORD))
    sid = h.open()
    h.send(sid, Hello(version=1, nick="alice", password=PASSWORD))
    assert only_error(h.take(sid)).code == ErrorCode.AUTH_FAILED


def test_login_checks_the_hello_first() -> None:
    h = harness(StoredState(accounts=accounts("alice")))
    sid, _ = h.login_account(Hello(version=2, nick="alice", password=PASSWORD))
    assert only_error(h.take(sid)).code == ErrorCode.UNSUPPORTED_VERSION


# --------------------------------------------------------------------------- several sessions


@pytest.fixture
def two_sessions() -> tuple[Harness, int, int, int]:
    """Account alice on two sessions (in #lobby and #dev) and guest bob in #lobby."""
    h = harness(StoredState(accounts=accounts("alice"), memberships={"alice": ["#dev"]}))
    first = login(h, "alice")
    bob = h.login("bob")
    h.clear()
    second, _ = h.login_account(Hello(id="h2", version=1, nick="ALICE", password=PASSWORD))
    return h, first, second, bob


def test_a_second_session_is_told_the_state_and_nobody_else_anything(
    two_sessions: tuple[Harness, int, int, int],
) -> None:
    h, first, second, bob = two_sessions
    events = h.take(second)
    welcome = welcome_of(events)
    assert (welcome.id, welcome.nick, welcome.account) == ("h2", "alice", True)
    assert welcome.rooms == ("#lobby", "#dev")
    at = format_ts(h.clock.now)  # when the rooms were made
    assert events[1:] == [Joined(room="#lobby", members=("alice", "bob"), topic="",
                                 created_at=at),
                          Joined(room="#dev", members=("alice",), topic="",
                                 operators=("alice",), created_at=at)]
    assert h.take(first) == [] and h.take(bob) == []
    assert h.hub.user_count == 2 and h.hub.session_count == 3


def test_what_one_session_says_reaches_the_other_without_id(
    two_sessions: tuple[Harness, int, int, int],
) -> None:
    h, first, second, bob = two_sessions
    h.clear()
    h.send(first, Say(id="m", room="#lobby", text="hi"))
    [ack], [echo], [copy] = h.take(first), h.take(second), h.take(bob)
    assert isinstance(ack, Message) and ack.id == "m"
    assert echo == copy and isinstance(echo, Message) and echo.id is None
    h.send(second, SendDirect(id="d", to="bob", text="psst"))
    [ack], [echo], [copy] = h.take(second), h.take(first), h.take(bob)
    assert isinstance(ack, Message) and ack.id == "d"
    assert echo == copy and isinstance(echo, Message) and echo.id is None
    h.send(bob, SendDirect(to="alice", text="back"))
    assert messages(h.take(first)) == messages(h.take(second)) != []


def test_a_resend_from_another_session_of_the_same_account(
    two_sessions: tuple[Harness, int, int, int],
) -> None:
    h, first, second, bob = two_sessions
    h.send(first, Say(id="m", room="#lobby", text="hi"))
    h.clear()
    effects = h.send(second, Say(id="m", room="#lobby", text="hi"))
    assert not any(isinstance(e, Persist) for e in effects)
    [ack] = h.take(second)
    assert isinstance(ack, Message) and (ack.id, ack.msg_id) == ("m", 1)
    assert h.take(first) == [] and h.take(bob) == []


def test_joins_and_nick_changes_reach_every_session(
    two_sessions: tuple[Harness, int, int, int],
) -> None:
    h, first, second, bob = two_sessions
    h.clear()
    h.send(first, Join(id="j", room="#rust"))
    assert [type(e) for e in h.take(first)] == [Joined]
    [joined] = h.take(second)
    assert isinstance(joined, Joined) and joined.id is None
    h.send(second, SetNick(id="n", nick="ally"))
    nick = Presence(nick="alice", event="nick", new_nick="ally")
    assert h.take(second) == [Presence(id="n", nick="alice", event="nick", new_nick="ally")]
    assert h.take(first) == [nick]
    assert h.take(bob) == [nick]  # once, though alice has two sessions


def test_closing_one_session_tells_nobody(two_sessions: tuple[Harness, int, int, int]) -> None:
    h, first, second, bob = two_sessions
    h.clear()
    assert h.hub.close_session(first, "connection closed") == []
    assert h.hub.user_count == 2
    h.send(second, Quit(id="q", reason="later"))
    assert h.take(bob) == [Presence(nick="alice", event="quit", reason="later")]
    assert h.hub.user_count == 1


def test_the_last_session_ending_is_a_quit_and_saves_the_marks() -> None:
    conversation = dm_conversation("alice", "bob")
    h = harness(StoredState(last_ids={conversation: 4}, accounts=accounts("alice", "bob")))
    first, second, bob = login(h, "alice"), login(h, "alice"), login(h, "bob")
    h.send(bob, SendDirect(to="alice", text="hi"))
    h.clear()
    h.drop(first)
    assert h.take(bob) == []
    effects = h.hub.close_session(second, "connection closed")
    assert effects == [
        Deliver(Presence(nick="alice", event="quit", reason="connection closed"), (bob,)),
        Remember(account="alice", marks=((conversation, 5),)),
    ]


def test_a_guest_leaving_saves_no_marks(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, SendDirect(to="bob", text="hi"))
    effects = h.hub.close_session(alice, "quit")
    assert not any(isinstance(e, Remember) for e in effects)
    h.apply(effects)
    assert h.take(bob)[-1] == Presence(nick="alice", event="quit", reason="quit")


def test_an_account_keeps_its_rooms_across_sessions() -> None:
    h = harness(StoredState(accounts=accounts("alice")))
    alice = login(h, "alice")
    effects = h.send(alice, Join(room="#dev"))
    assert effects[-1] == Remember(account="alice", room="#dev", member=True)
    h.send(alice, Join(room="#rust"))
    effects = h.send(alice, Join(room="#lobby"))  # in it already (a default room): no note
    assert not any(isinstance(e, Remember) for e in effects)
    effects = h.send(alice, Leave(room="#rust"))
    assert effects[-1] == Remember(account="alice", room="#rust", member=False)
    h.drop(alice)
    sid, _ = h.login_account(Hello(version=1, nick="alice", password=PASSWORD))
    assert welcome_of(h.take(sid)).rooms == ("#lobby", "#dev")


# --------------------------------------------------------------------------- guest tokens


def test_welcome_gives_a_guest_a_token(h: Harness) -> None:
    sid = h.open()
    h.send(sid, Hello(version=1, nick="alice"))
    welcome = welcome_of(h.take(sid))
    assert (welcome.token, welcome.account) == (T1, False)


def test_a_token_of_a_guest_online_attaches_a_second_session(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    sid = h.open()
    h.send(sid, Hello(id="h", version=1, nick="whatever", token=T1, rooms=("#dev",)))
    events = h.take(sid)
    welcome = welcome_of(events)
    assert (welcome.id, welcome.nick, welcome.token) == ("h", "alice", T1)
    assert welcome.rooms == ("#lobby", "#dev")
    assert h.take(bob) == []
    assert [type(e) for e in h.take(alice)] == [Joined]  # the new room, on every session
    h.send(sid, Say(room="#lobby", text="from the second"))
    assert h.stored[-1].sender_key == G1


def test_a_departed_guest_reclaims_its_identity_and_resends_are_recognised(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, Say(id="m1", room="#lobby", text="hi"))
    h.drop(alice)
    h.clear()
    sid = h.open()
    h.send(sid, Hello(version=1, nick="alice", token=T1))
    assert welcome_of(h.take(sid)).token == T1
    h.clear()
    effects = h.send(sid, Say(id="m1", room="#lobby", text="hi"))
    assert not any(isinstance(e, Persist) for e in effects)
    [ack] = h.take(sid)
    assert isinstance(ack, Message) and (ack.id, ack.msg_id) == ("m1", 1)
    assert h.take(bob) == []


def test_a_departed_guest_may_come_back_under_another_free_nick(h: Harness) -> None:
    alice = h.login("alice")
    h.drop(alice)
    sid = h.open()
    h.send(sid, Hello(version=1, nick="alicia", token=T1))
    h.send(sid, Say(room="#lobby", text="hi"))
    assert (h.stored[-1].sender, h.stored[-1].sender_key) == ("alicia", G1)


def test_reclaiming_needs_the_nick_free_and_the_token_survives_a_refusal(h: Harness) -> None:
    alice = h.login("alice")
    h.drop(alice)
    squatter = h.login("alice")
    sid = h.open()
    h.send(sid, Hello(version=1, nick="alice", token=T1))
    assert only_error(h.take(sid)).code == ErrorCode.NICK_TAKEN
    h.drop(squatter)
    h.send(sid, Hello(version=1, nick="alice", token=T1))
    welcome = welcome_of(h.take(sid))
    assert welcome.token == T1
    h.send(sid, Say(room="#lobby", text="back"))
    assert h.stored[-1].sender_key == G1


def test_without_the_token_the_same_nick_is_someone_else(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Say(id="m1", room="#lobby", text="hi"))
    h.drop(alice)
    for given in (None, "unknown"):
        sid = h.open()
        h.send(sid, Hello(version=1, nick="alice", token=given))
        welcome = welcome_of(h.take(sid))
        assert welcome.token not in (T1, given)  # too short to be a secret: a new one
        persist = persist_of(h.send(sid, Say(id="m1", room="#lobby", text="hi")))
        assert persist.message.sender_key != G1
        h.drop(sid)


def test_a_long_enough_token_of_the_clients_own_is_its_identity(h: Harness) -> None:
    secret = "a-secret-the-client-chose-itself"
    sid = h.open()
    h.send(sid, Hello(version=1, nick="alice", token=secret))
    assert welcome_of(h.take(sid)).token == secret
    persist = persist_of(h.send(sid, Say(id="once", room="#lobby", text="hi")))
    assert persist.message.sender_key == guest_key(secret)
    h.drop(sid)
    again = h.open()  # the same identity, as it would be after a server restart too
    h.send(again, Hello(version=1, nick="alice", token=secret))
    h.take(again)
    [ack] = h.send(again, Say(id="once", room="#lobby", text="hi"))
    assert ack == Deliver(as_message(persist.message, "once"), (again,))


# --------------------------------------------------------------------------- nicks and accounts


def test_an_account_cannot_take_another_accounts_nick() -> None:
    h = harness(StoredState(accounts=accounts("alice", "bob")))
    alice = login(h, "alice")
    h.send(alice, SetNick(id="n", nick="BOB"))
    error = only_error(h.take(alice))
    assert (error.code, error.id) == (ErrorCode.NICK_REGISTERED, "n")


def test_a_guest_cannot_take_an_accounts_nick_even_while_it_is_offline() -> None:
    h = harness(StoredState(accounts=accounts("alice")))
    bob = h.login("bob")
    h.clear()
    h.send(bob, SetNick(nick="Alice"))
    assert only_error(h.take(bob)).code == ErrorCode.NICK_REGISTERED


def test_an_account_renamed_for_the_session_keeps_its_identity() -> None:
    h = harness(StoredState(accounts=accounts("alice")))
    alice, bob = login(h, "alice"), h.login("bob")
    h.send(alice, SetNick(nick="ally"))
    h.clear()
    h.send(bob, SendDirect(to="alice", text="still you?"))
    assert [m.to for m in messages(h.take(alice))] == ["ally"]
    h.send(alice, Say(room="#lobby", text="yes"))
    assert (h.stored[-1].sender, h.stored[-1].sender_key) == ("ally", "alice")
    h.send(alice, SetNick(nick="Alice"))  # its own account nick, in any case
    assert isinstance(h.take(alice)[-1], Presence)
    h.drop(alice)
    sid, _ = h.login_account(Hello(version=1, nick="alice", password=PASSWORD))
    assert welcome_of(h.take(sid)).nick == "alice"  # the registered spelling comes back
