"""``ACCOUNT``: change one's password or delete one's account from IRC (hub/account_management.py).

palaver has no services, so where ergo has ``/msg NickServ PASSWD`` and ``UNREGISTER``, the IRC
door has a command of its own, like ``CERT`` (most clients send an unknown ``/account ...`` as
it is, or with ``/quote``):

- ``ACCOUNT PASSWORD <old> <new>``: PASSWORD; the new password may be the trailing parameter
  (``ACCOUNT PASSWORD hunter22 :correct horse``), the old one has no spaces then;
- ``ACCOUNT DELETE <password>``: DELETE_ACCOUNT (the password may be trailing);
- ``ACCOUNT RESET <nick> <token> :<new password>``: RESET_PASSWORD, with the one-time token a
  server operator made (``palaver admin reset-password``); before registration too (like PASS
  and CAP: one forgot the password, so one cannot log in), or as a guest.

PASSWORD and DELETE need a registered connection (``451`` before). The answer is a server
NOTICE (``ACCOUNT: the password of ann is changed; ...``); a deleted account's connection then
ends (``ERROR :Closing link: ann (account deleted)``), and a reset closes every connection of the
account (then log in with the new password: PASS or SASL). Refusals are standard replies,
``FAIL ACCOUNT <CODE> :<why>`` (codes: NOT_AN_ACCOUNT, AUTH_FAILED, AUTH_THROTTLED,
ACCOUNT_LOCKED, INVALID_PASSWORD, INVALID_TOKEN (a wrong, used or expired reset token — never
which), INVALID_NICK, ALREADY_REGISTERED (RESET while logged in to an account: use PASSWORD),
UNAVAILABLE, and the door's own NEED_MORE_PARAMS, INVALID_PARAMS, UNKNOWN_SUBCOMMAND).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.state import Step
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import (
    AccountDeleted,
    ChangePassword,
    DeleteAccount,
    PasswordChanged,
    ResetPassword,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

USAGE: Final = ("ACCOUNT takes PASSWORD <old> <new>, DELETE <password> or "
                "RESET <nick> <token> <new>")
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("account", code): ("FAIL", "ACCOUNT", code.value.upper())
    for code in (ErrorCode.NOT_AN_ACCOUNT, ErrorCode.AUTH_FAILED, ErrorCode.AUTH_THROTTLED,
                 ErrorCode.ACCOUNT_LOCKED, ErrorCode.INVALID_PASSWORD, ErrorCode.UNAVAILABLE,
                 ErrorCode.INVALID_TOKEN, ErrorCode.INVALID_NICK, ErrorCode.ALREADY_REGISTERED)
}
_NEEDED: Final = {"PASSWORD": 3, "DELETE": 2, "RESET": 4}


def on_account(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    sub = line.params[0].upper()
    needed = _NEEDED.get(sub)
    if needed is None:
        out.append(irc.fail("ACCOUNT", "UNKNOWN_SUBCOMMAND", sub, text=USAGE))
        return
    if sub != "RESET" and not irc.step(Step.COMMAND):  # ACCOUNT comes before registration
        out.append(irc.num("451", "You have not registered"))  # for RESET only
        return
    if len(line.params) < needed:
        out.append(irc.fail("ACCOUNT", "NEED_MORE_PARAMS", sub, text=USAGE))
        return
    if len(line.params) > needed:  # a password with a space is the trailing parameter
        out.append(irc.fail("ACCOUNT", "INVALID_PARAMS", sub,
                            text="a password with spaces goes last, after a colon"))
        return
    if sub == "PASSWORD":
        out.append(irc.request(ChangePassword, Pending("account", sub), old=line.params[1],
                               new=line.params[2]))
    elif sub == "RESET":
        out.append(irc.request(ResetPassword, Pending("account", sub), nick=line.params[1],
                               token=line.params[2], new=line.params[3]))
    else:
        out.append(irc.request(DeleteAccount, Pending("account", sub), password=line.params[1]))


# ---------------------------------------------------------------------- events


def password_changed(irc: IrcDialect, event: PasswordChanged, pending: Pending | None) -> bytes:
    if pending is not None and pending.arg == "RESET":
        return irc.renderer.notice(irc.me(), f"ACCOUNT: the password of {event.account} is "
                                   "reset; its connections are closed: log in with the new one")
    return irc.renderer.notice(irc.me(), f"ACCOUNT: the password of {event.account} is "
                               "changed; its other connections are closed")


def account_deleted(irc: IrcDialect, event: AccountDeleted, pending: Pending | None) -> bytes:
    return irc.renderer.notice(irc.me(), f"ACCOUNT: {event.account} is deleted (its messages "
                               f"{event.messages}); the nick is free")
