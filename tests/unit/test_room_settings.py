"""Rooms' further settings in the pure hub: key, limit, moderated and voice, outside messages,
open topic, creation time, ban setters — what each does, who may, and that they are stored."""

from __future__ import annotations

from typing import Final

import msgspec
import pytest

from palaver.hub import HubConfig
from palaver.hub.effects import SaveRoom
from palaver.hub.hub import StoredState, format_ts
from palaver.hub.rules import GOVERNED_BY, PERMISSIONS, Action, Kind, Role, RoomRules
from palaver.protocol.messages import (
    Allow,
    AllowList,
    Ban,
    BanEntry,
    BanList,
    ClientMessage,
    Disallow,
    Error,
    GrantOperator,
    GrantVoice,
    Hello,
    InvitationList,
    Invite,
    Join,
    Joined,
    Leave,
    ListAllowed,
    ListBans,
    ListInvitations,
    ListRooms,
    ListUsers,
    Message,
    Mute,
    RevokeVoice,
    RoomList,
    RoomUpdated,
    Say,
    ServerMessage,
    SetRoomMode,
    SetTopic,
    Unmute,
    Users,
)
from palaver.store.base import RoomBan, RoomSettings
from tests.unit.hub_harness import Harness

R: Final = "#r"


def codes(events: list[ServerMessage]) -> list[str]:
    return [e.code for e in events if isinstance(e, Error)]


def room_with(h: Harness, owner: str = "alice", **settings: object) -> int:
    """A logged-in ``owner`` who made ``#r`` and set ``settings`` on it."""
    sid = h.login(owner)
    h.send(sid, Join(room=R))
    if settings:
        h.send(sid, SetRoomMode(room=R, **settings))  # type: ignore[arg-type]
    h.clear()
    return sid


def joined(events: list[ServerMessage], room: str = R) -> Joined:
    [event] = [e for e in events if isinstance(e, Joined) and e.room == room]
    return event


# ---------------------------------------------------------------------- the table


def test_every_action_has_a_plain_row_and_every_governing_flag_a_row() -> None:
    for action in Action:
        assert (action, Kind.PLAIN) in PERMISSIONS
        for flag, kind in GOVERNED_BY.get(action, ()):
            assert hasattr(RoomRules("#x"), flag)
            assert (action, kind) in PERMISSIONS
    assert all(kind in {k for _, k in GOVERNED_BY.get(action, ())} | {Kind.PLAIN}
               for action, kind in PERMISSIONS)


def test_the_kind_is_the_first_flag_on() -> None:
    rules = RoomRules("#x")
    assert rules.kind(Action.SPEAK) is Kind.PLAIN
    rules.outside_messages = True
    assert rules.kind(Action.SPEAK) is Kind.OUTSIDE_MESSAGES
    rules.moderated = True  # +m silences outsiders too
    assert rules.kind(Action.SPEAK) is Kind.MODERATED
    assert Role.OUTSIDER not in PERMISSIONS[(Action.SPEAK, Kind.MODERATED)]
    assert rules.kind(Action.TOPIC) is Kind.PLAIN


# ---------------------------------------------------------------------- key and limit


def test_a_key_is_needed_to_join_and_an_invitation_passes_it() -> None:
    h = Harness()
    alice = room_with(h, key="beer")
    bob = h.login("bob")
    h.send(bob, Join(id="1", room=R))
    h.send(bob, Join(id="2", room=R, key="bees"))
    assert codes(h.take(bob)) == ["bad_key", "bad_key"]
    h.send(bob, Join(id="3", room=R, key="beer"))
    assert joined(h.take(bob)).key == "beer"  # members see the key
    carol = h.login("carol")
    h.send(alice, Invite(room=R, nick="carol"))
    h.send(carol, Join(id="4", room=R))
    assert joined(h.take(carol)).room == R
    h.send(alice, SetRoomMode(room=R, key=""))  # removed
    dan = h.login("dan")
    h.send(dan, Join(id="5", room=R))
    assert joined(h.take(dan)).key is None


@pytest.mark.parametrize("key", ["", " ", "two words", "a,b", "x" * 24, "caf\u00e9", "tab\t"])
def test_a_key_must_be_printable_ascii_without_spaces_or_commas(key: str) -> None:
    h = Harness()
    alice = room_with(h)
    h.send(alice, SetRoomMode(id="m", room=R, key=key))
    events = h.take(alice)
    if key == "":  # removing a key that is not there: nothing changes
        assert [e.change for e in events if isinstance(e, RoomUpdated)] == ["state"]
    else:
        assert codes(events) == ["invalid_key"]
        assert h.hub._rules[R].key is None


