"""User and room metadata in the hub (hub/metadata.py): the rules, who hears of changes, what
is kept."""

from __future__ import annotations

from palaver.hub import HubConfig
from palaver.hub.effects import Effect, SaveMetadata
from palaver.hub.hub import StoredState
from palaver.hub.metadata import MAX_KEYS, MAX_SUBS, MAX_VALUE_BYTES
from palaver.protocol.messages import (
    ClearMetadata,
    Error,
    GetMetadata,
    Hello,
    Join,
    ListUsers,
    MetadataEntry,
    MetadataSubscriptions,
    MetadataValues,
    Register,
    ServerMessage,
    SetMetadata,
    SetRoomMode,
    SubscribeMetadata,
    SyncMetadata,
    Users,
    Watch,
    Welcome,
)
from tests.unit.hub_harness import Harness


def arrive(h: Harness, nick: str, **fields: object) -> int:
    """A guest that joins no default room."""
    sid = h.open()
    h.send(sid, Hello(version=1, nick=nick, autojoin=False, **fields))  # type: ignore[arg-type]
    return sid


def errors(events: list[ServerMessage]) -> list[str]:
    return [e.code for e in events if isinstance(e, Error)]


def values(events: list[ServerMessage]) -> list[MetadataValues]:
    return [e for e in events if isinstance(e, MetadataValues)]


def saved(effects: list[Effect]) -> list[SaveMetadata]:
    return [e for e in effects if isinstance(e, SaveMetadata)]


def entry(key: str, value: str | None = None, *, nick: str | None = None,
          room: str | None = None) -> MetadataEntry:
    return MetadataEntry(key=key, value=value, nick=nick, room=room)


def subscribe(h: Harness, sid: int, *keys: str) -> None:
    h.send(sid, SubscribeMetadata(add=keys))
    h.take(sid)


# --------------------------------------------------------------------------- one's own


def test_set_get_and_remove_ones_own_keys() -> None:
    h = Harness()
    ann = arrive(h, "ann")
    h.take(ann)
    h.send(ann, SetMetadata(id="s", key="display-name", value="Ann A."))
    assert h.take(ann) == [MetadataValues(id="s", nick="ann",
                                          entries=(entry("display-name", "Ann A.", nick="ann"),))]
    h.send(ann, SetMetadata(key="pronouns", value="she/her"))
    h.take(ann)
    h.send(ann, GetMetadata(id="g", keys=("pronouns", "avatar", "display-name")))
    [answer] = h.take(ann)
    assert answer == MetadataValues(id="g", nick="ann", entries=(
        entry("pronouns", "she/her", nick="ann"), entry("avatar", nick="ann"),
        entry("display-name", "Ann A.", nick="ann")))
    h.send(ann, GetMetadata(id="l", nick="ANN"))  # no keys: every key set, in order
    assert [(e.key, e.value) for e in values(h.take(ann))[0].entries] == [
        ("display-name", "Ann A."), ("pronouns", "she/her")]
    h.send(ann, SetMetadata(id="u", key="display-name"))
    assert h.take(ann) == [MetadataValues(id="u", nick="ann",
                                          entries=(entry("display-name", nick="ann"),))]
    h.send(ann, SetMetadata(id="again", key="display-name"))
    assert errors(h.take(ann)) == ["metadata_not_set"]


def test_keys_values_and_limits_are_checked() -> None:
    h = Harness()
    ann = arrive(h, "ann")
    h.take(ann)
    for bad in ("", "Display-Name", "a b", "k" * 51, ":x", "caf\u00e9"):
        h.send(ann, SetMetadata(key=bad, value="v"))
        assert errors(h.take(ann)) == ["invalid_field"], bad
    for bad_value in ("x" * (MAX_VALUE_BYTES + 1), "\U0001f49c" * 76, "two\nlines", "\x00",
                      "tab\there", "\u202eevil"):
        h.send(ann, SetMetadata(key="status", value=bad_value))
        assert errors(h.take(ann)) == ["invalid_field"], bad_value
    h.send(ann, SetMetadata(key="status", value="\U0001f49c" * 75))  # 300 bytes exactly
    h.send(ann, SetMetadata(key="empty", value=""))  # an empty value is a value
    assert errors(h.take(ann)) == []
    for n in range(MAX_KEYS - 2):
        h.send(ann, SetMetadata(key=f"k{n}", value="v"))
    h.send(ann, SetMetadata(key="status", value="changed"))  # replacing needs no room
    assert errors(h.take(ann)) == []
    h.send(ann, SetMetadata(key="one-too-many", value="v"))
    assert errors(h.take(ann)) == ["metadata_limit"]
    h.send(ann, GetMetadata(keys=("Bad Key",)))
    assert errors(h.take(ann)) == ["invalid_field"]


