"""The terraform engine against the REAL `terraform` binary, offline.

The Proxmox provider cannot be downloaded here, so the environment directories are built from the
built-in `terraform_data` resource (no download). They exercise what the engine does with the
rendered `tf/<env>/` roots: apply (init -> plan -out -> show -json -> apply) -> apply again (plan says
no changes) -> edit -> update / replace, and prove that credentials reach Terraform through the
environment only.
"""

from __future__ import annotations

import dataclasses
import shutil
import zipfile
from pathlib import Path

import pytest

from homelab.engines._process import ProcessRunner
from homelab.engines.base import Change, EngineContext
from homelab.engines.terraform import TerraformEngine, declared_variables
from homelab.engines.terraform.credentials import TERRAFORM_VAULT_PASSWORD, secret_env
from homelab.engines.terraform.show import map_resource_changes, vm_name_of
from homelab.engines.terraform.vm_facts import proxmox_vm_facts
from homelab.errors import EngineError
from homelab.secrets import MASK, Redactor, Secret

TOKEN = "pve-token-SECRET-7d1f0c2a9b"  # sensitive: lands in tfstate (documented), nowhere else of ours
PASSWORD = "vault-pw-EPHEMERAL-41e9c8"  # ephemeral: must be in no file at all


@pytest.fixture(autouse=True)
def _terraform_on_path():
    import needs

    needs.terraform("tofu")  # skips with what it needs; a failure under .ci/run

MAIN_TF = """\
variable "proxmox_api_token_secret" {
  type      = string
  sensitive = true
}

variable "vault_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "terraform_data" "kube01" {
  input            = { cores = CORES, memory = 2048 }
  triggers_replace = ["DISK"]

  provisioner "local-exec" {
    command     = "printf %s \\"$PW\\" | wc -c > pwlen.txt"
    environment = { PW = var.vault_password }
  }
}

resource "terraform_data" "kube02" {
  input = { cores = 2, token = var.proxmox_api_token_secret }
}

# a careless output that leaks the token into terraform's own output: our copies must be redacted
output "leak" {
  value = nonsensitive(var.proxmox_api_token_secret)
}
"""


def write_env(root: Path, cores: int = 2, disk: str = "100G") -> Path:
    env = root / "tf" / "kubernetes"
    env.mkdir(parents=True, exist_ok=True)
    (env / "main.tf").write_text(MAIN_TF.replace("CORES", str(cores)).replace("DISK", disk))
    return env


@dataclasses.dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    env_keys: tuple[str, ...]  # names of the overlay variables (never their values)
    rc: int


class SpyRunner(ProcessRunner):
    """The real runner; records each invocation and keeps a copy of each plan file as `apply` is about
    to consume it."""

    def __init__(self, keep: Path, **kw):
        super().__init__(**kw)
        self.keep = keep
        self.kept: list[Path] = []
        self.history: list[Invocation] = []

    def run(self, argv, **kw):
        if len(argv) > 1 and argv[1] == "apply":
            src = Path(argv[-1])
            dst = self.keep / f"plan{len(self.kept)}.zip"
            shutil.copy(src, dst)
            self.kept.append(dst)
        result = super().run(argv, **kw)
        self.history.append(Invocation(tuple(argv), tuple(sorted(kw.get("env") or {})), result.rc))
        return result


@pytest.fixture
def lab_doc(reference_doc):
    lab = reference_doc.lab
    proxmox = lab.proxmox.model_copy(update={"endpoint": "https://127.0.0.1:8006/api2/json"})
    return dataclasses.replace(reference_doc, lab=lab.model_copy(update={"proxmox": proxmox}))


@pytest.fixture
def setup(tmp_path, lab_doc):
    work = tmp_path / "repo"
    write_env(work)
    reads: list[tuple[str, str]] = []
    values = {
        ("infra/proxmox", "api_token_secret"): TOKEN,
        ("infra/proxmox", "api_token_id"): "terraform@pve!homelab",
        TERRAFORM_VAULT_PASSWORD: PASSWORD,
    }

    def read_secret(path, field):
        reads.append((path, field))
        return Secret(values[(path, field)])

    progress: list[str] = []
    ctx = EngineContext(doc=lab_doc, workdir=work, state_dir=tmp_path / ".homelab", read_secret=read_secret,
                        progress=progress.append, redactor=Redactor())
    kept = tmp_path / "kept"
    kept.mkdir()
    runner = SpyRunner(kept)
    engine = TerraformEngine(runner=runner)
    return engine, ctx, runner, reads, progress


