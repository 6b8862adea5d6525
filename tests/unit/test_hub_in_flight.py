"""What happens while the store has not answered yet: resends, marks, registrations."""

from __future__ import annotations

import msgspec

from palaver.hub.effects import AckResend, Deliver, Persist, Remember
from palaver.hub.hub import Hub, StoredState, as_message
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import Error, Hello, Register, Say, SendDirect, SetNick

NOW = 1_795_000_000.0


def open_guest(hub: Hub, sid: int, nick: str) -> None:
    hub.open_session(sid)
    hub.handle(sid, Hello(version=1, nick=nick), NOW)


def test_a_resend_of_a_message_still_being_stored_waits_for_the_store() -> None:
    hub = Hub()
    open_guest(hub, 1, "alice")
    [persist] = hub.handle(1, Say(id="m", room="#lobby", text="hi"), NOW)
    assert isinstance(persist, Persist)
    [wait] = hub.handle(1, Say(id="m", room="#lobby", text="hi"), NOW)
    assert wait == AckResend(persist.message.sender_key, "m", 1)
    assert hub.stored_original(persist.message.sender_key, "m") is None  # not yet known
    hub.persisted(persist.message, stored=True)
    assert hub.stored_original(persist.message.sender_key, "m") == persist.message


def test_when_storing_fails_a_resend_is_a_new_message() -> None:
    hub = Hub()
    open_guest(hub, 1, "alice")
    [first] = hub.handle(1, Say(id="m", room="#lobby", text="hi"), NOW)
    assert isinstance(first, Persist)
    hub.persisted(first.message, stored=False)
    assert hub.stored_original(first.message.sender_key, "m") is None
    [second] = hub.handle(1, Say(id="m", room="#lobby", text="hi"), NOW)
    assert isinstance(second, Persist) and second.message.msg_id == first.message.msg_id + 1


def test_marks_count_only_what_was_stored() -> None:
    hub = Hub(stored=StoredState(accounts={"alice": "alice"}))
    hub.open_session(1)
    hub.login(1, Hello(version=1, nick="alice", password="x"), verified=True, marks={},
              now=NOW)
    open_guest(hub, 2, "bob")
    [stored] = hub.handle(2, SendDirect(to="alice", text="one"), NOW)
    [in_flight] = hub.handle(2, SendDirect(to="alice", text="two"), NOW)
    assert isinstance(stored, Persist) and isinstance(in_flight, Persist)
    hub.persisted(stored.message, stored=True)
    effects = hub.close_session(1, "connection reset")  # "two" was not stored yet
    [marks] = [e for e in effects if isinstance(e, Remember)]
    assert marks.marks == ((stored.message.conversation, 1),)


def test_farewell_notes_marks_for_every_account_online() -> None:
    hub = Hub(stored=StoredState(accounts={"alice": "alice", "carol": "carol"},
                                 last_ids={"@alice,carol": 4}))
    for sid, nick in ((1, "alice"), (2, "carol")):
        hub.open_session(sid)
        hub.login(sid, Hello(version=1, nick=nick, password="x"), verified=True, marks={},
                  now=NOW)
    assert hub.farewell() == [Remember(account="alice", marks=(("@alice,carol", 4),)),
                              Remember(account="carol", marks=(("@alice,carol", 4),))]


def test_nick_changes_wait_while_a_registration_is_pending() -> None:
    hub = Hub()
    open_guest(hub, 1, "alice")
    open_guest(hub, 2, "bob")
    hub.handle(1, Register(nick="alice", password="long enough"), NOW)
    [away] = hub.handle(1, SetNick(id="n", nick="al"), NOW)
    [onto] = hub.handle(2, SetNick(id="n", nick="ALICE"), NOW)
    for refused in (away, onto):
        assert isinstance(refused.event, Error)  # type: ignore[union-attr]
        assert refused.event.code == ErrorCode.NICK_REGISTERED  # type: ignore[union-attr]


def test_a_store_failure_while_registering_is_unavailable() -> None:
    hub = Hub()
    open_guest(hub, 1, "alice")
    hub.handle(1, Register(nick="alice", password="long enough"), NOW)
    [reply] = hub.account_created(1, "alice", created=False, request_id="r", failed=True)
    assert isinstance(reply.event, Error)  # type: ignore[union-attr]
    assert (reply.event.code, reply.event.id) == ("unavailable", "r")  # type: ignore[union-attr]
    [retry] = hub.handle(1, Register(nick="alice", password="long enough"), NOW)
    assert type(retry).__name__ == "CreateAccount"  # not stuck as pending


def test_a_resend_the_store_recognised_is_answered_from_memory_next_time() -> None:
    hub = Hub()
    open_guest(hub, 1, "alice")
    [persist] = hub.handle(1, Say(id="m", room="#lobby", text="hi"), NOW)
    assert isinstance(persist, Persist)
    earlier = msgspec.structs.replace(persist.message, msg_id=1, ts="2026-01-01T00:00:00.000Z")
    hub.persisted(persist.message, stored=True, original=earlier)  # as after a restart
    [again] = hub.handle(1, Say(id="m", room="#lobby", text="hi"), NOW)
    assert again == Deliver(as_message(earlier, "m"), (1,))


def test_a_resuming_guest_gets_direct_conversations_it_has_not_heard_of() -> None:
    hub = Hub(new_token=iter(f"token-number-{n:04d}" for n in range(10)).__next__)
    hub.open_session(1)
    [welcome_effect, *_] = hub.handle(1, Hello(version=1, nick="guest"), NOW)
    token = welcome_effect.event.token  # type: ignore[union-attr]
    open_guest(hub, 2, "bob")
    hub.close_session(1, "connection reset")  # the server noticed late; meanwhile bob wrote
    hub.open_session(3)
    hub.handle(3, Hello(version=1, nick="guest", token=token), NOW)  # claim it back
    [dm] = hub.handle(2, SendDirect(to="guest", text="first ever"), NOW)
    assert isinstance(dm, Persist)
    hub.close_session(3, "connection reset")
    hub.open_session(4)
    effects = hub.handle(4, Hello(version=1, nick="guest", token=token, since={"#lobby": 0}),
                         NOW)
    [replay] = [e for e in effects if type(e).__name__ == "Replay"]
    assert [(r.conversation, r.after, r.upto) for r in replay.ranges] == [  # type: ignore[attr-defined]
        (dm.message.conversation, 0, 1)]
