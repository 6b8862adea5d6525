"""IRC over WebSocket (docs/irc.md, "WebSocket") on real sockets: the IRCv3 subprotocols, one
line per message, the IRC door's lengths and limits, and IRC/JSON/TCP-IRC users together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from palaver.client import Client
from palaver.protocol.irc.wire import MAX_RUNAWAY
from palaver.protocol.messages import Message, Register
from palaver.server.app import Server
from palaver.server.core import ServerCore
from palaver.transports.irc_websocket import IrcWebSocketConnection

StartServer = Callable[..., Awaitable[Server]]
WAIT = 10.0
TEXT, BINARY = "text.ircv3.net", "binary.ircv3.net"


class WsIrc:
    """An IRC client over WebSocket: each message is one line."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.binary = ws.protocol == BINARY

    async def send(self, *lines: str | bytes) -> None:
        for line in lines:
            if self.binary:
                await self.ws.send_bytes(line.encode() if isinstance(line, str) else line)
            else:
                await self.ws.send_str(line if isinstance(line, str) else line.decode())

    async def line(self) -> str:
        """The next line; its message type must be the one agreed on."""
        msg = await self.ws.receive(timeout=WAIT)
        if self.binary:
            assert msg.type is aiohttp.WSMsgType.BINARY, msg
            data: str = msg.data.decode("utf-8")
        else:
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            data = msg.data
        assert "\r" not in data and "\n" not in data
        return data

    async def line_with(self, part: str) -> str:
        async with asyncio.timeout(WAIT):
            while part not in (line := await self.line()):
                pass
        return line

    async def lines_until_closed(self) -> list[str]:
        out: list[str] = []
        async with asyncio.timeout(WAIT):
            while True:
                msg = await self.ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    return out
                out.append(msg.data if isinstance(msg.data, str) else msg.data.decode())

    async def register(self, nick: str) -> None:
        """Register as ``nick`` and join #lobby (with everything the server says to that)."""
        await self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}", "JOIN #lobby")
        said = await self.synced()
        assert any(f" 001 {nick} " in line for line in said), said

    async def synced(self) -> list[str]:
        """Every line until the answer to a PING sent now (replies keep command order)."""
        await self.send("PING sync")
        out: list[str] = []
        async with asyncio.timeout(WAIT):
            while "PONG" not in (line := await self.line()) or "sync" not in line:
                out.append(line)
        return out


@pytest.fixture
async def web_server(start_server: StartServer) -> Server:
    server = await start_server(server_name="irc.test")
    await server.open_web(0)
    await server.open_irc(0)
    return server


@pytest.fixture
async def ws_irc(web_server: Server) -> AsyncIterator[Callable[..., Awaitable[WsIrc]]]:
    async with aiohttp.ClientSession() as http:

        async def connect(nick: str | None = None, protocols: tuple[str, ...] = (TEXT,),
                          path: str = "/irc", **kwargs: Any) -> WsIrc:
            ws = await http.ws_connect(f"http://127.0.0.1:{web_server.web_port}{path}",
                                       protocols=protocols, **kwargs)
            peer = WsIrc(ws)
            if nick is not None:
                await peer.register(nick)
            return peer

        yield connect


