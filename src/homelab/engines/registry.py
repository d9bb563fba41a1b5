"""Engines by name, imported lazily.

`Registry.get(name)` imports `homelab.engines.<name>` on first use and builds its engine: the module's
`create_engine()` if it has one, else its `<Name>Engine` class (e.g. `TerraformEngine`), built without
arguments. When the module does not exist yet (the ansible adapter comes with the next issue) the
registry hands out a `NotConfiguredEngine` whose status says so — its layers show as
"not configured" in the plan and are skipped, with that reason, by apply. Tests pass `overrides`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from homelab.engines.base import ApplyResult, Change, EngineContext, EngineStatus
from homelab.errors import EngineError

ENGINE_MODULES = {
    "vault": "homelab.engines.vault",
    "terraform": "homelab.engines.terraform",
    "ansible": "homelab.engines.ansible",
    "kubernetes": "homelab.engines.kubernetes",
}

WHY_MISSING = {
    "ansible": "the ansible engine is not available yet (homelab.engines.ansible is not installed); "
               "hosts and clusters are planned from state",
}


class NotConfiguredEngine:
    """An honest stand-in: never reachable, never applies anything, says why."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason

    def status(self, ctx: EngineContext) -> EngineStatus:
        return EngineStatus(configured=False, reachable=False, reason=self.reason)

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        return {}

    def apply(self, ctx: EngineContext, changes: list[Change]) -> list[ApplyResult]:
        raise EngineError(f"the {self.name} engine is not configured: {self.reason}")


def _build(name: str):
    module_name = ENGINE_MODULES.get(name, f"homelab.engines.{name}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return NotConfiguredEngine(name, WHY_MISSING.get(
                name, f"the {name} engine is not available yet ({module_name} is not installed)"))
        raise
    factory = getattr(module, "create_engine", None)
    if callable(factory):
        return factory()
    cls = getattr(module, f"{name.capitalize()}Engine", None)
    if cls is None:
        cls = next((obj for obj in vars(module).values()
                    if isinstance(obj, type) and getattr(obj, "name", None) == name
                    and all(hasattr(obj, m) for m in ("status", "read_facts", "apply"))), None)
    if cls is None:
        return NotConfiguredEngine(name, f"{module_name} defines no engine")
    return cls()


class Registry:
    def __init__(self, overrides: Mapping[str, object] | None = None):
        self._engines: dict[str, object] = dict(overrides or {})

    def get(self, name: str):
        if name not in self._engines:
            self._engines[name] = _build(name)
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
