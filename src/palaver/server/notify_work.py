"""The I/O behind notification levels (hub/notify.py), for the core: both effects are asked of
the store in their place in the queue (server/pipeline.py), so an answer never overtakes what
came before it, and a level set after a user came online is stored after its levels were read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from palaver.hub.effects import Effect, LoadNotifyLevels, SaveNotifyLevel
from palaver.protocol.errors import ErrorCode, PeerError

if TYPE_CHECKING:
    from palaver.server.core import ServerCore

log = logging.getLogger("palaver.server")


def notify_asks(core: ServerCore) -> dict[type[Any], Callable[[Any], Awaitable[list[Effect]]]]:
    """The pipeline's ``asks`` for the two effects."""
    return {SaveNotifyLevel: lambda effect: save_notify_level(core, effect),
            LoadNotifyLevels: lambda effect: load_notify_levels(core, effect)}


async def save_notify_level(core: ServerCore, effect: SaveNotifyLevel) -> list[Effect]:
    try:
        changed = await core.store.set_notify_level(effect.identity, effect.conversation,
                                                    effect.level)
    except Exception:
        log.exception("could not store a notification level of %s", effect.conversation)
        return [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "the notification level could not be stored; try again",
            effect.request_id))] if effect.answer else []
    return core.hub.notify_level_saved(effect, changed)


async def load_notify_levels(core: ServerCore, effect: LoadNotifyLevels) -> list[Effect]:
    try:
        levels = await core.store.notify_levels(effect.identity)
    except Exception:  # the user goes on with every level "all"
        log.exception("could not read the notification levels of %s", effect.identity)
        return []
    return core.hub.notify_levels_loaded(effect, levels)
