"""The pure domain: users, sessions, rooms, presence and routing. No sockets, no clock, no DB."""

from palaver.hub.effects import Close, Deliver, Effect
from palaver.hub.hub import Hub, HubConfig

__all__ = ["Close", "Deliver", "Effect", "Hub", "HubConfig"]
