"""Engines by name, imported lazily (terraform and kubernetes pull in more than `homelab check` needs).

`ENGINES` is the whole table: every engine the plan's layers name (plan/address.py LAYER_ENGINE) has
an entry, and an unknown name is an error, not a silent stand-in. Tests pass `overrides`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from homelab.engines.base import Engine

ENGINES: dict[str, tuple[str, str]] = {
    "vault": ("homelab.engines.vault", "VaultEngine"),
    "terraform": ("homelab.engines.terraform", "TerraformEngine"),
    "ansible": ("homelab.engines.ansible", "AnsibleEngine"),
    "kubernetes": ("homelab.engines.kubernetes", "KubernetesEngine"),
    "truenas": ("homelab.engines.truenas", "TrueNasEngine"),
}


class UnknownEngineError(LookupError):
    """A programming error: a layer names an engine the registry does not have."""


def build(name: str) -> Engine:
    try:
        module_name, class_name = ENGINES[name]
    except KeyError:
        raise UnknownEngineError(f"no engine named {name!r} (known: {', '.join(sorted(ENGINES))})") from None
    return getattr(importlib.import_module(module_name), class_name)()


class Registry:
    def __init__(self, overrides: Mapping[str, object] | None = None):
        self._engines: dict[str, object] = dict(overrides or {})

    def get(self, name: str):
        if name not in self._engines:
            self._engines[name] = build(name)
        return self._engines[name]

    __call__ = get
