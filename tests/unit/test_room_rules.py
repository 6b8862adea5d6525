"""Rooms' rules in the pure hub: what each command does, beyond who may (the matrix)."""

from __future__ import annotations

from palaver.client.commands import LocalError, Send, parse_line
from palaver.hub import HubConfig
from palaver.hub.effects import SaveRoom
from palaver.hub.hub import StoredState
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.rooms import ban_nick
from palaver.protocol.messages import (
    Ban,
    Error,
    GrantOperator,
    Hello,
    Invite,
    Join,
    Joined,
    Kick,
    Leave,
    Presence,
    RoomUpdated,
    SetNick,
    SetRoomMode,
    SetTopic,
    Unban,
)
from tests.unit.hub_harness import Harness


def saved(h: Harness, effects: list[object]) -> list[SaveRoom]:
    return [e for e in effects if isinstance(e, SaveRoom)]


def test_the_creator_is_operator_and_a_topic_reaches_every_member() -> None:
    h = Harness()
    alice, bob = h.login("alice"), h.login("bob")
    effects = h.send(alice, Join(room="#r"))
    [save] = saved(h, effects)
    assert save.settings.operators == (h.hub._online["alice"].key,)
    h.send(bob, Join(room="#r"))
    h.clear()
    effects = h.send(alice, SetTopic(id="t", room="#r", topic="tea"))
    [mine] = h.take(alice)
    [theirs] = h.take(bob)
    assert isinstance(mine, RoomUpdated) and mine.id == "t"
    assert theirs == RoomUpdated(room="#r", change="topic", by="alice", topic="tea",
                                 topic_by="alice", topic_at=mine.topic_at,
                                 operators=("alice",), created_at=mine.topic_at)
    assert saved(h, effects)[0].settings.topic == "tea"
    assert h.send(alice, SetTopic(id="x", room="#r", topic="a\nb"))  # one line only
    assert isinstance(h.take(alice)[0], Error)


def test_a_kick_tells_everyone_and_a_ban_follows_the_identity_across_nicks() -> None:
    h = Harness()
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, Join(room="#r"))
    h.send(bob, Join(room="#r"))
    h.clear()
    h.send(alice, Kick(id="k", room="#r", nick="bob", reason="calm down"))
    kick = Presence(nick="bob", event="kick", room="#r", by="alice", reason="calm down")
    assert h.take(bob) == [kick]
    assert h.take(alice) == [Presence(id="k", nick="bob", event="kick", room="#r", by="alice",
                                      reason="calm down")]
    h.send(bob, Join(room="#r"))  # a kick is not a ban
    h.send(alice, Ban(room="#r", nick="bob"))
    h.clear()
    h.send(bob, SetNick(nick="robert"))
    h.send(bob, Join(id="j", room="#r"))
    assert [e.code for e in h.take(bob) if isinstance(e, Error)] == ["banned"]
    h.send(alice, Unban(room="#r", nick="robert"))  # the identity: whatever its nick
    h.send(bob, Join(id="j2", room="#r"))
    assert any(isinstance(e, Joined) for e in h.take(bob))


def test_invitations_open_an_invite_only_room_once() -> None:
    h = Harness()
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, Join(room="#r"))
    h.send(alice, SetRoomMode(room="#r", invite_only=True))
    h.send(alice, Invite(room="#r", nick="bob"))
    h.send(bob, Join(room="#r"))
    h.send(bob, Join(room="#lobby"))
    h.send(bob, Leave(room="#r"))
    h.clear()
    h.send(bob, Join(id="j", room="#r"))
    assert [e.code for e in h.take(bob) if isinstance(e, Error)] == ["invite_only"]


