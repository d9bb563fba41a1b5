"""The whole Vault lifecycle of the REFERENCE lab against a real OpenBao, through the CLI.

up → init → unseal → configure → configure again (zero changes) → secrets put/get → every automation
user's policy allows exactly what it should → rotate (old value = version N-1) → backup → wipe (stop,
delete the data, start fresh, init) → restore → every secret equal → retention → revoke-root.

Each test brings its own server to the stage it starts from (`vault_at(stage)`: nothing, up, initialised,
unsealed, configured, populated — each stage reached the way a user gets there) and asserts only what it
does itself, so the tests pass alone, in any order, or spread over xdist workers. Tests that only read and
tests whose changes they measure themselves share one populated server per module (`shared`). After every
test, every byte it printed (stdout and stderr of every command), the server log and the audit log are
scanned for every secret value its server ever held (`no_leaks`); `test_no_secret_appears_in_any_output_or_log`
also proves the scan finds a value where one is.
"""

from __future__ import annotations

import hashlib
import json
import secrets as pysecrets
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from homelab.engines.vault import VaultApi, VaultLoginError, VaultPermissionError
from homelab.lab.load import load_lab
from homelab.lab.pki_roles import pki_roles
from homelab.lab.resolve import resolve
from homelab.render.vault import policy_hcl

pytestmark = [pytest.mark.integration, pytest.mark.validators]  # a real OpenBao server

REFERENCE_LAB = Path(__file__).resolve().parents[2] / "examples" / "reference" / "homelab.yaml"
LAB = load_lab(REFERENCE_LAB).lab
# Catalogue secrets without `generate:` are set by the user: one random value per field.
USER_SET = {s.path: {f: "uv-" + pysecrets.token_hex(12) for f in s.fields} for s in LAB.vault.secrets
            if s.generate is None}


@dataclass
class Life:
    state: Path
    tools: object
    outputs: list[str] = field(default_factory=list)  # everything printed, except what a flag asked to reveal
    revealed: list[str] = field(default_factory=list)
    seen_secrets: set[str] = field(default_factory=set)  # every secret value ever observed
    scanned: int = 0  # outputs already scanned by no_leaks

    @property
    def cwd(self) -> Path:
        return self.state.parent

    @property
    def keys_file(self) -> Path:
        return self.state / "vault" / "init-keys.json"

    def cli(self, *args: str, expect: int = 0, input: str | None = None, reveal: bool = False,
            env_extra: dict | None = None) -> str:
        env = self.tools.clean_env(HOMELAB_STATE_DIR=str(self.state), HOMELAB_VAULT_ADDR="embedded",
                                   **(env_extra or {}))
        proc = self.tools.run_homelab([*args, "--lab", str(REFERENCE_LAB)], env=env, cwd=self.cwd, input=input)
        (self.revealed if reveal else self.outputs).extend([proc.stdout, proc.stderr])
        if proc.returncode != expect:
            detail = "(output withheld: it may hold revealed values)" if reveal else proc.stdout + proc.stderr
            pytest.fail(f"homelab {' '.join(args)}: exit {proc.returncode}, expected {expect}\n{detail}")
        return proc.stdout

    def url(self) -> str:
        return (self.state / "vault" / "address").read_text().strip()

    def root(self) -> VaultApi:
        keys = json.loads(self.keys_file.read_text())
        return VaultApi(self.url(), keys["root_token"])

    def note_keys(self, keys_path: Path) -> dict:
        data = json.loads(keys_path.read_text())
        self.seen_secrets.update(data["keys"] + data["keys_base64"] + [data["root_token"]])
        return data

    def haystacks(self, since: int = 0) -> dict[str, str]:
        """What may never hold a secret: the outputs from `since` on, the server log, the audit log and the
        backup manifests."""
        out = {f"output #{i}": text for i, text in enumerate(self.outputs) if i >= since}
        vault_dir = self.state / "vault"
        for name in ("server.log", "audit.log"):
            if (vault_dir / name).is_file():
                out[name] = (vault_dir / name).read_text(errors="replace")
        for f in sorted((self.state / "backups" / "vault").glob("*")):
            if not f.name.endswith(".snap"):
                out[f.name] = f.read_text()
        return out

    def leaks(self, since: int = 0) -> list[tuple[str, str]]:
        secrets = {s for s in self.seen_secrets if len(s) >= 8}
        return sorted({(name, f"len={len(s)}") for name, text in self.haystacks(since).items()
                       for s in secrets if s in text})


