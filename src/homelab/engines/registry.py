"""Engines by name, imported lazily (terraform and kubernetes pull in more than `homelab check` needs).

`ENGINES` is the whole table: every engine the plan's layers name (plan/address.py LAYER_ENGINE) has
an entry, and an unknown name is an error, not a silent stand-in. Tests pass `overrides`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from homelab.engines.base import Engine
from homelab.errors import EngineError

ENGINES: dict[str, tuple[str, str]] = {
    "vault": ("homelab.engines.vault", "VaultEngine"),
    "terraform": ("homelab.engines.terraform", "TerraformEngine"),
    "ansible": ("homelab.engines.ansible", "AnsibleEngine"),
    "kubernetes": ("homelab.engines.kubernetes", "KubernetesEngine"),
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


def vault_secret_reader(doc, state_dir):
    """A lazy `(path, field) -> Secret` reading Vault KV v2 the way the vault commands do (same address,
    keys file and token precedence). Nothing is contacted until the first read."""
    cache: dict = {}

    def read(path: str, field: str):
        from homelab.secrets import REDACTOR, Secret

        if "api" not in cache:
            from homelab.ops.vault_context import authenticate, resolve_target

            target = resolve_target(doc.lab, state_dir=state_dir)
            cache["api"] = authenticate(target, doc.lab)
        got = cache["api"].kv_read(path)
        if got is None or field not in got[0]:
            raise EngineError(f"Vault has no value for {path}#{field}",
                              f"set it with `homelab secrets put {path}` (or generate it with the vault layer)")
        value = Secret(got[0][field])
        REDACTOR.add(value)
        return value

    return read
