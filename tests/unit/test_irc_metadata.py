"""The IRC dialect's draft/metadata-3: METADATA onto the hub's METADATA_* messages, events to
761/766/770-772 lines, batches, FAIL METADATA, before-connect and WHOIS's 760."""

from __future__ import annotations

import re

from palaver.hub.metadata import MAX_KEYS
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.metadata import CAP, CAP_VALUE
from palaver.protocol.messages import (
    ClearMetadata,
    Error,
    GetMetadata,
    Hello,
    MetadataEntry,
    MetadataSubscriptions,
    MetadataValues,
    Pong,
    SetMetadata,
    SubscribeMetadata,
    SyncMetadata,
    UserInfo,
    Users,
    Welcome,
)

CAPS = f"{CAP} batch"


def lines(data: bytes) -> list[str]:
    return [line.decode() for line in data.split(b"\r\n") if line]


def replies(items: list[Inbound]) -> list[str]:
    return [line for item in items if isinstance(item, bytes) for line in lines(item)]


def requests(items: list[Inbound]) -> list[object]:
    return [item for item in items if not isinstance(item, bytes)]


def send(d: IrcDialect, line: str) -> list[Inbound]:
    return d.receive_data(f"{line}\r\n".encode())


def registered(nick: str = "ann", caps: str = CAPS) -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: nick, server="srv")
    if caps:
        d.receive_data(f"CAP REQ :{caps}\r\nCAP END\r\n".encode())
    out = d.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :Ann\r\n".encode())
    hello = out[-1]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick=nick, server="p", rooms=(), motd="hi"))
    return d


def answer(d: IrcDialect, line: str, event: object) -> list[str]:
    """Send ``line``; render ``event`` (a hub answer, without id) as the answer to it."""
    [request] = requests(send(d, line))
    return lines(d.encode(event.__class__(**{**_fields(event), "id": request.id})))  # type: ignore[attr-defined]


def _fields(event: object) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__struct_fields__}  # type: ignore[attr-defined]


def unbatched(reply: list[str]) -> tuple[str, list[str]]:
    """The batch's type and target, and its lines without the batch tag; checks the frame."""
    start, *inner, end = reply
    opened = re.fullmatch(r":srv BATCH \+(\S+) (\S+) ?(\S*)", start)
    assert opened is not None, start
    ref = opened.group(1)
    assert end == f":srv BATCH -{ref}"
    assert all(line.startswith(f"@batch={ref} ") for line in inner), inner
    return f"{opened.group(2)} {opened.group(3)}".strip(), [
        line.removeprefix(f"@batch={ref} ") for line in inner]


def ann_entry(key: str, value: str | None = None) -> MetadataEntry:
    return MetadataEntry(key=key, value=value, nick="ann")


# --------------------------------------------------------------------------- the capability


def test_cap_ls_302_offers_the_capability_with_its_limits() -> None:
    d = IrcDialect(ids=RequestIds("t"))
    ls = replies(send(d, "CAP LS 302"))
    assert any(f"{CAP}={CAP_VALUE}" in line for line in ls)
    assert CAP_VALUE == "before-connect,max-subs=50,max-keys=20,max-value-bytes=300"


# --------------------------------------------------------------------------- commands


def test_set_asks_the_hub_and_answers_one_761_or_766() -> None:
    d = registered()
    [request] = requests(send(d, "METADATA * SET display-name :Ann A."))
    assert request == SetMetadata(id=request.id, key="display-name",  # type: ignore[attr-defined]
                                  value="Ann A.")
    assert lines(d.encode(MetadataValues(id=request.id, nick="ann",  # type: ignore[attr-defined]
                                         entries=(ann_entry("display-name", "Ann A."),)))) == [
        ":srv 761 ann ann display-name * :Ann A."]
    assert answer(d, "METADATA ann SET display-name", MetadataValues(
        nick="ann", entries=(ann_entry("display-name"),))) == [
        ":srv 766 ann ann display-name :key not set"]
    [room] = requests(send(d, "METADATA #dev SET url :https://dev.example"))
    assert room == SetMetadata(id=room.id, key="url", value="https://dev.example",  # type: ignore[attr-defined]
                               room="#dev")
    [other] = requests(send(d, "METADATA bob set avatar x"))
    assert other == SetMetadata(id=other.id, key="avatar", value="x", nick="bob")  # type: ignore[attr-defined]