STAGES = ("down", "up", "initialised", "unsealed", "configured", "populated")


@pytest.fixture(scope="module")
def vault_at(tmp_path_factory, bao_binary, homelab_tools):
    """vault_at(stage) -> a Life whose own embedded OpenBao is at `stage`, reached as a user gets there:
    up, initialised (5 shares, 3 to unseal, the keys file), unsealed (what `vault up/init/unseal` do, in
    process), configured (`vault configure`), populated (every catalogue secret a user sets, set).
    Stopped at the end of the module."""
    from homelab.engines.vault import server as vault_server
    from homelab.engines.vault.target import resolve_target
    from homelab.ops.vault_init import init as vault_init
    from homelab.ops.vault_init import unseal as vault_unseal

    made: list[Life] = []

    def make(stage: str) -> Life:
        life = Life(tmp_path_factory.mktemp(f"life-{stage}") / ".homelab", homelab_tools)
        made.append(life)
        steps = STAGES[1:STAGES.index(stage) + 1]
        # up, init and unseal in process, as `vault up/init/unseal` do (their own tests run the commands)
        if "up" in steps:
            vault_server.up(life.state)
        target = resolve_target(LAB, address="embedded", state_dir=life.state) if "up" in steps else None
        if "initialised" in steps:
            vault_init(target, LAB)
            life.note_keys(life.keys_file)
        if "unsealed" in steps:
            vault_unseal(target)
        if "configured" in steps:
            life.cli("vault", "configure")
            remember_values(life, all_kv(life.root()))  # the generated secrets and automation passwords
        if "populated" in steps:
            root = life.root()
            for path, values in USER_SET.items():
                root.kv_write(path, values)
                life.seen_secrets.update(values.values())
        return life

    yield make
    for life in made:
        vault_server.down(life.state)


@pytest.fixture(scope="module")
def shared(vault_at) -> Life:
    """One populated server for the tests that only read, or measure their own changes relative to what
    they find."""
    return vault_at("populated")


@pytest.fixture
def at(vault_at, request):
    """at(stage): a server of this test's own at `stage` (see vault_at); no_leaks scans it after the test."""
    def make(stage: str) -> Life:
        life = vault_at(stage)
        request.node._lives = [*getattr(request.node, "_lives", []), life]
        return life

    return make


@pytest.fixture(autouse=True)
def no_leaks(request):
    """After each test: nothing it printed, and nothing in its server's logs, holds a secret value."""
    yield
    lives = [v for v in request.node.funcargs.values() if isinstance(v, Life)]
    lives += getattr(request.node, "_lives", [])
    for life in lives:
        found = life.leaks(life.scanned)
        life.scanned = len(life.outputs)
        assert not found, f"secret values found in: {found}"


def all_kv(api: VaultApi) -> dict[str, dict]:
    """path -> {version: data} for every version of every secret (the test's own view, via the root token)."""
    out: dict[str, dict] = {}
    for path in api.kv_walk(""):
        meta = api.kv_metadata(path)
        out[path] = {int(v): api.kv_read(path, int(v))[0] for v in meta["versions"]}
    return out


def remember_values(life: Life, kv: dict[str, dict]) -> None:
    for versions in kv.values():
        for data in versions.values():
            life.seen_secrets.update(str(v) for v in data.values())


# --------------------------------------------------------------------------------------------------


def test_up_is_idempotent_and_starts_uninitialised(at):
    life = at("down")
    out = life.cli("vault", "up")
    assert "embedded OpenBao started at http://127.0.0.1:" in out
    out = life.cli("vault", "up")
    assert "already running" in out
    st = json.loads(life.cli("vault", "status", "--format", "json"))
    assert st["initialized"] is False and st["sealed"] is True and st["storage_type"] == "raft"
    assert st["url"].startswith("http://127.0.0.1:")


