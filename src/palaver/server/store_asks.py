"""The pipeline's asks for the core: store questions whose answers the hub turns into replies.

Each effect here takes its place in the queue of the commit pipeline (server/pipeline.py): it
starts once everything before it is released — so it sees every message stored before it — and
the effects it returns are released in its place, so an answer never overtakes the answers to
earlier commands nor is overtaken by later ones. :func:`store_asks` gives the pipeline its
``asks`` for them (as ``notify_asks`` does in server/notify_work.py). Each catches its own
failure (logged; an asker that waits for an answer gets ``unavailable``), so the queue goes on.

- Read markers: one moved (MARKREAD), :func:`save_read_marker`; a guest's, read when it is
  back with its token, :func:`load_read_markers` (an account's come with its login).
- Changes to messages, each under its conversation's next id: :func:`delete_message`,
  :func:`edit_message` (hub/editing.py), :func:`save_reaction` (on a node of a cluster, told to
  the other nodes too: server/cluster.py); an edited message's texts: :func:`list_message_edits`.
- Reading: :func:`fetch_history` (a page), :func:`fetch_activity` (CONVERSATIONS),
  :func:`search_messages` (SEARCH, hub/search.py).
- An account's client certificates (CERT, hub/certificates.py): :func:`change_certificates`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from palaver.hub.effects import (
    ChangeCertificates,
    DeleteMessage,
    Deliver,
    EditMessage,
    Effect,
    FetchActivity,
    FetchHistory,
    ListMessageEdits,
    LoadReadMarkers,
    SaveReaction,
    SaveReadMarker,
    SearchMessages,
)
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import ConversationInfo, Conversations, HistoryPage, ServerMessage
from palaver.server.decoration import decorate

if TYPE_CHECKING:
    from palaver.server.core import ServerCore

log = logging.getLogger("palaver.server")


def store_asks(core: ServerCore) -> dict[type[Any], Callable[[Any], Awaitable[list[Effect]]]]:
    """The pipeline's ``asks`` for the effects above."""
    return {
        SaveReadMarker: lambda effect: save_read_marker(core, effect),
        LoadReadMarkers: lambda effect: load_read_markers(core, effect),
        DeleteMessage: lambda effect: delete_message(core, effect),
        EditMessage: lambda effect: edit_message(core, effect),  # hub/editing.py
        ListMessageEdits: lambda effect: list_message_edits(core, effect),
        FetchHistory: lambda effect: fetch_history(core, effect),  # after the messages before it
        FetchActivity: lambda effect: fetch_activity(core, effect),
        ChangeCertificates: lambda effect: change_certificates(core, effect),  # CERT
        SearchMessages: lambda effect: search_messages(core, effect),  # SEARCH (hub/search.py)
        SaveReaction: lambda effect: save_reaction(core, effect),
    }


async def save_read_marker(core: ServerCore, effect: SaveReadMarker) -> list[Effect]:
    try:
        marker, moved = await core.store.set_read_marker(
            effect.identity, effect.conversation, msg_id=effect.msg_id, ts=effect.ts)
        effects = core.hub.read_marker_saved(effect, marker, moved)
    except Exception:
        log.exception("could not store a read marker of %s", effect.conversation)
        effects = [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "the read marker could not be stored; try again",
            effect.request_id))] if effect.answer else []
    return effects


async def load_read_markers(core: ServerCore, effect: LoadReadMarkers) -> list[Effect]:
    try:
        markers = await core.store.read_markers(effect.identity)
    except Exception:  # the guest goes on without its markers
        log.exception("could not read the read markers of %s", effect.identity)
        return []
    return core.hub.read_markers_loaded(effect, markers)


async def delete_message(core: ServerCore, effect: DeleteMessage) -> list[Effect]:
    try:
        deletion = await core.store.delete_message(
            effect.conversation, effect.msg_id, sender_key=effect.sender_key,
            update=effect.update)
        effects = core.hub.message_deleted(effect, deletion)
        if core.cluster is not None:  # told on the other nodes (server/cluster.py)
            core.cluster.updated(effect.conversation, effects)
    except Exception:
        log.exception("could not delete message %d of %s", effect.msg_id,
                      effect.conversation)
        effects = [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "the message could not be deleted; try again",
            effect.request_id))]
    return effects


