"""The IRC door's dialect, sans-I/O: IRC commands onto the hub's commands, events into IRC lines.

How this works: :meth:`IrcDialect.receive_data` frames and parses lines, runs registration
(:mod:`palaver.protocol.irc_state`), answers what needs no hub (PING, CAP, MODE, errors) with
bytes at once, and turns the rest into client messages. Each message carries a request id of
our own (a prefix per connection and a counter): a correlation tag, not an idempotency key
(:attr:`resends` is false, so the hub never stores or deduplicates it); :attr:`_pending` remembers
which IRC command each id answers, so a USERS reply becomes WHO, NAMES, WHOIS or ISON lines and
an ERROR becomes the right numeric. :meth:`encode` renders events: broadcasts through
:class:`~palaver.protocol.irc_render.IrcRenderer` (depends on the capabilities only, which is
what :attr:`encode_key` names); replies to this connection with its own nick, which
``nick_of`` looks up in the hub (a user may have several sessions, so the nick is not tracked
here from events that are rendered once for all of them).
"""

from __future__ import annotations

import fnmatch
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final

from palaver import __version__
from palaver.hub.profile import MAX_AWAY, MAX_PART_REASON, MAX_REALNAME, MAX_USERNAME
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode, FrameTooLarge
from palaver.protocol.irc_render import HOST, SUPPORTED_CAPS, IrcRenderer, clean, hostmask
from palaver.protocol.irc_rooms import (
    FLAG_MODES,
    ROOM_ERROR_NUMERICS,
    ban_nick,
    channel_modes,
    kick_line,
    room_updated_line,
    unix_time,
)
from palaver.protocol.irc_state import IllegalTransition, Phase, Step, advance
from palaver.protocol.irc_wire import (
    MAX_LINE,
    MAX_RUNAWAY,
    MAX_TAGS,
    RUNAWAY,
    TOO_LONG,
    BadLine,
    IrcFramer,
    IrcLine,
    format_line,
    parse_line,
    strip_formatting,
    tag_part_length,
)
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    Away,
    Ban,
    BanList,
    ClientMessage,
    Error,
    Goodbye,
    GrantOperator,
    Hello,
    Invite,
    Invited,
    Join,
    Joined,
    Kick,
    Leave,
    Left,
    ListBans,
    ListRooms,
    ListUsers,
    Message,
    Ping,
    Presence,
    Quit,
    Registered,
    Result,
    RevokeOperator,
    RoomList,
    RoomUpdated,
    RunCommand,
    Say,
    SendDirect,
    SetAway,
    SetNick,
    SetRoomMode,
    SetTopic,
    Unban,
    UserInfo,
    Users,
    Welcome,
    Wire,
)

MAX_PENDING: Final = 4_096  # requests awaiting a reply; the oldest are forgotten past this
_USERNAME_JUNK: Final = re.compile(r"[^A-Za-z0-9_.~-]", re.ASCII)  # what a username cannot hold
_NOT_IN_A_LINE: Final = re.compile("[\t\u202a-\u202e\u2066-\u2069]")
MAX_TARGETS: Final = 4
MAX_USERHOST: Final = 5  # nicks one USERHOST asks about
ISUPPORT: Final = (
    f"AWAYLEN={MAX_AWAY}", "CASEMAPPING=ascii", "CHANLIMIT=#:", "CHANMODES=b,,,inst",
    "CHANNELLEN=50", "CHANTYPES=#", "MODES=4", "NETWORK=palaver", "NICKLEN=32", "PREFIX=(o)@",
    f"TARGMAX=PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},JOIN:,PART:,NAMES:,KICK:1",
    "TOPICLEN=300",
)
_REGISTRATION: Final = {"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"}


@dataclass(frozen=True, slots=True)
class Pending:
    """What an id we sent answers: the IRC command and its argument (a channel, a nick)."""

    kind: str
    arg: str = ""
    nick: str = ""  # the nick a channel command is about (KICK, INVITE, MODE +o/+b)
    text: str = ""  # a PART's reason, shown back with our own PART


