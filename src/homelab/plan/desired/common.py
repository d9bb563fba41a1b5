"""What every layer's desired resources are made of: `Resource`, the builder, digests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from homelab.plan.address import Address


@dataclass(frozen=True)
class Resource:
    address: str
    attrs: dict  # JSON-safe, non-secret
    depends_on: tuple[str, ...] = ()
    immutable: tuple[str, ...] = ()  # attributes whose change forces a replace
    rebuild_with: tuple[str, ...] = ()  # replaced when one of these is created or replaced (same machine)
    source: tuple = ()  # model path, for file:line:col in messages
    no_shrink: tuple[str, ...] = ()  # numeric attributes that cannot decrease in place

    @property
    def addr(self) -> Address:
        kind, _, name = self.address.partition(".")
        return Address(kind, name)

    @property
    def layer(self) -> str:
        return self.addr.layer

    @property
    def engine(self) -> str:
        return self.addr.engine


def digest(value) -> str:
    """A short, stable digest of JSON-able data (policy rules, Helm values...)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def chart_ref(chart) -> str:
    return f"{chart.repo.rstrip('/')}/{chart.name}@{chart.version or 'unpinned'}"


def address(kind: str, name: str) -> str:
    return str(Address(kind, name))


@dataclass
class Builder:
    resources: dict[str, Resource] = field(default_factory=dict)

    def add(self, kind: str, name: str, attrs: dict, **kw) -> str:
        addr = address(kind, name)
        self.resources[addr] = Resource(addr, attrs, **kw)
        return addr
