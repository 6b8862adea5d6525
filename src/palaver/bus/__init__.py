"""The cluster's bus: committed messages told to every node (a hint; the store is the truth).

:class:`Bus` is the port (bus/base.py), :class:`LocalBus` its in-process twin, RedisBus
(bus/redis_bus.py, imported on demand: it needs redis-py) the Redis pub/sub backend, and
:class:`Sequencer` puts what arrives back in id order, reading holes from the store.
"""

from palaver.bus.base import Bus, BusError, BusReceiver, shard_of
from palaver.bus.local import LocalBroker, LocalBus
from palaver.bus.sequencer import Hole, Sequencer

__all__ = ["Bus", "BusError", "BusReceiver", "Hole", "LocalBroker", "LocalBus", "Sequencer",
           "shard_of"]
