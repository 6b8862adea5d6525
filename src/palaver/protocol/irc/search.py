"""Full-text search on the IRC door: palaver's own ``SEARCH`` command (IRC has no standard one).

``SEARCH <target> [before=<cursor>] <words…>`` — ``<target>`` is ``*`` (every channel one is in
and one's direct conversations), a channel one is in, or a nick (the direct conversation with
it); the words may be one trailing parameter (``SEARCH * :deploy friday``). The answer is
server NOTICEs, readable in any client (``/quote SEARCH * :deploy``)::

    :server NOTICE me :SEARCH "deploy": 2 messages, newest first
    :server NOTICE me :[2026-11-18 11:06] #dev <alice> Deploying on Friday (msgid #dev/41)
    :server NOTICE me :[2026-11-17 09:00] bob <bob> redeploy please (msgid dm/alice,bob/7)
    :server NOTICE me :End of SEARCH; older: SEARCH * before=41877 :deploy

A refusal is a NOTICE with its code (``invalid_field: each word of a search is at least 3
characters ('go' is not)``), as every palaver error without an IRC numeric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import conversation_msgid
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import Search, SearchResults

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect


def on_search(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    target, words = line.params[0], " ".join(line.params[1:]).split()
    before = None
    if words and words[0].startswith("before="):
        before = words.pop(0)[7:] or None
    where: dict[str, str] = {}
    if target.startswith("#"):
        where["room"] = target
    elif target != "*":
        where["peer"] = target
    out.append(irc.request(Search, Pending("search", target), query=" ".join(words)[:200],
                           before=before, **where))


def results(irc: IrcDialect, event: SearchResults, pending: Pending | None) -> bytes:
    me = irc.me()
    count = len(event.hits)
    lines = [f'SEARCH "{event.query}": {count} message{"" if count == 1 else "s"}'
             + (", newest first" if count > 1 else "")]
    for hit in event.hits:
        to = me if hit.peer is not None and hit.sender.lower() != me.lower() else hit.peer
        msgid = conversation_msgid(hit.room, hit.sender, to, hit.msg_id)
        when = hit.ts[:16].replace("T", " ")
        text = " ".join(hit.text.split("\n"))
        lines.append(f"[{when}] {hit.room or hit.peer} <{hit.sender}> {text} (msgid {msgid})")
    end = "End of SEARCH"
    if event.next is not None:
        target = pending.arg if pending is not None else "*"
        end += f"; older: SEARCH {target} before={event.next} :{event.query}"
    lines.append(end)
    return b"".join(irc.renderer.notice(me, text) for text in lines)