def test_init_writes_a_private_keys_file_once(at):
    life = at("up")
    out = life.cli("vault", "init")
    assert str(life.keys_file) in out
    mode = stat.S_IMODE(life.keys_file.stat().st_mode)
    assert mode == 0o600
    data = life.note_keys(life.keys_file)
    assert len(data["keys"]) == 5 and data["threshold"] == 3 and data["root_token"]
    before = life.keys_file.read_bytes()
    # Vault already initialised: refused, keys file untouched, no new file created.
    other = life.cwd / "other-keys.json"
    life.cli("vault", "init", expect=3)
    life.cli("vault", "init", "--keys-file", str(other), expect=3)
    assert life.keys_file.read_bytes() == before and not other.exists()


def test_unseal_and_status(at):
    life = at("initialised")
    assert "Vault unsealed" in life.cli("vault", "unseal")
    assert "already unsealed" in life.cli("vault", "unseal")
    st = json.loads(life.cli("vault", "status", "--format", "json"))
    assert st["sealed"] is False and st["initialized"] is True
    assert st["ha_enabled"] is True  # raft is HA-capable
    assert "sys/" in st["mounts"] and "root" in st["policies"]
    assert st["threshold"] == 3 and st["shares"] == 5


def test_configure_converges_and_second_run_changes_nothing(at):
    life = at("unsealed")
    first = json.loads(life.cli("vault", "configure", "--format", "json"))
    actions = {i["address"]: i["action"] for i in first["items"]}
    for name in LAB.vault.policies:
        assert actions[f"vault_policy.{name}"] == "created"
    for u in LAB.vault.users:
        assert actions[f"vault_user.{u.name}"] == "created"
    assert actions["vault_mount.secret"] == "created" and actions["vault_auth.userpass"] == "created"
    assert actions["vault_audit.file"] == "recorded"  # declared in the embedded server's config: only recorded
    for s in LAB.vault.secrets:
        assert actions[f"vault_secret.{s.path}"] == ("created" if s.generate else "missing")
    assert first["changes"] == sum(1 for a in actions.values() if a == "created")

    second = json.loads(life.cli("vault", "configure", "--format", "json"))
    assert second["changes"] == 0
    assert {i["action"] for i in second["items"]} <= {"unchanged", "missing"}

    root = life.root()
    for name in LAB.vault.policies:  # exactly the text `homelab render` writes
        assert root.read_policy(name) == policy_hcl(LAB, name)
    for u in LAB.vault.users:
        live = root.read_user(u.name)
        assert sorted(live["token_policies"]) == sorted(u.policies)
        assert live["token_ttl"] == {"20m": 1200, "1h": 3600}[u.token_ttl]
    assert [d["type"] for d in root.list_audit().values()] == ["file"]
    st = json.loads(life.cli("vault", "status", "--format", "json"))
    assert st["mounts"]["secret/"] == "kv v2" and st["auth_methods"]["userpass/"] == "userpass"
    # plus one pki-<certificate> policy per issuing role of the lab's CA (vault_pki_role.*, lab/pki_roles.py)
    pki = [f"pki-{r.name}" for r in pki_roles(LAB, resolve(LAB))]
    assert len(pki) == 13
    assert st["policies"] == sorted(["admin", "ansible", "apps", "default", "external-secrets", "root", "terraform",
                                     *pki])

    # things the lab does not own stay unless --prune
    root.write_policy("stray", 'path "secret/data/stray/*" {\n  capabilities = ["read"]\n}\n')
    root.write_user("stray", password="stray-password-123", token_policies=["stray"])
    life.seen_secrets.add("stray-password-123")
    assert json.loads(life.cli("vault", "configure", "--format", "json"))["changes"] == 0
    assert "stray" in root.list_policies() and root.read_user("stray") is not None
    pruned = json.loads(life.cli("vault", "configure", "--prune", "--format", "json"))
    assert {i["address"] for i in pruned["items"] if i["action"] == "deleted"} == {
        "vault_policy.stray", "vault_user.stray"}
    assert "stray" not in root.list_policies() and root.read_user("stray") is None
    assert {"default", "root"} <= set(root.list_policies())  # never pruned
    assert json.loads(life.cli("vault", "configure", "--prune", "--format", "json"))["changes"] == 0
    remember_values(life, all_kv(root))  # what configure generated: scanned for by no_leaks


