"""The authorization matrix: every room command × every role × every kind of room.

(The settings that change one command's row — moderated and outside messages for CHAT, an open
topic for TOPIC, a key and a limit for JOIN — are tested in tests/unit/test_room_settings.py.)

The expected outcome of each cell is written out below as data (``ok``, an error code, or for
ROOMS ``listed``/``unlisted``). Each cell also checks that nothing leaks: a refusal changes no
rule and tells nobody but the asker; an allowed command tells no non-member (but an invitee);
and whatever a non-member hears about a private room is exactly what it would hear if the room
did not exist (JOIN excepted: a name in use cannot be created — docs/rooms.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import pytest

from palaver.hub import HubConfig
from palaver.hub.effects import FetchHistory
from palaver.hub.hub import StoredState
from palaver.protocol.messages import (
    Allow,
    Ban,
    ClientMessage,
    Disallow,
    Error,
    GrantOperator,
    GrantVoice,
    Hello,
    History,
    Invite,
    Join,
    Kick,
    ListRooms,
    ListUsers,
    Mute,
    RevokeOperator,
    RevokeVoice,
    RoomList,
    Say,
    ServerMessage,
    SetRoomMode,
    SetTopic,
    Unban,
    Unmute,
)
from tests.unit.hub_harness import Harness

R: Final = "#r"
KINDS: Final = ("public", "invite_only", "private", "secret")  # secret: private + invite-only
ROLES: Final = ("server_op", "room_op", "member", "non_member", "banned")
ACTOR: Final = {"server_op": "root", "room_op": "owner", "member": "mem",
                "non_member": "out", "banned": "bad"}

COMMANDS: Final[dict[str, Callable[[], ClientMessage]]] = {
    "topic": lambda: SetTopic(id="q", room=R, topic="new topic"),
    "op": lambda: GrantOperator(id="q", room=R, nick="target"),
    "deop": lambda: RevokeOperator(id="q", room=R, nick="target"),
    "voice": lambda: GrantVoice(id="q", room=R, nick="target"),
    "devoice": lambda: RevokeVoice(id="q", room=R, nick="target"),
    "allow": lambda: Allow(id="q", room=R, nick="friend"),
    "mute": lambda: Mute(id="q", room=R, nick="target"),
    "unmute": lambda: Unmute(id="q", room=R, nick="target"),
    "disallow": lambda: Disallow(id="q", room=R, nick="friend"),
    "kick": lambda: Kick(id="q", room=R, nick="target", reason="bye"),
    "ban": lambda: Ban(id="q", room=R, nick="target"),
    "unban": lambda: Unban(id="q", room=R, nick="bad"),
    "invite": lambda: Invite(id="q", room=R, nick="friend"),
    "mode": lambda: SetRoomMode(id="q", room=R, private=True),
    "join": lambda: Join(id="q", room=R),
    "who": lambda: ListUsers(id="q", room=R),
    "history": lambda: History(id="q", room=R),
    "say": lambda: Say(id="q", room=R, text="hello"),
    "rooms": lambda: ListRooms(id="q"),
}

OPS_ONLY: Final = {
    "server_op": ("ok", "ok", "ok", "ok"),
    "room_op": ("ok", "ok", "ok", "ok"),
    "member": ("not_operator",) * 4,
    "non_member": ("not_in_room", "not_in_room", "no_such_room", "no_such_room"),
    "banned": ("not_in_room", "not_in_room", "no_such_room", "no_such_room"),
}

#                          public          invite_only      private          secret
EXPECTED: Final[dict[str, dict[str, tuple[str, str, str, str]]]] = {
    "topic": OPS_ONLY,
    "op": OPS_ONLY,
    "deop": OPS_ONLY,
    "voice": OPS_ONLY,
    "devoice": OPS_ONLY,
    "allow": OPS_ONLY,
    "mute": OPS_ONLY,
    "unmute": OPS_ONLY,
    "disallow": OPS_ONLY,
    "kick": OPS_ONLY,
    "ban": OPS_ONLY,
    "unban": OPS_ONLY,
    "mode": OPS_ONLY,
    "invite": {
        "server_op": ("ok", "ok", "ok", "ok"),
        "room_op": ("ok", "ok", "ok", "ok"),
        "member": ("ok", "not_operator", "ok", "not_operator"),
        "non_member": ("not_in_room", "not_in_room", "no_such_room", "no_such_room"),
        "banned": ("not_in_room", "not_in_room", "no_such_room", "no_such_room"),
    },
    "join": {
        "server_op": ("ok", "ok", "ok", "ok"),
        "room_op": ("ok", "ok", "ok", "ok"),
        "member": ("ok", "ok", "ok", "ok"),
        "non_member": ("ok", "invite_only", "ok", "no_such_room"),
        "banned": ("banned", "banned", "no_such_room", "no_such_room"),
    },
    "who": {
        "server_op": ("ok", "ok", "ok", "ok"),
        "room_op": ("ok", "ok", "ok", "ok"),
        "member": ("ok", "ok", "ok", "ok"),
        "non_member": ("ok", "ok", "no_such_room", "no_such_room"),
        "banned": ("ok", "ok", "no_such_room", "no_such_room"),
    },
    "history": {  # a page of history is for members only, whoever asks
        "server_op": ("no_such_room",) * 4,
        "room_op": ("ok", "ok", "ok", "ok"),
        "member": ("ok", "ok", "ok", "ok"),
        "non_member": ("no_such_room",) * 4,
        "banned": ("no_such_room",) * 4,
    },
    "say": {
        "server_op": ("not_in_room",) * 4,
        "room_op": ("ok", "ok", "ok", "ok"),
        "member": ("ok", "ok", "ok", "ok"),
        "non_member": ("not_in_room",) * 4,
        "banned": ("not_in_room",) * 4,
    },
    "rooms": {
        "server_op": ("listed",) * 4,
        "room_op": ("listed",) * 4,
        "member": ("listed",) * 4,
        "non_member": ("listed", "listed", "unlisted", "unlisted"),
        "banned": ("listed", "listed", "unlisted", "unlisted"),
    },
}


def world(kind: str | None) -> tuple[Harness, dict[str, int]]:
    """Everyone online; ``#r`` of the given kind (None: no such room) with owner, mem and
    target in it, bad banned from it; out, friend and root (a server operator) outside."""
    h = Harness(HubConfig(server_operators=frozenset({"root"})),
                stored=StoredState(accounts={"root": "root"}))
    sids = {nick: h.login(nick) for nick in ("owner", "mem", "target", "bad", "out", "friend")}
    sids["root"], _ = h.login_account(Hello(version=1, nick="root", password="secret"))
    if kind is not None:
        h.send(sids["owner"], Join(room=R))
        h.send(sids["owner"], SetRoomMode(room=R, invite_only=kind in ("invite_only", "secret"),
                                          private=kind in ("private", "secret")))
        for nick in ("mem", "target"):
            h.send(sids["owner"], Invite(room=R, nick=nick))
            h.send(sids[nick], Join(room=R))
        h.send(sids["owner"], Ban(room=R, nick="bad"))
        assert all(R in h.hub._online[n].rooms for n in ("owner", "mem", "target"))
    h.clear()
    return h, sids


def outcome(command: str, replies: list[ServerMessage]) -> str:
    answers = [e for e in replies if e.id == "q"]
    assert len(answers) == 1, replies
    [answer] = answers
    if isinstance(answer, Error):
        return answer.code
    if command == "rooms":
        assert isinstance(answer, RoomList)
        return "listed" if any(r.room == R for r in answer.rooms) else "unlisted"
    return "ok"


CELLS: Final = [(c, r, k) for c in COMMANDS for r in ROLES for k in KINDS]


@pytest.mark.parametrize(("command", "role", "kind"), CELLS)
def test_who_may_do_what(command: str, role: str, kind: str) -> None:
    expected = EXPECTED[command][role][KINDS.index(kind)]
    h, sids = world(kind)
    actor = sids[ACTOR[role]]
    before = h.hub._rules[R].settings()
    effects = h.send(actor, COMMANDS[command]())
    replies = h.take(actor)
    fetched = any(isinstance(e, FetchHistory) for e in effects)  # the core would answer
    got = "ok" if fetched else outcome(command, replies)
    assert got == expected
    members = {sids[n] for n in ("owner", "mem", "target")}
    if got not in ("ok", "listed", "unlisted"):
        assert [type(e).__name__ for e in effects] == ["Deliver"]  # the error, nothing else
        assert h.hub._rules[R].settings() == before
        assert all(not h.take(s) for s in sids.values())  # nobody else heard a thing
        return
    invitee = {sids["friend"]} if command == "invite" else set()
    joiner = {actor} if command == "join" else set()
    for nick, sid in sids.items():
        if sid not in members | invitee | joiner and nick != "root":
            assert h.take(sid) == [], f"{nick} (not in {R}) heard about it"


PRIVATE_CELLS: Final = [(c, r, k) for c in COMMANDS if c != "join"
                        for r in ("non_member", "banned") for k in ("private", "secret")]


@pytest.mark.parametrize(("command", "role", "kind"), PRIVATE_CELLS)
def test_a_private_room_looks_like_no_room(command: str, role: str, kind: str) -> None:
    h, sids = world(kind)
    h.send(sids[ACTOR[role]], COMMANDS[command]())
    nowhere, nowhere_sids = world(None)
    nowhere.send(nowhere_sids[ACTOR[role]], COMMANDS[command]())
    assert h.take(sids[ACTOR[role]]) == nowhere.take(nowhere_sids[ACTOR[role]])


def test_a_refused_join_of_a_secret_room_says_no_such_room_whatever_the_reason() -> None:
    h, sids = world("secret")
    h.send(sids["out"], Join(id="q", room=R))
    h.send(sids["bad"], Join(id="q", room=R))
    assert h.take(sids["out"]) == h.take(sids["bad"]) == [
        Error(id="q", code="no_such_room", message=f"there is no room {R}")]
