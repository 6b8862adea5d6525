"""An in-memory stand-in for the server core: sessions with inboxes, a fake clock."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping

from palaver.hub import Close, Deliver, Effect, Hub, HubConfig
from palaver.hub.effects import Persist, Released
from palaver.hub.hub import StoredState
from palaver.protocol.messages import ClientMessage, Hello, ServerMessage, Welcome
from palaver.store.base import StoredMessage


class FakeClock:
    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> None:
        self.now += seconds


def counting_tokens(prefix: str = "t") -> Callable[[], str]:
    """Deterministic tokens for the hub's ``new_token``: ``token(1)``, ``token(2)``, …"""
    numbers = itertools.count(1)
    return lambda: token(next(numbers), prefix)


def token(n: int, prefix: str = "t") -> str:
    """The ``n``-th token of :func:`counting_tokens` (long enough to count as a secret)."""
    return f"{prefix}{n}".ljust(16, ".")


class Harness:
    def __init__(
        self,
        config: HubConfig | None = None,
        *,
        stored: StoredState | None = None,
        new_token: Callable[[], str] | None = None,
    ) -> None:
        if new_token is None:
            self.hub = Hub(config, rng=random.Random(7), stored=stored)
        else:
            self.hub = Hub(config, rng=random.Random(7), stored=stored, new_token=new_token)
        self.clock = FakeClock()
        self.inbox: dict[int, list[ServerMessage]] = {}
        self.closed: dict[int, str] = {}
        self.stored: list[StoredMessage] = []
        self.tokens: dict[int, str] = {}  # the token each guest session was welcomed with
        self._next = 1

    def open(self) -> int:
        sid = self._next
        self._next += 1
        self.hub.open_session(sid)
        self.inbox[sid] = []
        return sid

    def login(self, nick: str) -> int:
        sid = self.open()
        self.send(sid, Hello(version=1, nick=nick))
        return sid

    def send(self, sid: int, message: ClientMessage, *, resends: bool = True) -> list[Effect]:
        effects = self.hub.handle(sid, message, self.clock.now, resends=resends)
        self.apply(effects)
        return effects

    def login_account(
        self,
        hello: Hello,
        *,
        verified: bool = True,
        marks: Mapping[str, int] | None = None,
        sid: int | None = None,
    ) -> tuple[int, list[Effect]]:
        """A HELLO with a password, as the core finishes it: ``Hub.login`` with the verdict."""
        if sid is None:
            sid = self.open()
        effects = self.hub.login(sid, hello, verified=verified, marks=marks or {},
                                 now=self.clock.now)
        self.apply(effects)
        return sid, effects

    def drop(self, sid: int, reason: str = "connection closed") -> None:
        self.apply(self.hub.close_session(sid, reason))

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Deliver):
                for sid in effect.to:
                    if sid != effect.skip and sid not in self.closed:
                        self.inbox[sid].append(effect.event)
                        if type(effect.event) is Welcome and effect.event.token is not None:
                            self.tokens[sid] = effect.event.token
            elif isinstance(effect, Close):
                self.closed[effect.session] = effect.reason
            elif isinstance(effect, Released):  # a node of a cluster (hub/remote.py)
                self.hub.released(effect.conversation, effect.msg_id)
            elif isinstance(effect, Persist):  # as if the store committed it at once
                self.stored.append(effect.message)
                self.hub.persisted(effect.message, stored=True)
                self.apply(list(effect.then))

    def token_of(self, sid: int) -> str:
        """The secret token the guest on ``sid`` was told in its WELCOME."""
        return self.tokens[sid]

    def take(self, sid: int) -> list[ServerMessage]:
        events, self.inbox[sid] = self.inbox[sid], []
        return events

    def clear(self) -> None:
        for sid in self.inbox:
            self.inbox[sid] = []
