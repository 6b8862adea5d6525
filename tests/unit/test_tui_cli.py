"""``palaver chat`` picks the full-screen app only when stdin and stdout are terminals."""

from __future__ import annotations

import io
from typing import Any

import pytest

from palaver import cli
from palaver.client import terminal
from palaver.client.tui import app


class Tty(io.StringIO):
    def isatty(self) -> bool:
        super().isatty()  # ValueError once closed, as a real stream
        return True


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(app, "run_tui", lambda **kw: seen.append(("tui", kw)) or 0)
    monkeypatch.setattr(terminal, "run_terminal", lambda **kw: seen.append(("plain", kw)) or 0)
    monkeypatch.delenv("PALAVER_PASSWORD", raising=False)
    return seen


@pytest.mark.parametrize(("stdin", "stdout", "args", "mode"), [
    (Tty(), Tty(), [], "tui"),
    (Tty(), Tty(), ["--plain"], "plain"),
    (io.StringIO(), Tty(), [], "plain"),  # a pipe or a file in
    (Tty(), io.StringIO(), [], "plain"),  # a pipe out
    (None, Tty(), [], "plain"),  # no stdin at all
])
def test_the_mode_follows_the_terminal(
    monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, dict[str, Any]]],
    stdin: object, stdout: object, args: list[str], mode: str,
) -> None:
    monkeypatch.setattr("sys.stdin", stdin)
    monkeypatch.setattr("sys.stdout", stdout)
    assert cli.main(["chat", "--port", "9", "--nick", "ann", *args]) == 0
    assert [name for name, _ in calls] == [mode]
    assert calls[0][1]["port"] == 9 and calls[0][1]["nick"] == "ann"


def test_a_closed_stream_is_no_terminal() -> None:
    stream = Tty()
    stream.close()
    assert not cli._is_tty(stream)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from palaver import __version__

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"palaver {__version__}\n"
