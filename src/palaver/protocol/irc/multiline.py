"""IRCv3 ``draft/multiline`` from the client, sans-I/O: a batch of PRIVMSG (or NOTICE) lines
becomes one palaver message.

How this works: ``BATCH +ref draft/multiline <target>`` opens a :class:`ClientBatch` (its label
and client-only tags are kept for the end); each line tagged ``batch=ref`` is gathered
(:func:`gather`), not handled; ``BATCH -ref`` sends the text: the lines joined by newlines,
except a line tagged ``draft/multiline-concat``, which continues the one before it (that place
is a *break*: the message's ``breaks`` say where, so a multiline client sees the lines as they
were sent). The limits are those the ``draft/multiline`` capability advertises
(:data:`MAX_BYTES`, :data:`MAX_LINES`); a batch that breaks a rule is refused at once with
``FAIL BATCH <code>`` and what follows of it is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.wire import IrcLine, strip_formatting

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

BATCH_TYPE: Final = "draft/multiline"
CONCAT: Final = "draft/multiline-concat"
MAX_BYTES: Final = 4_000  # of text (lines and the newlines between them): a palaver text fits
MAX_LINES: Final = 100
MAX_OPEN: Final = 2  # batches a client may have open at once
CAP_VALUE: Final = f"max-bytes={MAX_BYTES},max-lines={MAX_LINES}"


@dataclass(slots=True)
class ClientBatch:
    ref: str
    target: str
    label: str | None
    tags: dict[str, str]  # the client-only tags of the BATCH line
    command: str = ""  # PRIVMSG or NOTICE, from the first line
    lines: list[tuple[str, bool]] = field(default_factory=list)  # text, concatenated
    size: int = 0
    failed: bool = False


def on_batch(irc: IrcDialect, line: IrcLine, out: list[Inbound], label: str | None = None
             ) -> None:
    """``BATCH +ref <type> <params>`` or ``BATCH -ref``."""
    ref = line.params[0]
    if ref.startswith("+") and len(ref) > 1:
        _open(irc, line, ref[1:], label, out)
    elif ref.startswith("-") and len(ref) > 1:
        _close(irc, ref[1:], out, label)
    else:
        _answer(irc, label, out, irc.fail("BATCH", "INVALID_REFERENCE", ref,
                                          text="A batch reference starts with + or -"))


def _open(irc: IrcDialect, line: IrcLine, ref: str, label: str | None,
          out: list[Inbound]) -> None:
    kind = line.params[1] if len(line.params) > 1 else ""
    if kind != BATCH_TYPE or "draft/multiline" not in irc.caps:
        _answer(irc, label, out, irc.fail("BATCH", "UNKNOWN_TYPE", kind or "*",
                                          text="This batch type is not supported"))
        return
    if len(line.params) < 3 or not line.params[2]:
        _answer(irc, label, out, irc.need_more("BATCH"))
        return
    if irc.batches is not None and (ref in irc.batches or len(irc.batches) >= MAX_OPEN):
        _answer(irc, label, out, irc.fail("BATCH", "MULTILINE_INVALID",
                                          text="Too many batches open, or that one is"))
        return
    from palaver.protocol.irc.messaging import client_tags  # messaging imports this module

    if irc.batches is None:
        irc.batches = {}
    irc.batches[ref] = ClientBatch(ref, line.params[2], label, client_tags(line.tags))


def gather(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> bool:
    """Keeps ``line`` (tagged ``batch``) if it belongs to an open batch: True if it was
    taken (gathered, or refused as part of a batch), False if it is an ordinary line."""
    if not irc.batches:
        return False
    batch = irc.batches.get(line.tags["batch"])
    if batch is None:  # some other batch: this one was not opened
        batch = next(iter(irc.batches.values()))
        _refuse(irc, batch, out, "MULTILINE_INVALID", "No such batch is open")
        return True
    if batch.failed:
        return True
    if line.command not in ("PRIVMSG", "NOTICE") or batch.command not in ("", line.command):
        _refuse(irc, batch, out, "MULTILINE_INVALID", "A batch holds PRIVMSG or NOTICE lines")
        return True
    if len(line.params) < 2 or line.params[0].lower() != batch.target.lower():
        _refuse(irc, batch, out, "MULTILINE_INVALID", "Every line goes to the batch's target")
        return True
    text = line.params[1]
    concat = CONCAT in line.tags
    if concat and not text:
        _refuse(irc, batch, out, "MULTILINE_INVALID", "A blank line cannot be concatenated")
        return True
    batch.command = line.command
    batch.size += len(text.encode("utf-8")) + (0 if concat or not batch.lines else 1)
    batch.lines.append((text, concat))
    if len(batch.lines) > MAX_LINES:
        _refuse(irc, batch, out, "MULTILINE_MAX_LINES", str(MAX_LINES),
                f"A multiline message is at most {MAX_LINES} lines")
    elif batch.size > MAX_BYTES:
        _refuse(irc, batch, out, "MULTILINE_MAX_BYTES", str(MAX_BYTES),
                f"A multiline message is at most {MAX_BYTES} bytes")
    return True


def _refuse(irc: IrcDialect, batch: ClientBatch, out: list[Inbound], code: str,
            *context_and_text: str) -> None:
    *context, text = context_and_text
    batch.failed = True
    batch.lines.clear()
    _answer(irc, batch.label, out, irc.fail("BATCH", code, *context, text=text))


def _close(irc: IrcDialect, ref: str, out: list[Inbound], label: str | None) -> None:
    batch = irc.batches.pop(ref, None) if irc.batches is not None else None
    if not irc.batches:
        irc.batches = None  # none open: no empty dict kept
    if batch is None:
        _answer(irc, label, out, irc.fail("BATCH", "MULTILINE_INVALID",
                                          text="No such batch is open"))
        return
    if batch.failed:  # refused already (with the start's label, if it had one)
        if label is not None and batch.label is None:
            out.extend(irc.labels.answer(irc, label, []))  # ACK
        return
    label = batch.label or label  # the label of its start (or, failing that, of its end)
    text, breaks = joined(batch.lines)
    notice = batch.command == "NOTICE"
    items: list[Inbound] = []
    if not text.strip():
        if not notice:
            items.append(irc.num("412", "No text to send"))
    else:
        from palaver.protocol.irc.messaging import post

        post(irc, batch.target, text, items, notice=notice, tags=batch.tags, breaks=breaks)
    if label is None:
        out.extend(items)
    else:
        out.extend(irc.labels.answer(irc, label, items))


def joined(lines: list[tuple[str, bool]]) -> tuple[str, tuple[int, ...]]:
    """The text of a batch's lines and the places (in characters) where a line was continued
    by the next (its breaks). Formatting and control characters go, as from any PRIVMSG."""
    text = ""
    breaks: list[int] = []
    for index, (raw, concat) in enumerate(lines):
        piece = strip_formatting(raw).replace("\n", " ")
        if index and concat:
            breaks.append(len(text))
        elif index:
            text += "\n"
        text += piece
    return text, tuple(b for b in breaks if 0 < b < len(text))


def _answer(irc: IrcDialect, label: str | None, out: list[Inbound], data: bytes) -> None:
    if label is None:
        out.append(data)
    else:
        out.extend(irc.labels.answer(irc, label, [data]))
