"""The hub's server operators and user modes: OPER, USER_MODE, KILL, WALLOPS."""

from __future__ import annotations

from palaver.hub import Close, HubConfig
from palaver.hub.effects import CheckOperator
from palaver.hub.rules import Role
from palaver.protocol.messages import (
    BecomeOperator,
    Error,
    Hello,
    Join,
    Kick,
    Kill,
    Presence,
    SendWallops,
    SetUserMode,
    UserMode,
    Wallops,
)
from tests.unit.hub_harness import Harness

HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"  # never checked here


def oper_up(h: Harness, sid: int, name: str = "root", *, verified: bool = True,
            request_id: str = "o") -> list[object]:
    """An OPER as the core carries it out: the check effect, then the verdict."""
    [check] = h.send(sid, BecomeOperator(id=request_id, name=name, password="secret"))
    assert isinstance(check, CheckOperator)
    h.apply(h.hub.operator_checked(check.session, check.name, verified=verified,
                                   request_id=check.request_id))
    return list(h.take(sid))


def test_oper_asks_the_core_to_check_the_password_against_the_configured_hash() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    ann = h.login("ann")
    [known] = h.send(ann, BecomeOperator(id="1", name="root", password="pw"))
    [unknown] = h.send(ann, BecomeOperator(id="2", name="nobody", password="pw"))
    assert known == CheckOperator(ann, "1", "root", HASH, "pw")
    assert unknown == CheckOperator(ann, "2", "nobody", None, "pw")  # checked against a decoy


def test_a_right_oper_makes_a_server_operator_and_tells_all_the_users_sessions() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    ann = h.login("ann")
    token = h.token_of(ann)
    ann2 = h.open()
    h.send(ann2, Hello(version=1, nick="ann", token=token))
    h.clear()
    assert oper_up(h, ann) == [UserMode(id="o", nick="ann", operator=True,
                                        changed=("operator",))]
    assert h.take(ann2) == [UserMode(nick="ann", operator=True, changed=("operator",))]
    user = h.hub._online["ann"]
    assert h.hub.is_server_operator(user) and h.hub._role(user, "#nowhere") is Role.SERVER_OP
    assert oper_up(h, ann, request_id="again") == [  # already one: nothing changes
        UserMode(id="again", nick="ann", operator=True)]


def test_a_wrong_oper_is_auth_failed_and_changes_nothing() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    ann = h.login("ann")
    h.clear()
    [error] = oper_up(h, ann, verified=False)
    assert isinstance(error, Error) and (error.id, error.code) == ("o", "auth_failed")
    assert not h.hub.is_server_operator(h.hub._online["ann"])
    h.send(ann, BecomeOperator(id="long", name="root", password="x" * 1_025))
    [error] = h.take(ann)
    assert isinstance(error, Error) and error.code == "auth_failed"


def test_a_verdict_for_a_session_that_is_gone_is_dropped() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    ann = h.login("ann")
    h.drop(ann)
    assert h.hub.operator_checked(ann, "root", verified=True, request_id="o") == []


def test_an_operator_moderates_any_room_it_is_not_in() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    owner = h.login("owner")
    h.send(owner, Join(room="#club"))
    op = h.login("op")
    oper_up(h, op)
    h.clear()
    h.send(op, Kick(id="k", room="#club", nick="owner"))
    kicked = h.take(owner)
    assert any(isinstance(e, Presence) and e.event == "kick" for e in kicked)


def test_user_modes_change_tell_what_changed_and_drop_operator() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    ann = h.login("ann")
    oper_up(h, ann)
    h.send(ann, SetUserMode(id="1", invisible=True, wallops=True))
    assert h.take(ann) == [UserMode(id="1", nick="ann", invisible=True, wallops=True,
                                    operator=True, changed=("invisible", "wallops"))]
    h.send(ann, SetUserMode(id="2"))  # a question
    assert h.take(ann) == [UserMode(id="2", nick="ann", invisible=True, wallops=True,
                                    operator=True)]
    h.send(ann, SetUserMode(id="3", operator=False, invisible=False))
    assert h.take(ann) == [UserMode(id="3", nick="ann", wallops=True,
                                    changed=("invisible", "operator"))]
    h.send(ann, SetUserMode(id="4", operator=True))
    [error] = h.take(ann)
    assert isinstance(error, Error) and (error.code, error.field) == ("invalid_field",
                                                                       "operator")