async def edit_message(core: ServerCore, effect: EditMessage) -> list[Effect]:
    try:
        editing = await core.store.edit_message(
            effect.conversation, effect.msg_id, sender_key=effect.sender_key,
            text=effect.text, edited_at=effect.edited_at, sent_after=effect.sent_after,
            update=effect.update)
        effects = core.hub.message_edited(effect, editing)
        if core.cluster is not None:
            core.cluster.updated(effect.conversation, effects)
    except Exception:
        log.exception("could not edit message %d of %s", effect.msg_id, effect.conversation)
        effects = [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "the message could not be edited; try again",
            effect.request_id))]
    return effects


async def list_message_edits(core: ServerCore, effect: ListMessageEdits) -> list[Effect]:
    try:
        found = await core.store.messages(effect.conversation, [effect.msg_id])
        record = found.get(effect.msg_id)
        versions = (None if record is None else
                    await core.store.message_versions(effect.conversation, effect.msg_id))
        effects = core.hub.edits_listed(effect, record, versions)
    except Exception:
        log.exception("could not read the edits of message %d of %s", effect.msg_id,
                      effect.conversation)
        effects = [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "the message's texts could not be read; try again",
            effect.request_id))]
    return effects


async def save_reaction(core: ServerCore, effect: SaveReaction) -> list[Effect]:
    try:
        reacting = await core.store.react(
            effect.conversation, effect.msg_id, identity=effect.identity, nick=effect.nick,
            reaction=effect.reaction, ts=effect.ts, remove=effect.remove,
            update=effect.update)
        effects = core.hub.reaction_saved(effect, reacting)
        if core.cluster is not None:
            core.cluster.updated(effect.conversation, effects)
    except Exception:
        log.exception("could not store a reaction to message %d of %s", effect.msg_id,
                      effect.conversation)
        effects = [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "the reaction could not be stored; try again",
            effect.request_id))]
    return effects


async def change_certificates(core: ServerCore, effect: ChangeCertificates) -> list[Effect]:
    """CERT: bind, unbind or list an account's client certificates in the store."""
    try:
        done = True
        if effect.action == "add" and effect.fingerprint is not None:
            done = await core.store.bind_certificate(effect.account, effect.fingerprint)
        elif effect.action == "remove" and effect.fingerprint is not None:
            done = await core.store.unbind_certificate(effect.account, effect.fingerprint)
        fingerprints = await core.store.certificates(effect.account)
    except Exception:
        log.exception("could not change the certificates of %s", effect.account)
        return [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "certificates cannot be changed right now; try again",
            effect.request_id))]
    return core.hub.certificates_changed(effect, fingerprints, done=done)


async def fetch_history(core: ServerCore, effect: FetchHistory) -> list[Effect]:
    try:
        before, after = effect.before, effect.after
        if effect.until is not None:  # a time bound: the msg_id sent by then
            before = await core.store.msg_id_at(effect.conversation, effect.until) + 1
        if effect.since is not None:
            after = await core.store.msg_id_at(effect.conversation, effect.since)
        page = await core.store.page(effect.conversation, before=before, after=after,
                                     limit=effect.limit)
        reply: ServerMessage = HistoryPage(
            id=effect.request_id, room=effect.room, peer=effect.peer,
            messages=tuple(await decorate(core.store, effect.conversation, page.messages)),
            more=page.more)
    except Exception:
        log.exception("could not read history of %s", effect.conversation)
        reply = core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "history is unavailable right now", effect.request_id,
        )).event
    return [Deliver(reply, (effect.session,))]


async def search_messages(core: ServerCore, effect: SearchMessages) -> list[Effect]:
    try:
        page = await core.store.search([c[0] for c in effect.conversations], effect.words,
                                       before=effect.before, limit=effect.limit)
        return core.hub.searched(effect, page)
    except Exception:
        log.exception("could not search %d conversations", len(effect.conversations))
        return [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "search is unavailable right now", effect.request_id))]


async def fetch_activity(core: ServerCore, effect: FetchActivity) -> list[Effect]:
    """CONVERSATIONS: which of the user's conversations were active in the window."""
    try:
        times = await core.store.last_activity([c[0] for c in effect.conversations],
                                               after=effect.after, before=effect.before)
        active = sorted((times[key], room or "", peer or "")
                        for key, room, peer in effect.conversations if key in times)
        reply: ServerMessage = Conversations(id=effect.request_id, conversations=tuple(
            ConversationInfo(last_ts=ts, room=room or None, peer=peer or None)
            for ts, room, peer in active[:effect.limit]))
    except Exception:
        log.exception("could not read the activity of %d conversations",
                      len(effect.conversations))
        reply = core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "history is unavailable right now", effect.request_id,
        )).event
    return [Deliver(reply, (effect.session,))]

