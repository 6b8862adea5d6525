"""The Roster port: who is in which room on which node of a cluster (roster/base.py)."""

from palaver.roster.base import Member, Roster
from palaver.roster.memory import MemoryRoster

__all__ = ["Member", "MemoryRoster", "Roster"]