def test_others_metadata_is_readable_but_only_server_operators_change_it() -> None:
    h = Harness(HubConfig(server_operators=frozenset({"root"})),
                stored=StoredState(accounts={"root": "root"}))
    ann, bob = arrive(h, "ann"), arrive(h, "bob")
    h.send(ann, SetMetadata(key="avatar", value="https://a.example/ann.png"))
    h.clear()
    h.send(bob, GetMetadata(id="g", nick="ann", keys=("avatar",)))
    assert values(h.take(bob))[0].entries == (entry("avatar", "https://a.example/ann.png",
                                                    nick="ann"),)
    h.send(bob, SetMetadata(key="avatar", value="mine now", nick="ann"))
    h.send(bob, ClearMetadata(nick="ann"))
    assert errors(h.take(bob)) == ["not_operator", "not_operator"]
    h.send(bob, GetMetadata(nick="nobody"))
    h.send(bob, GetMetadata(nick="not a nick"))
    assert errors(h.take(bob)) == ["no_such_user", "invalid_nick"]
    root, _ = h.login_account(Hello(version=1, nick="root", password="x", autojoin=False))
    h.send(root, SetMetadata(id="r", key="avatar", value="removed", nick="ann"))
    assert errors(h.take(root)) == []
    h.send(ann, GetMetadata(keys=("avatar",)))
    assert values(h.take(ann))[0].entries == (entry("avatar", "removed", nick="ann"),)


def test_clear_answers_with_the_keys_it_removed() -> None:
    h = Harness()
    ann = arrive(h, "ann")
    h.send(ann, SetMetadata(key="a", value="1"))
    h.send(ann, SetMetadata(key="b", value="2"))
    h.take(ann)
    h.send(ann, ClearMetadata(id="c"))
    assert h.take(ann) == [MetadataValues(id="c", nick="ann", entries=(
        entry("a", nick="ann"), entry("b", nick="ann")))]
    h.send(ann, ClearMetadata(id="c2"))
    assert h.take(ann) == [MetadataValues(id="c2", nick="ann")]


# --------------------------------------------------------------------------- rooms


def test_a_rooms_operators_set_its_metadata_and_its_members_read_it() -> None:
    h = Harness()
    op, member, outsider = arrive(h, "op"), arrive(h, "member"), arrive(h, "outsider")
    h.send(op, Join(room="#Chan"))
    h.send(member, Join(room="#chan"))
    h.clear()
    h.send(op, SetMetadata(id="s", room="#chan", key="url", value="https://chan.example"))
    assert h.take(op) == [MetadataValues(id="s", room="#Chan", entries=(
        entry("url", "https://chan.example", room="#Chan"),))]
    h.send(member, SetMetadata(room="#chan", key="url", value="defaced"))
    h.send(member, ClearMetadata(room="#chan"))
    h.send(outsider, SetMetadata(room="#chan", key="url", value="defaced"))
    assert errors(h.take(member)) == ["not_operator", "not_operator"]
    assert errors(h.take(outsider)) == ["not_in_room"]
    for sid in (member, outsider):  # a room open to all: its metadata is, like its topic
        h.send(sid, GetMetadata(room="#CHAN", keys=("url",)))
        assert values(h.take(sid))[0].entries == (entry("url", "https://chan.example",
                                                        room="#Chan"),)
    h.send(outsider, GetMetadata(room="#nowhere"))
    h.send(outsider, GetMetadata(room="nowhere"))
    assert errors(h.take(outsider)) == ["no_such_room", "invalid_room"]