def test_a_bad_key_or_subcommand_is_refused_at_once() -> None:
    d = registered()
    assert replies(send(d, "METADATA * SET Bad:Key :x")) == [
        ":srv FAIL METADATA KEY_INVALID Bad:Key :Invalid key"]
    assert replies(send(d, "METADATA * DESTROY")) == [
        ":srv FAIL METADATA SUBCOMMAND_INVALID DESTROY :Invalid subcommand"]
    assert replies(send(d, "METADATA * GET")) == [
        ":srv 461 ann METADATA :Not enough parameters"]
    assert replies(send(d, "METADATA *")) == [":srv 461 ann METADATA :Not enough parameters"]


def test_get_answers_every_key_in_order_in_a_metadata_batch() -> None:
    d = registered()
    [request] = requests(send(d, "METADATA ann GET avatar B@D display-name"))
    assert request == GetMetadata(id=request.id, keys=("avatar", "display-name"),  # type: ignore[attr-defined]
                                  nick="ann")
    reply = lines(d.encode(MetadataValues(id=request.id, nick="ann", entries=(  # type: ignore[attr-defined]
        ann_entry("avatar"), ann_entry("display-name", "Ann")))))
    assert unbatched(reply) == ("metadata ann", [
        ":srv 766 ann ann avatar :key not set",
        ":srv FAIL METADATA KEY_INVALID B@D :Invalid key",
        ":srv 761 ann ann display-name * :Ann"])
    only_bad = replies(send(d, "METADATA * GET B@D"))
    assert unbatched(only_bad) == ("metadata *", [
        ":srv FAIL METADATA KEY_INVALID B@D :Invalid key"])


def test_list_clear_and_sync_answer_in_batches() -> None:
    d = registered()
    [listing] = requests(send(d, "METADATA #dev LIST"))
    assert listing == GetMetadata(id=listing.id, room="#dev")  # type: ignore[attr-defined]
    reply = lines(d.encode(MetadataValues(id=listing.id, room="#dev", entries=(  # type: ignore[attr-defined]
        MetadataEntry(key="url", value="u", room="#dev"),))))
    assert unbatched(reply) == ("metadata #dev", [":srv 761 ann #dev url * :u"])
    empty = answer(d, "METADATA * LIST", MetadataValues(nick="ann"))
    assert unbatched(empty) == ("metadata ann", [])
    cleared = answer(d, "METADATA * CLEAR", MetadataValues(nick="ann", entries=(
        ann_entry("a"), ann_entry("b"))))
    assert unbatched(cleared)[1] == [":srv 766 ann ann a :key not set",
                                     ":srv 766 ann ann b :key not set"]
    [sync] = requests(send(d, "METADATA #dev SYNC"))
    assert sync == SyncMetadata(id=sync.id, room="#dev")  # type: ignore[attr-defined]
    [clear] = requests(send(d, "METADATA #dev CLEAR"))
    assert clear == ClearMetadata(id=clear.id, room="#dev")  # type: ignore[attr-defined]


def test_without_the_batch_capability_the_lines_come_plain() -> None:
    d = registered(caps=CAP)
    assert answer(d, "METADATA * LIST", MetadataValues(nick="ann", entries=(
        ann_entry("a", "1"),))) == [":srv 761 ann ann a * :1"]


def test_sub_unsub_and_subs() -> None:
    d = registered()
    out = send(d, "METADATA * SUB avatar Bad! status")
    assert replies(out) == [":srv FAIL METADATA KEY_INVALID Bad! :Invalid key"]
    [sub] = requests(out)
    assert sub == SubscribeMetadata(id=sub.id, add=("avatar", "status"))  # type: ignore[attr-defined]
    assert lines(d.encode(MetadataSubscriptions(id=sub.id, keys=("avatar", "status"),  # type: ignore[attr-defined]
                                                added=("avatar", "status"),
                                                refused=("x", "y")))) == [
        ":srv 770 ann avatar :status",
        ":srv FAIL METADATA TOO_MANY_SUBS x :at most 50 subscriptions"]
    assert answer(d, "METADATA * UNSUB status", MetadataSubscriptions(
        keys=("avatar",), removed=("status",))) == [":srv 771 ann :status"]
    subs = answer(d, "METADATA * SUBS", MetadataSubscriptions(keys=("avatar", "pronouns")))
    assert unbatched(subs) == ("metadata-subs", [":srv 772 ann avatar :pronouns"])
    many = tuple(f"key-number-{n:02d}" for n in range(30))
    reply = answer(d, "METADATA * SUBS", MetadataSubscriptions(keys=many))
    _, inner = unbatched(reply)
    assert len(inner) == 3 and all(len(line) <= 510 for line in inner)
    assert [k.lstrip(":") for line in inner for k in line.split()[3:]] == list(many)