def by_address(changes):
    return {c.address: c for c in changes}


def files_containing(root: Path, needle: str) -> list[str]:
    hits = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink() and needle.encode() in p.read_bytes():
            hits.append(str(p.relative_to(root)))
    return hits


@pytest.mark.validators  # the real terraform binary
def test_full_cycle_with_credentials_through_the_environment_only(setup, tmp_path):
    engine, ctx, runner, reads, progress = setup
    env_dir = ctx.workdir / "tf" / "kubernetes"

    # --- status: configured (endpoint set), reachable (binary + init)
    status = engine.status(ctx)
    assert (status.configured, status.reachable) == (True, True), status.reason
    assert [(inv.argv[1:], inv.rc) for inv in runner.history] == [(("init", "-input=false", "-no-color"), 0)]

    # --- apply: terraform's plan of both resources, mapped to our addresses, created
    changes = [Change("proxmox_vm.kube01", "create", "new VM"), Change("proxmox_vm.kube02", "create", "new VM")]
    results = engine.apply(ctx, changes)
    assert [(r.address, r.ok) for r in results] == [("proxmox_vm.kube01", True), ("proxmox_vm.kube02", True)]
    assert results[0].message == "terraform created proxmox_vm.kube01"
    # only the declared secret variables were read (token_id is not declared in this root)
    assert sorted(set(reads)) == sorted({("infra/proxmox", "api_token_secret"), TERRAFORM_VAULT_PASSWORD})
    assert results[0].attrs["env"] == "kubernetes"
    assert results[0].attrs["terraform"]["terraform_data.kube01"]["input"] == {"cores": 2, "memory": 2048}
    assert "token" not in results[1].attrs["terraform"]["terraform_data.kube02"]["input"]
    # the ephemeral password really reached terraform (its provisioner measured it) ...
    assert (env_dir / "pwlen.txt").read_text().strip() == str(len(PASSWORD))

    # --- apply again: terraform's plan has nothing to do, so nothing is applied
    again = engine.apply(ctx, [Change("proxmox_vm.kube01", "update", "re-apply")])
    assert [r.message for r in again] == ["terraform: proxmox_vm.kube01 needed no change in tf/kubernetes"]
    plans = [inv for inv in runner.history if inv.argv[1] == "plan"]
    assert plans[-1].rc == 0 and plans[0].rc == 2  # -detailed-exitcode: 2 changes, 0 none

    # --- the secrets: argv never, env overlay only for plan/apply
    for inv in runner.history:
        assert all(TOKEN not in a and PASSWORD not in a for a in inv.argv), inv.argv
        if inv.argv[1] in ("plan", "apply"):
            assert {"TF_VAR_proxmox_api_token_secret", "TF_VAR_vault_password"} <= set(inv.env_keys)
            assert "TF_IN_AUTOMATION" in inv.env_keys
        else:  # init / show never get a secret
            assert not [k for k in inv.env_keys if k.startswith("TF_VAR_")], inv
    # the plan file lived outside the repository and is gone
    outs = [a.split("=", 1)[1] for inv in plans for a in inv.argv if a.startswith("-out=")]
    assert outs and all(not Path(o).exists() and env_dir not in Path(o).parents for o in outs)
    # files: the token only in terraform's own state (git-ignored), the ephemeral password nowhere
    assert files_containing(ctx.workdir, TOKEN) == ["tf/kubernetes/terraform.tfstate"]
    assert files_containing(ctx.workdir, PASSWORD) == []
    # the plan file as apply consumed it: terraform stores a sensitive variable inside it (why we
    # keep it outside the repo and delete it), but an ephemeral one is not there
    kept = runner.kept[0]
    with zipfile.ZipFile(kept) as z:
        blob = b"".join(z.read(n) for n in z.namelist())
    assert PASSWORD.encode() not in blob
    assert TOKEN.encode() in blob
    # our output: the leaked token was printed by terraform and redacted in everything we kept/showed
    shown = "\n".join(progress) + "".join(r.output_tail for r in results)
    shown += "".join(repr(inv) for inv in runner.history)
    assert TOKEN not in shown and PASSWORD not in shown
    assert f'leak = "{MASK}"' in "\n".join(progress)

    # --- facts from state
    facts = engine.read_facts(ctx, ["proxmox_vm.kube01", "proxmox_vm.kube02", "proxmox_vm.es01"])
    assert sorted(facts) == ["proxmox_vm.kube01", "proxmox_vm.kube02"]
    assert facts["proxmox_vm.kube02"]["terraform"]["terraform_data.kube02"]["input"] == {"cores": 2}
    assert TOKEN not in repr(facts)

    # --- an input changes (re-render): update in place; kube02 is untouched (no pending-changes note)
    write_env(ctx.workdir, cores=4)
    [updated] = engine.apply(ctx, [Change("proxmox_vm.kube01", "update", "cores 2 -> 4")])
    assert updated.message == "terraform updated proxmox_vm.kube01"
    assert engine.read_facts(ctx, ["proxmox_vm.kube01"])["proxmox_vm.kube01"]["terraform"][
        "terraform_data.kube01"]["input"]["cores"] == 4

    # --- a replace-forcing attribute changes: replace
    write_env(ctx.workdir, cores=4, disk="200G")
    [replaced] = engine.apply(ctx, [Change("proxmox_vm.kube01", "replace", "disk 100G -> 200G")])
    assert replaced.message == "terraform replaced proxmox_vm.kube01"
    assert files_containing(ctx.workdir, PASSWORD) == []


