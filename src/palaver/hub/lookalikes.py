"""Nicks that look alike: a TR39-style skeleton, and an index of the names in use by skeleton.

How this works: Unicode TR39 (https://www.unicode.org/reports/tr39/#Confusable_Detection) calls
two strings confusable when their *skeletons* are equal; the skeleton maps each character to the
prototype of its confusable class (``е`` Cyrillic -> ``e``, ``I`` -> ``l``, ``0`` -> ``O``,
``m`` -> ``rn``). The classes come from Unicode's confusables.txt as shipped by the
``confusable-homoglyphs`` package (its ``confusables.json``, loaded once, on first use).

palaver compares nicks ignoring case, so one identity may show as ``ai`` or ``aI`` — and ``aI``
looks like ``al``. The classes are therefore closed under ASCII case too: ``i``, ``I``, ``l``,
``L``, ``1`` and ``|`` are one class, as are ``o``, ``O`` and ``0``; ``m``, ``M`` and ``rn`` (or
``RN``) have one skeleton. Closing under *all* of Unicode's case pairs would merge unrelated
letters through Greek and Cyrillic (``H``~``Η``, ``η``~``n``: ``h`` would look like ``n``), so
only ASCII case is added. Nicks are ASCII today (:mod:`palaver.hub.names`); the same skeleton
covers Unicode nicks if they are ever allowed.

:class:`LookalikeIndex` keeps, for every name in use (online nicks and accounts, by folded key),
its skeletons, and answers "does this new nick look like someone else's?" in O(len(nick)).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import unicodedata
from collections.abc import Collection, Iterable

_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f")  # the data wraps RTL glyphs in them


@functools.cache
def _table() -> dict[str, str]:
    """Each confusable character -> its class's prototype (the characters that are their own
    prototype are left out)."""
    data = json.loads(
        (importlib.resources.files("confusable_homoglyphs") / "confusables.json").read_text(
            "utf-8"
        )
    )
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    for key, glyphs in data.items():
        for glyph in glyphs:
            union(key.translate(_DIRECTION_MARKS), glyph["c"].translate(_DIRECTION_MARKS))
    for letter in "abcdefghijklmnopqrstuvwxyz":
        union(letter, letter.upper())
    classes: dict[str, list[str]] = {}
    for member in list(parent):
        classes.setdefault(find(member), []).append(member)
    table: dict[str, str] = {}
    for members in classes.values():
        proto = min(members, key=_prototype_rank)
        for member in members:
            if len(member) == 1 and member != proto:
                table[member] = proto
    # A prototype that is a sequence (``rn``) is itself spelled with mapped characters: expand
    # once, so that the skeleton of ``m`` equals the skeleton of the letters ``r``, ``n``.
    for char, proto in table.items():
        if len(proto) > 1:
            table[char] = "".join(table.get(c, c) for c in proto)
    return table


def _prototype_rank(member: str) -> tuple[int, int, str]:
    """Which member of a class names it: a sequence first (it is how the others can be
    spelled: ``rn`` for ``m``), then a lowercase ASCII letter (readable), then the smallest."""
    if len(member) > 1:
        return (0, len(member), member)
    if "a" <= member <= "z":
        return (1, 0, member)
    return (2, 0, member)


@functools.cache
def _ascii_table() -> dict[int, str]:
    """:func:`_table` for the ASCII characters, as ``str.translate`` takes it."""
    table = _table()
    return {code: table[chr(code)] for code in range(128) if chr(code) in table}


def skeleton(name: str) -> str:
    """The TR39 skeleton of ``name`` (with ASCII case folded in): equal skeletons look alike."""
    if name.isascii():  # every nick today: ASCII is its own NFD, one translate does it
        mapped = name.translate(_ascii_table())
        if mapped.isascii():  # (so is every nick's; not "%"'s, which looks like "º/₀")
            return name if mapped == name else mapped
    return _skeleton(name)


def _skeleton(name: str) -> str:
    """:func:`skeleton` the long way, for any text."""
    table = _table()
    decomposed = unicodedata.normalize("NFD", name)
    mapped = "".join(table.get(char, char) for char in decomposed)
    if mapped == decomposed:  # its own skeleton (most names): no second copy to keep
        return decomposed  # (NFD of an already decomposed name is that very string)
    return unicodedata.normalize("NFD", mapped)


def confusable(a: str, b: str) -> bool:
    return skeleton(a) == skeleton(b)


class LookalikeIndex:
    """The names in use (each a folded key and how it is shown), findable by skeleton.

    A name may be added more than once (an account that is also online); it stays until it
    has been discarded as many times.
    """

    __slots__ = ("_names", "_owners")

    # Memory matters here (one entry per user online). A name in use once (nearly all) maps
    # to how it is shown, a string the user holds anyway: its skeletons are made again when it
    # goes. A name in use more than once (an account also online) maps to a tuple (count,
    # shown, skeletons). A skeleton owned by one name (nearly all) maps to that name, not to a
    # set.

    def __init__(self, names: Iterable[tuple[str, str]] = ()) -> None:
        self._names: dict[str, str | tuple[int, str, str, str]] = {}  # key -> shown, or that
        self._owners: dict[str, str | set[str]] = {}  # skeleton -> folded key(s)
        for key, shown in names:
            self.add(key, shown)

    def __contains__(self, key: object) -> bool:
        return key in self._names

    def _entry(self, key: str) -> tuple[int, str, str, str] | None:
        """``key``'s count, how it is shown and its two skeletons; None if not in use."""
        entry = self._names.get(key)
        if entry is None or isinstance(entry, tuple):
            return entry
        return (1, entry, skeleton(key), skeleton(entry))

    def add(self, key: str, shown: str) -> None:
        """``key`` (a folded nick) is in use, shown as ``shown``."""
        entry = self._entry(key)
        if entry is not None:  # the skeletons it was indexed under stay
            self._names[key] = (entry[0] + 1, shown, entry[2], entry[3])
            return
        first, second = skeleton(key), skeleton(shown)
        self._names[key] = shown
        for skel in {first, second}:
            owners = self._owners.get(skel)
            if owners is None:
                self._owners[skel] = key
            elif isinstance(owners, set):
                owners.add(key)
            elif owners != key:
                self._owners[skel] = {owners, key}

    def discard(self, key: str) -> None:
        entry = self._entry(key)
        if entry is None:
            return
        count, shown, first, second = entry
        if count > 1:
            self._names[key] = (count - 1, shown, first, second)
            return
        del self._names[key]
        for skel in {first, second}:
            owners = self._owners.get(skel)
            if owners == key:
                del self._owners[skel]
            elif isinstance(owners, set):
                owners.discard(key)
                if len(owners) == 1:
                    self._owners[skel] = owners.pop()

    def lookalike(self, nick: str, key: str, mine: Collection[str] = ()) -> str | None:
        """Another name in use that ``nick`` (folded: ``key``) looks like — not ``key`` itself
        nor any of ``mine`` (the asker's own names) — as it is shown; else None."""
        for skel in {skeleton(nick), skeleton(key)}:
            owners = self._owners.get(skel, ())
            for owner in (owners,) if isinstance(owners, str) else owners:
                if owner != key and owner not in mine:
                    entry = self._names.get(owner)
                    if entry is None:
                        return owner
                    return entry if isinstance(entry, str) else entry[1]
        return None


__all__ = ["LookalikeIndex", "confusable", "skeleton"]