def test_a_limit_stops_joins_at_that_many_members_and_an_invitation_passes_it() -> None:
    h = Harness()
    alice = room_with(h, limit=2)
    bob, carol = h.login("bob"), h.login("carol")
    h.send(bob, Join(room=R))
    h.send(carol, Join(id="j", room=R))
    assert codes(h.take(carol)) == ["room_full"]
    h.send(alice, Invite(room=R, nick="carol"))
    h.send(carol, Join(id="j2", room=R))
    assert joined(h.take(carol)).limit == 2
    h.send(alice, SetRoomMode(room=R, limit=1))  # lowered: nobody is put out
    assert len(h.hub._rooms[R].members) == 3
    dan = h.login("dan")
    h.send(dan, Join(id="j3", room=R))
    assert codes(h.take(dan)) == ["room_full"]
    h.send(alice, SetRoomMode(room=R, limit=0))
    h.send(dan, Join(id="j4", room=R))
    assert joined(h.take(dan)).limit == 0


def test_refusal_order_ban_then_invite_only_then_key_then_limit() -> None:
    h = Harness()
    alice = room_with(h, invite_only=True, key="k", limit=1)
    bob = h.login("bob")
    h.send(alice, Ban(room=R, nick="bob"))
    h.send(bob, Join(id="1", room=R))
    h.send(alice, SetRoomMode(room=R, invite_only=False))
    h.send(bob, Join(id="2", room=R))
    h.send(alice, Invite(room=R, nick="bob"))  # an invitation does not lift a ban
    h.send(bob, Join(id="3", room=R))
    carol = h.login("carol")
    h.send(carol, Join(id="4", room=R))
    h.send(carol, Join(id="5", room=R, key="k"))
    h.send(alice, SetRoomMode(room=R, invite_only=True))
    h.send(carol, Join(id="6", room=R, key="k"))
    assert codes(h.take(bob)) == ["banned", "banned", "banned"]
    assert codes(h.take(carol)) == ["bad_key", "room_full", "invite_only"]


def test_a_private_room_refuses_a_wrong_key_or_a_full_room_as_no_room() -> None:
    h = Harness()
    alice = room_with(h, private=True, key="k")
    bob, carol = h.login("bob"), h.login("carol")
    h.send(bob, Join(id="1", room=R))  # no key
    h.send(alice, SetRoomMode(room=R, key="", limit=1))
    h.send(bob, Join(id="2", room=R))  # full
    nowhere = Error(code="no_such_room", message=f"there is no room {R}")
    assert [e for e in h.take(bob) if isinstance(e, Error)] == [
        msgspec.structs.replace(nowhere, id="1"), msgspec.structs.replace(nowhere, id="2")]
    h.send(carol, Join(id="3", room="#nowhere"))  # a room nobody uses is created instead
    assert joined(h.take(carol), "#nowhere").members == ("carol",)


def test_a_default_room_takes_no_key_and_no_limit() -> None:
    h = Harness(HubConfig(server_operators=frozenset({"root"})),
                stored=StoredState(accounts={"root": "root"}))
    root, _ = h.login_account(Hello(version=1, nick="root", password="x"))
    h.clear()
    h.send(root, SetRoomMode(id="1", room="#lobby", key="k"))
    h.send(root, SetRoomMode(id="2", room="#lobby", limit=3))
    h.send(root, SetRoomMode(id="3", room="#lobby", moderated=True, open_topic=True))
    events = h.take(root)
    assert codes(events) == ["invalid_args", "invalid_args"]
    assert h.hub._rules["#lobby"].moderated and h.hub._rules["#lobby"].open_topic


# ---------------------------------------------------------------------- one event per MODE


