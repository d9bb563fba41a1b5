"""Typed models of the lab file (format v1). `Lab` is the root."""

from homelab.lab.models.lab import Lab

__all__ = ["Lab"]
