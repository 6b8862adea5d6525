"""``ACCOUNT``: change one's password or delete one's account from IRC (hub/account_management.py).

palaver has no services, so where ergo has ``/msg NickServ PASSWD`` and ``UNREGISTER``, the IRC
door has a command of its own, like ``CERT`` (most clients send an unknown ``/account ...`` as
it is, or with ``/quote``):

- ``ACCOUNT PASSWORD <old> <new>``: PASSWORD; the new password may be the trailing parameter
  (``ACCOUNT PASSWORD hunter22 :correct horse``), the old one has no spaces then;
- ``ACCOUNT DELETE <password>``: DELETE_ACCOUNT (the password may be trailing).

The answer is a server NOTICE (``ACCOUNT: the password of ann is changed; ...``); a deleted
account's connection then ends (``ERROR :Closing link: ann (account deleted)``). Refusals are
standard replies, ``FAIL ACCOUNT <CODE> :<why>`` (codes: NOT_AN_ACCOUNT, AUTH_FAILED,
AUTH_THROTTLED, ACCOUNT_LOCKED, INVALID_PASSWORD, UNAVAILABLE, and the door's own
NEED_MORE_PARAMS, UNKNOWN_SUBCOMMAND). RESET_PASSWORD has no IRC form: a reset token is used
with palaver chat, the text door or the web client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import AccountDeleted, ChangePassword, DeleteAccount, PasswordChanged

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

USAGE: Final = "ACCOUNT takes PASSWORD <old> <new> or DELETE <password>"
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("account", code): ("FAIL", "ACCOUNT", code.value.upper())
    for code in (ErrorCode.NOT_AN_ACCOUNT, ErrorCode.AUTH_FAILED, ErrorCode.AUTH_THROTTLED,
                 ErrorCode.ACCOUNT_LOCKED, ErrorCode.INVALID_PASSWORD, ErrorCode.UNAVAILABLE)
}
_NEEDED: Final = {"PASSWORD": 3, "DELETE": 2}


def on_account(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    sub = line.params[0].upper()
    needed = _NEEDED.get(sub)
    if needed is None:
        out.append(irc.fail("ACCOUNT", "UNKNOWN_SUBCOMMAND", sub, text=USAGE))
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
    else:
        out.append(irc.request(DeleteAccount, Pending("account", sub), password=line.params[1]))


# ---------------------------------------------------------------------- events


def password_changed(irc: IrcDialect, event: PasswordChanged, pending: Pending | None) -> bytes:
    return irc.renderer.notice(irc.me(), f"ACCOUNT: the password of {event.account} is "
                               "changed; its other connections are closed")


def account_deleted(irc: IrcDialect, event: AccountDeleted, pending: Pending | None) -> bytes:
    return irc.renderer.notice(irc.me(), f"ACCOUNT: {event.account} is deleted (its messages "
                               f"{event.messages}); the nick is free")
