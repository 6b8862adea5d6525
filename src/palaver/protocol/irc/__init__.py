"""The IRC door's sans-I/O half (docs/irc.md), one module per concern.

- :mod:`.dialect` — :class:`IrcDialect`: a connection's state; lines in, events out
- :mod:`.table` — every command (handler, parameters needed, allowed before registration) and
  every event renderer
- :mod:`.registration`, :mod:`.channels`, :mod:`.queries`, :mod:`.messaging`,
  :mod:`.refusals` — the handlers and renderers, by concern
- :mod:`.wire` (lines, tags, limits), :mod:`.render` (broadcast lines shared by every
  connection with the same capabilities), :mod:`.rooms` (room rules as lines),
  :mod:`.state` (the registration state machine), :mod:`.pending`
"""

from palaver.protocol.irc.dialect import IrcDialect

__all__ = ["IrcDialect"]