class IrcDialect:
    """IRC (RFC 1459/2812 with IRCv3 CAP, message-tags, server-time, echo-message)."""

    __slots__ = (
        "_caps", "_closing", "_counter", "_framer", "_key", "_modes", "_motd", "_nick",
        "_nick_of", "_password", "_pending", "_phase", "_prefix", "_renderer", "_server",
        "_user",
    )

    def __init__(
        self,
        *,
        id_prefix: str,
        nick_of: Callable[[], str | None] = lambda: None,
        server: str = "palaver",
    ) -> None:
        self._framer = IrcFramer()
        self._prefix = id_prefix
        self._nick_of = nick_of
        self._server = server
        self._counter = 0
        self._phase = Phase.START
        self._nick: str | None = None
        self._user: tuple[str | None, str | None] | None = None  # USER: username, realname
        self._password: str | None = None
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._modes: set[str] = set()
        self._motd = ""
        self._closing: str | None = None  # why this connection must close (a refused login)
        self._set_caps(frozenset())

    # ------------------------------------------------------------------ the Dialect interface

    @property
    def encode_key(self) -> Hashable:
        return self._key

    @property
    def resends(self) -> bool:
        return False  # our ids only route answers to their commands: never idempotency keys

    @property
    def phase(self) -> Phase:
        return self._phase

    def receive_data(self, data: bytes) -> list[Inbound]:
        out: list[Inbound] = []
        for item in self._framer.receive_data(data):
            self._receive_line(item, out)
        return out

    def receive_eof(self) -> list[Inbound]:
        out: list[Inbound] = []
        for item in self._framer.receive_eof():
            self._receive_line(item, out)
        return out

    def encode(self, event: Wire) -> bytes:
        pending = self._pending.pop(event.id, None) if event.id is not None else None
        if self._closing is not None and type(event) is not Goodbye:
            return b""  # a refused login: nothing more but the ERROR that closes
        render = _EVENTS.get(type(event))
        return b"" if render is None else render(self, event, pending)

    @property
    def closing(self) -> str | None:
        """Why the connection must be closed after what has been rendered (IRC ends a refused
        login with ``ERROR``, it does not let the client guess again), else None. The
        transport closes it (:mod:`palaver.transports.irc_port`)."""
        return self._closing

    # ------------------------------------------------------------------ reading

    def _receive_line(self, item: bytes | object, out: list[Inbound]) -> None:
        if item is RUNAWAY:  # still no newline far past the limit: the core closes us
            out.append(FrameTooLarge(MAX_RUNAWAY))
            return
        if item is TOO_LONG or not isinstance(item, bytes):
            out.append(self._num("417", "Input line was too long"))
            return
        if not item.strip():
            return
        tags = tag_part_length(item)
        if tags > MAX_TAGS or len(item) - tags > MAX_LINE - 2:
            out.append(self._num("417", "Input line was too long"))
            return
        try:
            line = parse_line(item)
        except BadLine as exc:
            out.append(self._num("421", "*", f"Unknown command ({exc})"))
            return
        handler = _COMMANDS.get(line.command)
        if handler is None:
            out.append(self._num("421", line.command, "Unknown command"))
            return
        if line.command not in _REGISTRATION:
            try:
                self._phase = advance(self._phase, Step.COMMAND)
            except IllegalTransition:
                out.append(self._num("451", "You have not registered"))
                return
        handler(self, line, out)

    def _step(self, step: Step) -> bool:
        try:
            self._phase = advance(self._phase, step)
        except IllegalTransition:
            return False
        return True

    def _request(self, message_type: type[ClientMessage], pending: Pending,
                 **fields: object) -> ClientMessage:
        self._counter += 1
        request_id = f"{self._prefix}.{self._counter}"
        self._pending[request_id] = pending
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        return message_type(id=request_id, **fields)  # type: ignore[arg-type]

    def _maybe_register(self, out: list[Inbound]) -> None:
        if self._phase is Phase.START and self._nick is not None and self._user is not None:
            self._step(Step.COMPLETE)
            username, realname = self._user
            out.append(self._request(Hello, Pending("hello", self._nick), version=PROTOCOL_VERSION,
                                     nick=self._nick, password=self._password,
                                     username=username, realname=realname))

    # ------------------------------------------------------------------ registration commands

    def _on_pass(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._need_more("PASS"))
        elif not self._step(Step.PASS):
            out.append(self._num("462", "You may not reregister"))
        else:
            self._password = " ".join(line.params)  # a password with spaces, sent without ":"
            self._maybe_register(out)

    def _on_nick(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params or not line.params[0]:
            out.append(self._num("431", "No nickname given"))
            return
        nick = line.params[0]
        self._step(Step.NICK)  # allowed in every phase
        if self._phase in (Phase.START, Phase.CAP):
            self._nick = nick
            self._maybe_register(out)
        elif nick == (self._nick_of() or self._nick):
            return  # our nick already (exactly): nothing changes, nothing to say
        else:
            out.append(self._request(SetNick, Pending("nick", nick), nick=nick))

    def _on_user(self, line: IrcLine, out: list[Inbound]) -> None:
        if len(line.params) < 4 or not line.params[0] or not line.params[3]:
            out.append(self._need_more("USER"))  # an empty username or realname too
        elif not self._step(Step.USER):
            out.append(self._num("462", "You may not reregister"))
        else:
            username = _USERNAME_JUNK.sub("", line.params[0])[:MAX_USERNAME] or None
            self._user = (username, one_line(line.params[3], MAX_REALNAME))
            self._maybe_register(out)

    def _on_cap(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._need_more("CAP"))
            return
        sub = line.params[0].upper()
        me = self._me()
        if sub == "LS":
            self._step(Step.CAP_BEGIN)
            out.append(self._line("CAP", me, "LS", " ".join(SUPPORTED_CAPS)))
        elif sub == "LIST":
            out.append(self._line("CAP", me, "LIST", " ".join(sorted(self._caps))))
        elif sub == "REQ":
            self._step(Step.CAP_BEGIN)
            wanted = line.params[1] if len(line.params) > 1 else ""
            caps = set(self._caps)
            for name in filter(None, wanted.split(" ")):
                removing = name.startswith("-")
                cap = name[1:] if removing else name
                if cap not in SUPPORTED_CAPS:
                    out.append(self._line("CAP", me, "NAK", wanted))
                    return
                if removing:
                    caps.discard(cap)
                else:
                    caps.add(cap)
            self._set_caps(frozenset(caps))
            out.append(self._line("CAP", me, "ACK", wanted))
        elif sub == "END":
            self._step(Step.CAP_END)
            self._maybe_register(out)
        else:
            out.append(self._num("410", sub, "Invalid CAP command"))

    def _on_ping(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._num("409", "No origin specified"))
        else:
            out.append(self._line("PONG", self._server, line.params[0]))

    def _on_pong(self, line: IrcLine, out: list[Inbound]) -> None:
        return  # any traffic keeps the connection alive; the transport notes it

    def _on_quit(self, line: IrcLine, out: list[Inbound]) -> None:
        reason = strip_formatting(line.params[0]) if line.params else None
        out.append(self._request(Quit, Pending("quit", reason or ""), reason=reason or None))

    # ------------------------------------------------------------------ channels and messages

    def _on_join(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._need_more("JOIN"))
            return
        for channel in filter(None, line.params[0].split(",")):
            if channel == "0":
                out.append(self._num("403", "0", "Leaving every channel at once is not supported"))
            else:
                out.append(self._request(Join, Pending("join", channel), room=channel))

    def _on_part(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._need_more("PART"))
            return
        reason = one_line(line.params[1], MAX_PART_REASON) if len(line.params) > 1 else None
        for channel in filter(None, line.params[0].split(",")):
            out.append(self._request(Leave, Pending("part", channel, text=reason or ""),
                                     room=channel, reason=reason))

    def _on_privmsg(self, line: IrcLine, out: list[Inbound]) -> None:
        self._send_text(line, out, "privmsg")

    def _on_notice(self, line: IrcLine, out: list[Inbound]) -> None:
        self._send_text(line, out, "notice")

    def _send_text(self, line: IrcLine, out: list[Inbound], kind: str) -> None:
        quiet = kind == "notice"  # never an automatic reply to a NOTICE (RFC 2812 3.3.2)
        if not line.params or not line.params[0]:
            if not quiet:
                out.append(self._num("411", f"No recipient given ({line.command})"))
            return
        if len(line.params) < 2 or not line.params[1]:
            if not quiet:
                out.append(self._num("412", "No text to send"))
            return
        targets = [t for t in line.params[0].split(",") if t]
        if len(targets) > MAX_TARGETS:
            if not quiet:
                out.append(self._num("407", line.params[0], "Too many targets"))
            return
        text = self._text_of(line.params[1])
        if not text:
            if not quiet and not line.params[1].startswith("\x01"):
                out.append(self._num("412", "No text to send"))
            return  # a CTCP query other than ACTION: nothing to forward
        for target in targets:
            if target.startswith("#"):
                out.append(self._request(Say, Pending(kind, target), room=target, text=text,
                                         notice=quiet))
            else:
                out.append(self._request(SendDirect, Pending(kind, target), to=target,
                                         text=text, notice=quiet))

    def _text_of(self, raw: str) -> str:
        """IRC text as palaver text: CTCP ACTION becomes ``* nick does``; formatting goes."""
        if raw.startswith("\x01"):
            body = raw[1:-1] if raw.endswith("\x01") else raw[1:]
            verb, _, rest = body.partition(" ")
            if verb.upper() != "ACTION" or not rest.strip():
                return ""
            raw = f"* {self._nick_of() or self._nick or '*'} {rest}"
        return strip_formatting(raw).strip("\n")

    def _on_tagmsg(self, line: IrcLine, out: list[Inbound]) -> None:
        return  # client-only tags (typing notifications) are not relayed

    def _on_topic(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._need_more("TOPIC"))
        elif len(line.params) > 1:
            channel = line.params[0]
            out.append(self._request(SetTopic, Pending("topic_set", channel), room=channel,
                                     topic=strip_formatting(line.params[1])))
        else:
            out.append(self._request(ListRooms, Pending("topic", line.params[0])))

    def _on_names(self, line: IrcLine, out: list[Inbound]) -> None:
        channels = [c for c in (line.params[0].split(",") if line.params else []) if c]
        if not channels:
            out.append(self._num("366", "*", "End of /NAMES list"))
        for channel in channels:
            out.append(self._request(ListUsers, Pending("names", channel), room=channel))

    def _on_who(self, line: IrcLine, out: list[Inbound]) -> None:
        mask = line.params[0] if line.params else "*"
        room = mask if mask.startswith("#") else None
        out.append(self._request(ListUsers, Pending("who", mask), room=room, details=True))

    def _on_whois(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._num("431", "No nickname given"))
            return
        nick = line.params[-1].split(",")[0]
        out.append(self._request(ListUsers, Pending("whois", nick), details=True))

    def _on_ison(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._need_more("ISON"))
            return
        out.append(self._request(ListUsers, Pending("ison", " ".join(line.params))))

    def _on_userhost(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._need_more("USERHOST"))
            return
        asked = " ".join(line.params[:MAX_USERHOST])
        out.append(self._request(ListUsers, Pending("userhost", asked), details=True))

    def _on_away(self, line: IrcLine, out: list[Inbound]) -> None:
        message = one_line(line.params[0], MAX_AWAY) if line.params else None
        out.append(self._request(SetAway, Pending("away"), message=message))

    def _on_list(self, line: IrcLine, out: list[Inbound]) -> None:
        wanted = line.params[0] if line.params and line.params[0].startswith("#") else ""
        out.append(self._request(ListRooms, Pending("list", wanted)))

    def _on_motd(self, line: IrcLine, out: list[Inbound]) -> None:
        out.append(self._renderer.motd(self._me(), self._motd))

    def _on_time(self, line: IrcLine, out: list[Inbound]) -> None:
        out.append(self._request(RunCommand, Pending("time"), name="time"))

    def _on_version(self, line: IrcLine, out: list[Inbound]) -> None:
        out.append(self._num("351", f"palaver-{__version__}", self._server, "IRC door"))
        out.append(self._isupport())

    def _on_mode(self, line: IrcLine, out: list[Inbound]) -> None:
        if not line.params:
            out.append(self._need_more("MODE"))
            return
        target, changes = line.params[0], line.params[1:]
        if target.startswith("#"):
            if not changes:
                out.append(self._request(ListRooms, Pending("mode", target)))
            elif changes[0].lstrip("+") == "b" and len(changes) == 1:  # the ban list
                out.append(self._request(ListBans, Pending("bans", target), room=target))
            elif changes[0].lstrip("+") in ("e", "I") and len(changes) == 1:
                code, what = {"e": ("349", "exception"),
                              "I": ("347", "invite")}[changes[0].lstrip("+")]
                out.append(self._num(code, target, f"End of channel {what} list"))
            else:
                self._channel_modes(target, changes[0], list(changes[1:]), out)
            return
        me = self._me()
        if target.lower() != me.lower():
            out.append(self._num("502", "Cannot change mode for other users"))
        elif not changes:
            out.append(self._num("221", "+" + "".join(sorted(self._modes))))
        else:
            self._user_modes(me, changes[0], out)

    def _channel_modes(self, channel: str, change: str, params: list[str],
                       out: list[Inbound]) -> None:
        """``+o/-o nick``, ``+b/-b mask``, ``+i/-i``, ``+s/-s`` (docs/rooms.md)."""
        adding, flags = True, {}
        for char in change:
            if char in "+-":
                adding = char == "+"
            elif char in "ob":
                if not params:
                    out.append(self._need_more("MODE"))
                    return
                param = params.pop(0)
                if char == "o":
                    kind, command = ("op", GrantOperator) if adding else ("deop", RevokeOperator)
                    out.append(self._request(command, Pending(kind, channel, param),
                                             room=channel, nick=param))
                    continue
                nick = ban_nick(param)
                if nick is None:
                    out.append(self._num("696", channel, "b", param,
                                         "Only nick bans (nick!*@*) are supported"))
                    continue
                ban_kind, ban = ("ban", Ban) if adding else ("unban", Unban)
                out.append(self._request(ban, Pending(ban_kind, channel, nick), room=channel,
                                         nick=nick))
            elif char in FLAG_MODES:
                flags[FLAG_MODES[char]] = adding
            elif char not in "nt":  # no outside messages, ops set the topic: always so here
                out.append(self._num("472", char, "is unknown mode char to me"))
        if flags:
            out.append(self._request(SetRoomMode, Pending("chanmode", channel), room=channel,
                                     **flags))

    def _on_kick(self, line: IrcLine, out: list[Inbound]) -> None:
        if len(line.params) < 2:
            out.append(self._need_more("KICK"))
            return
        channel, reason = line.params[0], strip_formatting(line.params[2]) \
            if len(line.params) > 2 else None
        for nick in filter(None, line.params[1].split(",")):
            out.append(self._request(Kick, Pending("kick", channel, nick), room=channel,
                                     nick=nick, reason=reason or None))

    def _on_invite(self, line: IrcLine, out: list[Inbound]) -> None:
        if len(line.params) < 2:
            out.append(self._need_more("INVITE"))
            return
        nick, channel = line.params[0], line.params[1]
        out.append(self._request(Invite, Pending("invite", channel, nick), room=channel,
                                 nick=nick))

    def _user_modes(self, me: str, change: str, out: list[Inbound]) -> None:
        """Only ``i`` (invisible) exists, and means nothing here: everyone is listed."""
        adding, applied = True, ""
        for char in change:
            if char in "+-":
                adding = char == "+"
            elif char != "i":
                out.append(self._num("501", "Unknown MODE flag"))
                return
            elif adding != ("i" in self._modes):
                self._modes.symmetric_difference_update("i")
                applied += ("+" if adding else "-") + "i"
        if applied:
            out.append(self._line("MODE", me, applied, source=hostmask(me)))

    # ------------------------------------------------------------------ rendering events

    def _welcome(self, event: Welcome, pending: Pending | None) -> bytes:
        self._step(Step.WELCOME)
        self._nick = me = event.nick
        self._motd = event.motd
        lines = [
            self._num("001", f"Welcome to the palaver IRC network, {hostmask(me)}", me=me),
            self._num("002", f"Your host is {self._server}, running version {__version__}",
                      me=me),
            self._num("003", "This server speaks palaver's protocol v1 and IRC", me=me),
            self._num("004", self._server, f"palaver-{__version__}", "i", "binost", "bo",
                      me=me),
            self._isupport(me),
            self._renderer.motd(me, self._motd),
        ]
        if self._modes:
            lines.append(self._line("MODE", me, "+" + "".join(sorted(self._modes)),
                                    source=hostmask(me)))
        return b"".join(lines)

    def _joined(self, event: Joined, pending: Pending | None) -> bytes:
        me = self._me()
        lines = [self._line("JOIN", event.room, source=hostmask(me), trailing=False)]
        if event.topic:
            lines.append(self._num("332", event.room, event.topic))
            if event.topic_by:
                lines.append(self._num("333", event.room, event.topic_by,
                                       unix_time(event.topic_at)))
        lines.append(self._renderer.names(me, event.room, _prefixed(event.members,
                                                                    event.operators)))
        return b"".join(lines)

    def _left(self, event: Left, pending: Pending | None) -> bytes:
        if pending is not None and pending.text:  # our PART, with its reason
            return self._line("PART", event.room, pending.text, source=hostmask(self._me()))
        return self._line("PART", event.room, source=hostmask(self._me()), trailing=False)

    def _presence(self, event: Presence, pending: Pending | None) -> bytes:
        if pending is not None and pending.kind == "nick" and event.new_nick:
            self._nick = event.new_nick  # our own change, confirmed to this connection
        if event.event == "kick":
            return kick_line(event, self._server)
        return self._renderer.presence(event)

    def _message(self, event: Message, pending: Pending | None) -> bytes:
        if event.id is None:  # someone's message (or ours, from another of our sessions)
            return self._renderer.message(event)
        if "echo-message" not in self._caps:
            return b""  # the acknowledgement of our own message: IRC shows it already
        return self._renderer.message(event)

    def _users(self, event: Users, pending: Pending | None) -> bytes:
        kind, arg = (pending.kind, pending.arg) if pending else ("who", event.room or "*")
        me = self._me()
        if kind == "names":
            return self._renderer.names(me, event.room or arg,
                                        _prefixed(event.users, event.operators))
        if kind == "ison":
            online = {n.lower(): n for n in event.users}
            present = [online[n.lower()] for n in arg.split(" ") if n.lower() in online]
            return self._num("303", " ".join(present))
        info = {i.nick.lower(): i for i in event.info}  # filled when we asked for details

        def about(nick: str) -> UserInfo:
            return info.get(nick.lower()) or UserInfo(nick=nick)

        if kind == "userhost":  # RPL_USERHOST: nick=+user@host, "-" when away
            online = {n.lower(): n for n in event.users}
            asked = [about(online[n.lower()]) for n in arg.split(" ") if n.lower() in online]
            return self._num("302", " ".join(
                f"{u.nick}={'-' if u.away else '+'}{u.username or u.nick}@{HOST}"
                for u in asked))
        if kind == "whois":
            whom = [n for n in event.users if n.lower() == arg.lower()]
            if not whom:
                return self._num("401", arg, "No such nick") + self._num(
                    "318", arg, "End of /WHOIS list")
            user = about(whom[0])
            nick = user.nick
            lines = [self._num("311", nick, user.username or nick, HOST, "*",
                               user.realname or nick),
                     self._num("312", nick, self._server, "palaver")]
            if user.away:
                lines.append(self._num("301", nick, user.away))
            lines.append(self._num("318", nick, "End of /WHOIS list"))
            return b"".join(lines)
        # WHO: a channel's members, or the online users matching a mask
        channel = event.room or "*"
        nicks = event.users if event.room else [
            n for n in event.users if fnmatch.fnmatchcase(n.lower(), arg.lower())]
        ops = {n.lower() for n in event.operators}
        who: list[bytes] = []
        for n in nicks:
            user = about(n)
            flags = ("G" if user.away else "H") + ("@" if n.lower() in ops else "")
            who.append(self._num("352", channel, user.username or n, HOST, self._server, n,
                                 flags, f"0 {user.realname or n}"))
        who.append(self._num("315", arg, "End of /WHO list"))
        return b"".join(who)

    def _room_list(self, event: RoomList, pending: Pending | None) -> bytes:
        arg = pending.arg if pending else ""
        if pending is not None and pending.kind in ("topic", "mode"):
            room = next((r for r in event.rooms if r.room.lower() == arg.lower()), None)
            if room is None:
                return self._num("403", arg, "No such channel")
            if pending.kind == "mode":
                return self._num("324", room.room, channel_modes(room.invite_only,
                                                                 room.private))
            if not room.topic:
                return self._num("331", room.room, "No topic is set")
            return self._num("332", room.room, room.topic)
        wanted = {c.lower() for c in arg.split(",") if c}
        lines = [self._num("321", "Channel", "Users  Name")]
        lines.extend(self._num("322", r.room, str(r.members), r.topic) for r in event.rooms
                     if not wanted or r.room.lower() in wanted)
        lines.append(self._num("323", "End of /LIST"))
        return b"".join(lines)

    def _result(self, event: Result, pending: Pending | None) -> bytes:
        if pending is not None and pending.kind == "time":
            return self._num("391", self._server, event.result)
        return self._renderer.notice(self._me(), event.result)

    def _ping(self, event: Wire, pending: Pending | None) -> bytes:
        return self._line("PING", self._server)

    def _goodbye(self, event: Goodbye, pending: Pending | None) -> bytes:
        reason = event.reason
        if pending is not None and pending.kind == "quit":
            reason = f"Quit: {pending.arg}" if pending.arg else "Quit"
        return self._line("ERROR", f"Closing link: {self._me()} ({reason})", source=None)

    def _room_updated(self, event: RoomUpdated, pending: Pending | None) -> bytes:
        if event.change == "state":
            return self._num("324", event.room, channel_modes(event.invite_only, event.private))
        return room_updated_line(event, self._server)

    def _invited(self, event: Invited, pending: Pending | None) -> bytes:
        if pending is not None:  # our invitation went out
            return self._num("341", event.nick, event.room)
        return self._line("INVITE", event.nick, event.room, source=hostmask(event.by),
                          trailing=False)

    def _away(self, event: Away, pending: Pending | None) -> bytes:
        me = self._me()
        if pending is None and event.nick.lower() != me.lower():  # a DM's target is away
            return self._num("301", event.nick, event.message or "")
        if event.message:  # ours (asked here, or on another of our sessions)
            return self._num("306", "You have been marked as being away")
        return self._num("305", "You are no longer marked as being away")

    def _ban_list(self, event: BanList, pending: Pending | None) -> bytes:
        lines = [self._num("367", event.room, f"{nick}!*@*") for nick in event.nicks]
        lines.append(self._num("368", event.room, "End of channel ban list"))
        return b"".join(lines)

    def _registered(self, event: Registered, pending: Pending | None) -> bytes:
        return self._renderer.notice(
            self._me(), f"{event.nick} is now an account: log in with PASS <password>")

    def _error(self, event: Error, pending: Pending | None) -> bytes:
        code = event.code
        if code == ErrorCode.HANDSHAKE_REQUIRED:
            return self._num("451", "You have not registered")
        if code == ErrorCode.FRAME_TOO_LARGE:  # a runaway line: the connection closes now
            return self._line("ERROR", f"Closing link: {self._me()} (Input line was too long)",
                              source=None)
        kind, arg = (pending.kind, pending.arg) if pending else ("", "")
        numeric = _ERROR_NUMERICS.get((kind, code)) or ROOM_ERROR_NUMERICS.get((kind, code))
        if kind == "hello":
            self._step(Step.REFUSED)
            if code in (ErrorCode.AUTH_FAILED, ErrorCode.AUTH_THROTTLED):  # ERROR and close
                self._closing = "Password incorrect" if numeric is not None else event.message
                return b"" if numeric is None else self._num(*numeric)
            if numeric is not None:
                self._nick = None  # the next NICK tries again
        if numeric is not None:
            nick = pending.nick if pending else ""
            number, params = numeric[0], [p.replace("{arg}", arg).replace("{nick}", nick)
                                          for p in numeric[1:]]
            if number == "HINT":  # a reply that needs no more words than the event's
                return self._num(params[0], *params[1:], event.message)
            return self._num(number, *params)
        if kind == "notice" and code != ErrorCode.UNAVAILABLE:
            return b""  # never an automatic reply to a NOTICE
        return self._renderer.notice(self._me(), f"{code}: {event.message}")

    # ------------------------------------------------------------------ helpers

    def _set_caps(self, caps: frozenset[str]) -> None:
        self._caps = caps
        self._key = ("irc", caps)
        self._renderer = IrcRenderer(self._server, caps)

    def _me(self) -> str:
        """The target of a numeric: our nick once registered, ``*`` before."""
        if self._phase is not Phase.REGISTERED:
            return self._nick_of() or "*"
        return self._nick_of() or self._nick or "*"

    def _line(self, command: str, *params: str, source: str | None = "",
              trailing: bool = True) -> bytes:
        """A line of the server's own (PONG, CAP, MODE, ERROR ...): parameters that echo the
        client lose their control characters, as numerics' do."""
        return format_line(command, *map(clean, params),
                           source=self._server if source == "" else source, trailing=trailing)

    def _num(self, code: str, *params: str, me: str | None = None) -> bytes:
        return self._renderer.numeric(code, me or self._me(), *params)

    def _need_more(self, command: str) -> bytes:
        return self._num("461", command, "Not enough parameters")

    def _isupport(self, me: str | None = None) -> bytes:
        return self._num("005", *ISUPPORT, "are supported by this server", me=me)


# (what the id answered, the error code) -> numeric and its parameters; "{arg}" is the channel
# or nick of the request. "HINT" numerics end with the hub's own message.
_ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("hello", ErrorCode.NICK_TAKEN): ("433", "{arg}", "Nickname is already in use"),
    ("hello", ErrorCode.NICK_REGISTERED): ("HINT", "433", "{arg}"),
    ("hello", ErrorCode.NICK_CONFUSABLE): ("HINT", "433", "{arg}"),
    ("hello", ErrorCode.INVALID_NICK): ("HINT", "432", "{arg}"),
    ("hello", ErrorCode.AUTH_FAILED): ("464", "Password incorrect"),
    ("nick", ErrorCode.NICK_TAKEN): ("433", "{arg}", "Nickname is already in use"),
    ("nick", ErrorCode.NICK_REGISTERED): ("HINT", "433", "{arg}"),
    ("nick", ErrorCode.NICK_CONFUSABLE): ("HINT", "433", "{arg}"),
    ("nick", ErrorCode.INVALID_NICK): ("HINT", "432", "{arg}"),
    ("join", ErrorCode.INVALID_ROOM): ("HINT", "479", "{arg}"),
    ("part", ErrorCode.INVALID_ROOM): ("403", "{arg}", "No such channel"),
    ("part", ErrorCode.NOT_IN_ROOM): ("442", "{arg}", "You're not on that channel"),
    ("privmsg", ErrorCode.INVALID_ROOM): ("403", "{arg}", "No such channel"),
    ("privmsg", ErrorCode.NOT_IN_ROOM): ("404", "{arg}", "Cannot send to channel (join it)"),
    ("privmsg", ErrorCode.NO_SUCH_USER): ("401", "{arg}", "No such nick/channel"),
    ("privmsg", ErrorCode.INVALID_TEXT): ("HINT", "412"),
    ("names", ErrorCode.INVALID_ROOM): ("366", "{arg}", "End of /NAMES list"),
    ("names", ErrorCode.NO_SUCH_ROOM): ("366", "{arg}", "End of /NAMES list"),
    ("who", ErrorCode.INVALID_ROOM): ("315", "{arg}", "End of /WHO list"),
    ("who", ErrorCode.NO_SUCH_ROOM): ("315", "{arg}", "End of /WHO list"),
    ("mode", ErrorCode.INVALID_ROOM): ("403", "{arg}", "No such channel"),
    ("mode", ErrorCode.NO_SUCH_ROOM): ("403", "{arg}", "No such channel"),
}