def test_one_mode_makes_one_room_updated_listing_what_changed() -> None:
    h = Harness()
    alice = room_with(h)
    bob = h.login("bob")
    h.send(bob, Join(room=R))
    h.clear()
    h.send(alice, SetRoomMode(id="m", room=R, invite_only=True, moderated=True, limit=5,
                              outside_messages=False))
    [mine] = h.take(alice)
    [theirs] = h.take(bob)
    assert isinstance(mine, RoomUpdated) and mine.id == "m"
    assert theirs == RoomUpdated(room=R, change="modes", by="alice",
                                 changed=("invite_only", "moderated", "limit"),
                                 operators=("alice",), invite_only=True, moderated=True,
                                 limit=5, created_at=mine.created_at)
    h.send(alice, SetRoomMode(id="m2", room=R, open_topic=True))
    h.take(alice)
    [one] = h.take(bob)
    assert isinstance(one, RoomUpdated)
    assert (one.change, one.changed, one.open_topic) == ("open_topic", ("open_topic",), True)
    h.send(alice, SetRoomMode(id="m3", room=R, open_topic=True, limit=5))
    assert [e.change for e in h.take(alice) if isinstance(e, RoomUpdated)] == ["state"]
    assert h.take(bob) == []


# ---------------------------------------------------------------------- speaking


def test_a_moderated_room_lets_only_operators_and_voiced_members_speak() -> None:
    h = Harness()
    alice = room_with(h, moderated=True)
    bob = h.login("bob")
    h.send(bob, Join(room=R))
    h.clear()
    h.send(bob, Say(id="s1", room=R, text="hi"))
    assert codes(h.take(bob)) == ["moderated"]
    assert h.take(alice) == []
    h.send(alice, GrantVoice(id="v", room=R, nick="bob"))
    [update] = h.take(bob)
    assert isinstance(update, RoomUpdated) and (update.change, update.nick, update.voiced) == (
        "voice", "bob", ("bob",))
    h.send(bob, Say(id="s2", room=R, text="hi again"))
    assert [e.text for e in h.take(alice) if isinstance(e, Message)] == ["hi again"]
    h.send(alice, Say(id="s3", room=R, text="operators speak"))
    assert codes(h.take(alice)) == []
    h.send(alice, RevokeVoice(room=R, nick="bob"))
    h.send(bob, Say(id="s4", room=R, text="and now?"))
    assert codes(h.take(bob)) == ["moderated"]


def test_a_voice_is_the_identitys_stored_announced_on_join_and_lost_to_a_ban() -> None:
    h = Harness()
    alice = room_with(h)
    bob = h.login("bob")
    h.send(bob, Join(room=R))
    effects = h.send(alice, GrantVoice(room=R, nick="bob"))
    saved = [e.settings for e in effects if isinstance(e, SaveRoom)]
    assert saved[-1].voiced == (h.hub._online["bob"].key,)
    h.send(bob, Leave(room=R))
    h.clear()
    h.send(bob, Join(room=R))
    assert RoomUpdated(room=R, change="voice", nick="bob", operators=("alice",),
                       voiced=("bob",), created_at=h.hub._rules[R].created_at) in h.take(alice)
    h.send(alice, ListUsers(id="w", room=R))
    [users] = [e for e in h.take(alice) if isinstance(e, Users)]
    assert users.voiced == ("bob",)
    h.send(alice, Ban(room=R, nick="bob"))
    assert h.hub._rules[R].voiced == set()


def test_voice_needs_an_operator_and_a_member() -> None:
    h = Harness()
    room_with(h)
    bob, carol = h.login("bob"), h.login("carol")
    h.send(bob, Join(room=R))
    h.clear()
    h.send(bob, GrantVoice(id="1", room=R, nick="bob"))
    h.send(carol, GrantVoice(id="2", room=R, nick="bob"))
    assert codes(h.take(bob)) == ["not_operator"]
    assert codes(h.take(carol)) == ["not_in_room"]
    h.send(1, GrantVoice(id="3", room=R, nick="carol"))
    h.send(1, GrantVoice(id="4", room=R, nick="nobody"))
    assert codes(h.take(1)) == ["user_not_in_room", "no_such_user"]


def test_outside_messages_reach_the_members_when_the_room_allows_them() -> None:
    h = Harness()
    alice = room_with(h)
    bob = h.login("bob")
    h.send(bob, Say(id="s1", room=R, text="knock knock"))
    assert codes(h.take(bob)) == ["not_in_room"]
    h.send(alice, SetRoomMode(room=R, outside_messages=True))
    h.clear()
    h.send(bob, Say(id="s2", room=R, text="knock knock"))
    [ack] = h.take(bob)
    assert isinstance(ack, Message) and ack.id == "s2" and ack.room == R
    [seen] = h.take(alice)
    assert isinstance(seen, Message) and (seen.sender, seen.text) == ("bob", "knock knock")
    h.send(alice, Ban(room=R, nick="bob"))  # banned: out of reach again
    h.send(bob, Say(id="s3", room=R, text="let me in"))
    assert codes(h.take(bob)) == ["not_in_room"]
    carol = h.login("carol")
    h.send(alice, SetRoomMode(room=R, moderated=True))  # +m silences outsiders too
    h.send(carol, Say(id="s4", room=R, text="hello?"))
    assert codes(h.take(carol)) == ["not_in_room"]


