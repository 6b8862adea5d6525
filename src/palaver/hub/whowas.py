"""WHOWAS: who wore a nick before — a bounded history, newest last, kept in memory.

How this works: the hub notes a user here when it goes offline (its last session ends) and when
it changes nick (the old nick, as it was). Each entry is what WHO showed of it then (nick,
username, realname) and when it stopped. The history keeps the last ``limit`` entries of all
nicks together (a ``deque``): a question scans it newest first, which is cheap at this size and
rare. Nothing is stored: after a restart the history starts empty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Final

from palaver.hub.names import fold
from palaver.hub.state import User
from palaver.protocol.messages import PastUser

DEFAULT_LIMIT: Final = 1_000


class NickHistory:
    __slots__ = ("_entries",)

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._entries: deque[tuple[str, PastUser]] = deque(maxlen=limit)  # (folded nick, entry)

    def __len__(self) -> int:
        return len(self._entries)

    def note(self, user: User, until: str) -> None:
        """``user`` stops wearing its nick now (``until``: the time, as the hub writes it)."""
        self._entries.append((user.folded_nick, PastUser(
            nick=user.nick, until=until, username=user.username, realname=user.realname)))

    def lookup(self, mask: str, count: int = 0) -> tuple[PastUser, ...]:
        """The entries whose nick matches ``mask`` (``*`` and ``?`` are wildcards; case is
        folded), newest first; at most ``count`` of them (0: all)."""
        matches = mask_matcher(fold(mask))
        found: list[PastUser] = []
        for folded, entry in reversed(self._entries):
            if matches(folded):
                found.append(entry)
                if len(found) == count:
                    break
        return tuple(found)


def mask_matcher(mask: str) -> Callable[[str], bool]:
    """Whether a name matches ``mask``: ``*`` is any run of characters, ``?`` any one; nothing
    else is special (``[`` is a nick character, not a character class). Case as given: fold
    both sides first for IRC's case-insensitive matching."""
    if "*" not in mask and "?" not in mask:
        return mask.__eq__
    return lambda name: wildcard_match(mask, name)


def wildcard_match(mask: str, name: str) -> bool:
    """The classic greedy matcher: time ``len(mask) * len(name)`` at worst, whatever the mask
    (a regular expression can take exponential time on a mask full of ``*``)."""
    m = n = 0
    star, resume = -1, 0
    while n < len(name):
        if m < len(mask) and (mask[m] == "?" or mask[m] == name[n]):
            m += 1
            n += 1
        elif m < len(mask) and mask[m] == "*":
            star, resume = m, n
            m += 1
        elif star >= 0:  # let the last * take one more character
            resume += 1
            m, n = star + 1, resume
        else:
            return False
    return all(c == "*" for c in mask[m:])
