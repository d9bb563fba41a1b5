"""Reading `terraform show -json`: a saved plan as our Changes, the state as resources by our address.

Shapes (JSON output format "1.2", Terraform 1.11):

- plan: `resource_changes[]` with `address`, `module_address`, `mode`, `type`, `name`, `index` (a count
  index or for_each key), `action_reason`, and `change` = {`actions`, `before`, `after`, `after_unknown`,
  `before_sensitive`, `after_sensitive`, `replace_paths`};
- state (no plan file): `values.root_module` = {`resources[]`, `child_modules[]`} (each child a module
  with its own `address`), a resource carrying `values` and `sensitive_values`.

Sensitive values. Every `*_sensitive` / `sensitive_values` structure mirrors its value with `true` at
each sensitive leaf: those leaves are dropped before anything is kept. The top-level `variables` of a
plan's JSON holds the value of every variable — sensitive ones in clear text — so it is dropped as
soon as the JSON is read (`parse_show`).

Addresses. A Terraform resource maps to `proxmox_vm.<vm>` when its module key, index key, resource
name or `name` attribute is a VM of the lab; anything else keeps a `tf_resource.<env>/<tf address>`
address so nothing terraform would do is hidden. Several Terraform resources of one VM make one Change:
the strongest action wins and the reasons add up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from homelab.engines.base import Change
from homelab.errors import EngineError

_MODULE_KEY_RE = re.compile(r'^module\.([A-Za-z0-9_-]+)(?:\["([^"]+)"\])?')

_ACTIONS = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("no-op",): "no-op",
    ("read",): "no-op",
    ("forget",): "delete",
}
_STRENGTH = {"no-op": 0, "update": 1, "create": 2, "delete": 2, "replace": 3}
_DESTROY_BECAUSE = {"delete_because_no_resource_config": "no longer in the configuration",
                    "delete_because_no_module": "its module is no longer in the configuration",
                    "delete_because_count_index": "its count index is gone",
                    "delete_because_each_key": "its for_each key is gone"}
_REPLACE_BECAUSE = {"replace_because_tainted": "it is tainted",
                    "replace_by_request": "replacement was requested",
                    "replace_by_triggers": "replace_triggered_by changed",
                    "replace_because_cannot_update": "a changed attribute cannot be updated in place"}


def parse_show(stdout: str | None, env: str) -> dict:
    """The JSON `terraform show -json` printed, without `variables` (sensitive values in clear text)."""
    try:
        data = json.loads(stdout or "{}")
    except json.JSONDecodeError as exc:
        raise EngineError(f"terraform show -json in tf/{env} did not print JSON: {exc}") from None
    data.pop("variables", None)
    return data


def strip_sensitive(value, mask):
    """Drop every leaf Terraform marks sensitive (mask True) from a value."""
    if mask is True:
        return None
    if isinstance(value, dict):
        m = mask if isinstance(mask, dict) else {}
        out = {}
        for k, v in value.items():
            if m.get(k) is True:
                continue
            out[k] = strip_sensitive(v, m.get(k))
        return out
    if isinstance(value, list):
        m = mask if isinstance(mask, list) else []
        return [None if (i < len(m) and m[i] is True) else strip_sensitive(v, m[i] if i < len(m) else None)
                for i, v in enumerate(value)]
    return value


def vm_name_of(resource: Mapping, vm_names: Iterable[str], values: Mapping | None = None) -> str | None:
    """Which lab VM a Terraform resource (from show -json) belongs to, if any."""
    names = set(vm_names)
    module = resource.get("module_address") or ""
    if not module:
        m = _MODULE_KEY_RE.match(resource.get("address", ""))
        module = m.group(0) if m else ""
    if module:
        m = _MODULE_KEY_RE.match(module)
        if m:
            for candidate in (m.group(2), m.group(1), m.group(1).removeprefix("vm_")):
                if candidate in names:
                    return candidate
    index = resource.get("index")
    if isinstance(index, str) and index in names:
        return index
    if resource.get("name") in names:
        return resource["name"]
    if values and isinstance(values.get("name"), str) and values["name"] in names:
        return values["name"]
    return None


def our_address(resource: Mapping, env: str, vm_names: Iterable[str], values: Mapping | None) -> str:
    vm = vm_name_of(resource, vm_names, values)
    return f"proxmox_vm.{vm}" if vm else f"tf_resource.{env}/{resource.get('address')}"


def state_resources(show: Mapping) -> Iterable[dict]:
    """Every resource of a state's JSON, child modules' ones with their `module_address`."""

    def walk(module: Mapping) -> Iterable[dict]:
        yield from module.get("resources") or []
        for child in module.get("child_modules") or []:
            for res in walk(child):
                res = dict(res)
                res.setdefault("module_address", child.get("address"))
                yield res

    yield from walk((show.get("values") or {}).get("root_module") or {})


def map_resource_changes(show: Mapping, env: str, vm_names: Iterable[str]) -> list[Change]:
    """`terraform show -json <planfile>` -> our Change list (one per address, sorted)."""
    vm_names = list(vm_names)
    merged: dict[str, Change] = {}
    for rc in show.get("resource_changes") or []:
        new = _change_of(rc, env, vm_names)
        old = merged.get(new.address)
        merged[new.address] = new if old is None else _merged(old, new, env)
    return [merged[a] for a in sorted(merged)]


def _change_of(rc: Mapping, env: str, vm_names: list[str]) -> Change:
    change = rc.get("change") or {}
    actions = tuple(change.get("actions") or ())
    action = _ACTIONS.get(actions)
    if action is None:
        raise EngineError(f"terraform planned an action homelab does not know: {list(actions)} "
                          f"for {rc.get('address')} in tf/{env}")
    before = strip_sensitive(change.get("before"), change.get("before_sensitive"))
    after = strip_sensitive(change.get("after"), change.get("after_sensitive"))
    unknown = change.get("after_unknown") or {}
    if isinstance(after, dict) and isinstance(unknown, dict):
        for key, flag in unknown.items():
            if flag is True:
                after[key] = "(known after apply)"
    tf_addr = rc.get("address", "?")
    address = our_address(rc, env, vm_names, change.get("after") or change.get("before"))
    return Change(address, action, _reason(action, actions, rc, before, after, unknown, env),
                  before={"env": env, "terraform": {tf_addr: before}} if before is not None else None,
                  after={"env": env, "terraform": {tf_addr: after}} if after is not None else None)


def _merged(old: Change, new: Change, env: str) -> Change:
    """Several Terraform resources make up one of ours: the strongest action wins, reasons add up."""
    strongest = old.action if _STRENGTH[old.action] >= _STRENGTH[new.action] else new.action
    if {old.action, new.action} == {"create", "delete"}:
        strongest = "replace"
    reason = (old.reason if new.action == "no-op" else
              new.reason if old.action == "no-op" else f"{old.reason}; {new.reason}")
    return Change(old.address, strongest, reason,
                  before=_merge_side(old.before, new.before, env), after=_merge_side(old.after, new.after, env))


def _merge_side(a, b, env):
    if a is None and b is None:
        return None
    out = {"env": env, "terraform": {}}
    for side in (a, b):
        if side:
            out["terraform"].update(side.get("terraform", {}))
    return out


def _changed_keys(before, after, unknown) -> list[str]:
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    unknown = unknown if isinstance(unknown, dict) else {}
    keys = set(before) | set(after) | {k for k, v in unknown.items() if v is True}
    return sorted(k for k in keys if before.get(k) != after.get(k) or unknown.get(k) is True)


def _reason(action, actions, rc, before, after, unknown, env) -> str:
    addr = rc.get("address")
    why = rc.get("action_reason")
    where = f"tf/{env}"
    if actions == ("read",):
        return f"terraform reads data source {addr} ({where})"
    if action == "no-op":
        return f"terraform: {addr} is up to date ({where})"
    if action == "create":
        return f"terraform will create {addr} ({where})"
    if actions == ("forget",):
        return f"terraform will forget {addr} (removed from state, not destroyed) ({where})"
    if action == "delete":
        return _because(f"terraform will destroy {addr}", _DESTROY_BECAUSE.get(why), where)
    if action == "update":
        keys = _changed_keys(before, after, unknown)
        return f"terraform will update {addr} in place: {', '.join(keys) or 'attributes'} ({where})"
    forced = sorted({".".join(str(p) for p in path) for path in rc.get("change", {}).get("replace_paths") or []})
    if forced:
        return f"terraform must replace {addr}: {', '.join(forced)} forces replacement ({where})"
    return _because(f"terraform must replace {addr}", _REPLACE_BECAUSE.get(why), where)


def _because(what: str, detail: str | None, where: str) -> str:
    return what + (f": {detail}" if detail else "") + f" ({where})"