_EVENTS: Final[dict[type[Wire], Callable[[IrcDialect, Wire, Pending | None], bytes]]] = {
    Welcome: IrcDialect._welcome,  # type: ignore[dict-item]
    Joined: IrcDialect._joined,  # type: ignore[dict-item]
    Left: IrcDialect._left,  # type: ignore[dict-item]
    Presence: IrcDialect._presence,  # type: ignore[dict-item]
    Message: IrcDialect._message,  # type: ignore[dict-item]
    Users: IrcDialect._users,  # type: ignore[dict-item]
    RoomList: IrcDialect._room_list,  # type: ignore[dict-item]
    Result: IrcDialect._result,  # type: ignore[dict-item]
    Ping: IrcDialect._ping,
    Goodbye: IrcDialect._goodbye,  # type: ignore[dict-item]
    Registered: IrcDialect._registered,  # type: ignore[dict-item]
    RoomUpdated: IrcDialect._room_updated,  # type: ignore[dict-item]
    Invited: IrcDialect._invited,  # type: ignore[dict-item]
    Away: IrcDialect._away,  # type: ignore[dict-item]
    BanList: IrcDialect._ban_list,  # type: ignore[dict-item]
    Error: IrcDialect._error,  # type: ignore[dict-item]
}

_COMMANDS: Final[dict[str, Callable[[IrcDialect, IrcLine, list[Inbound]], None]]] = {
    "AWAY": IrcDialect._on_away,
    "CAP": IrcDialect._on_cap,
    "INVITE": IrcDialect._on_invite,
    "ISON": IrcDialect._on_ison,
    "JOIN": IrcDialect._on_join,
    "KICK": IrcDialect._on_kick,
    "LIST": IrcDialect._on_list,
    "MODE": IrcDialect._on_mode,
    "MOTD": IrcDialect._on_motd,
    "NAMES": IrcDialect._on_names,
    "NICK": IrcDialect._on_nick,
    "NOTICE": IrcDialect._on_notice,
    "PART": IrcDialect._on_part,
    "PASS": IrcDialect._on_pass,
    "PING": IrcDialect._on_ping,
    "PONG": IrcDialect._on_pong,
    "PRIVMSG": IrcDialect._on_privmsg,
    "QUIT": IrcDialect._on_quit,
    "TAGMSG": IrcDialect._on_tagmsg,
    "TIME": IrcDialect._on_time,
    "TOPIC": IrcDialect._on_topic,
    "USER": IrcDialect._on_user,
    "USERHOST": IrcDialect._on_userhost,
    "VERSION": IrcDialect._on_version,
    "WHO": IrcDialect._on_who,
    "WHOIS": IrcDialect._on_whois,
}


def one_line(text: str, limit: int) -> str | None:
    """IRC text as one line palaver keeps (a realname, an away message, a PART reason): no
    formatting, tab or bidi control, at most ``limit`` characters; None if nothing is left."""
    line = _NOT_IN_A_LINE.sub(" ", strip_formatting(text)).strip()[:limit].strip()
    return line or None


def _prefixed(nicks: tuple[str, ...], operators: tuple[str, ...]) -> list[str]:
    """NAMES entries: ``@nick`` for the room's operators."""
    ops = {n.lower() for n in operators}
    return [f"@{n}" if n.lower() in ops else n for n in nicks]
