"""The ``palaver`` command: ``serve``, ``config``, ``chat``, ``cert``, ``hash-password``,
``admin`` and ``migrate``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="palaver", description="A chat server and its clients.")
    parser.add_argument("--version", action="version", version=f"palaver {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="JSON-lines/TCP port (default 8000; 0 = any)")
    serve.add_argument("--web-port", type=int,
                       help="web client and WebSocket port (default 8080; 0 = off)")
    serve.add_argument("--irc-port", type=int, help="IRC port (default 6667; 0 = off)")
    serve.add_argument("--tls-cert", help="PEM certificate: turns on TLS (docs/tls.md)")
    serve.add_argument("--tls-key", help="PEM private key (default: in the --tls-cert file)")
    serve.add_argument("--tls-port", type=int,
                       help="JSON-lines/text over TLS (default 8443; 0 = off)")
    serve.add_argument("--irc-tls-port", type=int, help="IRC over TLS (default 6697; 0 = off)")
    serve.add_argument("--tls-only", action="store_true", default=None,
                       help="with TLS, do not open the plain JSON-lines and IRC ports")
    serve.add_argument("--client-ca", metavar="FILE",
                       help="ask TLS clients for a certificate issued by the CAs in FILE "
                            "(SASL EXTERNAL; docs/tls.md)")
    serve.add_argument("--data-dir", help="where data and logs/ live (default ./data)")
    serve.add_argument("--store", metavar="STORE",
                       help="sqlite (default: in the data dir), memory, or "
                            "postgresql://USER@HOST:PORT/DB (docs/operations.md)")
    serve.add_argument("--bus", metavar="URLS", type=_urls,
                       help="redis://HOST:PORT[,redis://...]: join a cluster of nodes over "
                            "this bus (needs a PostgreSQL --store; docs/operations.md)")
    serve.add_argument("--node-id", metavar="NAME",
                       help="this node's name in a cluster (default: host name and pid)")
    serve.add_argument("--workers", type=int, metavar="N",
                       help="run N node processes sharing every port (SO_REUSEPORT); needs a "
                            "PostgreSQL --store and a --bus (docs/operations.md)")
    serve.add_argument("--config", help="a TOML file of settings")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--log-messages", action="store_true", default=None,
                       help="also log chat text (off by default)")
    serve.add_argument("--log-format", choices=["text", "json"],
                       help="log lines as text (default) or as JSON objects")

    config = commands.add_parser(
        "config", help="print or check the settings `palaver serve` would use",
        description="Resolve the settings as `palaver serve` would (defaults < --config FILE < "
                    "PALAVER_* environment variables < flags). Takes every flag of "
                    "`palaver serve`.")
    action = config.add_mutually_exclusive_group(required=True)
    action.add_argument("--print", action="store_true", dest="print_settings",
                        help="print the effective settings as TOML")
    action.add_argument("--check", action="store_true",
                        help="only check them: exit 0 if valid, 2 with the error if not")
    config.set_defaults(settings_parser=serve)  # the rest of the line is serve's flags

    chat = commands.add_parser("chat", help="the terminal client")
    chat.add_argument("--host", default="127.0.0.1")
    chat.add_argument("--port", type=int, help="default 8000, or 8443 with --tls")
    chat.add_argument("--tls", action="store_true",
                      help="connect with TLS and verify the server's certificate")
    chat.add_argument("--ca", metavar="FILE",
                      help="trust the certificates in FILE (e.g. a self-signed cert.pem); "
                           "implies --tls")
    chat.add_argument("--cert", metavar="FILE",
                      help="present this client certificate (PEM; its key too, or --key); "
                           "implies --tls (docs/tls.md)")
    chat.add_argument("--key", metavar="FILE", help="the private key of --cert")
    chat.add_argument("--nick", help="your nickname (asked for when missing)")
    chat.add_argument("--password",
                      help="log in to the account NICK (default: $PALAVER_PASSWORD; else a guest)")
    chat.add_argument("--plain", action="store_true",
                      help="line mode (the default when stdin or stdout is not a terminal)")
    chat.add_argument("--handshake-timeout", type=float, default=2.0, metavar="SECONDS",
                      help="give up when the port does not answer like a palaver server "
                           "within SECONDS (default 2)")

    cert = commands.add_parser("cert", help="write a self-signed TLS certificate for local use")
    cert.add_argument("--out", default=".", help="directory for cert.pem and key.pem (default .)")
    cert.add_argument("--host", action="append", dest="hosts", metavar="NAME",
                      help="a DNS name or IP address the certificate is for (repeatable; "
                           "default localhost, 127.0.0.1 and ::1)")
    cert.add_argument("--days", type=int,
                      help="validity in days (default 365; a client CA's 3650)")
    cert.add_argument("--force", action="store_true", help="replace existing files")
    client = cert.add_mutually_exclusive_group()
    client.add_argument("--client-ca", action="store_true",
                        help="write ca.pem and ca-key.pem instead: a CA for client certificates "
                             "(the server's client_ca; docs/tls.md)")
    client.add_argument("--client", metavar="NAME",
                        help="issue a client certificate NAME.pem (+ NAME-key.pem) from the CA "
                             "in --ca DIR, and print its fingerprint")
    cert.add_argument("--ca", metavar="DIR", dest="ca_dir",
                      help="with --client: the directory of ca.pem and ca-key.pem (default: "
                           "--out)")

    admin = commands.add_parser(
        "admin", help="manage accounts and rooms (docs/operations.md)",
        description="Acts on the database in the data directory, whether or not a server is "
                    "running on it (a running server refuses a locked account's next login and "
                    "ends its sessions within lock_check_interval seconds).")
    admin.add_argument("--data-dir", help="where the data lives (default: as `palaver serve`)")
    admin.add_argument("--config", help="a TOML file of settings (for data_dir and "
                                        "reset_token_lifetime)")
    actions = admin.add_subparsers(dest="action", required=True)
    actions.add_parser("accounts", help="list the accounts: created, last seen, locked")
    actions.add_parser("rooms", help="list the rooms whose rules are stored")
    for name, text in (("lock", "a locked account cannot log in"), ("unlock", "undo lock"),
                       ("reset-password", "print a one-time password reset token")):
        actions.add_parser(name, help=text).add_argument("nick")

    migrate = commands.add_parser(
        "migrate", help="copy a SQLite database into an empty PostgreSQL one",
        description="Copies every table of the SQLite database (stop the server first) into "
                    "an empty PostgreSQL database, in one transaction, and checks the row "
                    "counts; then serve with --store set to the PostgreSQL URL and the same "
                    "data dir (uploaded files stay in its blobs/). docs/operations.md")
    migrate.add_argument("--from", dest="source", required=True, metavar="sqlite:///PATH",
                         help="the SQLite database, e.g. sqlite:///srv/palaver/data/palaver.db")
    migrate.add_argument("--to", dest="target", required=True,
                         metavar="postgresql://USER@HOST:PORT/DB",
                         help="the empty PostgreSQL database")

    hashing = commands.add_parser(
        "hash-password", help="print the Argon2id hash of a password (for operator_logins)",
        description="Reads a password (asked twice, without echo, at a terminal; else the first "
                    "line of standard input) and prints its Argon2id hash.")
    hashing.add_argument("--time-cost", type=int, default=3, help="passes (default 3)")
    hashing.add_argument("--memory-kib", type=int, default=65_536,
                         help="memory in KiB (default 65536)")
    return parser


def _version() -> str:
    """The installed distribution's version, else the package's own."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("palaver")
    except PackageNotFoundError:
        from palaver import __version__

        return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "config":
        return _config(args.settings_parser.parse_args(extra), print_settings=args.print_settings)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "serve":
        return _serve(args, list(argv) if argv is not None else sys.argv[1:])
    if args.command == "admin":
        return _admin(args)
    if args.command == "migrate":
        return _migrate(args.source, args.target)
    if args.command == "hash-password":
        from palaver.server.passwords import hash_password_command

        return hash_password_command(args.time_cost, args.memory_kib)
    if args.command == "cert":
        from palaver.certs import cert_command

        if args.ca_dir is not None and args.client is None:
            parser.error("--ca DIR goes with --client NAME")
        return cert_command(args.out, args.hosts, args.days, force=args.force,
                            client_ca=args.client_ca, client=args.client, ca_dir=args.ca_dir)
    return _chat(args)