def test_the_hubs_refusals_are_fail_metadata() -> None:
    d = registered()
    cases = [
        ("METADATA bob SET display-name :x", ErrorCode.NOT_OPERATOR,
         "FAIL METADATA KEY_NO_PERMISSION bob display-name :no"),
        ("METADATA bob CLEAR", ErrorCode.NOT_OPERATOR, "FAIL METADATA KEY_NO_PERMISSION bob * :no"),
        ("METADATA #x GET a", ErrorCode.NOT_IN_ROOM, "FAIL METADATA KEY_NO_PERMISSION #x * :no"),
        ("METADATA #x SYNC", ErrorCode.NOT_IN_ROOM, "FAIL METADATA KEY_NO_PERMISSION #x * :no"),
        ("METADATA foobar LIST", ErrorCode.NO_SUCH_USER, "FAIL METADATA INVALID_TARGET foobar :no"),
        ("METADATA #gone LIST", ErrorCode.NO_SUCH_ROOM, "FAIL METADATA INVALID_TARGET #gone :no"),
        ("METADATA a!b GET k", ErrorCode.INVALID_NICK, "FAIL METADATA INVALID_TARGET a!b :no"),
        ("METADATA * SET k :x", ErrorCode.INVALID_FIELD, "FAIL METADATA INVALID_VALUE k :no"),
        ("METADATA * SET k :x", ErrorCode.METADATA_LIMIT, "FAIL METADATA LIMIT_REACHED * :no"),
        ("METADATA * SET k", ErrorCode.METADATA_NOT_SET, "FAIL METADATA KEY_NOT_SET * k :no"),
    ]
    for line, code, expected in cases:
        [request] = requests(send(d, line))
        got = lines(d.encode(Error(id=request.id, code=code, message="no")))  # type: ignore[attr-defined]
        assert got == [f":srv {expected}"], line


# --------------------------------------------------------------------------- events


def test_changes_are_761_and_766_for_star_and_only_with_the_capability() -> None:
    d, plain = registered(), registered(caps="batch")
    change = MetadataValues(nick="bob", change=True, by="bob", entries=(
        MetadataEntry(key="status", value="lunch", nick="bob"),
        MetadataEntry(key="avatar", nick="bob")))
    assert lines(d.encode(change)) == [":srv 761 * bob status * :lunch",
                                       ":srv 766 * bob avatar :key not set"]
    assert plain.encode(change) == b""


def test_what_a_join_brings_is_a_metadata_batch() -> None:
    d = registered()
    event = MetadataValues(room="#dev", entries=(
        MetadataEntry(key="url", value="u", room="#dev"),
        MetadataEntry(key="avatar", value="b.png", nick="bob")))
    assert unbatched(lines(d.encode(event))) == ("metadata #dev", [
        ":srv 761 * #dev url * :u", ":srv 761 * bob avatar * :b.png"])


def test_whois_lists_the_users_metadata_as_760() -> None:
    d, plain = registered(), registered(caps="")
    info = UserInfo(nick="bob", metadata={"display-name": "Bob B.", "pronouns": "he/him"})
    for dialect, expected in ((d, [":srv 760 ann bob display-name * :Bob B.",
                                   ":srv 760 ann bob pronouns * :he/him"]), (plain, [])):
        reply = answer(dialect, "WHOIS bob", Users(users=("bob",), info=(info,)))
        assert [line for line in reply if " 760 " in line] == expected


# --------------------------------------------------------------------------- before-connect


