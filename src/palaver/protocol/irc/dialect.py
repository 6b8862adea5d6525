"""The IRC door's dialect, sans-I/O: IRC commands onto the hub's commands, events into IRC lines.

How this works: :meth:`IrcDialect.receive_data` frames and parses lines and looks each verb up
in the command table (:data:`palaver.protocol.irc.table.COMMANDS`), which says once for every
verb how many parameters it needs and whether it may come before registration; the handlers
live in one module per concern (registration, channels, queries, messaging). A handler answers
what needs no hub (PING, CAP, errors) with bytes at once and turns the rest into client
messages. Each message carries a request id of our own (:class:`RequestIds`: a prefix and a
counter, shared by every connection of a door): a correlation tag, not an idempotency key
(:attr:`resends` is false, so the hub never stores or deduplicates it); :attr:`pending`
remembers which IRC command each id answers, so a USERS reply becomes WHO, NAMES, WHOIS or ISON
lines and an ERROR becomes the right numeric.

:meth:`encode` renders events through the event table (:data:`~palaver.protocol.irc.table.EVENTS`):
broadcasts through :class:`~palaver.protocol.irc.render.IrcRenderer` (depends on the capabilities
only, which is what :attr:`encode_key` names); replies to this connection with its own nick,
which ``nick_of`` looks up in the hub (a user may have several sessions, so the nick is not
tracked here from events that are rendered once for all of them).

Labels (IRCv3 labeled-response) travel with the request ids: :class:`~.labels.Labels` holds
back every reply to a labeled command, the dialect's own and the hub's, until all of it is
known, then sends it labeled. Lines inside a client's ``draft/multiline`` batch are gathered
by :mod:`.multiline` and become one message at the batch's end. Renderers may put lines aside
(:meth:`IrcDialect.aside`) that are no part of an answer (a message to oneself is both a
delivery and, with echo-message, the answer): those are sent first, never labeled (kept in
the Labels while the answer is rendered; without Labels nothing is held, so they simply go
first).
"""

from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import FrameTooLarge
from palaver.protocol.irc import multiline
from palaver.protocol.irc.labels import Labels
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import UNRENDERED_CAPS, IrcRenderer, clean
from palaver.protocol.irc.state import (
    Closing,
    IllegalTransition,
    Phase,
    Registration,
    Step,
    advance,
)
from palaver.protocol.irc.table import COMMANDS, EVENTS
from palaver.protocol.irc.wire import (
    MAX_CLIENT_TAGS,
    MAX_LINE,
    MAX_RUNAWAY,
    RUNAWAY,
    TOO_LONG,
    BadLine,
    IrcFramer,
    IrcLine,
    format_line,
    parse_line,
    tag_part_length,
)
from palaver.protocol.messages import ClientMessage, Goodbye, Wire

DEFAULT_SERVER_INFO: Final = "palaver chat server"
MAX_PENDING: Final = 4_096  # requests awaiting a reply; the oldest are forgotten past this


NO_CAPS: Final[frozenset[str]] = frozenset()
MAX_NEGOTIATIONS: Final = 1_024


