"""Updates as events: an edit, a deletion or a reaction, as a resume replays it.

How this works: each update to a stored message takes its conversation's next id (``seq``, the
counter msg_ids come from) and is stored with the change it makes (hub/editing.py,
hub/deletion.py, hub/reactions.py; the store's ``message_updates``). A client that resumes
from ``since`` = N is sent the messages after N as they are now and, for the messages it had
(msg_id <= N), the updates after N in order — rendered here as the event it would have got
live (``EDITED``, ``DELETED``, ``REACTED``), with its ``seq``. Pure: the store is read by the
server (server/replay.py).
"""

from __future__ import annotations

from palaver.hub.replies import quote_of
from palaver.protocol.messages import Deleted, Edited, Reacted
from palaver.store.base import StoredMessage, StoredUpdate

UpdateEvent = Edited | Deleted | Reacted


def update_event(update: StoredUpdate, target: StoredMessage) -> UpdateEvent:
    """``update`` of message ``target`` (as it is stored now) as the event it was live."""
    room, sender, to = target.room, target.sender, target.to
    if update.kind == "edit":
        return Edited(msg_id=update.msg_id, text=update.value or "", edited_at=update.ts,
                      by=update.by, room=room, sender=sender, to=to, seq=update.seq)
    if update.kind == "delete":
        return Deleted(msg_id=update.msg_id, by=update.by, room=room, sender=sender, to=to,
                       reason=update.value, seq=update.seq)
    return Reacted(msg_id=update.msg_id, by=update.by, reaction=update.value or "",
                   remove=update.kind == "unreact", room=room, sender=sender, to=to,
                   quote=quote_of(target), seq=update.seq)