def test_secrets_put_get_list_never_take_values_from_argv(at):
    life = at("configured")
    for path, values in USER_SET.items():
        fields = sorted(values)
        out = life.cli("secrets", "put", path, *fields, input="".join(values[f] + "\n" for f in fields))
        assert "version 1" in out
        life.seen_secrets.update(values.values())
    out = life.cli("secrets", "get", "infra/proxmox")
    assert "api_token_id" in out and "version 1" in out
    assert USER_SET["infra/proxmox"]["api_token_id"] not in out
    revealed = life.cli("secrets", "get", "infra/proxmox", "--reveal", reveal=True)
    assert USER_SET["infra/proxmox"]["api_token_secret"] in revealed
    assert life.cli("secrets", "get", "infra/proxmox", "--reveal", "--field", "api_token_id",
                    reveal=True).strip() == USER_SET["infra/proxmox"]["api_token_id"]
    listing = life.cli("secrets", "list").split()
    # pki/: step-ca's intermediate (pki.ca: step-ca), kept by the vault_pki.step-ca resource
    assert listing == ["apps/", "automation/", "backup/", "elastic/", "infra/", "k3s/", "pki/", "storage/"]
    # --json: a JSON object on stdin
    json_value = "jv-" + pysecrets.token_hex(10)
    life.seen_secrets.add(json_value)
    life.cli("secrets", "put", "apps/extra", "--json", input=json.dumps({"token": json_value, "n": 7}))
    assert life.root().kv_read("apps/extra") == ({"n": "7", "token": json_value}, 1)
    life.cli("secrets", "put", "apps/extra", "token", input="", expect=2)  # no value: usage error
    assert "no value for token" in life.outputs[-1]
    # a second put keeps the other fields (new version)
    life.cli("secrets", "put", "apps/plex", "claim_token", input="claim-" + "x" * 20 + "\n")
    life.seen_secrets.add("claim-" + "x" * 20)
    data, version = life.root().kv_read("apps/plex")
    assert version == 2 and data == {"claim_token": "claim-" + "x" * 20}
    # now configure reports every catalogue secret present
    again = json.loads(life.cli("vault", "configure", "--format", "json"))
    assert again["changes"] == 0 and {i["action"] for i in again["items"]} == {"unchanged"}
    remember_values(life, all_kv(life.root()))


def _login(life: Life, user: str) -> VaultApi:
    password = life.root().kv_read(f"automation/{user}")[0]["password"]
    api = VaultApi(life.url(), None)
    return api.with_token(api.login_userpass(user, password))


def _can_read(api: VaultApi, path: str) -> bool:
    try:
        api.kv_read(path)
        return True
    except VaultPermissionError:
        return False


def _can_write(api: VaultApi, path: str) -> bool:
    try:
        api.kv_write(path, {"probe": "x"})
        return True
    except VaultPermissionError:
        return False


PREFIX_SAMPLE = {"infra": "infra/proxmox", "k3s": "k3s/cluster", "elastic": "elastic/cluster",
                 "storage": "storage/truenas", "backup": "backup/velero", "apps": "apps/grafana"}
EXPECTED_READ = {
    "terraform": {"infra"},
    "ansible": {"infra", "k3s", "elastic", "storage", "backup", "apps"},
    "apps": {"apps"},
    "external-secrets": {"storage", "backup", "apps"},
    "admin": {"infra", "k3s", "elastic", "storage", "backup", "apps"},
}
USERS = ["terraform", "ansible", "apps", "external-secrets", "admin"]


def test_the_lab_users_are_the_ones_tested():
    assert sorted(u.name for u in LAB.vault.users) == sorted(USERS)