class RequestIds:
    """Request ids ``PREFIX.N`` from one counter. An id need only be unique on its connection,
    so a door gives all its connections one of these: none holds a prefix and a counter of its
    own (~80 bytes per idle connection)."""

    __slots__ = ("_next", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._next = itertools.count(1).__next__

    def __call__(self) -> str:
        return f"{self.prefix}.{self._next()}"


@dataclass(frozen=True, slots=True, eq=False)  # one per settings (_door): hashed by identity
class IrcDoor:
    """What every connection of an IRC door shares: the server's name and description (WHOIS
    312, LINKS), its message of the day (the MOTD command's; WELCOME brings the same), the
    door's server password (``irc_password``; None: PASS logs in to an account), the SASL
    mechanisms it offers and its request ids."""

    server: str
    info: str
    motd: str
    password: str | None
    mechanisms: tuple[str, ...]
    ids: RequestIds


@functools.lru_cache(maxsize=64)
def _door(server: str, info: str, motd: str, password: str | None,
          mechanisms: tuple[str, ...], ids: RequestIds) -> IrcDoor:
    """One :class:`IrcDoor` for all the connections made with the same settings."""
    return IrcDoor(server, info, motd, password, mechanisms, ids)


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What a connection shares with every connection of its door that negotiated the same
    with CAP (one object for all of them, the one slot of the dialect that says all this: a
    few hundred bytes per idle connection otherwise): the door, the capabilities, the CAP
    version spoken (302: values, multi-line replies, cap-notify for good; else 0), the encode
    key (the capabilities that change lines) and the renderer."""

    door: IrcDoor
    caps: frozenset[str]
    cap_version: int
    encode_key: Hashable
    renderer: IrcRenderer


_NEGOTIATIONS: dict[tuple[IrcDoor, frozenset[str], int], Negotiated] = {}


def negotiated(door: IrcDoor, caps: frozenset[str], cap_version: int) -> Negotiated:
    """The one :class:`Negotiated` of ``door``'s connections with ``caps`` at ``cap_version``."""
    key = (door, caps, cap_version)
    found = _NEGOTIATIONS.get(key)
    if found is None:
        if len(_NEGOTIATIONS) >= MAX_NEGOTIATIONS:  # bounded: clients choose their caps
            _NEGOTIATIONS.clear()
        # caps that change no line share the key
        found = _NEGOTIATIONS[key] = Negotiated(door, caps, cap_version,
                                                ("irc", caps - UNRENDERED_CAPS),
                                                IrcRenderer(door.server, caps))
    return found


class IrcDialect:
    """IRC (RFC 1459/2812 with IRCv3 CAP, message-tags, server-time, echo-message).

    The attributes are the connection's state, read and changed by the handler modules of
    this package (and nothing else)."""

    __slots__ = (
        "_labels", "_negotiated", "account", "batches", "framer", "nick", "nick_of", "pending",
        "realname", "reg",
    )

    def __init__(
        self,
        *,
        ids: RequestIds,
        nick_of: Callable[[], str | None] = lambda: None,
        server: str = "palaver",
        password: str | None = None,  # the door's server password (irc_password)
        info: str = DEFAULT_SERVER_INFO,
        motd: str = "",  # the hub's (HubConfig.motd): none by default
        sasl_mechanisms: tuple[str, ...] = ("PLAIN",),  # EXTERNAL too: TLS with client_ca
    ) -> None:
        # Made for a read and kept only while it holds something (an unfinished line, a line
        # too long being skipped, a runaway): an idle connection holds no framer.
        self.framer: IrcFramer | None = None
        # the door, the capabilities and what depends on them only
        self._negotiated = negotiated(_door(server, info, motd, password, sasl_mechanisms, ids),
                                      NO_CAPS, 0)
        self.nick_of = nick_of
        self.nick: str | None = None
        # USER's realname: None until USER comes ("" if it had none left after the formatting
        # went); SETNAME keeps it up to date (for extended-join).
        self.realname: str | None = None
        self.account: str | None = None  # the account logged in to (SASL or PASS)
        # Requests awaiting their answer; None when there are none (an idle connection holds
        # no empty containers: this, batches and Labels are made on first use).
        self.pending: OrderedDict[str, Pending] | None = None
        # The registration under way (its phase; USER's username, PASS, SASL, metadata for
        # the HELLO; a refused login's close): None once registered.
        self.reg: Registration | None = Registration()
        self._labels: Labels | None = None  # made on first use (see labels)
        self.batches: dict[str, multiline.ClientBatch] | None = None  # the client's open ones

    # ------------------------------------------------------------------ the Dialect interface

    @property
    def encode_key(self) -> Hashable:
        return self._negotiated.encode_key

    @property
    def door(self) -> IrcDoor:
        return self._negotiated.door

    @property
    def server(self) -> str:
        return self._negotiated.door.server

    @property
    def info(self) -> str:
        return self.door.info

    @property
    def caps(self) -> frozenset[str]:
        return self._negotiated.caps

    @property
    def cap_version(self) -> int:
        return self._negotiated.cap_version

    @property
    def renderer(self) -> IrcRenderer:
        return self._negotiated.renderer

    @property
    def phase(self) -> Phase:
        """Where registration is: ``REGISTERED`` once it is over (no Registration kept)."""
        reg = self.reg
        return Phase.REGISTERED if reg is None else reg.phase

    @property
    def closing(self) -> Closing | None:
        """Why this connection must close (a refused login: nothing more is read, nothing
        but the ERROR rendered), else None. Only a registration is refused."""
        reg = self.reg
        return None if reg is None else reg.closing

    @property
    def labels(self) -> Labels:
        """This connection's labeled answers, made on first use (most connections never
        label a command nor open a batch: an idle one holds no Labels)."""
        if self._labels is None:
            self._labels = Labels()
        return self._labels

    @property
    def resends(self) -> bool:
        return False  # our ids only route answers to their commands: never idempotency keys

    def receive_data(self, data: bytes) -> list[Inbound]:
        framer = self.framer or IrcFramer()
        out: list[Inbound] = []
        for item in framer.receive_data(data):
            self._receive_line(item, out)
        self.framer = None if framer.idle else framer
        return out

    def receive_eof(self) -> list[Inbound]:
        out: list[Inbound] = []
        if self.framer is not None:
            for item in self.framer.receive_eof():
                self._receive_line(item, out)
        return out

    def encode(self, event: Wire) -> bytes:
        request_id = event.id
        pending = None
        if request_id is not None and self.pending is not None:
            pending = self.pending.pop(request_id, None)
            if not self.pending:
                self.pending = None
        reg = self.reg  # (self.closing, without a property call on this hot path)
        if reg is not None and reg.closing is not None and type(event) is not Goodbye:
            return b""  # a refused login: nothing more but the ERROR that closes
        render = EVENTS.get(type(event))
        data = b"" if render is None else render(self, event, pending)
        # ERROR closes: never held. No Labels yet: no labeled command, nothing held.
        labels = self._labels
        if request_id is not None and type(event) is not Goodbye and labels is not None:
            held = labels.collect(self, request_id, data)
            if held is not None:
                data = held
            if labels.aside is not None:
                data = b"".join(labels.aside) + data
                labels.aside = None
        return data

    # ------------------------------------------------------------------ reading

    def _receive_line(self, item: bytes | object, out: list[Inbound]) -> None:
        reg = self.reg  # (self.closing, without a property call for every line)
        if reg is not None and reg.closing is not None:  # a refused login: nothing more read
            return
        if item is RUNAWAY:  # still no newline far past the limit: the core closes us
            out.append(FrameTooLarge(MAX_RUNAWAY))
            return
        if item is TOO_LONG or not isinstance(item, bytes):
            out.append(self.num("417", "Input line was too long"))
            return
        if not item.strip():
            return
        tags = tag_part_length(item)
        if tags > MAX_CLIENT_TAGS or len(item) - tags > MAX_LINE - 2:
            out.append(self.num("417", "Input line was too long"))
            return
        try:
            line = parse_line(item)
        except BadLine as exc:
            unknown: list[Inbound] = [self.num("421", "*", f"Unknown command ({exc})")]
            label = self._label_of(exc.tags)
            out.extend(unknown if label is None else self.labels.answer(self, label, unknown))
            return
        if "batch" in line.tags and multiline.gather(self, line, out):
            return  # a line of a client batch: it is part of one message, sent at the end
        label = self._label_of(line.tags)
        if label is None or line.command == "BATCH":
            self._dispatch(line, out, label)  # a batch's label answers the whole batch
            return
        answer: list[Inbound] = []
        self._dispatch(line, answer, None)
        out.extend(self.labels.answer(self, label, answer))

    def _label_of(self, tags: dict[str, str]) -> str | None:
        return self.labels.label_of(self, tags) if "label" in tags else None

    def _dispatch(self, line: IrcLine, out: list[Inbound], label: str | None) -> None:
        if not line.utf8:  # UTF8ONLY: nothing that is not UTF-8 is read, or relayed
            if line.command != "NOTICE":  # never an automatic reply to a NOTICE
                out.append(self.fail(line.command, "INVALID_UTF8",
                                     text="Message rejected, it was not valid UTF-8"))
            return
        command = COMMANDS.get(line.command)
        if command is None:
            out.append(self.num("421", line.command, "Unknown command"))
            return
        if not command.before_registration and not self.step(Step.COMMAND):
            out.append(self.num("451", "You have not registered"))
            return
        if len(line.params) < command.min_params:
            out.append(self.num(*command.missing) if command.missing
                       else self.need_more(line.command))
            return
        if label is not None:  # BATCH: the label answers the whole batch, at its end
            multiline.on_batch(self, line, out, label)
            return
        command.handler(self, line, out)

    # ------------------------------------------------------------------ for the handlers

    def step(self, step: Step) -> bool:
        """Moves the registration state machine; False (and no move) if ``step`` is illegal.
        Reaching ``REGISTERED`` lets go of what only registering needed."""
        reg = self.reg
        try:
            phase = advance(Phase.REGISTERED if reg is None else reg.phase, step)
        except IllegalTransition:
            return False
        if reg is not None:
            if phase is Phase.REGISTERED:
                self.reg = None
            else:
                reg.phase = phase
        return True

    def request(self, message_type: type[ClientMessage], pending: Pending,
                **fields: object) -> ClientMessage:
        """A client message for the hub, with a fresh id whose answer ``pending`` explains."""
        request_id = self.door.ids()
        if self.pending is None:
            self.pending = OrderedDict()
        self.pending[request_id] = pending
        while len(self.pending) > MAX_PENDING:
            self.pending.popitem(last=False)
        return message_type(id=request_id, **fields)  # type: ignore[arg-type]

    def set_caps(self, caps: frozenset[str], cap_version: int | None = None) -> None:
        """Negotiates ``caps`` (at ``cap_version``; None: the version spoken so far)."""
        now = self._negotiated
        self._negotiated = negotiated(
            now.door, caps, now.cap_version if cap_version is None else cap_version)

    def me(self) -> str:
        """The target of a numeric: our nick once registered, ``*`` before."""
        if self.reg is not None:  # registering
            return self.nick_of() or "*"
        return self.nick_of() or self.nick or "*"

    def line(self, command: str, *params: str, source: str | None = "",
             trailing: bool = True) -> bytes:
        """A line of the server's own (PONG, CAP, MODE, ERROR ...): parameters that echo the
        client lose their control characters, as numerics' do."""
        return format_line(command, *map(clean, params),
                           source=self.server if source == "" else source, trailing=trailing)

    def fail(self, command: str, code: str, *context: str, text: str) -> bytes:
        """A standard reply (IRCv3 standard-replies): ``FAIL <command> <code> [context] :text``."""
        return self.line("FAIL", command, code, *context, text)

    def aside(self, lines: bytes, answer: bytes) -> bytes:
        """What to render for ``answer`` with ``lines`` that are no part of it: those are sent
        before it, never held with it nor labeled (put aside in the Labels, which
        :meth:`encode` sends first)."""
        labels = self._labels
        if labels is None:
            return lines + answer  # nothing is held without Labels: they simply go first
        if labels.aside is None:
            labels.aside = []
        labels.aside.append(lines)
        return answer

    def num(self, code: str, *params: str, me: str | None = None) -> bytes:
        return self.renderer.numeric(code, me or self.me(), *params)

    def need_more(self, command: str) -> bytes:
        return self.num("461", command, "Not enough parameters")