@pytest.mark.validators  # the real terraform binary
def test_apply_limits_itself_to_the_changes_it_was_handed(setup):
    engine, ctx, runner, _, _ = setup
    only_one = [Change("proxmox_vm.kube01", "create", "new VM")]
    results = engine.apply(ctx, only_one)
    assert [(r.address, r.ok) for r in results] == [("proxmox_vm.kube01", True)]
    assert results[0].message == ("terraform created proxmox_vm.kube01 (terraform has other pending changes in "
                                  "tf/kubernetes, not applied: proxmox_vm.kube02)")
    targeted = [inv for inv in runner.history if inv.argv[1] == "plan" and "-target=terraform_data.kube01" in inv.argv]
    assert len(targeted) == 1
    facts = engine.read_facts(ctx, ["proxmox_vm.kube01", "proxmox_vm.kube02"])
    assert sorted(facts) == ["proxmox_vm.kube01"]  # kube02 was not created


@pytest.mark.validators  # the real terraform binary
def test_failure_raises_engine_error_with_redacted_tail(setup):
    engine, ctx, _, _, _ = setup
    env_dir = ctx.workdir / "tf" / "kubernetes"
    # a precondition whose message carries the secret: terraform prints it, we must not
    (env_dir / "fail.tf").write_text(
        'resource "terraform_data" "kube03" {\n'
        '  lifecycle {\n'
        '    precondition {\n'
        '      condition     = length(var.proxmox_api_token_secret) < 3\n'
        '      error_message = "token ${nonsensitive(var.proxmox_api_token_secret)} rejected"\n'
        '    }\n'
        '  }\n'
        '}\n')
    changes = [Change(f"proxmox_vm.kube0{i}", "create", "new VM") for i in (1, 2, 3)]
    with pytest.raises(EngineError) as info:
        engine.apply(ctx, changes)
    err = info.value
    assert err.message.startswith("terraform plan failed in tf/kubernetes (exit 1)")
    assert "Resource precondition failed" in err.output_tail or "precondition" in err.output_tail.lower()
    assert f"token {MASK} rejected" in err.output_tail
    assert TOKEN not in err.output_tail and TOKEN not in err.message
    assert err.exit_code == 3