def test_before_registration_values_stay_on_the_connection_and_go_with_the_hello() -> None:
    d = IrcDialect(ids=RequestIds("t"), server="srv")
    send(d, f"CAP LS 302\r\nCAP REQ :{CAPS}")
    assert replies(send(d, "METADATA * SET display-name :Ann A.")) == [
        ":srv 761 * * display-name * :Ann A."]
    assert replies(send(d, "METADATA * SET pronouns :she/her")) == [
        ":srv 761 * * pronouns * :she/her"]
    assert replies(send(d, "METADATA * SET pronouns")) == [":srv 766 * * pronouns :key not set"]
    assert replies(send(d, "METADATA * SET pronouns")) == [
        ":srv FAIL METADATA KEY_NOT_SET * pronouns :pronouns is not set"]
    assert unbatched(replies(send(d, "METADATA * GET display-name status"))) == ("metadata *", [
        ":srv 761 * * display-name * :Ann A.", ":srv 766 * * status :key not set"])
    assert unbatched(replies(send(d, "METADATA * LIST")))[1] == [
        ":srv 761 * * display-name * :Ann A."]
    assert replies(send(d, "METADATA bob GET x")) == [
        ":srv FAIL METADATA KEY_NO_PERMISSION bob * :Before registering, only your own "
        "metadata (*)"]
    assert replies(send(d, "METADATA * SET status :" + "x" * 301)) == [
        ":srv FAIL METADATA INVALID_VALUE status :a metadata value is at most 300 bytes of "
        "UTF-8"]
    [sub] = requests(send(d, "METADATA * SUB avatar"))  # the hub allows it before HELLO
    assert sub == SubscribeMetadata(id=sub.id, add=("avatar",))  # type: ignore[attr-defined]
    assert lines(d.encode(MetadataSubscriptions(id=sub.id, keys=("avatar",),  # type: ignore[attr-defined]
                                                added=("avatar",)))) == [":srv 770 * :avatar"]
    out = send(d, "NICK ann\r\nUSER ann 0 * :Ann\r\nCAP END")
    [hello] = [item for item in out if isinstance(item, Hello)]
    assert hello.metadata == {"display-name": "Ann A."}
    welcome = lines(d.encode(Welcome(id=hello.id, version=1, nick="ann", server="p", rooms=(),
                                     motd="hi", metadata={"display-name": "Ann A."})))
    start = next(i for i, line in enumerate(welcome) if " BATCH +" in line)
    assert unbatched(welcome[start:start + 3]) == ("metadata ann", [
        ":srv 761 ann ann display-name * :Ann A."])
    assert start < next(i for i, line in enumerate(welcome) if " 375 " in line)  # before MOTD
    assert d.reg is None  # the hub has them now: nothing of registering is kept


def test_before_connect_keeps_the_key_limit_and_clear_empties_it() -> None:
    d = IrcDialect(ids=RequestIds("t"), server="srv")
    for n in range(MAX_KEYS):
        send(d, f"METADATA * SET k{n} :v")
    assert replies(send(d, "METADATA * SET one-more :v")) == [
        ":srv FAIL METADATA LIMIT_REACHED * :at most 20 metadata keys"]
    cleared = replies(send(d, "METADATA * CLEAR"))
    assert cleared == [f":srv 766 * * k{n} :key not set" for n in range(MAX_KEYS)]  # no batch
    assert d.reg is not None and d.reg.metadata == {}


def test_a_hello_carries_metadata_only_with_the_capability_or_values() -> None:
    with_cap = IrcDialect(ids=RequestIds("t"))
    send(with_cap, f"CAP REQ :{CAPS}\r\nCAP END")
    [hello] = requests(send(with_cap, "NICK a\r\nUSER a 0 * :A"))
    assert isinstance(hello, Hello) and hello.metadata == {}
    without = IrcDialect(ids=RequestIds("t"))
    [hello] = requests(send(without, "NICK b\r\nUSER b 0 * :B"))
    assert isinstance(hello, Hello) and hello.metadata is None
    welcome = lines(without.encode(Welcome(id=hello.id, version=1, nick="b", server="p",
                                           rooms=(), motd="hi", metadata={"a": "1"})))
    assert not any("BATCH" in line or " 761 " in line for line in welcome)


def test_a_labeled_get_labels_its_batch() -> None:
    d = registered(caps=f"{CAPS} labeled-response")
    out = send(d, "@label=x METADATA * GET a b")
    request, fence = requests(out)
    assert isinstance(request, GetMetadata)
    assert d.encode(MetadataValues(id=request.id, nick="ann", entries=(
        ann_entry("a", "1"), ann_entry("b")))) == b""  # held until the answer is whole
    reply = lines(d.encode(Pong(id=fence.id)))  # type: ignore[attr-defined]
    assert reply[0].startswith("@label=x :srv BATCH +") and reply[0].endswith(" metadata ann")
    assert unbatched([reply[0].removeprefix("@label=x "), *reply[1:]])[1] == [
        ":srv 761 ann ann a * :1", ":srv 766 ann ann b :key not set"]
    assert replies(send(d, "@label=y METADATA * SET Bad! x")) == [
        "@label=y :srv FAIL METADATA KEY_INVALID Bad! :Invalid key"]
