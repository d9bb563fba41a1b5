"""The terraform engine: runs `terraform` (or `tofu`) per rendered environment directory.

For each environment `tf/<env>/` of the rendered repository it runs

    terraform init  -input=false -no-color
    terraform plan  -input=false -no-color -out=<planfile> -detailed-exitcode   (0 none, 2 changes, 1 error)
    terraform show  -json -no-color <planfile>                                 (resource_changes -> Change)
    terraform apply -input=false -no-color <planfile>

and `terraform show -json` (no plan file) to read the state for facts.

Secrets. Proxmox credentials and the Vault password of the `terraform` user are read through
`ctx.read_secret` and handed to Terraform ONLY as `TF_VAR_<name>` environment variables, and only
for variables the environment's `*.tf` files declare (see `SECRET_VARIABLES`); they are added to
`ctx.redactor` before anything runs, so no output we show or keep can contain them. The process
runner refuses an argv holding a known secret.

Where Terraform itself keeps them (measured with Terraform 1.11):
- a `sensitive = true` variable IS stored inside the plan file (zip member `tfplan`) and `terraform
  show -json <planfile>` prints it under `variables`; so the plan file lives in a private temporary
  directory outside the repository (0700/0600) and is deleted right after apply, and we never keep
  the `variables` part of the JSON;
- a variable used in a resource argument lands in `terraform.tfstate` in clear text (why the
  rendered `.gitignore` excludes `*.tfstate*`);
- a variable declared `ephemeral = true` (Terraform >= 1.10; fine for provider blocks such as the
  vault provider's `auth_login_userpass.password`) is in neither the plan file nor the state, and
  must be supplied again at apply, which the engine does.

Addresses. A Terraform resource maps to `proxmox_vm.<vm>` when its module key, index key, resource
name or `name` attribute is a VM of the lab; anything else keeps a `tf_resource.<env>/<tf address>`
address so nothing terraform would do is hidden.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from homelab.engines._process import ProcessResult, ProcessRunner
from homelab.engines.base import ApplyResult, Change, Engine, EngineContext, EngineStatus
from homelab.errors import EngineError

BINARIES = ("terraform", "tofu")
INSTALL_HINT = ("install Terraform (https://developer.hashicorp.com/terraform/install) or OpenTofu "
                "(https://opentofu.org/docs/intro/install/) and make sure `terraform` or `tofu` is on PATH")

# The generated password of the `terraform` Vault userpass account (the user the rendered vault provider
# logs in as, render/terraform.py VAULT_USER): KV path/field as ops/vault_configure.py stores it
# (`automation_path(user)`, PASSWORD_FIELD); a test keeps the two in step.
TERRAFORM_VAULT_PASSWORD = ("automation/terraform", "password")


def _secret_variables(lab) -> dict[str, tuple[str, str]]:
    """Terraform variable name -> (KV path, field) of the secret it receives via TF_VAR_<name>."""
    creds = lab.proxmox.credentials
    return {
        "proxmox_api_token_id": (creds.token_id.path, creds.token_id.field),
        "proxmox_api_token_secret": (creds.token_secret.path, creds.token_secret.field),
        "vault_password": TERRAFORM_VAULT_PASSWORD,
    }


SECRET_VARIABLES: Callable[[object], dict[str, tuple[str, str]]] = _secret_variables

_VARIABLE_RE = re.compile(r'^\s*variable\s+"([A-Za-z_][A-Za-z0-9_-]*)"', re.MULTILINE)
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


def declared_variables(env_dir: Path) -> set[str]:
    names: set[str] = set()
    for tf in sorted(env_dir.glob("*.tf")):
        names.update(_VARIABLE_RE.findall(tf.read_text(encoding="utf-8", errors="replace")))
    return names


def _strip_sensitive(value, mask):
    """Drop every leaf Terraform marks sensitive (mask True) from a value."""
    if mask is True:
        return None
    if isinstance(value, dict):
        m = mask if isinstance(mask, dict) else {}
        out = {}
        for k, v in value.items():
            if m.get(k) is True:
                continue
            out[k] = _strip_sensitive(v, m.get(k))
        return out
    if isinstance(value, list):
        m = mask if isinstance(mask, list) else []
        return [None if (i < len(m) and m[i] is True) else _strip_sensitive(v, m[i] if i < len(m) else None)
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


def _our_address(resource: Mapping, env: str, vm_names: Iterable[str], values: Mapping | None) -> str:
    vm = vm_name_of(resource, vm_names, values)
    return f"proxmox_vm.{vm}" if vm else f"tf_resource.{env}/{resource.get('address')}"


def _changed_keys(before, after, unknown) -> list[str]:
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    unknown = unknown if isinstance(unknown, dict) else {}
    keys = set(before) | set(after) | {k for k, v in unknown.items() if v is True}
    return sorted(k for k in keys if before.get(k) != after.get(k) or unknown.get(k) is True)


def map_resource_changes(show: Mapping, env: str, vm_names: Iterable[str]) -> list[Change]:
    """`terraform show -json <planfile>` -> our Change list (one per address, sorted)."""
    vm_names = list(vm_names)
    merged: dict[str, Change] = {}
    tf_addresses: dict[str, list[str]] = {}
    for rc in show.get("resource_changes") or []:
        change = rc.get("change") or {}
        actions = tuple(change.get("actions") or ())
        action = _ACTIONS.get(actions)
        if action is None:
            raise EngineError(f"terraform planned an action homelab does not know: {list(actions)} "
                              f"for {rc.get('address')} in tf/{env}")
        before = _strip_sensitive(change.get("before"), change.get("before_sensitive"))
        after = _strip_sensitive(change.get("after"), change.get("after_sensitive"))
        unknown = change.get("after_unknown") or {}
        if isinstance(after, dict) and isinstance(unknown, dict):
            for key, flag in unknown.items():
                if flag is True:
                    after[key] = "(known after apply)"
        tf_addr = rc.get("address", "?")
        address = _our_address(rc, env, vm_names, change.get("after") or change.get("before"))
        reason = _reason(action, actions, rc, before, after, unknown, env)
        tf_addresses.setdefault(address, []).append(tf_addr)
        new = Change(address, action, reason,
                     before={"env": env, "terraform": {tf_addr: before}} if before is not None else None,
                     after={"env": env, "terraform": {tf_addr: after}} if after is not None else None)
        old = merged.get(address)
        if old is None:
            merged[address] = new
            continue
        # several Terraform resources make up one of ours: the strongest action wins, reasons add up
        strongest = old.action if _STRENGTH[old.action] >= _STRENGTH[new.action] else new.action
        if {old.action, new.action} == {"create", "delete"}:
            strongest = "replace"
        merged[address] = Change(
            address, strongest,
            old.reason if new.action == "no-op" else (new.reason if old.action == "no-op" else
                                                       f"{old.reason}; {new.reason}"),
            before=_merge_side(old.before, new.before, env), after=_merge_side(old.after, new.after, env))
    return [merged[a] for a in sorted(merged)]


def _merge_side(a, b, env):
    if a is None and b is None:
        return None
    out = {"env": env, "terraform": {}}
    for side in (a, b):
        if side:
            out["terraform"].update(side.get("terraform", {}))
    return out


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
    if action == "delete":
        if actions == ("forget",):
            return f"terraform will forget {addr} (removed from state, not destroyed) ({where})"
        detail = {"delete_because_no_resource_config": "no longer in the configuration",
                  "delete_because_no_module": "its module is no longer in the configuration",
                  "delete_because_count_index": "its count index is gone",
                  "delete_because_each_key": "its for_each key is gone"}.get(why, "")
        return f"terraform will destroy {addr}" + (f": {detail}" if detail else "") + f" ({where})"
    keys = _changed_keys(before, after, unknown)
    if action == "update":
        return f"terraform will update {addr} in place: {', '.join(keys) or 'attributes'} ({where})"
    forced = sorted({".".join(str(p) for p in path) for path in rc.get("change", {}).get("replace_paths") or []})
    if forced:
        return f"terraform must replace {addr}: {', '.join(forced)} forces replacement ({where})"
    detail = {"replace_because_tainted": "it is tainted",
              "replace_by_request": "replacement was requested",
              "replace_by_triggers": "replace_triggered_by changed",
              "replace_because_cannot_update": "a changed attribute cannot be updated in place"}.get(why, "")
    return f"terraform must replace {addr}" + (f": {detail}" if detail else "") + f" ({where})"


def _walk_state_resources(module: Mapping) -> Iterable[dict]:
    yield from module.get("resources") or []
    for child in module.get("child_modules") or []:
        for res in _walk_state_resources(child):
            res = dict(res)
            res.setdefault("module_address", child.get("address"))
            yield res


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)
_GIB_PER = {"": 1, "K": 1 / (1024 * 1024), "M": 1 / 1024, "G": 1, "T": 1024}


def _size_gib(size) -> int | None:
    if isinstance(size, (int, float)):
        return int(size)
    m = _SIZE_RE.match(str(size or ""))
    if not m:
        return None
    return max(1, round(float(m.group(1)) * _GIB_PER[m.group(2).upper()]))


def _first_disk(tree):
    """The first `disk {}` (size, storage) inside the provider's nested `disks` structure."""
    if isinstance(tree, dict):
        disk = tree.get("disk")
        if isinstance(disk, list) and disk and isinstance(disk[0], dict) and "size" in disk[0]:
            return disk[0]
        for key in sorted(tree):
            found = _first_disk(tree[key])
            if found:
                return found
    elif isinstance(tree, list):
        for item in tree:
            found = _first_disk(item)
            if found:
                return found
    return None


