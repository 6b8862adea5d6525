"""Whether a message mentions me: my nick as a whole word, in any letter case, or ``@room`` /
``@here`` from one of the room's operators (the clients' rule; docs/text.md, "Mentions").

A whole word: not next to a letter, digit or another character a nick may hold
(``_-[]\\^{}|```), so ``alice`` is mentioned in ``alice: hi`` and ``hi @alice!`` but not in
``malice`` or ``alice_2``. Pure: no I/O, no state.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final

NICK_CHAR: Final = r"[\w\-\[\]\\^{}|`]"
EVERYONE: Final = re.compile(rf"(?<!{NICK_CHAR})@(?:room|here)(?!{NICK_CHAR})", re.IGNORECASE)


def names_me(text: str, me: str) -> bool:
    """Whether ``text`` holds the nick ``me`` as a whole word, ignoring case."""
    if not me:
        return False
    pattern = rf"(?<!{NICK_CHAR}){re.escape(me)}(?!{NICK_CHAR})"
    return re.search(pattern, text, re.IGNORECASE) is not None


def mentions(text: str, me: str, sender: str, operators: Collection[str] = ()) -> bool:
    """Whether a message ``text`` from ``sender`` mentions ``me``: my nick as a whole word, or
    ``@room``/``@here`` when ``sender`` is one of ``operators`` (folded nicks). Never my own."""
    if sender.lower() == me.lower():
        return False
    if names_me(text, me):
        return True
    return sender.lower() in operators and EVERYONE.search(text) is not None
