"""IRC's ``+draft/reply`` and ``+draft/react`` client tags onto palaver's replies and reactions
(hub/replies.py, hub/reactions.py).

Replies: a PRIVMSG (or NOTICE, or multiline batch) whose ``+draft/reply`` names one of our
msgids in the same conversation (``#room/41``, ``dm/alice,bob/7``: what the client saw on the
message) is a CHAT/DM with ``reply_to``: stored as a reply, the tag not relayed as it came (the
renderer puts it back from ``reply_to``). A ``+draft/reply`` naming anything else (a TAGMSG's
``r12``, another channel's message) is relayed as before, never stored. A reply reaches clients
with ``message-tags`` with ``+draft/reply=<msgid>`` on its first line; others get it as it was
written, with no quote line (:func:`with_reply`).

Reactions: ``@+draft/react=👍;+draft/reply=<msgid> TAGMSG <target>`` is a REACT of that message
(``+draft/unreact=👍``: take it back); the TAGMSG's other client tags, if any, are relayed as
usual. A REACTED reaches clients with ``message-tags`` as such a TAGMSG from the reacter (to
the channel; in a direct conversation, to its other end); others get a NOTICE from the server
to the channel (to themselves, for a direct one): ``* bob reacted 👍 to alice: first words…``.
The reacter's own REACTED is echoed only with ``echo-message`` (as its messages are). A refused
REACT is a NOTICE with the error's code. History sent to IRC (CHATHISTORY) carries replies but
not reactions: IRC has no way to say them there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.redaction import msg_id_of
from palaver.protocol.irc.render import conversation_msgid, hostmask
from palaver.protocol.irc.wire import format_line
from palaver.protocol.messages import MAX_MSG_ID, Message, React, Reacted

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

REPLY: Final = "+draft/reply"
REACT: Final = "+draft/react"
UNREACT: Final = "+draft/unreact"
DELETED_QUOTE: Final = "(message deleted)"


def reply_of(target: str, tags: dict[str, str]) -> tuple[int | None, dict[str, str]]:
    """The msg_id a line's ``+draft/reply`` names in the conversation ``target`` names, and the
    tags left to relay; (None, tags) if it names none of ours there."""
    msgid = tags.get(REPLY)
    if msgid is None:
        return None, tags
    number = min(msg_id_of(target, msgid), MAX_MSG_ID)
    if number <= 0:
        return None, tags
    return number, {k: v for k, v in tags.items() if k != REPLY}


def react_of(irc: IrcDialect, target: str, tags: dict[str, str],
             out: list[Inbound]) -> dict[str, str]:
    """A TAGMSG's reaction to ``target`` as a REACT in ``out``; the tags left to relay."""
    reaction, remove = tags.get(REACT), False
    if reaction is None and UNREACT in tags:
        reaction, remove = tags[UNREACT], True
    if reaction is None:
        return tags
    msg_id, rest = reply_of(target, tags)
    if msg_id is None:
        return tags  # not one of our messages: relayed as it is
    where = {"room": target} if target.startswith("#") else {"peer": target}
    out.append(irc.request(React, Pending("react", target), msg_id=msg_id, reaction=reaction,
                           remove=remove, **where))
    return {k: v for k, v in rest.items() if k not in (REACT, UNREACT)}


def with_reply(event: Message, tagged: bool) -> Message:
    """A reply as IRC shows it: with its ``+draft/reply`` tag, or (``tagged`` false) as it was
    written. No quote line is added for a client without ``message-tags``: it must see exactly
    the message that was sent (irctest's ``testRecipientCapability``)."""
    assert event.reply_to is not None
    if not tagged:
        return event
    msgid = conversation_msgid(event.room, event.sender, event.to, event.reply_to)
    return msgspec.structs.replace(event, tags={**(event.tags or {}), REPLY: msgid})


def reacted(irc: IrcDialect, event: Reacted, pending: Pending | None) -> bytes:
    if event.id is not None and "echo-message" not in irc.caps:
        return b""  # our own: the client knows
    if event.room is not None:
        target = event.room
    else:  # a direct message: to its other end from the reacter
        ends = [event.sender or "", event.to or ""]
        target = ends[1] if ends[0].lower() == event.by.lower() else ends[0]
    if "message-tags" in irc.caps:
        msgid = conversation_msgid(event.room, event.sender or "", event.to, event.msg_id)
        tags = {UNREACT if event.remove else REACT: event.reaction, REPLY: msgid}
        return format_line("TAGMSG", target, source=hostmask(event.by), tags=tags,
                           trailing=False)
    what = "took back" if event.remove else "reacted"
    about = ""
    if event.quote is not None:
        words = DELETED_QUOTE if event.quote.deleted else event.quote.text
        about = f" {'from' if event.remove else 'to'} {event.quote.sender}: {words}"
    to = target if event.room is not None else irc.me()
    return irc.renderer.notice(to, f"* {event.by} {what} {event.reaction}{about}")