def test_an_open_topic_lets_every_member_set_it() -> None:
    h = Harness()
    alice = room_with(h)
    bob = h.login("bob")
    h.send(bob, Join(room=R))
    h.clear()
    h.send(bob, SetTopic(id="t1", room=R, topic="mine"))
    assert codes(h.take(bob)) == ["not_operator"]
    h.send(alice, SetRoomMode(room=R, open_topic=True))
    h.send(bob, SetTopic(id="t2", room=R, topic="mine"))
    assert h.hub._rules[R].topic == "mine"
    h.send(bob, GrantOperator(id="o", room=R, nick="bob"))  # nothing else opens
    assert codes(h.take(bob)) == ["not_operator"]


# ---------------------------------------------------------------------- state and storage


def test_rooms_keep_their_creation_time_and_bans_their_setter() -> None:
    h = Harness()
    alice = h.login("alice")
    made = format_ts(h.clock.now)
    h.clock.advance(60)
    h.send(alice, Join(room=R))
    assert joined(h.take(alice)).created_at == format_ts(h.clock.now)
    h.clock.advance(60)
    h.send(alice, Ban(room=R, nick="mallory"))
    h.send(alice, ListBans(id="b", room=R))
    [bans] = [e for e in h.take(alice) if isinstance(e, BanList)]
    assert bans.bans == (BanEntry(nick="mallory", by="alice", at=format_ts(h.clock.now)),)
    h.send(alice, ListRooms(id="r"))
    [rooms] = [e for e in h.take(alice) if isinstance(e, RoomList)]
    assert {r.room: r.created_at for r in rooms.rooms} == {
        "#lobby": made, R: format_ts(h.clock.now - 60)}


def test_the_key_is_listed_for_members_only() -> None:
    h = Harness()
    alice = room_with(h, key="beer", limit=9, moderated=True)
    bob = h.login("bob")
    for sid in (alice, bob):
        h.send(sid, ListRooms(id="r"))
    [mine] = [r for e in h.take(alice) if isinstance(e, RoomList) for r in e.rooms if r.room == R]
    [theirs] = [r for e in h.take(bob) if isinstance(e, RoomList) for r in e.rooms
                if r.room == R]
    assert (mine.keyed, mine.key, mine.limit, mine.moderated) == (True, "beer", 9, True)
    assert (theirs.keyed, theirs.key, theirs.limit) == (True, None, 9)


def test_every_setting_comes_back_from_the_store() -> None:
    first = Harness()
    alice = first.login("alice")
    bob = first.login("bob")
    effects = first.send(alice, Join(room=R))
    first.send(bob, Join(room=R))
    settings_changes: list[ClientMessage] = [
        SetRoomMode(room=R, moderated=True, outside_messages=True, open_topic=True, limit=7,
                    key="k"),
        GrantVoice(room=R, nick="bob"),
        Ban(room=R, nick="mallory"),
    ]
    for change in settings_changes:
        effects += first.send(alice, change)
    settings = [e.settings for e in effects if isinstance(e, SaveRoom)][-1]
    assert settings == RoomSettings(
        room=R, operators=(first.hub._online["alice"].key,),
        bans=(RoomBan(nick="mallory", by="alice", at=format_ts(first.clock.now)),),
        created_at=format_ts(first.clock.now), moderated=True, outside_messages=True,
        open_topic=True, limit=7, key="k", voiced=(first.hub._online["bob"].key,))
    again = Harness(stored=StoredState(rooms=[settings]))
    carol = again.login("carol")
    again.send(carol, Join(id="j", room=R))
    assert codes(again.take(carol)) == ["bad_key"]
    again.send(carol, Join(id="j", room=R, key="k"))
    state = joined(again.take(carol))
    assert (state.moderated, state.outside_messages, state.open_topic, state.limit,
            state.created_at) == (True, True, True, 7, settings.created_at)


# ---------------------------------------------------------------------- allow list, invitations