def proxmox_vm_facts(values: Mapping) -> dict:
    """Live attributes of a `proxmox_vm_qemu` in the planner's vocabulary (plan/desired.py `proxmox_vm`).
    Only what can be read reliably is reported: the planner compares only the keys an engine reports."""
    out: dict = {}
    if values.get("target_node"):
        out["node"] = values["target_node"]
    if values.get("vmid") is not None:
        out["vmid"] = values["vmid"]
    cpu = values.get("cpu")
    if isinstance(cpu, list) and cpu and isinstance(cpu[0], dict) and cpu[0].get("cores") is not None:
        out["cores"] = cpu[0]["cores"]
    elif values.get("cores") is not None:
        out["cores"] = values["cores"]
    if values.get("memory") is not None:
        out["memory_mib"] = values["memory"]
    if values.get("clone"):
        out["template"] = values["clone"]
    disk = _first_disk(values.get("disks"))
    if disk:
        if _size_gib(disk.get("size")) is not None:
            out["disk_gib"] = _size_gib(disk.get("size"))
        if disk.get("storage"):
            out["storage"] = disk["storage"]
    net = values.get("network")
    if isinstance(net, list) and net and isinstance(net[0], dict):
        if net[0].get("bridge"):
            out["bridge"] = net[0]["bridge"]
        if "tag" in net[0]:
            tag = net[0].get("tag")
            out["vlan"] = tag if isinstance(tag, int) and tag > 0 else None
    ipconfig = values.get("ipconfig0")
    if isinstance(ipconfig, str):
        parts = dict(p.split("=", 1) for p in ipconfig.split(",") if "=" in p)
        ip = parts.get("ip")
        if ip and ip != "dhcp":
            out["ip"] = ip.split("/", 1)[0]
        if parts.get("gw"):
            out["gateway"] = parts["gw"]
    return out


