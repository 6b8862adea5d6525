"""`palaver config --print/--check` and `palaver serve --log-format json`, as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import tomllib
from pathlib import Path

import msgspec

from palaver.client import Client
from palaver.protocol.messages import Say
from palaver.server.config import Settings

LISTENING = re.compile(rb"json-lines tcp://127\.0\.0\.1:(\d+)")


def clean_env(**palaver: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALAVER_")}
    return {**env, **palaver}


async def palaver(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_config_print_is_toml_of_every_layer_and_round_trips(tmp_path: Path) -> None:
    config = tmp_path / "palaver.toml"
    config.write_text('motd = "from the file"\nport = 1001\nirc_port = 1002\n')
    code, out, err = await palaver(
        "config", "--print", "--config", str(config), "--irc-port", "3003", "--log-format", "json",
        env=clean_env(PALAVER_PORT="2002", PALAVER_METRICS_FROM="10.0.0.0/8,::1"))
    assert (code, err) == (0, "")
    printed = tomllib.loads(out)
    settings = msgspec.convert(printed, Settings)
    assert settings == Settings(motd="from the file", port=2002, irc_port=3003,
                                log_format="json", metrics_from=("10.0.0.0/8", "::1"))
    assert "port = 2002  # environment variable PALAVER_PORT" in out
    assert "irc_port = 3003  # flag --irc-port" in out
    # every setting is there, and the printout used as a config file prints the same settings
    assert set(printed) >= {f for f in Settings.__struct_fields__
                            if getattr(settings, f) is not None}
    again = tmp_path / "printed.toml"
    again.write_text(out)
    code, out2, _ = await palaver("config", "--print", "--config", str(again), env=clean_env())
    assert code == 0 and tomllib.loads(out2) == printed


async def test_config_check_names_the_bad_source(tmp_path: Path) -> None:
    code, out, err = await palaver("config", "--check", env=clean_env(PALAVER_WEB_PORT="web"))
    assert code == 2 and out == ""
    assert err.startswith("palaver: invalid setting `web_port` (environment variable "
                          "PALAVER_WEB_PORT)")
    code, _, err = await palaver("config", "--check", env=clean_env(PALAVER_WEBPORT="1"))
    assert code == 2 and "did you mean PALAVER_WEB_PORT?" in err
    assert (await palaver("config", "--check", env=clean_env()))[0] == 0
    code, _, err = await palaver("serve", "--port", "0", env=clean_env(PALAVER_LOG_LEVEL="loud"))
    assert code == 2 and "invalid setting `log_level` (environment variable" in err
    assert "Traceback" not in err


async def test_serve_logs_json_lines_to_stderr_and_file(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "serve", "--port", "0", "--web-port", "0",
        "--data-dir", str(tmp_path), "--log-format", "json", "--log-messages",
        env=clean_env(PALAVER_IRC_PORT="0", PALAVER_TLS_PORT="0", PALAVER_IRC_TLS_PORT="0"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stderr is not None
        match = LISTENING.search(await asyncio.wait_for(process.stdout.readline(), 30))
        assert match
        alice = await Client.connect("127.0.0.1", int(match.group(1)), "alice")
        await alice.request(Say(room="#lobby", text="on the record"))
        await alice.close()  # "left (connection closed)" (a QUIT is not logged: see the report)
        lines: list[bytes] = []
        async with asyncio.timeout(10):  # the server has seen it go: its log line is written
            while not lines or b'"event":"leave"' not in lines[-1]:
                lines.append(await process.stderr.readline())
                assert lines[-1], lines
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        stderr = (b"".join(lines) + await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    from_file = (tmp_path / "logs" / "palaver.log").read_text()
    for text in (stderr, from_file):
        entries = [json.loads(line) for line in text.splitlines()]
        assert entries
        for entry in entries:
            assert {"ts", "level", "logger", "message"} <= set(entry)
        by_event = {e.get("event"): e for e in entries}
        assert by_event["join"]["nick"] == "alice" and by_event["join"]["level"] == "info"
        assert by_event["message"]["text"] == "on the record"
        assert by_event["message"]["room"] == "#lobby"
        assert by_event["leave"]["nick"] == "alice"
        assert any(e["message"] == "stopped" for e in entries)