@pytest.mark.parametrize("user", USERS)
def test_each_policy_allows_exactly_what_it_should(shared, user):
    life = shared
    api = _login(life, user)
    for prefix, path in PREFIX_SAMPLE.items():
        assert _can_read(api, path) is (prefix in EXPECTED_READ[user]), (user, path)
    if user == "external-secrets":
        # exactly what the rendered ExternalSecrets read, and nothing else of the catalogue but apps/*
        from homelab.lab.vault_access import external_secret_paths

        used = external_secret_paths(LAB)
        assert used and {p.split("/")[0] for p in used} == {"apps", "storage", "backup"}
        for s in LAB.vault.secrets:
            assert _can_read(api, s.path) is (s.path in used or s.path.startswith("apps/")), s.path
        for path in ("storage/other", "backup/other", "elastic/s3", "infra/ssh", "k3s/cluster"):
            assert not _can_read(api, path), path
    for other in USERS:  # nobody but admin reads automation passwords
        assert _can_read(api, f"automation/{other}") is (user == "admin"), (user, other)
    if user == "admin":
        assert _can_write(api, "apps/admin-probe")
        assert "terraform" in api.list_policies()
    else:
        for path in ("infra/proxmox", "apps/grafana", "apps/new-thing", f"automation/{user}"):
            assert not _can_write(api, path), (user, path)
        with pytest.raises(VaultPermissionError):
            api.list_policies()
    listing_allowed = {"terraform": False, "ansible": True, "apps": True, "external-secrets": False,
                       "admin": True}[user]
    try:
        api.kv_list("apps/")
        listed = True
    except VaultPermissionError:
        listed = False
    assert listed is listing_allowed
    if user == "terraform":  # the Vault provider's child token (facts §2)
        assert api.create_token(ttl="1m", policies=["terraform"])
    # Ansible's SSH private key: Ansible and admin only -- not Terraform (issue 11, item 12)
    assert _can_read(api, "infra/ssh") is (user in ("ansible", "admin")), user


def test_cli_login_as_user_is_bound_by_its_policy(shared):
    life = shared
    password = life.root().kv_read("automation/apps")[0]["password"]
    out = life.cli("secrets", "get", "apps/plex", "--user", "apps", input=password + "\n")
    assert "claim_token" in out
    life.cli("secrets", "get", "infra/proxmox", "--user", "apps", input=password + "\n", expect=3)
    assert "permission denied" in life.outputs[-1]
    life.cli("secrets", "get", "apps/plex", "--user", "apps", input="wrong-password\n", expect=3)
    assert "refused the login" in life.outputs[-1]


def test_rotate_keeps_the_previous_version(shared):
    life = shared
    root = life.root()
    before = {p: root.kv_read(p) for p in ("automation/terraform", "apps/grafana", "k3s/cluster")}
    dry = json.loads(life.cli("vault", "rotate", "--dry-run", "--format", "json"))
    assert len(dry["rotations"]) == len(LAB.vault.users) + sum(1 for s in LAB.vault.secrets if s.generate)
    assert {p: root.kv_read(p)[1] for p in before} == {p: v[1] for p, v in before.items()}  # dry run: no change
    old_tf_password = before["automation/terraform"][0]["password"]

    out = json.loads(life.cli("vault", "rotate", "automation/terraform", "apps/grafana", "--format", "json"))
    assert sorted(r["path"] for r in out["rotations"]) == ["apps/grafana", "automation/terraform"]
    for path in ("automation/terraform", "apps/grafana"):
        data, version = root.kv_read(path)
        assert version == before[path][1] + 1
        assert data != before[path][0]
        assert root.kv_read(path, version - 1)[0] == before[path][0]  # version N-1 still readable
    assert root.kv_read("k3s/cluster") == before["k3s/cluster"]  # not asked: untouched
    # the user's password really changed in Vault
    with pytest.raises(VaultLoginError):
        root.login_userpass("terraform", old_tf_password)
    assert _login(life, "terraform").kv_read("infra/proxmox")
    life.cli("vault", "rotate", "infra/proxmox", expect=2)  # not a generated secret
    assert "cannot rotate infra/proxmox" in life.outputs[-1]
    # configure after rotate: still nothing to change (stored password = user's password)
    assert json.loads(life.cli("vault", "configure", "--format", "json"))["changes"] == 0
    remember_values(life, all_kv(root))