def test_invite_only_and_private_rooms_hide_their_metadata_from_outsiders() -> None:
    h = Harness()
    op, outsider = arrive(h, "op"), arrive(h, "outsider")
    h.send(op, Join(room="#closed"))
    h.send(op, SetMetadata(room="#closed", key="url", value="secret"))
    h.send(op, SetRoomMode(room="#closed", invite_only=True))
    subscribe(h, outsider, "url")
    for ask in (GetMetadata(room="#closed"), SyncMetadata(room="#closed")):
        h.send(outsider, ask)
    assert errors(h.take(outsider)) == ["not_in_room", "not_in_room"]
    h.send(op, SetRoomMode(room="#closed", invite_only=False, private=True))
    h.send(outsider, GetMetadata(room="#closed"))
    assert errors(h.take(outsider)) == ["no_such_room"]  # as if it did not exist


def test_room_metadata_outlives_its_members_and_is_stored() -> None:
    h = Harness()
    op = arrive(h, "op")
    h.send(op, Join(room="#keep"))
    effects = h.send(op, SetMetadata(room="#keep", key="url", value="u"))
    assert saved(effects) == [SaveMetadata(target="#keep", values=(("url", "u"),))]
    h.drop(op)
    later = arrive(h, "later")
    h.send(later, GetMetadata(room="#keep"))
    assert values(h.take(later))[0].entries == (entry("url", "u", room="#keep"),)
    restarted = Harness(stored=StoredState(metadata={"#keep": {"url": "u"}}))
    again = arrive(restarted, "again")
    restarted.send(again, Join(room="#keep"))
    restarted.send(again, GetMetadata(room="#keep"))
    assert values(restarted.take(again))[0].entries == (entry("url", "u", room="#keep"),)


# --------------------------------------------------------------------------- subscriptions


def test_subscriptions_are_the_sessions_and_stop_at_the_limit() -> None:
    h = Harness()
    sid = h.open()
    h.send(sid, SubscribeMetadata(id="s", add=("avatar", "status")))  # before HELLO
    assert h.take(sid) == [MetadataSubscriptions(id="s", keys=("avatar", "status"),
                                                 added=("avatar", "status"))]
    h.send(sid, SubscribeMetadata(id="u", remove=("status", "never"), add=("avatar",)))
    assert h.take(sid) == [MetadataSubscriptions(id="u", keys=("avatar",), added=("avatar",),
                                                 removed=("status", "never"))]
    keys = tuple(f"k{n}" for n in range(MAX_SUBS + 1))
    h.send(sid, SubscribeMetadata(id="full", add=keys))
    [answer] = h.take(sid)
    assert isinstance(answer, MetadataSubscriptions)
    assert answer.added == keys[:MAX_SUBS - 1] and answer.refused == keys[MAX_SUBS - 1:]
    assert len(answer.keys) == MAX_SUBS
    h.send(sid, SubscribeMetadata(id="bad", add=("ok", "Not OK")))
    assert errors(h.take(sid)) == ["invalid_field"]
    h.send(sid, SubscribeMetadata(id="ask"))
    assert h.take(sid) == [MetadataSubscriptions(id="ask", keys=answer.keys)]
    h.drop(sid)
    assert sid not in h.hub._subscriptions


def test_a_change_reaches_the_subscribed_sessions_that_share_a_room_or_watch() -> None:
    h = Harness()
    ann = arrive(h, "ann")
    welcome = h.take(ann)[0]
    assert isinstance(welcome, Welcome)
    ann2 = h.open()
    h.send(ann2, Hello(version=1, nick="ann", token=welcome.token, autojoin=False))
    mate, deaf, stranger, watcher = (arrive(h, n) for n in ("mate", "deaf", "stranger",
                                                            "watcher"))
    for sid in (ann, mate, deaf):
        h.send(sid, Join(room="#r"))
    for sid in (ann, ann2, mate, stranger, watcher):
        subscribe(h, sid, "status")
    h.send(watcher, Watch(add=("ann",)))
    h.clear()
    h.send(ann, SetMetadata(id="s", key="status", value="busy"))
    h.send(ann, SetMetadata(key="other", value="not subscribed"))
    change = MetadataValues(nick="ann", entries=(entry("status", "busy", nick="ann"),),
                            change=True, by="ann")
    for sid in (ann2, mate, watcher):
        assert h.take(sid) == [change], sid
    assert values(h.take(ann)) == [
        MetadataValues(id="s", nick="ann", entries=(entry("status", "busy", nick="ann"),)),
        MetadataValues(nick="ann", entries=(entry("other", "not subscribed", nick="ann"),))]
    assert h.take(deaf) == [] and h.take(stranger) == []
    h.send(ann, SetMetadata(key="status", value="busy"))  # the same value: no change
    assert h.take(mate) == []
    h.send(ann, ClearMetadata())
    assert h.take(mate) == [MetadataValues(nick="ann", entries=(entry("status", nick="ann"),),
                                           change=True, by="ann")]


