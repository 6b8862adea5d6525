"""The hub's ERROR events as IRC numerics: which numeric depends on what the request was for.

:data:`ERROR_NUMERICS` (and the room rules' :data:`~palaver.protocol.irc.rooms.ROOM_ERROR_NUMERICS`)
map (the kind of request, the error code) to a numeric; an error with no numeric becomes a
NOTICE with its code — but never an automatic reply to a NOTICE. A refused HELLO sends
registration back to the start (a wrong password ends the connection, as IRC servers do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import (
    account,
    certificates,
    files,
    history,
    markers,
    metadata,
    monitor,
    redaction,
)
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.profile import setname_refused
from palaver.protocol.irc.rooms import ROOM_ERROR_NUMERICS
from palaver.protocol.irc.sasl import auth_refused
from palaver.protocol.irc.state import Closing, Step
from palaver.protocol.messages import Error

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

# (what the id answered, the error code) -> numeric and its parameters; "{arg}" is the channel
# or nick of the request. "HINT" numerics end with the hub's own message.
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
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
    # server operators (palaver.protocol.irc.operators)
    ("oper", ErrorCode.AUTH_FAILED): ("464", "Password incorrect"),
    ("oper", ErrorCode.AUTH_THROTTLED): ("HINT", "464"),
    ("kill", ErrorCode.NOT_OPERATOR): ("481", "Permission Denied- You're not an IRC operator"),
    ("kill", ErrorCode.NO_SUCH_USER): ("401", "{arg}", "No such nick/channel"),
    ("kill", ErrorCode.INVALID_NICK): ("401", "{arg}", "No such nick/channel"),
    ("wallops", ErrorCode.NOT_OPERATOR): ("481",
                                          "Permission Denied- You're not an IRC operator"),
    ("wallops", ErrorCode.INVALID_TEXT): ("HINT", "412"),
}

# The tables of the features with a module of their own (MONITOR, MARKREAD, REDACT, METADATA,
# CERT).
# "FAIL" entries are standard replies: FAIL <command> <code> [context] :<the hub's message>;
# "{text}" is the request's text (REDACT's msgid, METADATA's key).
FEATURE_ERRORS: Final = {**markers.ERROR_NUMERICS, **monitor.ERROR_NUMERICS,
                         **redaction.ERROR_NUMERICS, **metadata.ERROR_NUMERICS,
                         **history.ERROR_NUMERICS, **certificates.ERROR_NUMERICS,
                         **account.ERROR_NUMERICS}


def error(irc: IrcDialect, event: Error, pending: Pending | None) -> bytes:
    code = event.code
    if code == ErrorCode.HANDSHAKE_REQUIRED:
        return irc.num("451", "You have not registered")
    if code == ErrorCode.FRAME_TOO_LARGE:  # a runaway line: the connection closes now
        return irc.line("ERROR", f"Closing link: {irc.me()} (Input line was too long)",
                        source=None)
    if pending is not None and pending.kind == "sasl":
        return auth_refused(irc, event, pending)  # AUTH refused: 904 (irc/sasl.py)
    if pending is not None and pending.kind == "setname":
        return setname_refused(irc, event, pending)  # FAIL SETNAME (irc/profile.py)
    if pending is not None and pending.kind == files.KIND:
        return files.file_answer(irc, event, pending)  # FAIL FILE, once both are in
    kind, arg = (pending.kind, pending.arg) if pending else ("", "")
    numeric = (ERROR_NUMERICS.get((kind, code)) or ROOM_ERROR_NUMERICS.get((kind, code))
               or FEATURE_ERRORS.get((kind, code)))
    if kind == "hello":
        irc.step(Step.REFUSED)
        reg = irc.reg  # registering again: a HELLO is refused only before WELCOME
        if reg is not None and code in (ErrorCode.AUTH_FAILED, ErrorCode.AUTH_THROTTLED):
            # a refused login: ERROR and close
            reg.closing = Closing("Password incorrect" if numeric is not None
                                  else event.message)
            return b"" if numeric is None else irc.num(*numeric)
        if numeric is not None:
            irc.nick = None  # the next NICK tries again
    if numeric is not None:
        nick = pending.nick if pending else ""
        text = pending.text if pending else ""
        number, params = numeric[0], [p.replace("{arg}", arg).replace("{nick}", nick)
                                      .replace("{text}", text) for p in numeric[1:]]
        if number == "FAIL":  # a standard reply: FAIL <command> <code> [context] :message
            return irc.line("FAIL", *params, event.message)
        if number == "SILENT":  # a refusal that the reply to a later request covers
            return b""
        if number == "HINT":  # a reply that needs no more words than the event's
            return irc.num(params[0], *params[1:], event.message)
        return irc.num(number, *params)
    if kind == "notice" and code != ErrorCode.UNAVAILABLE:
        return b""  # never an automatic reply to a NOTICE
    return irc.renderer.notice(irc.me(), f"{code}: {event.message}")