def test_a_server_operators_account_stays_one_when_it_drops_an_oper_login() -> None:
    h = Harness(HubConfig(server_operators=frozenset({"root"}),
                          operator_logins={"ops": HASH}))
    sid = h.open()
    h.hub._accounts["root"] = "root"
    h.login_account(Hello(version=1, nick="root", password="pw"), sid=sid)
    h.clear()
    assert oper_up(h, sid) == [UserMode(id="o", nick="root", operator=True)]  # was one
    h.send(sid, SetUserMode(id="d", operator=False))
    assert h.take(sid) == [UserMode(id="d", nick="root", operator=True)]


def test_kill_is_for_operators_and_disconnects_every_session_of_the_victim() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    op, bob = h.login("op"), h.login("bob")
    token = h.token_of(bob)
    bob2 = h.open()
    h.send(bob2, Hello(version=1, nick="bob", token=token))
    ann = h.login("ann")
    for sid in (ann, bob):
        h.send(sid, Join(room="#r"))
    h.clear()
    h.send(ann, Kill(id="k", nick="bob", reason="spam"))
    [error] = h.take(ann)
    assert isinstance(error, Error) and (error.id, error.code) == ("k", "not_operator")
    assert h.hub._online.get("bob") is not None
    oper_up(h, op)
    h.send(op, Kill(id="k2", nick="BOB", reason="spam"))
    assert h.closed == {bob: "killed by op: spam", bob2: "killed by op: spam"}
    quit_ = Presence(nick="bob", event="quit", reason="killed by op: spam", by="op")
    assert h.take(ann) == [quit_]
    assert h.take(op) == [Presence(id="k2", nick="bob", event="quit",
                                   reason="killed by op: spam", by="op")]
    assert "bob" not in h.hub._online
    assert h.hub.history.lookup("bob")[0].nick == "bob"  # WHOWAS knows it
    h.send(op, Kill(id="k3", nick="bob"))
    [error] = h.take(op)
    assert isinstance(error, Error) and error.code == "no_such_user"


def test_kill_without_a_reason_and_with_a_bad_one() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    op, bob, cat = h.login("op"), h.login("bob"), h.login("cat")
    oper_up(h, op)
    effects = h.send(op, Kill(nick="bob"))
    assert Close(bob, "killed by op", nick="bob") in effects
    h.send(op, Kill(nick="cat", reason="\x1b[2J"))
    assert h.closed[cat] == "killed by op"


def test_wallops_reach_the_users_with_the_mode_and_the_sender() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    op, ann, bob = h.login("op"), h.login("ann"), h.login("bob")
    h.send(ann, SetUserMode(wallops=True))
    h.send(bob, SetUserMode(wallops=False))
    h.clear()
    h.send(ann, SendWallops(id="w", text="hi"))
    [error] = h.take(ann)
    assert isinstance(error, Error) and error.code == "not_operator"
    oper_up(h, op)
    h.send(op, SendWallops(id="w", text="hi everyone"))
    assert h.take(op) == [Wallops(id="w", sender="op", text="hi everyone")]
    assert h.take(ann) == [Wallops(sender="op", text="hi everyone")]
    assert h.take(bob) == []
    h.send(op, SendWallops(id="bad", text=""))
    [error] = h.take(op)
    assert isinstance(error, Error) and error.code == "invalid_text"


def test_operator_rights_end_when_the_user_goes_offline() -> None:
    h = Harness(HubConfig(operator_logins={"root": HASH}))
    sid = h.login("ann")
    token = h.token_of(sid)
    oper_up(h, sid)
    h.drop(sid)
    again = h.open()
    h.send(again, Hello(version=1, nick="ann", token=token))
    assert not h.hub.is_server_operator(h.hub._online["ann"])