def test_missing_secret_source_is_a_clear_error(setup):
    engine, ctx, _, _, _ = setup
    ctx = dataclasses.replace(ctx, read_secret=None)
    with pytest.raises(EngineError, match=r"needs the secret infra/proxmox#api_token_secret .*Vault is not available"):
        engine.apply(ctx, [Change("proxmox_vm.kube01", "create", "new VM")])


def test_status_not_configured_and_binary_missing(setup, reference_doc, tmp_path, monkeypatch):
    engine, ctx, _, _, _ = setup
    unconfigured = dataclasses.replace(ctx, doc=reference_doc)
    status = TerraformEngine().status(unconfigured)
    assert (status.configured, status.reachable, status.reason) == (False, False, "proxmox.endpoint is not set")

    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    status = TerraformEngine().status(ctx)
    assert (status.configured, status.reachable) == (True, False)
    assert status.reason == "neither `terraform` nor `tofu` is on PATH"
    with pytest.raises(EngineError) as info:
        TerraformEngine().binary()
    assert "opentofu" in info.value.hint.lower()


def test_no_rendered_environments(setup, tmp_path):
    engine, ctx, _, _, _ = setup
    ctx = dataclasses.replace(ctx, workdir=tmp_path / "nothing")
    status = engine.status(ctx)
    assert status.reachable is False and "run `homelab render`" in status.reason


def test_mapping_of_every_action_and_module_addresses():
    show = {"resource_changes": [
        {"address": 'module.vm["kube01"].proxmox_vm_qemu.this', "module_address": 'module.vm["kube01"]',
         "type": "proxmox_vm_qemu", "name": "this", "change": {"actions": ["delete", "create"],
                                                              "before": {"name": "kube01"}, "after": {"name": "kube01"},
                                                              "replace_paths": [["disks", 0]]}},
        {"address": "module.es01.proxmox_vm_qemu.this", "module_address": "module.es01",
         "type": "proxmox_vm_qemu", "name": "this",
         "change": {"actions": ["create", "delete"], "before": {}, "after": {}},
         "action_reason": "replace_because_tainted"},
        {"address": "proxmox_vm_qemu.vm[\"plex\"]", "index": "plex", "type": "proxmox_vm_qemu", "name": "vm",
         "change": {"actions": ["delete"], "before": {"name": "plex"}, "after": None},
         "action_reason": "delete_because_each_key"},
        {"address": "proxmox_vm_qemu.other", "type": "proxmox_vm_qemu", "name": "other",
         "change": {"actions": ["update"], "before": {"name": "vault", "memory": 2048},
                    "after": {"name": "vault", "memory": 4096}, "after_unknown": {}}},
        {"address": "data.vault_kv_secret_v2.proxmox", "mode": "data", "type": "vault_kv_secret_v2",
         "name": "proxmox", "change": {"actions": ["read"], "before": None, "after": {}}},
        # terraform_data with a sensitive variable in its input, as terraform 1.11 shows it
        {"address": "terraform_data.kube02", "mode": "managed", "type": "terraform_data", "name": "kube02",
         "change": {"actions": ["create"], "before": None,
                    "after": {"input": {"cores": 2, "token": TOKEN}, "triggers_replace": None},
                    "after_unknown": {"id": True, "input": {}, "output": True}, "before_sensitive": False,
                    "after_sensitive": {"input": {"token": True}, "output": {}}}},
    ]}
    got = by_address(map_resource_changes(show, "lab", ["kube01", "kube02", "es01", "plex", "vault"]))
    created = got["proxmox_vm.kube02"]
    assert created.reason == "terraform will create terraform_data.kube02 (tf/lab)" and created.before is None
    # a sensitive attribute never reaches our Change data; what is unknown until apply says so
    assert created.after["terraform"]["terraform_data.kube02"] == {
        "input": {"cores": 2}, "triggers_replace": None, "id": "(known after apply)", "output": "(known after apply)"}
    assert TOKEN not in repr(got)
    assert got["proxmox_vm.kube01"].action == "replace"
    assert "disks.0 forces replacement" in got["proxmox_vm.kube01"].reason
    assert got["proxmox_vm.es01"].action == "replace" and "it is tainted" in got["proxmox_vm.es01"].reason
    assert got["proxmox_vm.plex"].action == "delete" and "for_each key is gone" in got["proxmox_vm.plex"].reason
    assert got["proxmox_vm.vault"].action == "update" and "in place: memory" in got["proxmox_vm.vault"].reason
    data = got["tf_resource.lab/data.vault_kv_secret_v2.proxmox"]
    assert data.action == "no-op" and "reads data source" in data.reason
    with pytest.raises(EngineError, match="does not know"):
        map_resource_changes({"resource_changes": [{"address": "x.y", "change": {"actions": ["explode"]}}]},
                             "lab", [])


