"""One connection's limits, decided in one place for every door: sans-I/O, time passed in.

How this works: a transport tells its :class:`ConnectionPolicy` what happened and does what the
answer says; the policy never touches a socket, a loop or a clock (tests drive it with a fake
clock, tests/unit/test_connection_policy.py). The same object serves the byte-stream doors
(JSON lines, text, IRC: ``transports/stream.py``) and the WebSocket doors (JSON and IRC:
``transports/websocket.py``); docs/limits.md describes the rules.

- :meth:`~ConnectionPolicy.arrived`: bytes were read (a chunk of the stream, or one WebSocket
  message), before any of them is handled. Before registration they count against
  ``prelogin_bytes`` (unless the door is exempt: the text door, :meth:`set_byte_cap`); over it,
  the answer is the reason to cut the connection off, and nothing of that read is handled.
- :meth:`~ConnectionPolicy.refused`: the decoder refused a frame (its error is reported by the
  transport first). Before registration the ``prelogin_bad_frames``-th one cuts the connection.
- :meth:`~ConnectionPolicy.admit`: one frame wants a token of the rate limit. None: go on. A
  :class:`Pause`: the connection is *throttled* — read nothing more for ``Pause.wait`` seconds,
  then call :meth:`unthrottle` and ask again; ``Pause.notice`` is the ``rate_limited`` error to
  tell the client, or None when it is better left unsaid (the rest of a storm; IRC's first
  delays, "fakelag"). :meth:`admit_all` takes the tokens of several frames at once when they are
  all there (a stream read full of lines, the usual case), or takes nothing.
- Read pauses: a connection is not read while it is throttled, while a login it sent is being
  checked (:meth:`wait_login` … :meth:`login_done`), or once it is :attr:`stopped` (cut off as
  junk, or the server shuts down: act on nothing more). :meth:`reading` says whether to read.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from palaver.protocol.errors import ErrorCode, PeerError
from palaver.server.limits import FrameGate, Limits

TOO_MUCH_DATA: Final = "too much data before HELLO"
TOO_MANY_BAD_FRAMES: Final = "too many bad frames before HELLO"


class Pause(NamedTuple):
    """Out of tokens: read nothing for ``wait`` seconds; tell the client ``notice`` (or not)."""

    wait: float
    notice: PeerError | None


def rate_limited(retry_after_ms: int) -> PeerError:
    """The error a throttled client is told (each door renders it in its own way)."""
    return PeerError(ErrorCode.RATE_LIMITED, f"too many messages: wait {retry_after_ms} ms",
                     retry_after_ms=retry_after_ms)


class ConnectionPolicy(FrameGate):
    """The rate gate, the caps before registration and the read pauses of one connection.

    It is its own :class:`~palaver.server.limits.FrameGate` (one object per connection, not
    two: fewer bytes per idle connection)."""

    __slots__ = ("_bad", "_bytes", "_login", "_throttled", "registered", "stopped")

    def __init__(self, limits: Limits, *, notice_after: int = 1, byte_cap: bool = True) -> None:
        """``notice_after``: tell the client at the n-th pause of a storm (1: at the first);
        ``byte_cap``: count the bytes read before registration against ``prelogin_bytes``."""
        super().__init__(limits.gate_rule(notice_after))  # (its rule holds the caps too)
        self._bytes: int | None = 0 if byte_cap else None  # read before registration; None: no cap
        self._bad = 0  # frames refused before registration
        self._throttled = False
        self._login = False
        self.registered = False  # learnt from the transport, once (registration is never undone)
        self.stopped = False  # cut off as junk, or shutting down: act on nothing more

    # ------------------------------------------------------------------ before registration

    def set_byte_cap(self, on: bool) -> None:
        """Cap the bytes read before registration (from now on, from zero), or stop capping
        them (the text door: its nickless line programs may stay unregistered)."""
        self._bytes = 0 if on else None

    def arrived(self, size: int, registered: bool) -> str | None:
        """``size`` bytes were read; ``registered``: the connection is registered now (the
        transport asks the hub; once :attr:`registered` is true it need not call this at all).
        The reason to cut the connection off, or None."""
        if self.registered:
            return None
        if registered:
            self.registered = True
            return None
        if self._bytes is None:
            return None
        self._bytes += size
        if self._bytes > self._rule.prelogin_bytes:
            return TOO_MUCH_DATA
        return None

    def refused(self, registered: bool) -> str | None:
        """The decoder refused a frame (its error is on its way). The reason to cut the
        connection off, or None."""
        if self.registered:
            return None
        if registered:
            self.registered = True
            return None
        self._bad += 1
        return TOO_MANY_BAD_FRAMES if self._bad >= self._rule.prelogin_bad_frames else None

    # ------------------------------------------------------------------ the rate limit

    def admit_all(self, now: float, frames: int) -> bool:
        """Take ``frames`` tokens if they are all there (True), else none (False). Starts no
        pause: the caller goes on frame by frame with :meth:`admit`."""
        return not self._throttled and self.take(now, frames) == 0.0

    def admit(self, now: float) -> Pause | None:
        """One frame may be handled now (None), or the connection is throttled from now on."""
        wait = self.take(now)
        if not wait:
            return None
        self._throttled = True
        retry = self.episode(now, wait)
        return Pause(wait, None if retry is None else rate_limited(retry))

    def unthrottle(self) -> None:
        """The pause is over (the next frame asks :meth:`admit` again)."""
        self._throttled = False

    @property
    def throttled(self) -> bool:
        return self._throttled

    # ------------------------------------------------------------------ read pauses

    def wait_login(self) -> None:
        """A login is being checked: what was read after it waits, and nothing more is read."""
        self._login = True

    def login_done(self) -> None:
        self._login = False

    @property
    def waiting_login(self) -> bool:
        return self._login

    def stop(self) -> None:
        """Act on nothing more from this connection (junk, or the server is shutting down)."""
        self.stopped = True

    def held(self) -> bool:
        """Is what was read made to wait (throttled, or a login being checked)?"""
        return self._throttled or self._login

    def reading(self, closing: bool) -> bool:
        """Should the transport read? A ``closing`` connection reads (and drops) what comes,
        to see the peer's end at once; otherwise not while stopped, throttled or in a login."""
        return closing or not (self.stopped or self._throttled or self._login)