def _serve(args: argparse.Namespace, argv: list[str]) -> int:
    from palaver.server.app import serve_until_signalled
    from palaver.server.config import ConfigError, load_settings
    from palaver.server.logs import setup_logging
    from palaver.server.runner import raise_file_limit, run
    from palaver.store.sqlite import StoreError
    from palaver.tls import TlsSetupError

    try:
        settings = load_settings(args.config, **_flag_settings(args))
    except ConfigError as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2
    if settings.workers > 1:  # this process only supervises them (server/workers.py)
        from palaver.server.workers import supervise

        return run(supervise(settings, argv), use_uvloop=False)
    setup_logging(Path(settings.data_dir), settings.log_level, settings.log_format,
                  name=f"palaver-{settings.node_id}" if settings.reuse_port and settings.node_id
                  else "palaver")
    raise_file_limit()
    try:
        run(serve_until_signalled(settings), use_uvloop=settings.use_uvloop)
    except (TlsSetupError, StoreError) as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"palaver: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    return 0


def _urls(text: str) -> tuple[str, ...]:
    return tuple(url.strip() for url in text.split(",") if url.strip())


def _flag_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The serve flags that name a setting (``--web-port`` → ``web_port``); None: not given."""
    from palaver.server.config_sources import setting_names

    return {name: getattr(args, name) for name in setting_names() if hasattr(args, name)}


def _config(args: argparse.Namespace, *, print_settings: bool) -> int:
    from palaver.server.config import ConfigError
    from palaver.server.config_sources import resolve, to_toml

    try:
        resolved = resolve(args.config, None, _flag_settings(args))
    except ConfigError as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2
    if print_settings:
        sys.stdout.write(to_toml(resolved.settings, resolved.sources))
    return 0


def _admin(args: argparse.Namespace) -> int:
    from palaver.server.admin import admin_command
    from palaver.server.config import ConfigError, load_settings

    try:
        settings = load_settings(args.config, data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2
    return admin_command(settings, args.action, getattr(args, "nick", None))


def _migrate(source: str, target: str) -> int:
    import asyncio

    from palaver.server.config import POSTGRESQL_SCHEMES
    from palaver.store.postgres import redacted
    from palaver.store.transfer import MigrateError, copy_sqlite_to_postgres, sqlite_path

    if not target.startswith(POSTGRESQL_SCHEMES):
        print(f"palaver: --to {target!r} is not a PostgreSQL URL "
              "(postgresql://USER@HOST:PORT/DB)", file=sys.stderr)
        return 2
    path = sqlite_path(source)
    print(f"copying {path} into {redacted(target)}")
    try:
        copied = asyncio.run(copy_sqlite_to_postgres(
            path, target, progress=lambda table, rows: print(f"  {table}: {rows} rows")))
    except MigrateError as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2
    print(f"done: {sum(copied.values())} rows in {len(copied)} tables, counts checked")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from palaver.client.terminal import run_terminal

    password = args.password or os.environ.get("PALAVER_PASSWORD") or None
    tls = None
    if args.key is not None and args.cert is None:
        print("palaver: --key goes with --cert", file=sys.stderr)
        return 2
    if args.tls or args.ca is not None or args.cert is not None:
        from palaver.tls import TlsSetupError, client_context

        try:
            tls = client_context(args.ca, certificate=args.cert, key=args.key)
        except TlsSetupError as exc:
            print(f"palaver: {exc}", file=sys.stderr)
            return 2
    port = args.port if args.port is not None else 8443 if tls is not None else 8000
    if not args.plain and _is_tty(sys.stdin) and _is_tty(sys.stdout):
        from palaver.client.tui.app import run_tui

        return run_tui(host=args.host, port=port, nick=args.nick, password=password, tls=tls,
                       handshake_timeout=args.handshake_timeout)
    return run_terminal(host=args.host, port=port, nick=args.nick, password=password, tls=tls,
                        handshake_timeout=args.handshake_timeout)


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # closed
        return False


if __name__ == "__main__":
    sys.exit(main())
