"""IRCv3 ``draft/metadata-3`` on the hub's metadata (:mod:`palaver.hub.metadata`), sans-I/O.

How this works: ``METADATA <target> <subcommand> [...]``, ``*`` for oneself.

- Registered: ``GET``/``LIST`` ask ``METADATA_GET``, ``SET`` ``METADATA_SET`` (no value:
  remove), ``CLEAR`` ``METADATA_CLEAR``, ``SYNC`` ``METADATA_SYNC``; ``SUB``/``UNSUB``/``SUBS``
  ``METADATA_SUB`` (also before registration: subscriptions are the session's). The door
  checks key names itself (the hub's rule), so a bad key is ``FAIL METADATA KEY_INVALID`` in
  its place — in order, inside GET's batch — and the good keys are still asked.
- Before registration (``before-connect``): ``*`` only; the values set live on the connection
  (:attr:`.Registration.metadata`) and go to the hub with the HELLO, which makes them the user's;
  WELCOME's metadata is then the registration burst's ``metadata`` batch (before the MOTD).
- Answers: ``761 RPL_KEYVALUE`` / ``766 RPL_KEYNOTSET``; ``SET`` is one line, ``GET``,
  ``LIST``, ``CLEAR`` (one 766 per key removed) and ``SYNC`` a ``metadata`` batch (plain lines
  without the ``batch`` capability); ``770``/``771``, ``772`` in a ``metadata-subs`` batch;
  refusals are ``FAIL METADATA ...`` (:data:`ERROR_NUMERICS`, used by refusals.py).
- Events nobody asked for, only with the capability: a change someone made is 761/766 with
  ``*`` for the recipient (the same bytes for every connection with the same capabilities);
  what a JOIN brings is a ``metadata`` batch. WHOIS adds ``760`` lines (:func:`whois_lines`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.hub.metadata import MAX_KEYS, MAX_SUBS, MAX_VALUE_BYTES, check_value, is_valid_key
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.irc.batches import split_lines, wrap
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.state import Registration
from palaver.protocol.irc.wire import MAX_LINE, IrcLine
from palaver.protocol.messages import (
    ClearMetadata,
    GetMetadata,
    MetadataEntry,
    MetadataSubscriptions,
    MetadataValues,
    SetMetadata,
    SubscribeMetadata,
    SyncMetadata,
    Welcome,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

CAP: Final = "draft/metadata-3"
CAP_VALUE: Final = (f"before-connect,max-subs={MAX_SUBS},max-keys={MAX_KEYS},"
                    f"max-value-bytes={MAX_VALUE_BYTES}")
_KEYS_SEPARATOR: Final = "\n"  # GET's keys in its Pending: no IRC parameter holds a newline
_NOT_SET: Final = "key not set"

_ASKING: Final = ("metadata-set", "metadata-clear", "metadata-get", "metadata-list",
                  "metadata-sync")  # the requests about a target
_TARGET: Final = ("FAIL", "METADATA", "INVALID_TARGET", "{arg}")
_NO_PERMISSION: Final = ("FAIL", "METADATA", "KEY_NO_PERMISSION", "{arg}", "{text}")
# (what the request was, the hub's error code) -> the standard reply (refusals.py): "{arg}" is
# the target as the client wrote it, "{text}" the key (``*``: all of them).
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    **{(kind, code): _TARGET
       for kind in _ASKING
       for code in (ErrorCode.NO_SUCH_USER, ErrorCode.NO_SUCH_ROOM, ErrorCode.INVALID_NICK,
                    ErrorCode.INVALID_ROOM)},
    **{(kind, code): _NO_PERMISSION
       for kind in _ASKING
       for code in (ErrorCode.NOT_OPERATOR, ErrorCode.NOT_IN_ROOM)},
    ("metadata-set", ErrorCode.INVALID_FIELD): ("FAIL", "METADATA", "INVALID_VALUE", "{text}"),
    ("metadata-set", ErrorCode.METADATA_LIMIT): ("FAIL", "METADATA", "LIMIT_REACHED", "{arg}"),
    ("metadata-set", ErrorCode.METADATA_NOT_SET): ("FAIL", "METADATA", "KEY_NOT_SET", "{arg}",
                                                   "{text}"),
}


# ---------------------------------------------------------------------- the command


def on_metadata(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    target, sub, args = line.params[0], line.params[1].upper(), line.params[2:]
    if sub in ("SUB", "UNSUB", "SUBS"):
        _subscriptions(irc, sub, args, out)
        return
    if sub not in ("GET", "LIST", "SET", "CLEAR", "SYNC"):
        out.append(irc.fail("METADATA", "SUBCOMMAND_INVALID", sub, text="Invalid subcommand"))
        return
    if sub in ("GET", "SET") and not args:
        out.append(irc.need_more("METADATA"))
        return
    reg = irc.reg
    if reg is not None:  # registering
        _before_connect(irc, reg, target, sub, args, out)
        return
    nick, room = _target(target)
    if sub == "SET":
        key = args[0]
        if not is_valid_key(key):
            out.append(_key_invalid(irc, key))
            return
        out.append(irc.request(SetMetadata, Pending("metadata-set", target, text=key),
                               key=key, value=args[1] if len(args) > 1 else None,
                               nick=nick, room=room))
    elif sub == "CLEAR":
        out.append(irc.request(ClearMetadata, Pending("metadata-clear", target, text="*"),
                               nick=nick, room=room))
    elif sub == "LIST":
        out.append(irc.request(GetMetadata, Pending("metadata-list", target, text="*"),
                               nick=nick, room=room))
    elif sub == "SYNC":
        out.append(irc.request(SyncMetadata, Pending("metadata-sync", target, text="*"),
                               nick=nick, room=room))
    else:
        keys = tuple(key for key in args if is_valid_key(key))
        if not keys:  # nothing to ask: the batch of refusals at once
            out.append(_batch(irc, target, [_key_invalid(irc, key) for key in args]))
            return
        out.append(irc.request(GetMetadata, Pending("metadata-get", target, text="*",
                                                    nick=_KEYS_SEPARATOR.join(args)),
                               keys=keys, nick=nick, room=room))


def _target(target: str) -> tuple[str | None, str | None]:
    """METADATA_*'s ``nick`` and ``room`` for a target (``*``: oneself)."""
    if target == "*":
        return None, None
    if target.startswith("#"):
        return None, target
    return target, None