def test_proxmox_vm_facts_use_the_planners_vocabulary():
    # shape of a telmate/proxmox 3.x proxmox_vm_qemu in `terraform show -json` state (nested blocks are lists)
    values = {
        "name": "kube01", "target_node": "pve1", "vmid": 171, "memory": 2048, "clone": "ubuntu-2504-cloudinit",
        "cpu": [{"cores": 2, "sockets": 1, "type": "host"}],
        "disks": [{"ide": [{"ide2": [{"cloudinit": [{"storage": "local-lvm"}]}]}],
                   "scsi": [{"scsi0": [{"disk": [{"size": "100G", "storage": "local-lvm"}]}]}]}],
        "network": [{"id": 0, "model": "virtio", "bridge": "vmbr0", "tag": 0}],
        "ipconfig0": "ip=192.168.10.71/24,gw=192.168.10.1",
    }
    assert proxmox_vm_facts(values) == {
        "node": "pve1", "vmid": 171, "cores": 2, "memory_mib": 2048, "template": "ubuntu-2504-cloudinit",
        "disk_gib": 100, "storage": "local-lvm", "bridge": "vmbr0", "vlan": None,
        "ip": "192.168.10.71", "gateway": "192.168.10.1",
    }
    assert proxmox_vm_facts({"disks": [{"scsi": [{"scsi0": [{"disk": [{"size": "1T"}]}]}]}],
                             "ipconfig0": "ip=dhcp", "network": [{"tag": 20}]}) == {"disk_gib": 1024, "vlan": 20}


def test_vm_name_of_module_shapes():
    names = ["kube01", "1abc"]
    assert vm_name_of({"address": "module.kube01.proxmox_vm_qemu.this"}, names) == "kube01"
    assert vm_name_of({"address": "module.vm_1abc.proxmox_vm_qemu.this"}, names) == "1abc"
    assert vm_name_of({"address": "proxmox_vm_qemu.this", "name": "this"}, names, {"name": "kube01"}) == "kube01"
    assert vm_name_of({"address": "proxmox_vm_qemu.other", "name": "other"}, names, {"name": "x"}) is None


def test_partition_by_environment():
    changes = [Change("proxmox_vm.es01", "create", "r", after={"env": "lab"}),
               Change("proxmox_vm.kube01", "create", "r", after={"env": "kubernetes"}),
               Change("proxmox_vm.old", "delete", "r", before={"env": "lab"}),
               Change("proxmox_vm.mystery", "delete", "r"),
               Change("tf_resource.vault/terraform_data.x", "update", "r")]
    units = TerraformEngine.partition(changes)
    assert [[c.address for c in u] for u in units] == [
        ["proxmox_vm.kube01"], ["proxmox_vm.es01", "proxmox_vm.old"], ["tf_resource.vault/terraform_data.x"],
        ["proxmox_vm.mystery"]]


def test_vault_password_location_matches_the_vault_layer_and_the_renderer():
    from homelab.lab.vault_access import PASSWORD_FIELD, automation_path
    from homelab.render.terraform import VAULT_USER

    assert TERRAFORM_VAULT_PASSWORD == (automation_path(VAULT_USER), PASSWORD_FIELD)


def render_reference_roots(lab_doc, tmp_path) -> list[str]:
    from homelab.render.terraform import render

    for f in render(lab_doc):
        out = tmp_path / f.path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f.content)
    return TerraformEngine.env_dirs(EngineContext(doc=lab_doc, workdir=tmp_path, state_dir=tmp_path))


