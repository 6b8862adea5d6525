"""Server settings: one validated object, from a TOML file, the environment and flags.

Precedence: built-in defaults < the ``--config`` TOML file < ``PALAVER_*`` environment variables <
command-line flags (the layering lives in :mod:`palaver.server.config_sources`). Unknown keys and
wrong types are refused with a message that names the key and where it came from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from palaver.protocol.framing import DEFAULT_MAX_FRAME

Port = Annotated[int, msgspec.Meta(ge=0, le=65_535)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
# A server name (IRC's): a host-name-like word, as IRC clients expect after ":" in a prefix.
SERVER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$(?!\n)"  # not even a final newline
POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")  # a store setting that names PostgreSQL


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: Port = 8000
    web_port: Port = 8080  # the web client and /ws; 0 turns the web door off
    irc_port: Port = 6667  # the IRC door (docs/irc.md); 0 turns it off
    # The IRC door's server password (PASS); set, accounts log in there with SASL (docs/irc.md).
    irc_password: Annotated[str, msgspec.Meta(min_length=1, max_length=1_024)] | None = None
    irc_websocket: bool = True  # IRC over WebSocket on the web port, at /irc (docs/irc.md)
    # TLS (docs/tls.md): with a certificate, JSON lines/text also listen on tls_port, IRC on
    # irc_tls_port, and the web door speaks only HTTPS/WSS; tls_only closes the two plain doors.
    tls_cert: str | None = None  # PEM certificate chain (the key too, when tls_key is unset)
    tls_key: str | None = None  # PEM private key
    tls_port: Port = 8443  # JSON lines and text over TLS; 0 turns it off
    irc_tls_port: Port = 6697  # IRC over TLS; 0 turns it off
    tls_only: bool = False
    # A PEM bundle of CA certificates: the TLS ports (tls_port, irc_tls_port) then ask clients
    # for a certificate those CAs issued, which SASL EXTERNAL logs in with (docs/tls.md).
    client_ca: str | None = None
    data_dir: str = "data"
    log_level: LogLevel = "info"
    log_messages: bool = False
    log_format: LogFormat = "text"  # "json": one JSON object per line (docs/operations.md)
    # Prometheus metrics at /metrics on the web port, served only to clients whose address is in
    # one of the metrics_from networks (an empty list: to anyone).
    metrics: bool = True
    metrics_from: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    motd: str = "Welcome to palaver. Type /help for commands."
    # The rooms a JSON-lines, text or web client is put in on arrival (docs/rooms.md); [] puts
    # nobody anywhere. IRC clients join only what they ask for (docs/irc.md).
    default_rooms: tuple[Annotated[str, msgspec.Meta(pattern=r"^#[A-Za-z0-9_.-]{1,49}$")],
                         ...] = ("#lobby",)
    # Big rooms (docs/rooms.md): in a room with more members than presence_limit, joins,
    # leaves and quits are told as one MEMBERS_CHANGED per presence_interval seconds; member
    # lists longer than member_page go in pages to the clients that take them.
    presence_limit: Annotated[int, msgspec.Meta(ge=0)] = 250
    presence_interval: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    member_page: Annotated[int, msgspec.Meta(ge=10, le=10_000)] = 500
    # Writes (docs/operations.md): after writing to many connections, the next writes wait up
    # to this many seconds (four times as long as the last took) so that the messages of a
    # busy room share system calls; 0: write at every loop turn.
    write_coalesce: Annotated[float, msgspec.Meta(ge=0, le=0.1)] = 0.005
    # The name IRC numerics and server messages come from (docs/irc.md); not set: this
    # machine's host name. WELCOME's `server` stays the software and its version.
    server_name: Annotated[str, msgspec.Meta(pattern=SERVER_NAME_PATTERN)] | None = None
    # Account nicks that may do anything in any room (docs/rooms.md). Register them first.
    server_operators: tuple[str, ...] = ()
    # OPER logins (docs/operations.md): operator name -> Argon2id hash of its password (make
    # one with `palaver hash-password`). Whoever gives a right pair is a server operator until
    # it goes offline.
    operator_logins: dict[Annotated[str, msgspec.Meta(pattern=r"^[!-~]{1,64}$")], str] = {}
    # IRC: this server's one-line description (WHOIS 312, LINKS).
    server_info: Annotated[str, msgspec.Meta(min_length=1, max_length=100,
                                             pattern=r"^[^\x00-\x1f\x7f]*$")] = (
        "palaver chat server")
    # EDIT (docs/protocol.md): seconds after it is sent that a message may still be edited by
    # its sender; 0: no limit.
    edit_window: Annotated[float, msgspec.Meta(ge=0)] = 86_400.0
    max_frame: Annotated[int, msgspec.Meta(ge=1_024, le=16 * 1_048_576)] = DEFAULT_MAX_FRAME
    hello_timeout: Seconds = 10.0
    # Web port: seconds for the TLS handshake, then for the first HTTP request's headers.
    web_header_timeout: Seconds = 10.0
    ping_interval: Seconds = 60.0
    idle_timeout: Seconds = 120.0
    # Send queue (docs/limits.md): a client with more than send_queue_limit bytes unread is
    # behind; behind for send_queue_grace seconds, or with over send_queue_ceiling bytes
    # waiting, it is cut off. socket_send_buffer: the kernel's send buffer (SO_SNDBUF) per
    # connection, so that a client that stops reading is noticed soon (0: the kernel's own).
    send_queue_limit: Annotated[int, msgspec.Meta(ge=4_096)] = 262_144
    send_queue_grace: Seconds = 5.0
    send_queue_ceiling: Annotated[int, msgspec.Meta(ge=65_536)] = 8_388_608
    socket_send_buffer: Annotated[int, msgspec.Meta(ge=0, le=64 * 1_048_576)] = 131_072
    shutdown_grace: Seconds = 3.0
    use_uvloop: bool = True
    # The plain stream doors' connections: "epoll" (one epoll set, ~1 KB less per connection;
    # Linux) or "asyncio" (the event loop's transports). TLS doors always use asyncio's.
    stream_io: Literal["epoll", "asyncio"] = "epoll"
    # Where data is stored: "sqlite" (a file in data_dir), "memory" (nothing survives a stop)
    # or a PostgreSQL URL, postgresql://USER[:PASSWORD]@HOST:PORT/DB (docs/operations.md).
    store: str = "sqlite"
    durability: Literal["process", "power"] = "process"
    # PostgreSQL: seconds a connect or statement may take before it fails (docs/operations.md)
    store_timeout: Annotated[float, msgspec.Meta(gt=0, le=3_600)] = 10.0
    # A cluster (docs/operations.md, "Running a cluster"): the Redis servers of the bus between
    # nodes (redis://HOST:PORT, several: conversations spread over them), which needs a
    # PostgreSQL store; and this node's name among them (not set: host name and process id).
    bus: tuple[Annotated[str, msgspec.Meta(pattern=r"^rediss?://")], ...] = ()
    node_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = None
    # `palaver serve --workers N`: N node processes on this machine sharing every port
    # (SO_REUSEPORT, which each sets: reuse_port); they need the cluster's store and bus.
    workers: Annotated[int, msgspec.Meta(ge=1, le=256)] = 1
    reuse_port: bool = False
    replay_cap: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1_000
    argon2_time_cost: Annotated[int, msgspec.Meta(ge=1)] = 3
    argon2_memory_kib: Annotated[int, msgspec.Meta(ge=8)] = 65_536
    # Accounts that can be managed (docs/operations.md): a deleted account's messages are kept
    # as from "deleted-user" or erased (tombstones); `palaver admin reset-password` tokens last
    # this long; locked accounts online are looked for this often (0: only at login).
    deleted_account_messages: Literal["keep", "erase"] = "keep"
    reset_token_lifetime: Seconds = 3_600.0
    lock_check_interval: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    # Main port: a connection silent this long (or sending something other than "{") is a
    # plain-text client (docs/text.md).
    text_sniff_timeout: Seconds = 0.5
    # Limits against abuse (docs/limits.md). Rate: a token bucket per connection, every frame
    # (line, WebSocket message) takes a token.
    rate_burst: Annotated[int, msgspec.Meta(ge=1)] = 10
    rate_per_second: Seconds = 4.0
    irc_flood_notice_after: Annotated[int, msgspec.Meta(ge=1)] = 3  # IRC: silent delays first
    max_connections_per_ip: Annotated[int, msgspec.Meta(ge=1)] = 16
    max_new_connections_per_ip: Annotated[int, msgspec.Meta(ge=1)] = 32
    new_connections_window: Seconds = 600.0
    exempt_loopback: bool = True  # loopback clients skip the two per-address limits
    prelogin_bytes: Annotated[int, msgspec.Meta(ge=512)] = 8_192  # read before HELLO completes
    prelogin_bad_frames: Annotated[int, msgspec.Meta(ge=1)] = 5  # refused frames before HELLO
    login_failures: Annotated[int, msgspec.Meta(ge=1)] = 3  # per account and address
    login_failures_per_account: Annotated[int, msgspec.Meta(ge=1)] = 30  # from new addresses
    login_failure_window: Seconds = 60.0
    max_pending_logins: Annotated[int, msgspec.Meta(ge=1)] = 64  # password checks queued
    # Files (docs/protocol.md, "Files"): the largest upload; what one identity's files may take
    # in all (0: no quota); the URL the web door is reached at, for file links (not set: from
    # host and web_port); how often blobs no message uses any more are removed.
    upload_max_bytes: Annotated[int, msgspec.Meta(ge=0)] = 26_214_400
    upload_quota_bytes: Annotated[int, msgspec.Meta(ge=0)] = 1_073_741_824
    files_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")] | None = (
        None)
    files_gc_interval: Seconds = 3_600.0

    def __post_init__(self) -> None:
        if self.store not in ("sqlite", "memory") and not self.store.startswith(
                POSTGRESQL_SCHEMES):
            raise ValueError(f"store: {self.store!r} is none of 'sqlite', 'memory' or a "
                             "PostgreSQL URL (postgresql://USER@HOST:PORT/DB)")
        if self.bus and not self.store.startswith(POSTGRESQL_SCHEMES):
            raise ValueError("bus: a cluster of nodes needs a PostgreSQL store (store = "
                             "\"postgresql://USER@HOST:PORT/DB\"); the embedded SQLite store "
                             "belongs to one process")
        if self.workers > 1:
            if not self.store.startswith(POSTGRESQL_SCHEMES):
                raise ValueError(f"workers: {self.workers} worker processes share one database, "
                                 "so they need a PostgreSQL store (--store postgresql://USER@"
                                 "HOST:PORT/DB); the embedded SQLite store belongs to one "
                                 "process")
            if not self.bus:
                raise ValueError("workers: worker processes tell each other their messages "
                                 "over a bus: give one (--bus redis://HOST:PORT)")
            if self.port == 0 or (self.tls_cert is not None and self.tls_port == 0):
                raise ValueError("workers: the workers share their ports, so give fixed ones "
                                 "(port 0 would give each worker a different one)")
        if self.tls_cert is None and (self.tls_key is not None or self.tls_only):
            raise ValueError("tls_key and tls_only need tls_cert (docs/tls.md)")
        if self.tls_cert is None and self.client_ca is not None:
            raise ValueError("client_ca needs tls_cert (docs/tls.md)")
        if self.send_queue_ceiling < self.send_queue_limit:
            raise ValueError("send_queue_ceiling: must be at least send_queue_limit "
                             f"({self.send_queue_limit})")
        for name, password_hash in self.operator_logins.items():
            if not password_hash.startswith("$argon2"):
                raise ValueError(f"operator_logins: {name}'s password must be given as an "
                                 "Argon2 hash ($argon2id$...), never as itself: make one "
                                 "with `palaver hash-password`")
        for network in self.metrics_from:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"metrics_from: {network!r} is not an IP address or "
                                 "network") from None


class ConfigError(Exception):
    """The configuration cannot be used; the message says why."""


def load_settings(
    config_file: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults, then the TOML file (or ``$PALAVER_CONFIG``), then the ``PALAVER_*`` variables of
    ``environ`` (default: ``os.environ``), then the overrides (flags) whose value is not None."""
    from palaver.server.config_sources import resolve

    return resolve(config_file, environ, overrides).settings
