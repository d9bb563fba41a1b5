"""The truenas engine: ZFS snapshot and replication tasks through the TrueNAS REST API (see engine.py)."""

from homelab.engines.truenas.engine import TrueNasEngine

__all__ = ["TrueNasEngine"]