async def tcp_irc(server: Server, nick: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP IRC client, registered and in #lobby (everything said so far read)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.irc_port)
    writer.write(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #lobby\r\nPING sync\r\n"
                 .encode())
    await tcp_line_with(reader, b"PONG")
    return reader, writer


async def tcp_line_with(reader: asyncio.StreamReader, part: bytes) -> bytes:
    async with asyncio.timeout(WAIT):
        while part not in (line := await reader.readline()):
            assert line, "closed"
    return line


async def message_from(client: Client, sender: str) -> Message:
    async with asyncio.timeout(WAIT):
        while True:
            event = await client.next_event()
            if isinstance(event, Message) and event.sender == sender:
                return event


# ---------------------------------------------------------------------------- subprotocols


@pytest.mark.parametrize(("offered", "agreed"), [
    ((TEXT,), TEXT),
    ((BINARY,), BINARY),
    ((BINARY, TEXT), BINARY),  # the client's order of preference
    ((TEXT, BINARY), TEXT),
    ((), None),  # no subprotocol: text, for legacy clients
    (("chat.example", TEXT), TEXT),
])
async def test_the_subprotocol_is_the_clients_first_choice_and_sets_the_message_type(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
    offered: tuple[str, ...], agreed: str | None,
) -> None:
    peer = await ws_irc(protocols=offered)
    assert peer.ws.protocol == agreed
    await peer.register("webby")  # every line in the type agreed on (WsIrc.line checks)
    assert (await peer.synced()) == []


async def test_irc_over_websocket_talks_with_tcp_irc_and_json_users(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    assert web_server.port
    reader, writer = await tcp_irc(web_server, "tcpy")
    async with await Client.connect("127.0.0.1", web_server.port, "jsony") as json_user:
        for protocols in [(TEXT,), (BINARY,)]:
            nick = "texty" if protocols == (TEXT,) else "binny"
            web = await ws_irc(nick, protocols=protocols)
            await web.send(f"PRIVMSG #lobby :hello from {nick}")
            heard = await tcp_line_with(reader, b"PRIVMSG #lobby")
            assert heard == f":{nick}!{nick}@palaver PRIVMSG #lobby :hello from {nick}\r\n".encode()
            assert (await message_from(json_user, nick)).text == f"hello from {nick}"
            writer.write(f"PRIVMSG {nick} :hi {nick}\r\n".encode())
            assert await web.line_with("PRIVMSG") == f":tcpy!tcpy@palaver PRIVMSG {nick} :hi {nick}"
            await web.ws.close()
    writer.close()


async def test_the_root_path_speaks_irc_only_to_a_handshake_that_asks_for_it(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    peer = await ws_irc("rooted", protocols=(BINARY, TEXT), path="/")
    assert peer.ws.protocol == BINARY
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{web_server.web_port}/") as page:
            assert page.status == 200
            assert page.headers["Content-Type"].startswith("text/html")
        async with http.get(f"http://127.0.0.1:{web_server.web_port}/irc") as plain:
            assert plain.status == 426  # not a WebSocket handshake
            assert "text.ircv3.net" in await plain.text()
        with pytest.raises(aiohttp.WSServerHandshakeError):  # the page, not a WebSocket
            await http.ws_connect(f"http://127.0.0.1:{web_server.web_port}/")


async def test_the_irc_door_s_password_holds_over_websocket_too(
    start_server: StartServer,
) -> None:
    server = await start_server(irc_password="door key")
    port = await server.open_web(0)
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}/irc"
        refused = WsIrc(await http.ws_connect(url, protocols=(TEXT,)))
        await refused.send("NICK ann", "USER ann 0 * :Ann")
        lines = await refused.lines_until_closed()
        assert [line.split(" ", 2)[1] for line in lines] == ["464", ":Closing"]
        admitted = WsIrc(await http.ws_connect(url, protocols=(TEXT,)))
        await admitted.send("PASS :door key")
        await admitted.register("ann")
        await admitted.ws.close()


async def test_it_can_be_turned_off(start_server: StartServer) -> None:
    server = await start_server(irc_websocket=False)
    port = await server.open_web(0)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/irc") as missing:
            assert missing.status == 404
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(f"http://127.0.0.1:{port}/", protocols=(TEXT,))


async def test_a_handshake_from_another_site_is_refused(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await ws_irc(headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403


# ---------------------------------------------------------------------------- one line per message


async def test_each_message_is_one_line_never_joined_with_the_next(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    reader, writer = await tcp_irc(web_server, "tcpy")
    web = await ws_irc("webby")
    await web.send("PRIVMSG #lobby :hel", "lo")
    assert await tcp_line_with(reader, b"PRIVMSG") == \
        b":webby!webby@palaver PRIVMSG #lobby :hel\r\n"
    assert await web.synced() == [":irc.test 421 webby LO :Unknown command"]
    writer.close()


async def test_a_trailing_crlf_is_tolerated_and_a_line_break_inside_is_refused(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    reader, writer = await tcp_irc(web_server, "tcpy")
    web = await ws_irc("webby")
    await web.send("PRIVMSG #lobby :one\r\n", "PRIVMSG #lobby :two\n", "PRIVMSG #lobby :three\r")
    await web.send("PRIVMSG #lobby :four\r\nPRIVMSG #lobby :five", "PRIVMSG #lobby :six\rseven")
    assert await web.synced() == [
        ":irc.test NOTICE webby :bad_frame: one IRC line per WebSocket message: no CR or LF "
        "inside it"] * 2
    await web.send("PRIVMSG #lobby :eight")
    heard = [await tcp_line_with(reader, b"PRIVMSG") for _ in range(4)]
    assert [line.rsplit(b":", 1)[1] for line in heard] == [
        b"one\r\n", b"two\r\n", b"three\r\n", b"eight\r\n"]
    writer.close()


async def test_a_text_message_must_be_utf8_a_binary_one_is_read_as_the_tcp_door_does(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    assert web_server.port
    async with await Client.connect("127.0.0.1", web_server.port, "jsony") as json_user:
        reader, writer = await tcp_irc(web_server, "tcpy")
        texty = await ws_irc("texty")
        # aiohttp's client sends a text frame's bytes as they are: not UTF-8 here.
        await texty.ws.send_frame(b"PRIVMSG #lobby :caf\xe9", aiohttp.WSMsgType.TEXT)
        assert await texty.synced() == [
            ":irc.test NOTICE texty :bad_frame: a text message must be UTF-8 (send other "
            "encodings in binary messages)"]
        # The same Latin-1 line from the TCP door and in a binary message: the same outcome.
        binny = await ws_irc("binny", protocols=(BINARY,))
        line = b"PRIVMSG #lobby :caf\xe9"
        writer.write(b"PING drained\r\n")  # past the joins of texty and binny
        await tcp_line_with(reader, b"drained")
        writer.write(line + b"\r\nPING sync\r\n")
        tcp_replies = []
        while b"PONG" not in (reply := await tcp_line_with(reader, b"")):
            tcp_replies.append(reply.decode().rstrip("\r\n").replace("tcpy", "NICK"))
        await binny.send(line)
        ws_replies = [reply.replace("binny", "NICK") for reply in await binny.synced()
                      if not reply.startswith(":tcpy!")]  # what tcpy said, if it went through
        assert ws_replies == tcp_replies
        writer.write(b"PRIVMSG #lobby :end\r\n")
        heard: dict[str, list[str]] = {"tcpy": [], "binny": []}
        async with asyncio.timeout(WAIT):
            while True:
                event = await json_user.next_event()
                if isinstance(event, Message) and event.sender in heard:
                    if event.text == "end":
                        break
                    heard[event.sender].append(event.text)
        assert heard["binny"] == heard["tcpy"]
        # What goes out in text messages is UTF-8 whatever came in (WsIrc.line checks the
        # type; aiohttp's client refuses a text message that is not UTF-8): here the echo of a
        # Latin-1 nick in a refusal.
        await texty.ws.send_bytes(b"NICK caf\xe9")
        assert await texty.synced()
        writer.close()


# ---------------------------------------------------------------------------- lengths


async def test_a_long_line_is_417_and_a_runaway_message_closes_with_1009(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    reader, writer = await tcp_irc(web_server, "tcpy")
    web = await ws_irc("webby")
    prefix = "PRIVMSG #lobby :"
    await web.send(prefix + "x" * (510 - len(prefix)))  # 510 bytes: the most a line may be
    assert await web.synced() == []
    assert len(await tcp_line_with(reader, b"PRIVMSG")) <= 512
    await web.send(prefix + "x" * (511 - len(prefix)))
    assert await web.synced() == [":irc.test 417 webby :Input line was too long"]
    await web.send("PRIVMSG #lobby :" + "y" * MAX_RUNAWAY)
    assert await web.lines_until_closed() == [
        "ERROR :Closing link: webby (Input line was too long)"]
    assert web.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    writer.close()


# ---------------------------------------------------------------------------- the same limits


async def test_a_flooder_gets_the_irc_doors_fakelag_and_nothing_is_lost(
    start_server: StartServer,
) -> None:
    server = await start_server(rate_burst=5, rate_per_second=40.0, irc_flood_notice_after=2,
                                server_name="irc.test")
    port = await server.open_web(0)
    assert server.port
    async with aiohttp.ClientSession() as http, \
            await Client.connect("127.0.0.1", server.port, "witness") as witness:
        web = WsIrc(await http.ws_connect(f"http://127.0.0.1:{port}/irc", protocols=(TEXT,)))
        await web.register("flood")
        await web.send(*(f"PRIVMSG #lobby :line {n}" for n in range(40)))
        notice = await web.line_with("NOTICE")
        assert notice.startswith(":irc.test NOTICE flood :rate_limited: too many messages: wait ")
        heard = [(await message_from(witness, "flood")).text for _ in range(40)]
        assert heard == [f"line {n}" for n in range(40)]


async def test_too_much_before_registration_is_cut_off(start_server: StartServer) -> None:
    server = await start_server(prelogin_bytes=1_024, server_name="irc.test")
    port = await server.open_web(0)
    async with aiohttp.ClientSession() as http:
        web = WsIrc(await http.ws_connect(f"http://127.0.0.1:{port}/irc", protocols=(TEXT,)))
        await web.send(*(f"PING {'x' * 300}" for _ in range(5)))  # 305 bytes each
        lines = await web.lines_until_closed()
    assert len([line for line in lines if "PONG" in line]) == 3
    assert lines[-1] == "ERROR :Closing link: * (too much data before HELLO)"


async def test_bad_frames_before_registration_are_counted(start_server: StartServer) -> None:
    server = await start_server(prelogin_bad_frames=2, server_name="irc.test")
    port = await server.open_web(0)
    async with aiohttp.ClientSession() as http:
        web = WsIrc(await http.ws_connect(f"http://127.0.0.1:{port}/irc", protocols=(TEXT,)))
        await web.send("NICK a\nUSER a 0 * :a", "NICK b\r\nUSER b 0 * :b", "NICK c")
        lines = await web.lines_until_closed()
    assert [line.split(" :")[0] for line in lines] == [
        ":irc.test NOTICE *", ":irc.test NOTICE *", "ERROR"]
    assert lines[-1] == "ERROR :Closing link: * (too many bad frames before HELLO)"


async def test_a_wrong_password_ends_with_error_and_a_close(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    assert web_server.port
    async with await Client.connect("127.0.0.1", web_server.port, "carol") as owner:
        await owner.request(Register(nick="carol", password="correct horse"))
    web = await ws_irc()
    await web.send("PASS battery staple", "NICK carol", "USER carol 0 * :Carol", "JOIN #x")
    assert await web.lines_until_closed() == [
        ":irc.test 464 * :Password incorrect", "ERROR :Closing link: * (Password incorrect)"]


async def test_a_broadcast_is_rendered_once_for_irc_clients_of_both_transports(
    web_server: Server, ws_irc: Callable[..., Awaitable[WsIrc]],
) -> None:
    _, writer = await tcp_irc(web_server, "tcpy")
    await ws_irc("webby")
    core = web_server.core
    assert isinstance(core, ServerCore)
    by_door = {type(conn).__name__: conn.encode_key for conn in core.connections()}
    assert by_door["IrcWebSocketConnection"] == by_door["IrcConnection"]
    web = next(c for c in core.connections() if isinstance(c, IrcWebSocketConnection))
    assert not web.resends and web.door == "irc"
    writer.close()


async def test_shutdown_says_error_and_closes(start_server: StartServer) -> None:
    server = await start_server(server_name="irc.test")
    port = await server.open_web(0)
    async with aiohttp.ClientSession() as http:
        web = WsIrc(await http.ws_connect(f"http://127.0.0.1:{port}/irc", protocols=(BINARY,)))
        await web.register("leaving")
        stopping = asyncio.create_task(server.stop())
        assert await web.lines_until_closed() == [
            "ERROR :Closing link: leaving (server shutting down)"]
        await web.ws.close()
        await asyncio.wait_for(stopping, 30)