def test_secrets_handed_to_the_rendered_reference_roots(lab_doc, tmp_path, monkeypatch):
    """The engine passes exactly the secret variables the rendered roots declare, and the Vault it
    resolved as VAULT_ADDR (the rendered vault provider has no `address`); no terraform run: init of
    the real roots would download providers. tf/vault (it creates the Vault server) reads nothing from Vault."""
    monkeypatch.setenv("HOMELAB_VAULT_ADDR", "http://127.0.0.1:18299")  # what `--address` / the env resolve
    monkeypatch.setenv("PM_API_TOKEN_ID", "terraform@pve!homelab")
    monkeypatch.setenv("PM_API_TOKEN_SECRET", "pve-env-secret-5150")
    envs = render_reference_roots(lab_doc, tmp_path)
    assert envs == sorted({vm.env for vm in lab_doc.inventory.vms})
    reads = []

    def read_secret(path, field):
        reads.append((path, field))
        return Secret("pw-0123456789")

    ctx = EngineContext(doc=lab_doc, workdir=tmp_path, state_dir=tmp_path, read_secret=read_secret)
    for env in envs:
        overlay = secret_env(ctx, tmp_path / "tf" / env, env)
        if env == "vault":
            assert "vault_password" not in declared_variables(tmp_path / "tf" / env)
            assert overlay == {}  # PM_API_TOKEN_* are inherited from the environment as they are
            continue
        assert "vault_password" in declared_variables(tmp_path / "tf" / env)
        # an http (embedded) Vault has no certificate: the CA file variable is emptied (= unset)
        assert overlay == {"TF_VAR_vault_password": "pw-0123456789", "VAULT_ADDR": "http://127.0.0.1:18299",
                           "TF_VAR_vault_ca_cert_file": ""}
    assert set(reads) == {TERRAFORM_VAULT_PASSWORD}
    assert ctx.redactor("x pw-0123456789 y pve-env-secret-5150") == f"x {MASK} y {MASK}"


def test_the_vault_servers_root_never_needs_vault_when_the_token_is_in_the_environment(lab_doc, tmp_path,
                                                                                      monkeypatch):
    """Item 1: on a brand-new lab, tf/vault is applied before any Vault exists."""
    monkeypatch.setenv("PM_API_TOKEN_ID", "terraform@pve!homelab")
    monkeypatch.setenv("PM_API_TOKEN_SECRET", "pve-env-secret-5150")
    render_reference_roots(lab_doc, tmp_path)

    def no_vault(path, field):
        raise AssertionError(f"tf/vault read {path}#{field} from Vault")

    ctx = EngineContext(doc=lab_doc, workdir=tmp_path, state_dir=tmp_path, read_secret=no_vault)
    assert secret_env(ctx, tmp_path / "tf" / "vault", "vault") == {}
    ctx = dataclasses.replace(ctx, read_secret=None)
    assert secret_env(ctx, tmp_path / "tf" / "vault", "vault") == {}


def test_the_vault_servers_root_without_the_token_says_how_to_give_it(lab_doc, tmp_path, monkeypatch):
    monkeypatch.delenv("PM_API_TOKEN_ID", raising=False)
    monkeypatch.delenv("PM_API_TOKEN_SECRET", raising=False)
    render_reference_roots(lab_doc, tmp_path)
    ctx = EngineContext(doc=lab_doc, workdir=tmp_path, state_dir=tmp_path, read_secret=None)
    with pytest.raises(EngineError) as info:
        secret_env(ctx, tmp_path / "tf" / "vault", "vault")
    assert "tf/vault creates the Vault server" in info.value.message
    assert "PM_API_TOKEN_ID and PM_API_TOKEN_SECRET" in info.value.message
    assert "read -rs PM_API_TOKEN_SECRET" in info.value.hint

    def vault_down(path, field):
        raise EngineError("Vault at https://vault.lab.thewortmans.org:8200 is unreachable")

    ctx = dataclasses.replace(ctx, read_secret=vault_down)
    with pytest.raises(EngineError) as info:
        secret_env(ctx, tmp_path / "tf" / "vault", "vault")
    assert "could not give it either" in info.value.message and "unreachable" in info.value.message