def test_a_room_change_reaches_its_subscribed_members() -> None:
    h = Harness()
    op, member, outsider = arrive(h, "op"), arrive(h, "member"), arrive(h, "outsider")
    h.send(op, Join(room="#r"))
    h.send(member, Join(room="#r"))
    for sid in (op, member, outsider):
        subscribe(h, sid, "url")
    h.clear()
    h.send(op, SetMetadata(room="#r", key="url", value="u"))
    assert h.take(member) == [MetadataValues(room="#r", entries=(entry("url", "u", room="#r"),),
                                             change=True, by="op")]
    assert len(h.take(op)) == 1 and h.take(outsider) == []


def test_a_join_brings_what_the_session_subscribes_to_and_introduces_the_joiner() -> None:
    h = Harness()
    op, old_friend, newcomer = arrive(h, "op"), arrive(h, "friend"), arrive(h, "newcomer")
    h.send(op, Join(room="#r"))
    h.send(op, SetMetadata(room="#r", key="url", value="u"))
    h.send(op, SetMetadata(key="avatar", value="op.png"))
    h.send(op, SetMetadata(key="hidden", value="not subscribed"))
    for sid in (old_friend, newcomer):
        h.send(sid, Join(room="#elsewhere"))
        h.send(sid, SetMetadata(key="avatar", value=f"{sid}.png"))
    h.send(old_friend, Join(room="#r"))
    for sid in (op, old_friend, newcomer):
        subscribe(h, sid, "url", "avatar")
    h.clear()
    h.send(newcomer, Join(room="#r"))
    assert values(h.take(newcomer)) == [MetadataValues(room="#r", entries=(
        entry("url", "u", room="#r"), entry("avatar", "op.png", nick="op"),
        entry("avatar", f"{old_friend}.png", nick="friend"),
        entry("avatar", f"{newcomer}.png", nick="newcomer")))]
    assert values(h.take(op)) == [MetadataValues(nick="newcomer", entries=(
        entry("avatar", f"{newcomer}.png", nick="newcomer"),))]
    assert values(h.take(old_friend)) == []  # they share #elsewhere: known already


def test_sync_gives_the_subscribed_keys_of_a_user_or_a_room_and_its_members() -> None:
    h = Harness()
    op, bob = arrive(h, "op"), arrive(h, "bob")
    h.send(op, Join(room="#r"))
    h.send(op, SetMetadata(room="#r", key="url", value="u"))
    h.send(op, SetMetadata(key="avatar", value="a"))
    h.send(op, SetMetadata(key="status", value="s"))
    h.clear()
    h.send(bob, SyncMetadata(id="none", nick="op"))  # subscribed to nothing: nothing
    assert h.take(bob) == [MetadataValues(id="none", nick="op")]
    subscribe(h, bob, "avatar", "url")
    h.send(bob, SyncMetadata(id="u", nick="op"))
    h.send(bob, SyncMetadata(id="r", room="#r"))
    assert h.take(bob) == [
        MetadataValues(id="u", nick="op", entries=(entry("avatar", "a", nick="op"),)),
        MetadataValues(id="r", room="#r", entries=(entry("url", "u", room="#r"),
                                                   entry("avatar", "a", nick="op")))]


# --------------------------------------------------------------------------- arrival, WHOIS


