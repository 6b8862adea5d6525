"""irctest controller for palaver: starts ``palaver serve`` (IRC door only) for each test.

Used by ``tools/irctest/run`` (``make irctest``); not part of palaver's own test suite (CI cannot
fetch irctest). Limits are relaxed the way irctest's controllers relax InspIRCd's: irctest opens
many connections from one address and sends bursts of commands.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController
from irctest.specifications import OptionalBehaviors

PALAVER = os.environ.get("IRCTEST_PALAVER") or shutil.which("palaver") or "palaver"

CONFIG = """\
host = "{hostname}"
port = 0
web_port = {web_port}
irc_port = {port}
tls_port = 0
irc_tls_port = {tls_port}
{tls}
data_dir = "{data_dir}"
log_level = "{log_level}"
server_name = "My.Little.Server"
server_info = "test server"
motd = "irctest"
rate_burst = 10000
rate_per_second = 10000.0
max_connections_per_ip = 1000
max_new_connections_per_ip = 100000
login_failures = 1000
login_failures_per_account = 100000
prelogin_bad_frames = 1000
hello_timeout = 10.0
argon2_time_cost = 1
argon2_memory_kib = 8
{password}
[operator_logins]
operuser = "{oper_hash}"
"""
# irctest's `OPER operuser operpassword`: `echo operpassword | palaver hash-password
# --time-cost 1 --memory-kib 8` (docs/operations.md)
OPER_HASH = ("$argon2id$v=19$m=8,t=1,p=1$R8SDmiJhwmAU3/+hZhyUeA"
             "$qgKOIrC8tWOhh8Dv1aEC2emLL4TkU8XF9Ve79PM//lQ")


class PalaverController(BaseServerController, DirectoryBasedController):
    software_name = "palaver"
    supported_sasl_mechanisms: set[str] = {"PLAIN"}
    supports_sts = False
    extban_mute_char = "m"  # +b m:nick!*@* (docs/rooms.md: mutes)
    # What palaver claims beyond the base (irctest fails a claimed behaviour's skip). Not
    # NO_CTCP: palaver relays no CTCP but ACTION at all, so +C would change nothing.
    optional_behaviors = frozenset({OptionalBehaviors.INVITE_OVERRIDES_LIMIT,
                                    OptionalBehaviors.INVITE_EXCEPTION_MODE,
                                    OptionalBehaviors.INVITE_LIST,
                                    OptionalBehaviors.MULTI_JOIN, OptionalBehaviors.MULTI_KICK,
                                    OptionalBehaviors.MULTI_NAMES_COMMAND,
                                    OptionalBehaviors.ELIST_M, OptionalBehaviors.ELIST_N,
                                    OptionalBehaviors.ELIST_U,
                                    OptionalBehaviors.METADATA_BEFORE_CONNECT})

    def create_config(self) -> None:
        super().create_config()
        with self.open_file("palaver.toml"):
            pass

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: str | None,
        ssl: bool,
        run_services: bool,
        faketime: str | None = None,
        websocket_hostname: str | None = None,
        websocket_port: int | None = None,
    ) -> None:
        # IRC over WebSocket (docs/irc.md, "WebSocket"): the web door listens on irctest's
        # websocket port; irctest's URL has no path, and palaver's web root speaks IRC to a
        # handshake that asks for an IRCv3 subprotocol. One host for every door, no wss://.
        if websocket_port is not None and (websocket_hostname != hostname or ssl):
            raise NotImplementedByController("Websocket on another host or with TLS")
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory is not None
        irc_port, tls_port, tls = port, 0, ""
        if ssl:
            self.gen_ssl()
            _, irc_port = self.get_hostname_and_port()  # the plain door on a spare port
            tls_port = port
            tls = f'tls_cert = "{self.pem_path}"\ntls_key = "{self.key_path}"'
        with self.open_file("palaver.toml") as fd:
            fd.write(CONFIG.format(
                hostname=hostname, port=irc_port, tls_port=tls_port, tls=tls,
                web_port=websocket_port or 0,
                data_dir=self.directory / "data",
                log_level="debug" if self.debug_mode else "warning",
                password=f'irc_password = "{password}"' if password else "",
                oper_hash=OPER_HASH,
            ))
        self.proc = self.execute([PALAVER, "serve", "--config", str(Path(self.directory)
                                                                     / "palaver.toml")])


def get_irctest_controller_class() -> type[PalaverController]:
    return PalaverController