class TerraformEngine(Engine):
    """Engine for the VM layer (`proxmox_vm.*` and any other resource of the rendered tf/ roots)."""

    name = "terraform"

    def __init__(
        self,
        *,
        runner: ProcessRunner | None = None,
        binary: str | None = None,
        env: Mapping[str, str] | None = None,
        plan_timeout: float = 1800.0,
        apply_timeout: float = 3600.0,
        init_timeout: float = 600.0,
        secret_variables: Callable[[object], dict[str, tuple[str, str]]] | None = None,
    ):
        # a generous grace after SIGTERM: terraform stops cleanly and writes its state when signalled
        self.runner = runner or ProcessRunner(kill_grace=60.0)
        self._binary = binary
        self.extra_env = dict(env or {})
        self.plan_timeout = plan_timeout
        self.apply_timeout = apply_timeout
        self.init_timeout = init_timeout
        self.secret_variables = secret_variables or SECRET_VARIABLES

    # ---------------------------------------------------------------- plumbing
    def binary(self) -> str:
        if self._binary:
            return self._binary
        for name in BINARIES:
            found = shutil.which(name)
            if found:
                self._binary = found
                return found
        raise EngineError("neither `terraform` nor `tofu` is on PATH", hint=INSTALL_HINT)

    @staticmethod
    def env_dirs(ctx: EngineContext) -> list[str]:
        root = Path(ctx.workdir) / "tf"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir()
                      if p.is_dir() and p.name != "modules" and any(p.glob("*.tf")))

    @staticmethod
    def env_dir(ctx: EngineContext, env: str) -> Path:
        return Path(ctx.workdir) / "tf" / env

    def _base_env(self) -> dict[str, str]:
        # CHECKPOINT_DISABLE: terraform must never phone home (version check) from here
        return {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1", **self.extra_env}

    def _secret_env(self, ctx: EngineContext, env: str) -> dict[str, str]:
        """TF_VAR_<name> for every declared secret variable, read from Vault (never from files)."""
        wanted = self.secret_variables(ctx.doc.lab)
        declared = declared_variables(self.env_dir(ctx, env))
        overlay: dict[str, str] = {}
        for var in sorted(declared & set(wanted)):
            path, fld = wanted[var]
            if ctx.read_secret is None:
                raise EngineError(
                    f"tf/{env} needs the secret {path}#{fld} (variable {var}) but Vault is not available",
                    hint="configure vault.address (or use the embedded Vault) and run the vault layer first")
            secret = ctx.read_secret(path, fld)
            ctx.redactor.add(secret)
            overlay[f"TF_VAR_{var}"] = secret.reveal()
        return overlay

    def _run(self, ctx: EngineContext, env: str, args: list[str], *, timeout: float,
             overlay: Mapping[str, str] | None = None, capture: bool = False, stream: bool = True) -> ProcessResult:
        on_line = (lambda line: ctx.progress(f"terraform[{env}] {line}")) if stream else None
        return self.runner.run([self.binary(), *args], cwd=self.env_dir(ctx, env),
                               env={**self._base_env(), **(overlay or {})}, timeout=timeout,
                               on_line=on_line, capture_stdout=capture, redactor=ctx.redactor)

    def _fail(self, ctx: EngineContext, env: str, what: str, result: ProcessResult) -> EngineError:
        tail = ctx.redactor(result.tail)
        last = next((ln.strip(" │╷╵") for ln in reversed(tail.splitlines())
                     if ln.strip(" │╷╵") and "Error" in ln), "")
        message = f"terraform {what} failed in tf/{env} (exit {result.rc})" + (f": {last}" if last else "")
        return EngineError(message, output_tail=tail)

    def init(self, ctx: EngineContext, env: str) -> None:
        result = self._run(ctx, env, ["init", "-input=false", "-no-color"], timeout=self.init_timeout)
        if result.rc != 0:
            raise self._fail(ctx, env, "init", result)

    def _plan(self, ctx: EngineContext, env: str, planfile: Path, overlay: Mapping[str, str],
              targets: Iterable[str] = ()) -> bool:
        args = ["plan", "-input=false", "-no-color", f"-out={planfile}", "-detailed-exitcode"]
        args += [f"-target={t}" for t in targets]
        result = self._run(ctx, env, args, timeout=self.plan_timeout, overlay=overlay)
        if result.rc == 0:
            return False
        if result.rc == 2:
            return True
        raise self._fail(ctx, env, "plan", result)

    def _show(self, ctx: EngineContext, env: str, planfile: Path | None = None) -> dict:
        args = ["show", "-json", "-no-color"] + ([str(planfile)] if planfile else [])
        result = self._run(ctx, env, args, timeout=self.plan_timeout, capture=True, stream=False)
        if result.rc != 0:
            raise self._fail(ctx, env, "show", result)
        try:
            data = json.loads(result.stdout or "{}")
        except json.JSONDecodeError as exc:
            raise EngineError(f"terraform show -json in tf/{env} did not print JSON: {exc}") from None
        data.pop("variables", None)  # holds sensitive variable values in clear text
        return data

    def _vm_names(self, ctx: EngineContext) -> list[str]:
        return [vm.name for vm in ctx.doc.inventory.vms]

    # ---------------------------------------------------------------- Engine protocol
    def status(self, ctx: EngineContext) -> EngineStatus:
        if not ctx.doc.lab.proxmox.endpoint:
            return EngineStatus(False, False, "proxmox.endpoint is not set")
        try:
            binary = self.binary()
        except EngineError as exc:
            return EngineStatus(True, False, exc.message)
        envs = self.env_dirs(ctx)
        if not envs:
            return EngineStatus(True, False, "no rendered Terraform environments under tf/ (run `homelab render`)")
        for env in envs:
            try:
                self.init(ctx, env)
            except EngineError as exc:
                return EngineStatus(True, False, exc.message)
        return EngineStatus(True, True, f"{Path(binary).name} initialised tf/{{{','.join(envs)}}}")

    def plan_changes(self, ctx: EngineContext, envs: Iterable[str] | None = None) -> list[Change]:
        """What Terraform itself would change, per environment (init + plan + show; nothing applied)."""
        changes: list[Change] = []
        for env in sorted(envs) if envs is not None else self.env_dirs(ctx):
            with _private_dir() as tmp:
                self.init(ctx, env)
                planfile = tmp / f"{env}.tfplan"
                self._plan(ctx, env, planfile, self._secret_env(ctx, env))
                # shown even when there is nothing to do: every resource then comes back as a no-op
                changes.extend(map_resource_changes(self._show(ctx, env, planfile), env, self._vm_names(ctx)))
        return sorted(changes, key=lambda c: c.address)

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        wanted = set(addresses)
        facts: dict[str, dict] = {}
        names = self._vm_names(ctx)
        for env in self.env_dirs(ctx):
            if not (self.env_dir(ctx, env) / "terraform.tfstate").exists():
                continue
            state = self._show(ctx, env)
            root = (state.get("values") or {}).get("root_module") or {}
            for res in _walk_state_resources(root):
                if res.get("mode") != "managed":
                    continue
                values = _strip_sensitive(res.get("values") or {}, res.get("sensitive_values") or {})
                address = _our_address(res, env, names, res.get("values"))
                if address not in wanted:
                    continue
                entry = facts.setdefault(address, {"env": env, "terraform": {}})
                entry["terraform"][res["address"]] = values
                if res.get("type") == "proxmox_vm_qemu":
                    entry.update(proxmox_vm_facts(values))
        return facts

    def _env_of(self, ctx: EngineContext, change: Change) -> str:
        kind, _, rest = change.address.partition(".")
        if kind == "tf_resource":
            return rest.split("/", 1)[0]
        if kind != "proxmox_vm":
            raise EngineError(f"the terraform engine cannot apply {change.address}")
        vm = ctx.doc.inventory.by_name.get(rest)
        if vm is not None:
            return vm.env
        for side in (change.before, change.after):
            if side and side.get("env"):
                return side["env"]
        # a removed VM without recorded facts: the environment whose state still holds it
        holders = [env for env, found in ((e, self.read_facts_env(ctx, e)) for e in self.env_dirs(ctx))
                   if change.address in found]
        if len(holders) == 1:
            return holders[0]
        raise EngineError(f"cannot tell which Terraform environment {change.address} belongs to")

    def read_facts_env(self, ctx: EngineContext, env: str) -> set[str]:
        if not (self.env_dir(ctx, env) / "terraform.tfstate").exists():
            return set()
        state = self._show(ctx, env)
        root = (state.get("values") or {}).get("root_module") or {}
        return {_our_address(r, env, self._vm_names(ctx), r.get("values")) for r in _walk_state_resources(root)}

    @staticmethod
    def partition(changes: list[Change]) -> list[list[Change]]:
        """One unit per Terraform environment (separate state, may run in parallel); changes whose
        environment the change itself does not name stay together in one last unit."""
        groups: dict[str, list[Change]] = {}
        rest: list[Change] = []
        for c in changes:
            kind, _, name = c.address.partition(".")
            env = name.split("/", 1)[0] if kind == "tf_resource" else next(
                (side["env"] for side in (c.after, c.before) if side and side.get("env")), None)
            (groups.setdefault(env, []) if env else rest).append(c)
        return [groups[e] for e in sorted(groups)] + ([rest] if rest else [])

    def apply(self, ctx: EngineContext, changes: list[Change]) -> list[ApplyResult]:
        by_env: dict[str, list[Change]] = {}
        for change in changes:
            by_env.setdefault(self._env_of(ctx, change), []).append(change)
        results: list[ApplyResult] = []
        for env in sorted(by_env):
            try:
                results.extend(self._apply_env(ctx, env, by_env[env]))
            except EngineError as exc:
                exc.results = list(results)  # what succeeded before the failure
                raise
        return results

    def _apply_env(self, ctx: EngineContext, env: str, changes: list[Change]) -> list[ApplyResult]:
        if not self.env_dir(ctx, env).is_dir():
            raise EngineError(f"tf/{env} does not exist in {ctx.workdir}", hint="run `homelab render` first")
        handed = {c.address for c in changes}
        names = self._vm_names(ctx)
        pending: list[str] = []
        tail = ""
        done: dict[str, Change] = {}
        with _private_dir() as tmp:
            self.init(ctx, env)
            overlay = self._secret_env(ctx, env)
            planfile = tmp / f"{env}.tfplan"
            ctx.progress(f"terraform[{env}] planning")
            planned: list[Change] = []
            if self._plan(ctx, env, planfile, overlay):
                planned = [c for c in map_resource_changes(self._show(ctx, env, planfile), env, names)
                           if c.action != "no-op"]
            pending = sorted(c.address for c in planned if c.address not in handed)
            mine = [c for c in planned if c.address in handed]
            if pending and mine:
                # terraform would also change resources this batch was not handed (drift the lab does not
                # model, or a later batch): apply only ours, with -target, and say what is left
                targets = sorted({tf for c in mine for side in (c.before, c.after) if side
                                  for tf in side.get("terraform", {})})
                ctx.progress(f"terraform[{env}] limiting the apply to {', '.join(sorted(c.address for c in mine))}")
                self._plan(ctx, env, planfile, overlay, targets=targets)
                mine = [c for c in map_resource_changes(self._show(ctx, env, planfile), env, names)
                        if c.action != "no-op"]
                stray = sorted(c.address for c in mine if c.address not in handed)
                if stray:
                    raise EngineError(f"terraform would also change {', '.join(stray)} in tf/{env} even with "
                                      "-target; nothing was applied",
                                      hint="run `homelab plan` again: the plan is out of date")
            if mine:
                ctx.progress(f"terraform[{env}] applying {len(mine)} change(s)")
                result = self._run(ctx, env, ["apply", "-input=false", "-no-color", str(planfile)],
                                   timeout=self.apply_timeout, overlay=overlay)
                if result.rc != 0:
                    raise self._fail(ctx, env, "apply", result)
                tail = result.tail
                done = {c.address: c for c in mine}
        facts = self.read_facts(ctx, sorted(handed))
        note = (f" (terraform has other pending changes in tf/{env}, not applied: {', '.join(pending)})"
                if pending else "")
        results = []
        for change in sorted(changes, key=lambda c: c.address):
            tf_change = done.get(change.address)
            message = (f"terraform {tf_change.action}d {change.address}" if tf_change
                       else f"terraform: {change.address} needed no change in tf/{env}")
            results.append(ApplyResult(change.address, True, message + note, attrs=facts.get(change.address, {}),
                                       output_tail=ctx.redactor(tail)))
        return results


class _private_dir:
    """A 0700 temporary directory outside the repository for plan files; removed on exit."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="homelab-tfplan-"))
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
