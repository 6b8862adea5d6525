"""The ``palaver`` command: ``palaver serve`` and ``palaver chat``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="palaver", description="A chat server and its clients.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="JSON-lines/TCP port (default 8000; 0 = any)")
    serve.add_argument("--web-port", type=int,
                       help="web client and WebSocket port (default 8080; 0 = off)")
    serve.add_argument("--irc-port", type=int, help="IRC port (default 6667; 0 = off)")
    serve.add_argument("--data-dir", help="where data and logs/ live (default ./data)")
    serve.add_argument("--config", help="a TOML file of settings")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--log-messages", action="store_true", default=None,
                       help="also log chat text (off by default)")

    chat = commands.add_parser("chat", help="the terminal client")
    chat.add_argument("--host", default="127.0.0.1")
    chat.add_argument("--port", type=int, default=8000)
    chat.add_argument("--nick", help="your nickname (asked for when missing)")
    chat.add_argument("--password",
                      help="log in to the account NICK (default: $PALAVER_PASSWORD; else a guest)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _chat(args)


def _serve(args: argparse.Namespace) -> int:
    from palaver.server.app import serve_until_signalled
    from palaver.server.config import ConfigError, load_settings
    from palaver.server.logs import setup_logging
    from palaver.server.runner import raise_file_limit, run

    try:
        settings = load_settings(
            args.config,
            host=args.host,
            port=args.port,
            web_port=args.web_port,
            irc_port=args.irc_port,
            data_dir=args.data_dir,
            log_level=args.log_level,
            log_messages=args.log_messages,
        )
    except ConfigError as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2
    setup_logging(Path(settings.data_dir), settings.log_level)
    raise_file_limit()
    try:
        run(serve_until_signalled(settings), use_uvloop=settings.use_uvloop)
    except OSError as exc:
        print(f"palaver: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    return 0


def _chat(args: argparse.Namespace) -> int:
    from palaver.client.terminal import run_terminal

    password = args.password or os.environ.get("PALAVER_PASSWORD") or None
    return run_terminal(host=args.host, port=args.port, nick=args.nick, password=password)


if __name__ == "__main__":
    sys.exit(main())