def test_server_operators_are_accounts_from_the_config_and_cannot_be_kicked() -> None:
    h = Harness(HubConfig(server_operators=frozenset({"root"})),
                stored=StoredState(accounts={"root": "root"}))
    alice = h.login("alice")
    root, _ = h.login_account(Hello(version=1, nick="root", password="x"))
    h.send(alice, Join(room="#r"))
    h.send(root, Join(room="#r"))
    h.clear()
    h.send(alice, Kick(id="k", room="#r", nick="root"))
    assert [e.code for e in h.take(alice) if isinstance(e, Error)] == ["not_operator"]
    h.send(root, GrantOperator(room="#lobby", nick="alice"))  # the lobby has no creator
    assert h.hub._online["alice"].key in h.hub._rules["#lobby"].operators
    h.send(root, SetRoomMode(id="m", room="#lobby", private=True))
    assert [e.code for e in h.take(root) if isinstance(e, Error)] == ["invalid_args"]


def test_rules_come_back_from_the_store() -> None:
    first = Harness()
    alice = first.login("alice")
    effects = first.send(alice, Join(room="#r"))
    effects += first.send(alice, SetRoomMode(room="#r", private=True))
    effects += first.send(alice, Ban(room="#r", nick="mallory"))
    settings = saved(first, effects)[-1].settings
    again = Harness(stored=StoredState(rooms=[settings]))
    mallory = again.login("mallory")
    again.send(mallory, Join(id="j", room="#r"))
    assert [e.code for e in again.take(mallory) if isinstance(e, Error)] == ["no_such_room"]


def test_slash_commands() -> None:
    assert parse_line("/topic hello there", "#r") == Send(SetTopic(room="#r", topic="hello there"))
    assert parse_line("/topic #x -", "#r") == Send(SetTopic(room="#x", topic=""))
    assert parse_line("/kick bob too loud", "#r") == Send(Kick(room="#r", nick="bob",
                                                               reason="too loud"))
    assert parse_line("/invite bob #x", "#r") == Send(Invite(room="#x", nick="bob"))
    assert parse_line("/op #x bob", None) == Send(GrantOperator(room="#x", nick="bob"))
    assert parse_line("/mode +i-s", "#r") == Send(SetRoomMode(room="#r", invite_only=True,
                                                              private=False))
    assert parse_line("/mode", "#r") == Send(SetRoomMode(room="#r"))
    assert isinstance(parse_line("/ban", "#r"), LocalError)
    assert isinstance(parse_line("/op bob", None), LocalError)


def test_irc_channel_modes_become_commands() -> None:
    d = IrcDialect(ids=RequestIds("t"))
    d.receive_data(b"NICK ann\r\nUSER a 0 * :a\r\n")
    out = d.receive_data(b"MODE #r +ob-i bob mal!*@*\r\nMODE #r +b *!*@evil\r\n"
                         b"MODE #r +q\r\nKICK #r bob,carl :out\r\nINVITE dan #r\r\n"
                         b"TOPIC #r :new one\r\n")
    messages = [m for m in out if not isinstance(m, bytes)]
    assert [type(m).__name__ for m in messages] == [
        "GrantOperator", "Ban", "SetRoomMode", "Kick", "Kick", "Invite", "SetTopic"]
    assert messages[2].invite_only is False  # type: ignore[union-attr]
    errors = b"".join(m for m in out if isinstance(m, bytes))
    assert b" 696 " in errors and b" 472 " in errors
    assert [ban_nick(m) for m in ("bob", "bob!*@*", "bob!*", "*!*@h", "bob!x@y")] == [
        "bob", "bob", "bob", None, None]


def test_operators_are_listed_in_the_order_members_joined_few_or_many() -> None:
    h = Harness()
    sids = [h.login(f"m{n}") for n in range(6)]
    for sid in sids:
        h.send(sid, Join(room="#r"))  # m0 made it: its operator
    h.clear()
    h.send(sids[5], Join(id="again", room="#r"))
    [joined] = [e for e in h.take(sids[5]) if isinstance(e, Joined)]
    assert joined.operators == ("m0",)  # one operator in a room of six
    h.send(sids[0], GrantOperator(room="#r", nick="m4"))
    h.send(sids[0], GrantOperator(room="#r", nick="m2"))
    h.clear()
    h.send(sids[5], Join(id="again", room="#r"))
    [joined] = [e for e in h.take(sids[5]) if isinstance(e, Joined)]
    assert joined.operators == ("m0", "m2", "m4")  # several: in the order they joined
