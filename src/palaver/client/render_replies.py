"""How the line clients (``palaver chat``, the text door) show replies and reactions.

A reply is its message line(s) after a quote line naming what it answers::

      > alice #41: who broke the build?
    [12:00] <bob> me, sorry

A message from history or a replay with reactions gets a line under it::

    [12:00] <alice> shipped it
      [👍 bob, carol] [🎉 dave]

and a reaction as it happens is one line: ``* bob reacted 👍 to #41 (alice: shipped it)``.
Everything from the server is sanitised (:func:`palaver.client.render.sanitize`).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from palaver.protocol.messages import Message, Quote, Reacted

DELETED_QUOTE = "(message deleted)"


def _safe(text: str) -> str:
    from palaver.client.render import sanitize  # render imports this module

    return sanitize(text)


def quote_text(quote: Quote) -> str:
    """``alice: first words…`` (sanitised, one line)."""
    words = DELETED_QUOTE if quote.deleted else " ".join(quote.text.split())
    return f"{_safe(quote.sender)}: {_safe(words)}"


def quote_line(event: Message) -> str:
    """The line before a reply: ``  > alice #41: first words…``."""
    if event.quote is not None:
        return f"  > {_safe(event.quote.sender)} #{event.reply_to}: " + (
            DELETED_QUOTE if event.quote.deleted else _safe(" ".join(event.quote.text.split())))
    return f"  > #{event.reply_to}"


def reactions_line(event: Message) -> str:
    """The line under a message with reactions: ``  [👍 bob, carol] [🎉 dave]``."""
    assert event.reactions
    return "  " + " ".join(f"[{_safe(reaction)} {', '.join(_safe(n) for n in nicks)}]"
                           for reaction, nicks in event.reactions.items())


def with_reply_and_reactions(event: Message,
                             render: Callable[[Message], list[str]]) -> list[str]:
    """``event``'s lines as ``render`` shows a plain message, with its quote line before them
    and its reactions under them."""
    bare = msgspec.structs.replace(event, reply_to=None, quote=None, reactions=None)
    lines = render(bare)
    if event.reply_to is not None and not event.deleted:
        lines = [quote_line(event), *lines]
    if event.reactions and not event.deleted:
        lines = [*lines, reactions_line(event)]
    return lines


def render_reacted(event: Reacted) -> list[str]:
    """``* bob reacted 👍 to #41 (alice: shipped it)``; ``took back`` for a removal."""
    what = "took back" if event.remove else "reacted"
    to = "from" if event.remove else "to"
    where = f"#{event.msg_id}"
    if event.room is None:
        where = f"{where} of a direct message"
    about = f" ({quote_text(event.quote)})" if event.quote is not None else ""
    return [f"* {_safe(event.by)} {what} {_safe(event.reaction)} {to} {where}{about}"]