def test_the_allow_list_lets_its_nicks_past_invite_only_and_nothing_else() -> None:
    h = Harness()
    alice = room_with(h, invite_only=True)
    h.send(alice, Allow(id="a", room=R, nick="Bar"))
    [update] = h.take(alice)
    assert isinstance(update, RoomUpdated) and (update.change, update.nick) == ("allow", "Bar")
    bar, baz = h.login("bar"), h.login("baz")
    h.send(bar, Join(id="1", room=R))
    h.send(baz, Join(id="2", room=R))
    assert joined(h.take(bar)).members == ("alice", "bar")
    assert codes(h.take(baz)) == ["invite_only"]
    h.send(alice, SetRoomMode(room=R, key="k"))  # the allow list passes invite-only only
    h.send(bar, Leave(room=R))
    h.send(bar, Join(id="3", room=R))
    assert codes(h.take(bar)) == ["bad_key"]
    h.send(alice, Disallow(room=R, nick="bar"))
    h.send(bar, Join(id="4", room=R, key="k"))
    assert codes(h.take(bar)) == ["invite_only"]


def test_the_allow_list_is_listed_to_members_with_setter_and_time_and_stored() -> None:
    h = Harness()
    alice = room_with(h)
    effects = h.send(alice, Allow(room=R, nick="dan"))
    [settings] = [e.settings for e in effects if isinstance(e, SaveRoom)]
    assert settings.allowed == (RoomBan(nick="dan", by="alice", at=format_ts(h.clock.now)),)
    h.send(alice, ListAllowed(id="l", room=R))
    assert h.take(alice)[-1] == AllowList(
        id="l", room=R, nicks=("dan",),
        allowed=(BanEntry(nick="dan", by="alice", at=format_ts(h.clock.now)),))
    bob = h.login("bob")
    h.send(bob, ListAllowed(id="l", room=R))
    h.send(bob, Allow(id="a", room=R, nick="bob"))
    assert codes(h.take(bob)) == ["not_in_room", "not_in_room"]
    again = Harness(stored=StoredState(rooms=[msgspec.structs.replace(settings,
                                                                        invite_only=True)]))
    dan = again.login("dan")
    again.send(dan, Join(id="j", room=R))
    assert joined(again.take(dan)).invite_only


def test_invitations_lists_the_rooms_one_may_join_by_invitation() -> None:
    h = Harness()
    alice = room_with(h, invite_only=True)
    h.send(alice, Join(room="#two"))
    bob = h.login("bob")
    for room in ("#two", R):
        h.send(alice, Invite(room=room, nick="bob"))
    h.send(bob, ListInvitations(id="i"))
    assert h.take(bob)[-1] == InvitationList(id="i", rooms=("#r", "#two"))
    h.send(bob, Join(room="#two"))
    h.send(bob, ListInvitations(id="i2"))
    assert h.take(bob)[-1] == InvitationList(id="i2", rooms=(R,))


# ---------------------------------------------------------------------- mutes


def test_a_muted_nick_may_stay_but_not_speak_unless_voiced() -> None:
    h = Harness()
    alice = room_with(h)
    bob = h.login("bob")
    h.send(bob, Join(room=R))
    effects = h.send(alice, Mute(id="m", room=R, nick="Bob"))
    [settings] = [e.settings for e in effects if isinstance(e, SaveRoom)]
    assert settings.muted == (RoomBan(nick="bob", by="alice", at=format_ts(h.clock.now)),)
    assert [e.change for e in h.take(bob) if isinstance(e, RoomUpdated)] == ["mute"]
    h.send(bob, Say(id="s1", room=R, text="hi"))
    assert codes(h.take(bob)) == ["muted"]
    assert not [e for e in h.take(alice) if isinstance(e, Message)]
    h.send(bob, ListBans(id="b", room=R))
    [bans] = [e for e in h.take(bob) if isinstance(e, BanList)]
    assert (bans.nicks, bans.muted) == ((), (BanEntry(nick="bob", by="alice",
                                                       at=format_ts(h.clock.now)),))
    h.send(alice, GrantVoice(room=R, nick="bob"))  # a voice passes a mute
    h.send(bob, Say(id="s2", room=R, text="with a voice"))
    assert codes(h.take(bob)) == []
    h.send(alice, RevokeVoice(room=R, nick="bob"))
    h.send(alice, Unmute(room=R, nick="bob"))
    h.send(bob, Say(id="s3", room=R, text="free again"))
    assert codes(h.take(bob)) == []
    assert h.send(alice, Mute(id="m2", room=R, nick="alice"))  # operators speak anyway
    h.send(alice, Say(id="s4", room=R, text="still here"))
    assert codes(h.take(alice)) == []
