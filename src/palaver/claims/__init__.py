"""Cluster-wide nick claims: each nick's lookalike skeleton held by one node, under a lease.

:class:`Claims` is the port (claims/base.py), :class:`MemoryClaims` its in-process twin, and
PostgresClaims (claims/postgres.py, imported on demand) the cluster's PostgreSQL backend.
"""

from palaver.claims.base import Claim, Claims, ClaimsError, NoLease
from palaver.claims.memory import MemoryClaims

__all__ = ["Claim", "Claims", "ClaimsError", "MemoryClaims", "NoLease"]
