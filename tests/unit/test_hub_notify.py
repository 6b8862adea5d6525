"""The hub's notification levels (NOTIFY, NOTIFY_LEVEL; hub/notify.py), with a memory store
answering as the core would (tests/unit/store_harness.py, and the two effects of levels here)."""

from __future__ import annotations

from typing import Any

import pytest

from palaver.hub.effects import Effect, LoadNotifyLevels, SaveNotifyLevel
from palaver.hub.hub import StoredState
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    DeleteAccount,
    Error,
    Hello,
    Join,
    Leave,
    NotificationLevel,
    Register,
    SendDirect,
    ServerMessage,
    SetNotifyLevel,
    Welcome,
)
from palaver.store.base import dm_conversation
from tests.unit.hub_harness import token
from tests.unit.store_harness import StoreHarness, accounts, done


class LevelsHarness(StoreHarness):
    """The store harness that also stores and reads levels (as server/notify_work.py does);
    with ``hold_loads``, reads wait in ``held`` until the test answers them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hold_loads = False
        self.held: list[LoadNotifyLevels] = []

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, SaveNotifyLevel):
                self.effects.append(effect)
                changed = done(self.store.set_notify_level(effect.identity, effect.conversation,
                                                           effect.level))
                self.apply(self.hub.notify_level_saved(effect, changed))
            elif isinstance(effect, LoadNotifyLevels):
                self.effects.append(effect)
                if self.hold_loads:
                    self.held.append(effect)
                else:
                    self.answer(effect)
            else:
                super().apply([effect])

    def answer(self, effect: LoadNotifyLevels) -> None:
        levels = done(self.store.notify_levels(effect.identity))
        self.apply(self.hub.notify_levels_loaded(effect, levels))


def levels_of(events: list[ServerMessage]) -> list[NotificationLevel]:
    return [e for e in events if isinstance(e, NotificationLevel)]


def error_of(events: list[ServerMessage]) -> Error:
    [event] = events
    assert isinstance(event, Error), event
    return event


def test_a_level_is_stored_and_told_to_every_session_of_the_user() -> None:
    h = LevelsHarness(stored=StoredState(accounts=accounts("alice")))
    first = h.account("alice")
    second = h.account("alice")
    h.clear()
    h.send(first, SetNotifyLevel(id="n", room="#LOBBY", level="mentions"))
    assert h.take(first) == [NotificationLevel(id="n", room="#lobby", level="mentions")]
    assert h.take(second) == [NotificationLevel(room="#lobby", level="mentions")]
    assert done(h.store.notify_levels("alice")) == {"#lobby": "mentions"}


def test_the_same_level_again_answers_the_asker_only() -> None:
    h = LevelsHarness(stored=StoredState(accounts=accounts("alice")))
    first = h.account("alice")
    second = h.account("alice")
    h.send(first, SetNotifyLevel(room="#lobby", level="none"))
    h.clear()
    h.send(second, SetNotifyLevel(id="again", room="#lobby", level="none"))
    assert h.take(second) == [NotificationLevel(id="again", room="#lobby", level="none")]
    assert h.take(first) == []


def test_all_is_the_default_and_forgets_the_stored_level() -> None:
    h = LevelsHarness()
    alice = h.login("alice")
    h.clear()
    h.send(alice, SetNotifyLevel(id="q", room="#lobby"))  # a question
    assert h.take(alice) == [NotificationLevel(id="q", room="#lobby", level="all")]
    assert not any(isinstance(e, SaveNotifyLevel) for e in h.effects)
    h.send(alice, SetNotifyLevel(room="#lobby", level="none"))
    [guest] = h.hub._levels
    assert done(h.store.notify_levels(guest)) == {"#lobby": "none"}
    h.send(alice, SetNotifyLevel(id="back", room="#lobby", level="all"))
    assert h.take(alice)[-1] == NotificationLevel(id="back", room="#lobby", level="all")
    assert done(h.store.notify_levels(guest)) == {}


def test_a_direct_conversation_s_level_is_named_by_the_other_end() -> None:
    h = LevelsHarness(stored=StoredState(accounts=accounts("alice", "Bob")))
    alice = h.account("alice")
    h.account("Bob")
    h.clear()
    h.send(alice, SetNotifyLevel(id="d", peer="BOB", level="none"))
    assert h.take(alice) == [NotificationLevel(id="d", peer="Bob", level="none")]
    assert done(h.store.notify_levels("alice")) == {dm_conversation("alice", "bob"): "none"}
    h.send(alice, SetNotifyLevel(id="q", peer="bob"))
    assert h.take(alice) == [NotificationLevel(id="q", peer="Bob", level="none")]


def test_an_account_logging_in_is_told_its_levels_after_welcome() -> None:
    h = LevelsHarness(stored=StoredState(accounts=accounts("alice", "bob")))
    done(h.store.set_notify_level("alice", "#lobby", "mentions"))
    done(h.store.set_notify_level("alice", "#gone", "none"))  # a room nobody is in: its key
    done(h.store.set_notify_level("alice", dm_conversation("alice", "bob"), "none"))
    alice = h.account("alice")
    events = h.take(alice)
    assert isinstance(events[0], Welcome)
    assert levels_of(events) == [
        NotificationLevel(room="#gone", level="none"),
        NotificationLevel(room="#lobby", level="mentions"),
        NotificationLevel(peer="bob", level="none"),
    ]
    # Another session of hers is told at once, from the hub's copy.
    second = h.account("alice")
    assert levels_of(h.take(second)) == levels_of(events)
    assert sum(isinstance(e, LoadNotifyLevels) for e in h.effects) == 1


def test_a_level_set_before_the_stored_ones_are_read_wins() -> None:
    h = LevelsHarness(stored=StoredState(accounts=accounts("alice")))
    done(h.store.set_notify_level("alice", "#lobby", "none"))
    done(h.store.set_notify_level("alice", "#dev", "none"))
    h.hold_loads = True
    alice = h.account("alice")
    h.send(alice, Join(room="#dev"))
    # The pipeline answers the load first: with what was stored before this set.
    [load] = h.held
    h.hold_loads = False
    h.send(alice, SetNotifyLevel(room="#lobby", level="mentions"))  # stored after the read
    h.clear()
    levels = dict(done(h.store.notify_levels("alice")))
    levels["#lobby"] = "none"  # as the store had it when it was read
    h.apply(h.hub.notify_levels_loaded(load, levels))
    assert levels_of(h.take(alice)) == [NotificationLevel(room="#dev", level="none")]
    h.send(alice, SetNotifyLevel(id="q", room="#lobby"))
    assert h.take(alice) == [NotificationLevel(id="q", room="#lobby", level="mentions")]


def test_a_guest_back_with_its_token_gets_its_levels_and_a_new_guest_none() -> None:
    h = LevelsHarness()
    alice = h.login("alice")  # token(1)
    assert not any(isinstance(e, LoadNotifyLevels) for e in h.effects)  # nothing to read
    h.send(alice, SetNotifyLevel(room="#lobby", level="none"))
    h.drop(alice)
    assert h.hub._levels == {}
    again = h.open()
    h.send(again, Hello(version=1, nick="alice", token=token(1)))
    assert levels_of(h.take(again)) == [NotificationLevel(room="#lobby", level="none")]
    other = h.login("carol")  # token(2): someone else
    assert levels_of(h.take(other)) == []


def test_a_guest_who_registers_keeps_its_levels_as_the_account() -> None:
    h = LevelsHarness()
    alice = h.login("alice")
    h.send(alice, SetNotifyLevel(room="#lobby", level="mentions"))
    h.send(alice, Register(nick="alice", password="correct horse"))
    h.apply(h.hub.account_created(alice, "alice", created=True, request_id=None))
    assert done(h.store.notify_levels("alice")) == {"#lobby": "mentions"}
    h.send(alice, SetNotifyLevel(id="q", room="#lobby"))
    assert h.take(alice)[-1] == NotificationLevel(id="q", room="#lobby", level="mentions")


def test_the_level_of_a_room_one_left_stays() -> None:
    h = LevelsHarness(stored=StoredState(accounts=accounts("alice")))
    alice = h.account("alice")
    h.send(alice, Join(room="#dev"))
    h.send(alice, SetNotifyLevel(room="#dev", level="none"))
    h.send(alice, Leave(room="#dev"))
    h.clear()
    h.send(alice, SetNotifyLevel(id="q", room="#dev"))
    assert error_of(h.take(alice)).code == ErrorCode.NOT_IN_ROOM
    h.send(alice, Join(room="#dev"))
    h.send(alice, SetNotifyLevel(id="q2", room="#dev"))
    assert h.take(alice)[-1] == NotificationLevel(id="q2", room="#dev", level="none")


def test_a_deleted_peer_s_conversation_keeps_its_level_under_its_new_key() -> None:
    h = LevelsHarness(stored=StoredState(accounts=accounts("alice", "bob")))
    alice, bob = h.account("alice"), h.account("bob")
    h.send(alice, SendDirect(to="bob", text="hi"))
    h.send(bob, SetNotifyLevel(peer="alice", level="none"))
    [manage] = [e for e in h.send(alice, DeleteAccount(password="x")) if hasattr(e, "action")]
    h.apply(h.hub.account_checked(manage, verified=True, now=h.clock.now))  # type: ignore
    [moved] = h.hub._levels["bob"]
    assert moved != dm_conversation("alice", "bob") and "~deleted-" in moved


@pytest.mark.parametrize(("request_", "code", "field"), [
    (SetNotifyLevel(id="x", level="none"), ErrorCode.INVALID_FIELD, "room"),
    (SetNotifyLevel(id="x", room="#lobby", peer="bob", level="none"), ErrorCode.INVALID_FIELD,
     "room"),
    (SetNotifyLevel(id="x", room="#lobby", level="loud"), ErrorCode.INVALID_FIELD,  # type: ignore
     "level"),
    (SetNotifyLevel(id="x", room="#elsewhere", level="none"), ErrorCode.NOT_IN_ROOM, None),
    (SetNotifyLevel(id="x", room="#elsewhere"), ErrorCode.NOT_IN_ROOM, None),
    (SetNotifyLevel(id="x", room="no-hash", level="none"), ErrorCode.INVALID_ROOM, None),
    (SetNotifyLevel(id="x", peer="nobody", level="none"), ErrorCode.NO_SUCH_USER, None),
])
def test_levels_that_are_refused(request_: SetNotifyLevel, code: ErrorCode,
                                 field: str | None) -> None:
    h = LevelsHarness()
    alice = h.login("alice")
    h.clear()
    effects = h.send(alice, request_)
    assert not any(isinstance(e, SaveNotifyLevel) for e in effects)
    error = error_of(h.take(alice))
    assert (error.code, error.field, error.id) == (code, field, "x")