def test_backup_wipe_restore_all_secrets_equal(at):
    life = at("populated")
    root = life.root()
    snapshot_kv = all_kv(root)
    remember_values(life, snapshot_kv)
    result = json.loads(life.cli("vault", "backup", "--format", "json"))
    snap, manifest_path = Path(result["file"]), Path(result["manifest"])
    assert snap.parent == life.state / "backups" / "vault"  # lab.backup.vault.directory under the state dir
    manifest = json.loads(manifest_path.read_text())
    assert manifest["sha256"] == hashlib.sha256(snap.read_bytes()).hexdigest()
    assert manifest["size"] == snap.stat().st_size and manifest["kind"] == "raft-snapshot"
    assert manifest["lab_digest"] == hashlib.sha256(REFERENCE_LAB.read_bytes()).hexdigest()
    assert manifest["kv"] == {p: max(v) for p, v in snapshot_kv.items()}
    assert stat.S_IMODE(snap.stat().st_mode) == 0o600

    # a corrupted copy is refused before anything is sent to Vault
    bad_dir = life.cwd / "bad"
    bad_dir.mkdir()
    for f in snap.parent.glob(snap.name.replace(".snap", "") + "*"):
        shutil.copy2(f, bad_dir / f.name)
    raw = bytearray((bad_dir / snap.name).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (bad_dir / snap.name).write_bytes(bytes(raw))

    # wipe: stop the server, delete its data, start a fresh one and initialise it anew
    assert "stopped" in life.cli("vault", "down")
    shutil.rmtree(life.state / "vault" / "data")
    life.cli("vault", "up")
    new_keys = life.cwd / "new-keys.json"
    life.cli("vault", "init", "--keys-file", str(new_keys))
    life.note_keys(new_keys)
    life.cli("vault", "unseal", "--keys-file", str(new_keys))
    fresh = VaultApi(life.url(), json.loads(new_keys.read_text())["root_token"])
    assert fresh.kv_walk("") == [] or "secret/" not in fresh.list_mounts()

    life.cli("vault", "restore", str(bad_dir / manifest_path.name), "--current-keys-file", str(new_keys), expect=1)
    assert "does not match its manifest" in life.outputs[-1]

    out = life.cli("vault", "restore", str(manifest_path), "--current-keys-file", str(new_keys), "-y")
    assert f"verified {len(snapshot_kv)} KV path(s)" in out
    restored = life.root()  # the backed-up Vault's root token works again
    assert all_kv(restored) == snapshot_kv  # every version of every secret equal
    st = json.loads(life.cli("vault", "status", "--format", "json"))
    assert st["sealed"] is False
    assert _login(life, "ansible").kv_read("k3s/cluster")[0] == snapshot_kv["k3s/cluster"][
        max(snapshot_kv["k3s/cluster"])]
    assert json.loads(life.cli("vault", "configure", "--format", "json"))["changes"] == 0


def test_retention_keeps_the_newest(shared):
    life = shared
    made = []
    for _ in range(3):
        made.append(json.loads(life.cli("vault", "backup", "--retention", "2", "--format", "json")))
        time.sleep(0.01)
    manifests = sorted((life.state / "backups" / "vault").glob("vault-*.manifest.json"))
    assert [m.name for m in manifests] == sorted(Path(r["manifest"]).name for r in made[1:])  # the two newest
    assert not Path(made[0]["manifest"]).exists() and not Path(made[0]["file"]).exists()
    snaps = sorted((life.state / "backups" / "vault").glob("vault-*.snap"))
    assert [s.name.replace(".snap", "") for s in snaps] == [m.name.replace(".manifest.json", "") for m in manifests]


def test_expired_token_is_reported_as_such(shared):
    life = shared
    token = life.root().create_token(ttl="1s", policies=["default"])
    life.seen_secrets.add(token)
    time.sleep(2.2)
    life.cli("secrets", "list", env_extra={"VAULT_TOKEN": token}, expect=3)
    assert "invalid or expired" in life.outputs[-1]


def test_revoke_root_keeps_admin_access(at):
    life = at("configured")
    old_root = json.loads(life.keys_file.read_text())["root_token"]
    out = json.loads(life.cli("vault", "configure", "--revoke-root", "--format", "json"))
    item = next(i for i in out["items"] if i["address"] == "vault_root_token.root")
    assert item["action"] == "deleted"
    keys = json.loads(life.keys_file.read_text())
    assert keys["root_token"] is None and keys["admin"]["user"] == "admin"
    assert stat.S_IMODE(life.keys_file.stat().st_mode) == 0o600
    assert not VaultApi(life.url(), old_root).token_valid()
    life.seen_secrets.add(keys["admin"]["password"])
    # the CLI falls back to the admin credentials in the keys file
    assert json.loads(life.cli("vault", "configure", "--format", "json"))["changes"] == 0
    out = json.loads(life.cli("vault", "configure", "--revoke-root", "--format", "json"))
    assert next(i for i in out["items"] if i["address"] == "vault_root_token.root")["action"] == "unchanged"


def test_restore_into_the_same_vault_rolls_back(at):
    """After --revoke-root: the keys file's admin credentials drive backup and restore in place."""
    life = at("configured")
    life.cli("vault", "configure", "--revoke-root")
    keys = json.loads(life.keys_file.read_text())
    assert keys["root_token"] is None
    life.seen_secrets.add(keys["admin"]["password"])
    result = json.loads(life.cli("vault", "backup", "--format", "json"))
    life.cli("vault", "rotate", "apps/grafana")
    keys = json.loads(life.keys_file.read_text())
    anon = VaultApi(life.url(), None)
    admin = anon.with_token(anon.login_userpass("admin", keys["admin"]["password"]))
    rotated, version = admin.kv_read("apps/grafana")
    life.seen_secrets.add(rotated["admin_password"])
    out = life.cli("vault", "restore", result["manifest"], "-y")
    assert "verified" in out
    admin = anon.with_token(anon.login_userpass("admin", keys["admin"]["password"]))
    assert admin.kv_read("apps/grafana")[1] == version - 1  # the rotation is undone


def test_no_secret_appears_in_any_output_or_log(at):
    """The commands that handle secrets, on one server, then a scan of every byte they printed, the server
    log, the audit log and the backup manifests for every secret value the server ever held."""
    life = at("populated")
    life.cli("secrets", "get", "infra/proxmox")
    life.cli("secrets", "get", "infra/proxmox", "--reveal", reveal=True)
    life.cli("secrets", "list")
    life.cli("vault", "status")
    life.cli("vault", "rotate", "automation/terraform", "apps/grafana")
    life.cli("vault", "backup")
    life.cli("vault", "configure")
    password = life.root().kv_read("automation/apps")[0]["password"]
    life.cli("secrets", "get", "apps/plex", "--user", "apps", input=password + "\n")
    life.cli("secrets", "get", "apps/plex", "--user", "apps", input="wrong-password-0000\n", expect=3)
    life.cli("vault", "configure", "--revoke-root")
    keys = json.loads(life.keys_file.read_text())  # root revoked: the admin credentials are in the keys file
    life.seen_secrets.add(keys["admin"]["password"])
    anon = VaultApi(life.url(), None)
    remember_values(life, all_kv(anon.with_token(anon.login_userpass("admin", keys["admin"]["password"]))))
    secrets = {s for s in life.seen_secrets if len(s) >= 8}
    # unseal keys (and their base64 form), the root token, each automation user's password, every catalogue
    # field (generated or set by the user), and the rotated values' new versions
    assert len(secrets) >= 5 * 2 + 1 + len(LAB.vault.users) + sum(len(s.fields) for s in LAB.vault.secrets) + 2
    audit = (life.state / "vault" / "audit.log").read_text()
    assert "hmac-sha256:" in audit  # the audit device logs, with values HMAC-ed
    assert not life.leaks(), f"secret values found in: {life.leaks()}"
    # the scan can find what is there: the explicitly revealed output holds the value ...
    assert any(USER_SET["infra/proxmox"]["api_token_secret"] in text for text in life.revealed)
    # ... and a value planted in what is scanned is found
    life.outputs.append(f"planted {USER_SET['infra/proxmox']['api_token_secret']}")
    assert life.leaks(len(life.outputs) - 1) == [(f"output #{len(life.outputs) - 1}", "len=27")]
    life.outputs.pop()
