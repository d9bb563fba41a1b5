"""The terraform engine: runs `terraform` (or `tofu`) per rendered environment directory `tf/<env>/`.

Apply of a batch, per environment:

    terraform init  -input=false -no-color
    terraform plan  -input=false -no-color -out=<planfile> -detailed-exitcode   (0 none, 2 changes, 1 error)
    terraform show  -json -no-color <planfile>                                 (resource_changes -> Change)
    terraform apply -input=false -no-color <planfile>

When Terraform would also change resources the batch was not handed (drift the lab does not model, or a
later batch), it plans again with `-target=` the handed resources, applies only those, and says what is
left; a target that still drags in others stops the apply before anything runs. Facts come from
`terraform show -json` (no plan file: the state). Every run has `TF_IN_AUTOMATION=1`, `TF_INPUT=0` and
`CHECKPOINT_DISABLE=1` (no version check phoning home) and a generous SIGTERM grace: terraform stops
cleanly and writes its state when signalled. Secrets: see credentials.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from homelab.engines._process import ProcessResult, ProcessRunner
from homelab.engines.base import ApplyResult, Change, Engine, EngineContext, EngineStatus
from homelab.engines.terraform.credentials import private_dir, secret_env
from homelab.engines.terraform.show import (
    map_resource_changes,
    our_address,
    parse_show,
    state_resources,
    strip_sensitive,
)
from homelab.engines.terraform.vm_facts import proxmox_vm_facts
from homelab.errors import EngineError

BINARIES = ("terraform", "tofu")
INSTALL_HINT = ("install Terraform (https://developer.hashicorp.com/terraform/install) or OpenTofu "
                "(https://opentofu.org/docs/intro/install/) and make sure `terraform` or `tofu` is on PATH")
# CHECKPOINT_DISABLE: terraform must never phone home (version check) from here
BASE_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}


class TerraformEngine(Engine):
    """Engine for the VM layer (`proxmox_vm.*` and any other resource of the rendered tf/ roots)."""

    name = "terraform"
    plan_timeout = 1800.0
    apply_timeout = 3600.0
    init_timeout = 600.0

    def __init__(self, *, runner: ProcessRunner | None = None):
        self.runner = runner or ProcessRunner(kill_grace=60.0)
        self._binary: str | None = None

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

    def _run(self, ctx: EngineContext, env: str, args: list[str], *, timeout: float,
             overlay: Mapping[str, str] | None = None, capture: bool = False, stream: bool = True) -> ProcessResult:
        on_line = (lambda line: ctx.progress(f"terraform[{env}] {line}")) if stream else None
        return self.runner.run([self.binary(), *args], cwd=self.env_dir(ctx, env), env={**BASE_ENV, **(overlay or {})},
                               timeout=timeout, on_line=on_line, capture_stdout=capture, redactor=ctx.redactor)

    @staticmethod
    def _fail(ctx: EngineContext, env: str, what: str, result: ProcessResult) -> EngineError:
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
        return parse_show(result.stdout, env)

    def _planned(self, ctx: EngineContext, env: str, planfile: Path, overlay: Mapping[str, str],
                 targets: Iterable[str] = ()) -> list[Change]:
        """plan (+ show when it reports changes): what this plan file would change, by our address."""
        if not self._plan(ctx, env, planfile, overlay, targets):
            return []
        return [c for c in map_resource_changes(self._show(ctx, env, planfile), env, self._vm_names(ctx))
                if c.action != "no-op"]

    @staticmethod
    def _vm_names(ctx: EngineContext) -> list[str]:
        return [vm.name for vm in ctx.doc.inventory.vms]

    def _state_resources(self, ctx: EngineContext, env: str) -> Iterable[tuple[str, dict]]:
        """(our address, resource) of every resource in tf/<env>'s state; nothing before the first apply."""
        if not (self.env_dir(ctx, env) / "terraform.tfstate").exists():
            return
        names = self._vm_names(ctx)
        for res in state_resources(self._show(ctx, env)):
            yield our_address(res, env, names, res.get("values")), res

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

    def read_facts(self, ctx: EngineContext, addresses: list[str]) -> dict[str, dict]:
        wanted = set(addresses)
        facts: dict[str, dict] = {}
        for env in self.env_dirs(ctx):
            for address, res in self._state_resources(ctx, env):
                if res.get("mode") != "managed" or address not in wanted:
                    continue
                values = strip_sensitive(res.get("values") or {}, res.get("sensitive_values") or {})
                entry = facts.setdefault(address, {"env": env, "terraform": {}})
                entry["terraform"][res["address"]] = values
                if res.get("type") == "proxmox_vm_qemu":
                    entry.update(proxmox_vm_facts(values))
        return facts

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

    # ---------------------------------------------------------------- apply
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
        holders = [env for env in self.env_dirs(ctx)
                   if change.address in {address for address, _ in self._state_resources(ctx, env)}]
        if len(holders) == 1:
            return holders[0]
        raise EngineError(f"cannot tell which Terraform environment {change.address} belongs to")

    def _apply_env(self, ctx: EngineContext, env: str, changes: list[Change]) -> list[ApplyResult]:
        if not self.env_dir(ctx, env).is_dir():
            raise EngineError(f"tf/{env} does not exist in {ctx.workdir}", hint="run `homelab render` first")
        handed = {c.address for c in changes}
        with private_dir() as tmp:
            self.init(ctx, env)
            overlay = secret_env(ctx, self.env_dir(ctx, env), env)
            planfile = tmp / f"{env}.tfplan"
            ctx.progress(f"terraform[{env}] planning")
            planned = self._planned(ctx, env, planfile, overlay)
            pending = sorted(c.address for c in planned if c.address not in handed)
            mine = [c for c in planned if c.address in handed]
            if pending and mine:
                mine = self._limit_to(ctx, env, planfile, overlay, mine, handed)
            tail = ""
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

    def _limit_to(self, ctx: EngineContext, env: str, planfile: Path, overlay: Mapping[str, str],
                  mine: list[Change], handed: set[str]) -> list[Change]:
        """Plan again with -target= the Terraform resources of the handed changes; refuse when that plan still
        changes anything else."""
        targets = sorted({tf for c in mine for side in (c.before, c.after) if side for tf in side.get("terraform", {})})
        ctx.progress(f"terraform[{env}] limiting the apply to {', '.join(sorted(c.address for c in mine))}")
        mine = self._planned(ctx, env, planfile, overlay, targets)
        stray = sorted(c.address for c in mine if c.address not in handed)
        if stray:
            raise EngineError(f"terraform would also change {', '.join(stray)} in tf/{env} even with "
                              "-target; nothing was applied", hint="run `homelab plan` again: the plan is out of date")
        return mine
