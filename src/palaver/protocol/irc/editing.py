"""Message edits on the IRC door (EDIT, hub/editing.py). IRC has no ratified way to edit a
message, so an edit reaches IRC clients as a line that reads well in any of them.

EDITED: a NOTICE from the message's sender to the channel (in a direct conversation: to its
other end, as a message of the sender's would be), ``* edited: <new text>`` — one NOTICE per
line of the new text, long ones split. A client with ``message-tags`` gets
``+draft/reply=<msgid>`` on the first line, naming the message edited (the msgid it was sent
with: ``#dev/41``, ``dm/alice,bob/7``), and with ``server-time`` the edit's time. A NOTICE is never
answered automatically, so bots stay quiet.

Palaver's own commands (like ``SEARCH``; ``/quote`` sends them from any client):
``EDIT <target> <msgid> :<text>`` edits one's own message, the msgid as the client saw it;
``EDITS <target> <msgid>`` lists the texts a message has had, as server NOTICEs. Refusals are a
NOTICE with the error's code (``not_sender: only its sender may edit a message``). History sent
to IRC (CHATHISTORY) carries a message's current text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.redaction import msg_id_of
from palaver.protocol.irc.render import _budget, clean, conversation_msgid, hostmask
from palaver.protocol.irc.wire import IrcLine, format_line, split_text
from palaver.protocol.messages import MAX_MSG_ID, Edit, Edited, EditList, ListEdits

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

EDITED_PREFIX: Final = "* edited: "
REPLY: Final = "+draft/reply"


def _where(target: str) -> dict[str, str]:
    return {"room": target} if target.startswith("#") else {"peer": target}


def on_edit(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    target, msgid, text = line.params[0], line.params[1], " ".join(line.params[2:])
    number = min(msg_id_of(target, msgid), MAX_MSG_ID)
    out.append(irc.request(Edit, Pending("edit", target, text=msgid), msg_id=number, text=text,
                           **_where(target)))


def on_edits(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    target, msgid = line.params[0], line.params[1]
    number = min(msg_id_of(target, msgid), MAX_MSG_ID)
    out.append(irc.request(ListEdits, Pending("edits", target, text=msgid), msg_id=number,
                           **_where(target)))


# ---------------------------------------------------------------------- events


def edited(irc: IrcDialect, event: Edited, pending: Pending | None) -> bytes:
    sender = event.sender or event.by
    if event.room is not None:
        target = event.room
    elif sender.lower() == irc.me().lower():  # ours (from another client of ours, or EDIT)
        target = event.to or "*"
    else:
        target = irc.me()
    tags: dict[str, str] = {}
    if "server-time" in irc.caps:
        tags["time"] = event.edited_at
    first = dict(tags)
    if "message-tags" in irc.caps:
        first[REPLY] = conversation_msgid(event.room, sender, event.to, event.msg_id)
    source = hostmask(event.by)
    budget = _budget(f":{source} NOTICE {target} :")
    out: list[bytes] = []
    for index, text_line in enumerate(clean(event.text).split("\n")):
        text = EDITED_PREFIX + text_line if index == 0 else text_line
        if not text:
            continue
        out.extend(format_line("NOTICE", target, piece, source=source,
                               tags=tags if out else first)
                   for piece in split_text(text, budget))
    return b"".join(out)


def edit_list(irc: IrcDialect, event: EditList, pending: Pending | None) -> bytes:
    """EDITS' answer as server NOTICEs: a head line, a line per text (oldest first), an end."""
    me = irc.me()
    where = event.room or event.peer or "*"
    msgid = pending.text if pending is not None else f"{where}/{event.msg_id}"
    if not event.versions:
        return irc.renderer.notice(me, f"EDITS {msgid}: the message was deleted; no texts kept")
    count = len(event.versions)
    lines = [f"EDITS {msgid}: {count} text{'s' if count != 1 else ''} of "
             f"{event.sender or '?'}'s message, oldest first"]
    for version in event.versions:
        stamp = version.ts[:16].replace("T", " ")
        lines.append(f"[{stamp}] {version.text}".replace("\n", " / "))
    lines.append(f"End of EDITS {msgid}")
    return b"".join(irc.renderer.notice(me, text) for text in lines)