def test_a_hello_may_carry_metadata_and_welcome_carries_it_back() -> None:
    h = Harness()
    plain = arrive(h, "plain")
    assert isinstance(welcome := h.take(plain)[0], Welcome) and welcome.metadata is None
    empty = arrive(h, "empty", metadata={})
    assert isinstance(welcome := h.take(empty)[0], Welcome) and welcome.metadata == {}
    full = arrive(h, "full", metadata={"display-name": "Full Name"})
    assert isinstance(welcome := h.take(full)[0], Welcome)
    assert welcome.metadata == {"display-name": "Full Name"}
    bad = arrive(h, "bad", metadata={"Bad Key": "x"})
    assert errors(h.take(bad)) == ["invalid_field"] and not h.hub.is_registered(bad)
    too_many = arrive(h, "many", metadata={f"k{n}": "v" for n in range(MAX_KEYS + 1)})
    assert errors(h.take(too_many)) == ["metadata_limit"]


def test_an_accounts_metadata_is_stored_and_a_guests_dies_with_it() -> None:
    h = Harness(stored=StoredState(accounts={"acc": "acc"},
                                   metadata={"acc": {"avatar": "stored.png"}}))
    acc, _ = h.login_account(Hello(version=1, nick="acc", password="x", autojoin=False,
                                   metadata={"status": "new"}))
    [welcome] = [e for e in h.take(acc) if isinstance(e, Welcome)]
    assert welcome.metadata == {"avatar": "stored.png", "status": "new"}
    effects = h.send(acc, SetMetadata(key="pronouns", value="they/them"))
    assert saved(effects) == [SaveMetadata(target="acc", values=(
        ("avatar", "stored.png"), ("status", "new"), ("pronouns", "they/them")))]
    h.drop(acc)
    back, _ = h.login_account(Hello(version=1, nick="acc", password="x", autojoin=False))
    [welcome] = [e for e in h.take(back) if isinstance(e, Welcome)]
    assert welcome.metadata == {"avatar": "stored.png", "status": "new",
                                "pronouns": "they/them"}
    guest = arrive(h, "guest")
    assert saved(h.send(guest, SetMetadata(key="avatar", value="g.png"))) == []
    key = h.hub._online["guest"].key
    h.drop(guest)
    assert key not in h.hub._metadata


def test_a_guest_that_registers_keeps_its_metadata_in_the_account() -> None:
    h = Harness()
    guest = arrive(h, "guest")
    h.send(guest, SetMetadata(key="avatar", value="g.png"))
    h.send(guest, Register(nick="guest", password="long enough"))
    effects = h.hub.account_created(guest, "guest", created=True, request_id=None)
    assert saved(effects) == [SaveMetadata(target="guest", values=(("avatar", "g.png"),))]


def test_whois_shows_a_users_metadata() -> None:
    h = Harness()
    ann, bob = arrive(h, "ann"), arrive(h, "bob")
    h.send(ann, SetMetadata(key="display-name", value="Ann"))
    h.clear()
    h.send(bob, ListUsers(nick="ann", details=True))
    h.send(bob, ListUsers(nick="bob", details=True))
    answers = [e for e in h.take(bob) if isinstance(e, Users)]
    assert [a.info[0].metadata for a in answers] == [{"display-name": "Ann"}, None]


def test_a_new_session_subscribed_before_hello_gets_its_rooms_metadata() -> None:
    h = Harness()
    ann = arrive(h, "ann")
    welcome = h.take(ann)[0]
    assert isinstance(welcome, Welcome)
    h.send(ann, Join(room="#r"))
    h.send(ann, SetMetadata(room="#r", key="url", value="u"))
    subscribe(h, ann, "status")
    h.clear()
    second = h.open()
    h.send(second, SubscribeMetadata(add=("url", "status")))  # before HELLO
    h.send(second, Hello(version=1, nick="ann", token=welcome.token, autojoin=False,
                         metadata={"status": "on the phone"}))
    assert values(h.take(second)) == [MetadataValues(room="#r", entries=(
        entry("url", "u", room="#r"), entry("status", "on the phone", nick="ann")))]
    assert h.take(ann) == [MetadataValues(nick="ann", change=True, by="ann", entries=(
        entry("status", "on the phone", nick="ann"),))]