def _subscriptions(irc: IrcDialect, sub: str, args: list[str], out: list[Inbound]) -> None:
    if sub == "SUBS":
        out.append(irc.request(SubscribeMetadata, Pending("metadata-subs")))
        return
    if not args:
        out.append(irc.need_more("METADATA"))
        return
    out.extend(_key_invalid(irc, key) for key in args if not is_valid_key(key))
    keys = tuple(key for key in args if is_valid_key(key))
    if keys and sub == "SUB":
        out.append(irc.request(SubscribeMetadata, Pending("metadata-sub"), add=keys))
    elif keys:
        out.append(irc.request(SubscribeMetadata, Pending("metadata-unsub"), remove=keys))


def _before_connect(irc: IrcDialect, reg: Registration, target: str, sub: str,
                    args: list[str], out: list[Inbound]) -> None:
    """Before registration: one's own metadata, kept here until the HELLO takes it."""
    if target != "*":
        out.append(irc.fail("METADATA", "KEY_NO_PERMISSION", target, "*",
                            text="Before registering, only your own metadata (*)"))
        return
    if reg.metadata is None:
        reg.metadata = {}
    values, me = reg.metadata, irc.me()
    if sub == "SET":
        key = args[0]
        if not is_valid_key(key):
            out.append(_key_invalid(irc, key))
        elif len(args) < 2:
            if values.pop(key, None) is None:
                out.append(irc.fail("METADATA", "KEY_NOT_SET", "*", key, text=f"{key} is not set"))
            else:
                out.append(irc.num("766", "*", key, _NOT_SET))
        elif key not in values and len(values) >= MAX_KEYS:
            out.append(irc.fail("METADATA", "LIMIT_REACHED", "*",
                                text=f"at most {MAX_KEYS} metadata keys"))
        else:
            try:
                values[key] = check_value(args[1])
            except PeerError as error:
                out.append(irc.fail("METADATA", "INVALID_VALUE", key, text=error.message))
            else:
                out.append(irc.num("761", "*", key, "*", values[key]))
    elif sub == "GET":
        out.append(_batch(irc, me, [
            _key_invalid(irc, key) if not is_valid_key(key)
            else _keyvalue(irc, me, MetadataEntry(key=key, value=values.get(key), nick=me))
            for key in args]))
    elif sub == "CLEAR":
        cleared = list(values)
        values.clear()
        out.append(_batch(irc, me, [irc.num("766", "*", key, _NOT_SET) for key in cleared]))
    else:  # LIST, SYNC
        out.append(_batch(irc, me, [irc.num("761", "*", key, "*", value)
                                    for key, value in values.items()]))


def hello_metadata(irc: IrcDialect, reg: Registration) -> dict[str, str] | None:
    """HELLO's ``metadata``: what was set before registering; {} with the capability (so
    that WELCOME brings the burst's batch), None without either."""
    if reg.metadata or CAP in irc.caps:
        return dict(reg.metadata or {})
    return None