def test_the_vault_servers_root_reads_the_token_from_vault_once_it_exists(lab_doc, tmp_path, monkeypatch):
    monkeypatch.delenv("PM_API_TOKEN_ID", raising=False)
    monkeypatch.delenv("PM_API_TOKEN_SECRET", raising=False)
    render_reference_roots(lab_doc, tmp_path)
    values = {("infra/proxmox", "api_token_id"): "terraform@pve!homelab", ("infra/proxmox", "api_token_secret"): TOKEN}
    ctx = EngineContext(doc=lab_doc, workdir=tmp_path, state_dir=tmp_path, redactor=Redactor(),
                        read_secret=lambda path, field: Secret(values[(path, field)]))
    overlay = secret_env(ctx, tmp_path / "tf" / "vault", "vault")
    assert overlay == {"PM_API_TOKEN_ID": "terraform@pve!homelab", "PM_API_TOKEN_SECRET": TOKEN}
    assert ctx.redactor(f"token {TOKEN}") == f"token {MASK}"


@pytest.mark.validators  # the real terraform binary
def test_the_token_from_the_environment_reaches_terraform_in_the_vault_servers_root(setup, monkeypatch):
    """The real terraform, run by the engine in tf/vault: the provider's environment variables arrive (a
    local-exec measures them), and nothing was read from Vault."""
    engine, ctx, _, reads, _ = setup
    env_dir = ctx.workdir / "tf" / "vault"
    env_dir.mkdir(parents=True)
    (env_dir / "main.tf").write_text(
        'resource "terraform_data" "vault" {\n'
        '  provisioner "local-exec" {\n'
        '    command = "printf %s \\"$PM_API_TOKEN_ID:$PM_API_TOKEN_SECRET\\" | wc -c > tokenlen.txt"\n'
        '  }\n'
        '}\n')
    monkeypatch.setenv("PM_API_TOKEN_ID", "terraform@pve!homelab")
    monkeypatch.setenv("PM_API_TOKEN_SECRET", TOKEN)
    [result] = engine.apply(ctx, [Change("proxmox_vm.vault", "create", "new VM")])
    assert result.ok and result.message == "terraform created proxmox_vm.vault"
    assert (env_dir / "tokenlen.txt").read_text().strip() == str(len(f"terraform@pve!homelab:{TOKEN}"))
    assert reads == []
    assert files_containing(ctx.workdir, TOKEN) == []


def test_tls_verification_hands_terraform_the_ca_file(lab_doc, tmp_path, monkeypatch):
    """Item 4: with Proxmox verification on, plan/apply get SSL_CERT_FILE=<repo>/tls/ca.crt (telmate/proxmox
    has no CA argument); an https Vault needs tls/ca.crt; a missing CA file is a clear error."""
    monkeypatch.setenv("HOMELAB_VAULT_ADDR", "https://127.0.0.1:18299")
    proxmox = lab_doc.lab.proxmox.model_copy(update={"tls_insecure": None})
    doc = dataclasses.replace(lab_doc, lab=lab_doc.lab.model_copy(update={"proxmox": proxmox}))
    render_reference_roots(doc, tmp_path)
    ctx = EngineContext(doc=doc, workdir=tmp_path, state_dir=tmp_path, read_secret=lambda p, f: Secret("pw-0123456789"))
    with pytest.raises(EngineError) as info:
        secret_env(ctx, tmp_path / "tf" / "lab", "lab")
    assert "tls/ca.crt" in info.value.message and "step ca root tls/ca.crt" in info.value.hint
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    overlay = secret_env(ctx, tmp_path / "tf" / "lab", "lab")
    assert overlay["SSL_CERT_FILE"] == str((tmp_path / "tls" / "ca.crt").resolve())
    assert "TF_VAR_vault_ca_cert_file" not in overlay  # https: the rendered ../../tls/ca.crt is used as is
    monkeypatch.setenv("PM_API_TOKEN_ID", "terraform@pve!homelab")
    monkeypatch.setenv("PM_API_TOKEN_SECRET", "pve-env-secret-5150")
    assert secret_env(ctx, tmp_path / "tf" / "vault", "vault") == {"SSL_CERT_FILE": overlay["SSL_CERT_FILE"]}