# ---------------------------------------------------------------------- events


def burst(irc: IrcDialect, event: Welcome, me: str) -> bytes:
    """The registration burst's ``metadata`` batch: one's own metadata (WELCOME's)."""
    if CAP not in irc.caps or event.metadata is None:
        return b""
    return _batch(irc, me, [irc.num("761", me, key, "*", value, me=me)
                            for key, value in event.metadata.items()])


def values(irc: IrcDialect, event: MetadataValues, pending: Pending | None) -> bytes:
    if pending is None or not pending.kind.startswith("metadata"):
        if CAP not in irc.caps:
            return b""  # metadata-3: only a client with the capability hears of changes
        if event.change:  # shared by every connection with these capabilities: "*" is the
            return b"".join(_keyvalue(irc, "*", entry) for entry in event.entries)  # target
        return _batch(irc, event.room or event.nick or "*",
                      [_keyvalue(irc, "*", entry) for entry in event.entries])
    me = irc.me()
    target = event.nick or event.room or pending.arg
    if pending.kind == "metadata-set":
        return b"".join(_keyvalue(irc, me, entry) for entry in event.entries)
    if pending.kind == "metadata-clear":
        return _batch(irc, target, [irc.num("766", _target_of(entry), entry.key, _NOT_SET)
                                    for entry in event.entries])
    if pending.kind == "metadata-get":
        found = iter(event.entries)  # one per valid key, in order
        lines: list[bytes] = []
        for key in pending.nick.split(_KEYS_SEPARATOR):
            entry = next(found, None) if is_valid_key(key) else None
            lines.append(_key_invalid(irc, key) if entry is None else _keyvalue(irc, me, entry))
        return _batch(irc, target, lines)
    return _batch(irc, target, [_keyvalue(irc, me, entry) for entry in event.entries])


def subscriptions(irc: IrcDialect, event: MetadataSubscriptions, pending: Pending | None
                  ) -> bytes:
    kind = pending.kind if pending is not None else "metadata-subs"
    if kind == "metadata-sub":
        data = _keys(irc, "770", event.added)
        if event.refused:
            data += irc.fail("METADATA", "TOO_MANY_SUBS", event.refused[0],
                             text=f"at most {MAX_SUBS} subscriptions")
        return data
    if kind == "metadata-unsub":
        return _keys(irc, "771", event.removed)
    data = _keys(irc, "772", event.keys)
    if "batch" not in irc.caps:
        return data
    return wrap(split_lines(data), irc.labels.reference(), "metadata-subs", source=irc.server)


def whois_lines(irc: IrcDialect, nick: str, metadata: dict[str, str] | None) -> list[bytes]:
    """``760 RPL_WHOISKEYVALUE`` for each key of a user's metadata (with the capability)."""
    if CAP not in irc.caps or not metadata:
        return []
    return [irc.num("760", nick, key, "*", value) for key, value in metadata.items()]


# ---------------------------------------------------------------------- lines


def _target_of(entry: MetadataEntry) -> str:
    return entry.nick or entry.room or "*"


def _keyvalue(irc: IrcDialect, me: str, entry: MetadataEntry) -> bytes:
    """761 (or 766 when not set) about ``entry``, addressed to ``me``."""
    if entry.value is None:
        return irc.renderer.numeric("766", me, _target_of(entry), entry.key, _NOT_SET)
    return irc.renderer.numeric("761", me, _target_of(entry), entry.key, "*", entry.value)


def _key_invalid(irc: IrcDialect, key: str) -> bytes:
    return irc.fail("METADATA", "KEY_INVALID", key or "*", text="Invalid key")


def _keys(irc: IrcDialect, code: str, keys: tuple[str, ...]) -> bytes:
    """``code`` numerics listing ``keys``, as many lines as they need."""
    budget = MAX_LINE - 2 - len(f":{irc.server} {code} {irc.me()} :".encode())
    lines: list[bytes] = []
    chunk: list[str] = []
    for key in keys:
        if chunk and (len(chunk) >= 12 or len(" ".join([*chunk, key])) > budget):
            lines.append(irc.num(code, *chunk))
            chunk = []
        chunk.append(key)
    if chunk:
        lines.append(irc.num(code, *chunk))
    return b"".join(lines)


def _batch(irc: IrcDialect, target: str, lines: list[bytes]) -> bytes:
    """``lines`` in a ``metadata`` batch about ``target`` (plain, without ``batch``)."""
    data = b"".join(lines)
    if "batch" not in irc.caps:
        return data
    return wrap(split_lines(data), irc.labels.reference(), "metadata", target,
                source=irc.server)
