"""ansible/ rendering, checked by the real tools and against the seed.

- `ansible-playbook --syntax-check` on every playbook with the rendered inventory;
- `ansible-lint --offline` with the production profile: no violations (one run over the whole tree,
  cached for this module), and a deliberately bad snippet does fail it;
- yamllint (the rendered `.yamllint`, strict) on every rendered YAML file;
- `ansible-inventory --list` gives the seed's groups and addresses (expected values written here from
  the seed's tech-stack document and `examples/reference/homelab.yaml`, not from the renderer);
- the k3s role's own tasks, run by ansible-playbook on this machine against temporary paths, write
  the config.yaml the cluster needs (cluster-init only on the first server, the same critical flags on
  every server, join URL on the others, GPU label/taint only on the GPU node) and change nothing on a
  second run; the kubeconfig comes back with the API endpoint instead of 127.0.0.1;
- rendering is deterministic and independent of the order of `vms`;
- no secret value is rendered: secrets are Vault references read by `community.hashi_vault` lookups in
  tasks that all have `no_log: true`.

Collections offline: ansible-core resolves *module/action* names when it parses a playbook (syntax-check
fails on an unknown module: "couldn't resolve module/action") but resolves *lookup* plugins only when a
task runs. The roles therefore read Vault only through the `community.hashi_vault.vault_kv2_get` lookup
and use only `ansible.builtin` modules, so syntax-check and ansible-lint need no collection installed
(nothing is vendored); `test_only_builtin_modules_so_no_collection_is_needed_offline` keeps it so.
Running the playbooks for real needs `ansible-galaxy collection install -r requirements.yml` (and hvac);
the one test that runs a real Vault lookup (against an OpenBao dev server on 127.0.0.1) takes
community.hashi_vault from the `ansible` package on PyPI, extracted at install time by
scripts/test-collections.sh (run by `make test`) and used as ANSIBLE_COLLECTIONS_PATH -- nothing from
Galaxy, nothing vendored, nothing downloaded by the tests.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homelab.lab.load import load_lab, load_text
from homelab.render import ansible

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "reference" / "homelab.yaml"
BIN = Path(sys.executable).parent

PLAYBOOKS = [
    "site.yml",
    "playbooks/baseline.yml",
    "playbooks/elasticsearch-rolling-upgrade.yml",
    "playbooks/elasticsearch.yml",
    "playbooks/fleet.yml",
    "playbooks/k3s-uninstall.yml",
    "playbooks/k3s.yml",
    "playbooks/pki.yml",
    "playbooks/kibana.yml",
    "playbooks/vault.yml",
]
# The `ansible` package (PyPI) bundles every collection; 12.3.0 is the release for ansible-core 2.19 (and
# the last for Python 3.11). requirements.yml pins the versions it ships.
ANSIBLE_BUNDLE = "12.3.0"
HASHI_VAULT_VERSION = "7.1.0"
ROLES = ["csi_node", "elasticsearch", "fleet_server", "host_baseline", "k3s", "kibana", "nvidia_gpu", "vault_server"]

# The reference lab (seed tech-stack + reference-lab-notes): name -> address.
SEED_HOSTS = {
    **{f"kube0{i}": f"192.168.10.7{i}" for i in range(1, 7)},
    **{f"es0{i}": f"192.168.10.8{i}" for i in range(1, 10)},
    "kibana": "192.168.10.90", "fleet": "192.168.10.91", "vault": "192.168.10.50",
    "plex": "192.168.10.55", "torrent": "192.168.10.56", "proxy": "192.168.10.52", "infra": "192.168.10.51",
}


def tool(name: str) -> str:
    """The real CLI from this environment; missing is a failure, never a skip."""
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (it comes with ansible-core / ansible-lint / yamllint)")
    return found


def run(args: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    environ.update({"ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1", "PATH": f"{BIN}{os.pathsep}{environ.get('PATH', '')}"})
    environ.update(env)
    return subprocess.run(args, cwd=cwd, env=environ, capture_output=True, text=True, timeout=600)


def write_tree(files, root: Path) -> Path:
    for f in files:
        path = root / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content, encoding="utf-8")
        path.chmod(f.mode)
    return root / "ansible"


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def doc():
    return load_lab(SEED)


@pytest.fixture(scope="module")
def rendered(doc):
    return ansible.render(doc)


@pytest.fixture(scope="module")
def tree(rendered, tmp_path_factory) -> Path:
    return write_tree(rendered, tmp_path_factory.mktemp("rendered"))


@pytest.fixture(scope="module")
def lint(tree) -> subprocess.CompletedProcess:
    """One ansible-lint run over the whole rendered tree (the slow part: ~30 s)."""
    return run([tool("ansible-lint"), "--offline", "--profile", "production", "--format", "pep8"], tree)


def yaml_files(tree: Path) -> list[Path]:
    """Rendered YAML files (not tool caches in hidden directories)."""
    return sorted(p for p in tree.rglob("*.yml") if not any(x.startswith(".") for x in p.relative_to(tree).parts[:-1]))


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------ real tools
@pytest.mark.validators
def test_every_playbook_passes_syntax_check(tree):
    found = sorted(str(p.relative_to(tree)) for p in [tree / "site.yml", *(tree / "playbooks").glob("*.yml")])
    assert found == sorted(PLAYBOOKS)
    for playbook in PLAYBOOKS:
        result = run([tool("ansible-playbook"), "--syntax-check", "-i", "inventory.yml", playbook], tree)
        assert result.returncode == 0, f"{playbook}:\n{result.stdout}\n{result.stderr}"


@pytest.mark.validators
def test_ansible_lint_production_profile_has_no_violations(lint):
    output = lint.stdout + lint.stderr
    assert lint.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output
    assert re.search(r"Passed: 0 failure\(s\), 0 warning\(s\) in (\d+) files", output), output
    processed = int(re.search(r"in (\d+) files processed", output).group(1))
    assert processed >= 60, f"ansible-lint looked at only {processed} files"


@pytest.mark.validators
def test_ansible_lint_fails_on_a_violation(tree, tmp_path):
    """The same configuration, one playbook with known violations: the lint must fail and name them."""
    shutil.copy(tree / ".ansible-lint", tmp_path / ".ansible-lint")
    (tmp_path / "bad.yml").write_text(
        "---\n- name: Bad\n  hosts: all\n  tasks:\n    - shell: echo hi\n"
        "    - name: copy without a mode\n      ansible.builtin.copy:\n        content: x\n        dest: /tmp/x\n"
    )
    result = run([tool("ansible-lint"), "--offline", "--profile", "production", "--format", "pep8", "bad.yml"],
                 tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for rule in ("name[missing]", "fqcn[action-core]", "no-changed-when", "risky-file-permissions", "name[casing]"):
        assert rule in output, f"{rule} not reported:\n{output}"


@pytest.mark.validators
def test_yamllint_passes_on_every_rendered_yaml_file(tree):
    config = tree / ".yamllint"
    assert config.exists()
    files = [str(p.relative_to(tree)) for p in yaml_files(tree)]
    assert len(files) > 40
    result = run([tool("yamllint"), "-c", str(config), "--strict", "-f", "parsable", *files], tree)
    assert result.returncode == 0, result.stdout + result.stderr


def test_inventory_groups_and_addresses_match_the_seed(tree):
    result = run([tool("ansible-inventory"), "-i", "inventory.yml", "--list"], tree)
    assert result.returncode == 0, result.stderr
    inv = json.loads(result.stdout)

    def hosts(group):
        return sorted(inv.get(group, {}).get("hosts", []))

    assert hosts("k8s_cp") == ["kube01", "kube02", "kube03"]
    assert hosts("k8s_worker") == ["kube04", "kube05", "kube06"]
    assert hosts("k8s_cp_init") == ["kube01"]
    assert set(inv["k8s"]["children"]) >= {"k8s_cp", "k8s_worker"}
    assert hosts("elasticsearch_nodes") == [f"es0{i}" for i in range(1, 7)]
    assert hosts("elasticsearch_masters") == ["es07", "es08", "es09"]
    assert set(inv["elasticsearch"]["children"]) == {"elasticsearch_nodes", "elasticsearch_masters"}
    assert set(inv["elastic_stack"]["children"]) == {"elasticsearch", "kibana_servers", "fleet_servers"}
    for name in ("kibana", "fleet", "vault", "plex"):
        assert hosts(f"{name}_servers") == [name]
    # one group per role and per environment that has VMs
    assert hosts("role_es_master") == ["es07", "es08", "es09"]
    assert hosts("role_k8s_control_plane") == ["kube01", "kube02", "kube03"]
    assert hosts("env_home_apps") == ["infra", "plex", "proxy", "torrent"]
    assert hosts("env_vault") == ["vault"]
    assert hosts("env_lab") == sorted([f"es0{i}" for i in range(1, 10)] + ["fleet", "kibana"])
    hostvars = inv["_meta"]["hostvars"]
    assert {name: hv["ansible_host"] for name, hv in hostvars.items()} == SEED_HOSTS


@pytest.mark.validators
def test_no_group_shares_a_name_with_a_host(tree):
    """Issue 11, item 13: hosts kibana, fleet, vault and plex had groups of the same name, and every
    ansible-playbook run warned "Found both group and host with same name" (and `--limit vault` meant both)."""
    result = run([tool("ansible-inventory"), "-i", "inventory.yml", "--list"], tree)
    assert result.returncode == 0, result.stderr
    inv = json.loads(result.stdout)
    groups = set(inv) - {"_meta"}
    assert not groups & set(inv["_meta"]["hostvars"]), groups & set(inv["_meta"]["hostvars"])
    syntax = run([tool("ansible-playbook"), "--syntax-check", "-i", "inventory.yml", "site.yml"], tree)
    assert syntax.returncode == 0 and "Found both group and host" not in syntax.stdout + syntax.stderr, syntax.stderr
    # the seed's group names stay
    assert {"k8s_cp", "k8s_worker", "elasticsearch_nodes", "elasticsearch_masters"} <= groups


def test_inventory_hosts_are_sorted(tree):
    data = load_yaml(tree / "inventory.yml")
    names = list(data["all"]["hosts"])
    assert names == sorted(names)

    def walk(groups):
        for body in groups.values():
            if body and "hosts" in body:
                assert list(body["hosts"]) == sorted(body["hosts"])
            if body and "children" in body:
                walk(body["children"])

    walk(data["all"]["children"])


# ------------------------------------------------------------------------------------------ group_vars
def test_group_vars_carry_the_lab_facts(tree, doc):
    all_vars = load_yaml(tree / "group_vars" / "all.yml")
    assert all_vars["lab_domain"] == "lab.thewortmans.org"
    assert all_vars["lab_dns_servers"] == ["192.168.10.1", "192.168.10.200"]
    assert all_vars["lab_vault_kv_mount"] == "secret"
    assert "https://vault.lab.thewortmans.org:8200" in all_vars["lab_vault_addr"]
    assert all_vars["host_baseline_ssh_authorized_keys"] == list(doc.lab.proxmox.ssh_keys)
    assert all_vars["host_baseline_admin_users"] == ["ubuntu"]
    assert {h["name"]: h["ip"] for h in all_vars["host_baseline_hosts"]} == SEED_HOSTS
    assert all(h["fqdn"] == f"{h['name']}.lab.thewortmans.org" for h in all_vars["host_baseline_hosts"])

    k8s = load_yaml(tree / "group_vars" / "k8s.yml")
    assert k8s["k3s_first_server"] == "kube01"
    assert k8s["k3s_disable"] == ["servicelb", "traefik", "local-storage"]  # item 17: one default StorageClass
    assert k8s["k3s_flannel_backend"] == "vxlan"
    assert k8s["k3s_cluster_cidr"] == "10.42.0.0/16" and k8s["k3s_service_cidr"] == "10.43.0.0/16"
    assert "cp.lab.thewortmans.org" in k8s["k3s_tls_sans"]
    assert k8s["k3s_gpu_nodes"] == ["kube06"]
    assert k8s["k3s_gpu_node_labels"] == ["accelerator=nvidia-tesla-gpu"]
    assert k8s["k3s_gpu_node_taints"] == ["nvidia.com/gpu=true:NoSchedule"]
    assert k8s["k3s_token_secret"] == {"path": "k3s/cluster", "field": "token"}

    es = load_yaml(tree / "group_vars" / "elasticsearch.yml")
    assert es["elasticsearch_version"] == "8.18.0"
    assert es["elasticsearch_cluster_name"] == "homelab-logs"
    assert es["elasticsearch_initial_master_nodes"] == ["es07", "es08", "es09"]
    assert es["elasticsearch_seed_hosts"] == ["192.168.10.87", "192.168.10.88", "192.168.10.89"]
    # engine-api-facts §4.6: endpoint is a client setting, credentials go to the keystore
    assert es["elasticsearch_s3_client_settings"] == {
        "s3.client.default.endpoint": "truenas.lab.thewortmans.org:9000",
        "s3.client.default.protocol": "https",
        "s3.client.default.path_style_access": True,
    }
    assert es["elasticsearch_s3_client_secrets"] == {
        "default": {"path": "elastic/s3", "access_key": "access_key", "secret_key": "secret_key"}}
    assert "endpoint" not in es["elasticsearch_snapshot_repository"]["settings"]

    vault = load_yaml(tree / "group_vars" / "vault_servers.yml")
    assert vault["vault_server_version"] == "1.18.3"
    assert vault["vault_server_tls_cert_file"] == "/opt/vault/tls/vault.crt"


def test_vault_role_uses_the_config_the_vault_renderer_writes(tree):
    defaults = load_yaml(tree / "roles" / "vault_server" / "defaults" / "main.yml")
    src = defaults["vault_server_config_src"].replace("{{ role_path }}", str(tree / "roles" / "vault_server"))
    assert Path(os.path.normpath(src)) == tree.parent / "vault" / "config" / "vault.hcl"
    unit = (tree / "roles" / "vault_server" / "templates" / "vault.service.j2").read_text()
    assert "LimitMEMLOCK=infinity" in unit and "CAP_IPC_LOCK" in unit


# ------------------------------------------------------------------------------------------ determinism
def test_rendering_twice_gives_identical_bytes(doc):
    first = [(f.path, f.content, f.mode) for f in ansible.render(doc)]
    second = [(f.path, f.content, f.mode) for f in ansible.render(load_lab(SEED))]
    assert first == second
    assert [p for p, _, _ in first] == sorted(p for p, _, _ in first)
    for _, content, _ in first:
        assert content.endswith("\n") and not content.endswith("\n\n") and "\r" not in content


def test_order_of_vms_does_not_change_the_output(rendered):
    from ruamel.yaml import YAML

    yml = YAML()
    expected = [(f.path, f.content) for f in rendered]
    for seed in (1, 2, 3):
        data = yml.load(SEED.read_text())
        vms = list(data["vms"])
        random.Random(seed).shuffle(vms)
        data["vms"] = vms
        buf = io.StringIO()
        yml.dump(data, buf)
        shuffled = load_text(buf.getvalue())
        assert [vm.name for vm in shuffled.lab.vms] != [vm.name for vm in load_lab(SEED).lab.vms]
        assert [(f.path, f.content) for f in ansible.render(shuffled)] == expected


@pytest.mark.validators
def test_a_lab_without_clusters_still_renders_a_valid_tree(tmp_path):
    """No K3s, no Elasticsearch, no Vault server: empty groups, no cluster group_vars, playbooks still parse."""
    from ruamel.yaml import YAML

    yml = YAML()
    data = yml.load(SEED.read_text())
    data["vms"] = [vm for vm in data["vms"] if vm["name"] in ("plex", "proxy")]
    del data["clusters"]
    del data["vault"]["server"]
    data["pki"]["step_ca"].pop("host")
    buf = io.StringIO()
    yml.dump(data, buf)
    small = load_text(buf.getvalue())
    files = ansible.render(small)
    paths = {f.path for f in files}
    assert "ansible/group_vars/k8s.yml" not in paths and "ansible/group_vars/elasticsearch.yml" not in paths
    tree = write_tree(files, tmp_path)
    result = run([tool("ansible-inventory"), "-i", "inventory.yml", "--list"], tree)
    assert result.returncode == 0, result.stderr
    inv = json.loads(result.stdout)
    assert sorted(inv["_meta"]["hostvars"]) == ["plex", "proxy"]
    assert "hosts" not in inv.get("k8s_cp", {}) and "hosts" not in inv.get("elasticsearch_nodes", {})
    result = run([tool("ansible-playbook"), "--syntax-check", "-i", "inventory.yml", "site.yml"], tree)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------ secrets
SECRET_KEY = re.compile(r"(password|passwd|token|secret|access_key|secret_key|api_key)", re.I)


def _task_files(tree: Path):
    for path in yaml_files(tree):
        rel = path.relative_to(tree).parts
        if rel[0] == "playbooks" or rel == ("site.yml",) or (rel[0] == "roles" and rel[2] in ("tasks", "handlers")):
            yield path


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        if "name" in node and any(k.startswith("ansible.builtin.") for k in node):
            yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            if key in node:
                yield from _tasks(node[key])


def test_rendered_data_holds_references_never_values(tree):
    """Every secret-looking key in inventory/group_vars points at Vault (path/field), never a value."""

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if SECRET_KEY.search(str(key)) and not str(key).endswith("_secret") and key != "path":
                    if isinstance(value, str):
                        # only a field *name* inside a Vault reference dict is allowed
                        assert "path" in node, f"{where}.{key} holds a literal value"
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    for path in [tree / "inventory.yml", *sorted((tree / "group_vars").glob("*.yml"))]:
        walk(load_yaml(path), path.name)
    k8s = load_yaml(tree / "group_vars" / "k8s.yml")
    assert set(k8s["k3s_token_secret"]) == {"path", "field"}


def test_every_task_that_touches_a_secret_has_no_log(tree):
    secret_vars = ("k3s_token_value", "k3s_config", "k3s_kubeconfig", "elasticsearch_keystore",
                   "elasticsearch_api_password", "kibana_service_token", "kibana_keystore",
                   "elasticsearch_service_token_current", "elasticsearch_service_token_created",
                   "vault_server_unseal_keys")
    checked = 0
    for path in _task_files(tree):
        for task in _tasks(load_yaml(path)):
            body = json.dumps({k: v for k, v in task.items() if k != "name"})
            uses_secret = "community.hashi_vault" in body or any(re.search(rf"\b{v}\b", body) for v in secret_vars)
            # module_defaults on a block hand the password to uri, which masks url_password itself
            if "block" in task or "module_defaults" in task:
                continue
            if uses_secret and "ansible.builtin.uri" not in task:
                checked += 1
                assert task.get("no_log") is True, f"{path.relative_to(tree)}: task {task['name']!r} lacks no_log"
    assert checked >= 10


def test_secrets_are_read_with_the_hashi_vault_lookup(tree):
    lookups = set()
    for path in yaml_files(tree):
        lookups |= set(re.findall(r"lookup\('([\w.]+)'", path.read_text()))
    assert "community.hashi_vault.vault_kv2_get" in lookups
    # ansible.builtin.file: the vault_server role reads homelab's keys file (controller) to unseal Vault after a
    # restart; community.hashi_vault.vault_write: the elasticsearch role stores the service tokens it creates.
    assert lookups <= {"community.hashi_vault.vault_kv2_get", "community.hashi_vault.vault_write",
                       "ansible.builtin.env", "ansible.builtin.template", "ansible.builtin.file"}
    file_reads = [p for p in yaml_files(tree) if "lookup('ansible.builtin.file'" in p.read_text()]
    assert [str(p.relative_to(tree)) for p in file_reads] == ["roles/vault_server/tasks/unseal.yml"]


def test_only_builtin_modules_so_no_collection_is_needed_offline(tree):
    keywords = {"name", "when", "loop", "loop_control", "register", "notify", "no_log", "vars", "become",
                "changed_when", "failed_when", "delegate_to", "run_once", "listen", "until", "retries",
                "delay", "environment", "block", "rescue", "always", "module_defaults", "tags", "args"}
    for path in _task_files(tree):
        for task in _tasks(load_yaml(path)):
            actions = [k for k in task if k not in keywords]
            assert len(actions) == 1 and actions[0].startswith("ansible.builtin."), (path, task["name"], actions)


# ------------------------------------------------------------------------------------------ k3s role, run
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the k3s role writes root-owned files (CI runs as root)")

K3S_PLAY = """---
- name: Write the k3s configuration of every node locally
  hosts: k8s
  gather_facts: false
  tasks:
    - name: Configuration
      ansible.builtin.import_role:
        name: k3s
        tasks_from: config.yml
"""


def _recap(output: str) -> dict[str, dict[str, int]]:
    recap = {}
    for line in output.splitlines():
        m = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if m and "ok=" in m.group(2):
            recap[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return recap


@needs_root
@pytest.mark.validators
def test_k3s_role_writes_the_config_each_node_needs(tree, tmp_path):
    (tree / "_k3s_config_test.yml").write_text(K3S_PLAY)
    out = tmp_path / "nodes"
    args = [tool("ansible-playbook"), "-i", "inventory.yml", "_k3s_config_test.yml",
            "-e", "ansible_connection=local", "-e", "ansible_become=false",
            "-e", f"ansible_python_interpreter={sys.executable}",
            "-e", "k3s_token_value=planted-test-token-4242",
            "-e", f"k3s_config_file={out}/{{{{ inventory_hostname }}}}/config.yaml",
            "-e", "k3s_service_mgr=none", "-e", "k3s_detached_bin=/bin/true"]
    try:
        first = run(args, tree)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "planted-test-token-4242" not in first.stdout + first.stderr  # no_log
        second = run(args, tree)
        assert second.returncode == 0, second.stdout + second.stderr
    finally:
        (tree / "_k3s_config_test.yml").unlink()
    assert all(r["changed"] >= 1 for r in _recap(first.stdout).values())
    assert {h: r["changed"] for h, r in _recap(second.stdout).items()} == dict.fromkeys(
        [f"kube0{i}" for i in range(1, 7)], 0)

    configs = {}
    for host in [f"kube0{i}" for i in range(1, 7)]:
        path = out / host / "config.yaml"
        assert path.stat().st_mode & 0o777 == 0o600
        configs[host] = yaml.safe_load(path.read_text())
        assert configs[host]["token"] == "planted-test-token-4242"
        assert configs[host]["node-ip"] == SEED_HOSTS[host]

    first_server = configs["kube01"]
    assert first_server["cluster-init"] is True and "server" not in first_server
    servers = [configs[h] for h in ("kube01", "kube02", "kube03")]
    for cfg in servers:
        # local-storage too: democratic-csi brings the default StorageClass (K3s: --disable local-storage)
        assert cfg["disable"] == ["servicelb", "traefik", "local-storage"]
        assert cfg["flannel-backend"] == "vxlan"
        assert cfg["cluster-cidr"] == "10.42.0.0/16" and cfg["service-cidr"] == "10.43.0.0/16"
        assert "cp.lab.thewortmans.org" in cfg["tls-san"]
    for host in ("kube02", "kube03", "kube04", "kube05", "kube06"):
        assert configs[host]["server"] == "https://192.168.10.71:6443"
        assert "cluster-init" not in configs[host]
    for host in ("kube04", "kube05", "kube06"):
        assert not {"disable", "tls-san", "cluster-init", "flannel-backend"} & set(configs[host])
    assert configs["kube06"]["node-label"] == ["accelerator=nvidia-tesla-gpu"]
    assert configs["kube06"]["node-taint"] == ["nvidia.com/gpu=true:NoSchedule"]
    assert all("node-label" not in configs[h] and "node-taint" not in configs[h] for h in configs if h != "kube06")


KUBECONFIG_PLAY = """---
- name: Fetch the kubeconfig from the first server
  hosts: k8s_cp_init
  gather_facts: false
  tasks:
    - name: Kubeconfig
      ansible.builtin.import_role:
        name: k3s
        tasks_from: kubeconfig.yml
"""


@needs_root
@pytest.mark.validators
def test_k3s_role_fetches_the_kubeconfig_with_the_api_endpoint(tree, tmp_path):
    src = tmp_path / "k3s.yaml"
    src.write_text("apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n")
    dest = tmp_path / "kube" / "config"
    (tree / "_kubeconfig_test.yml").write_text(KUBECONFIG_PLAY)
    try:
        result = run([tool("ansible-playbook"), "-i", "inventory.yml", "_kubeconfig_test.yml",
                      "-e", "ansible_connection=local", "-e", "ansible_become=false",
                      "-e", f"ansible_python_interpreter={sys.executable}",
                      "-e", f"k3s_kubeconfig_src={src}", "-e", f"k3s_kubeconfig_dest={dest}",
                      "-e", "k3s_wait_timeout=5"], tree)
    finally:
        (tree / "_kubeconfig_test.yml").unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    text = dest.read_text()
    assert "server: https://cp.lab.thewortmans.org:6443" in text and "127.0.0.1" not in text
    assert dest.stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------------------------------------------ structure
def test_k3s_playbook_bootstraps_then_joins_servers_one_by_one_then_agents(tree):
    plays = load_yaml(tree / "playbooks" / "k3s.yml")
    # Host prerequisites first (K3s detects the NVIDIA runtime only when it starts), then K3s.
    assert [(p["hosts"], [r["role"] for r in p["roles"]]) for p in plays] == [
        ("k8s", ["csi_node"]), ("k8s_gpu", ["nvidia_gpu"]), ("k8s_cp_init", ["k3s"]),
        ("k8s_cp:!k8s_cp_init", ["k3s"]), ("k8s_worker", ["k3s"])]
    assert plays[3]["serial"] == 1
    site = load_yaml(tree / "site.yml")
    assert [p["ansible.builtin.import_playbook"] for p in site] == [
        "playbooks/baseline.yml", "playbooks/vault.yml", "playbooks/pki.yml", "playbooks/k3s.yml",
        "playbooks/elasticsearch.yml", "playbooks/kibana.yml", "playbooks/fleet.yml"]


def test_gpu_and_storage_prerequisites_reach_the_right_nodes(tree):
    """Issue 10 items 6 and 16: the GPU node gets the NVIDIA driver and toolkit, every K3s node the
    democratic-csi node tools (democratic-csi README "Node Prep", Ubuntu/Debian)."""
    inv = load_yaml(tree / "inventory.yml")["all"]["children"]["k8s"]["children"]
    assert list(inv["k8s_gpu"]["hosts"]) == ["kube06"]  # clusters.k3s.gpu.nodes
    k8s = load_yaml(tree / "group_vars" / "k8s.yml")
    assert k8s["csi_node_protocols"] == ["iscsi", "nfs"]  # freenas-iscsi-csi, freenas-nfs-csi
    csi = load_yaml(tree / "roles" / "csi_node" / "defaults" / "main.yml")
    assert {"open-iscsi", "multipath-tools", "lsscsi", "sg3-utils"} <= set(csi["csi_node_iscsi_packages"])
    assert csi["csi_node_nfs_packages"] == ["nfs-common"]
    assert {"iscsid", "multipathd", "open-iscsi"} <= set(csi["csi_node_iscsi_services"])
    tasks = (tree / "roles" / "csi_node" / "tasks" / "main.yml").read_text()
    assert "find_multipaths yes" in tasks and "user_friendly_names yes" in tasks
    gpu = load_yaml(tree / "roles" / "nvidia_gpu" / "defaults" / "main.yml")
    # K3s looks for nvidia-container-runtime, which the nvidia-container-toolkit package installs.
    assert "nvidia-container-toolkit" in gpu["nvidia_gpu_toolkit_packages"]
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d+", gpu["nvidia_gpu_toolkit_version"])  # pinned
    install = load_yaml(tree / "roles" / "nvidia_gpu" / "tasks" / "install.yml")
    toolkit = next(t for t in install if "toolkit (nvidia-container-runtime)" in t["name"])
    assert toolkit["notify"] == "Restart k3s for the NVIDIA runtime"


NVIDIA_PLAY = """---
- name: The nvidia_gpu role on this machine (no NVIDIA device here)
  hosts: localhost
  gather_facts: true
  roles:
    - role: nvidia_gpu
"""


@pytest.mark.validators
def test_nvidia_role_refuses_a_gpu_node_without_a_gpu(tree):
    """Run for real on this machine, which has no NVIDIA PCI device: the role stops before apt, with a
    message naming the passthrough; told not to require one, it skips the node and changes nothing."""
    import glob

    assert not [p for p in glob.glob("/sys/bus/pci/devices/*/vendor") if open(p).read().strip() == "0x10de"]
    (tree / "_nvidia_test.yml").write_text(NVIDIA_PLAY)
    base = [tool("ansible-playbook"), "-i", "localhost,", "_nvidia_test.yml", "-e", "ansible_connection=local",
            "-e", f"ansible_python_interpreter={sys.executable}", "-e", "nvidia_gpu_manage=true"]
    try:
        refused = run(base, tree)
        skipped = run([*base, "-e", "nvidia_gpu_require_device=false"], tree)
        unmanaged = run([*base, "-e", "nvidia_gpu_manage=false"], tree)  # the role's view of a test host
    finally:
        (tree / "_nvidia_test.yml").unlink()
    assert refused.returncode != 0
    assert "shows no NVIDIA PCI device" in refused.stdout and "passthrough" in refused.stdout
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    recap = _recap(skipped.stdout)["localhost"]
    assert recap["changed"] == 0 and recap["failed"] == 0
    assert "Install the NVIDIA server driver" not in skipped.stdout
    assert unmanaged.returncode == 0 and "no systemd here" in unmanaged.stdout, unmanaged.stdout


def test_rolling_upgrade_follows_elastics_order(tree):
    """engine-api-facts §4.9: data nodes first, one at a time; masters last; abort on red."""
    plays = load_yaml(tree / "playbooks" / "elasticsearch-rolling-upgrade.yml")
    assert [(p["hosts"], p.get("serial")) for p in plays] == [
        ("elasticsearch_masters", None), ("elasticsearch_nodes", 1), ("elasticsearch_masters", 1),
        ("elasticsearch_masters", None)]
    steps = [t["name"] for t in _tasks(load_yaml(tree / "roles" / "elasticsearch" / "tasks" / "upgrade.yml"))]
    order = ["Abort on a red cluster", "Disable replica allocation (primaries only)", "Stop Elasticsearch",
             "Install the target version", "Wait until the node has rejoined at the target version",
             "Re-enable allocation", "Wait for recovery"]
    assert [s for s in steps if s in order] == order
    upgrade = (tree / "roles" / "elasticsearch" / "tasks" / "upgrade.yml").read_text()
    assert "cluster.routing.allocation.enable: primaries" in upgrade
    assert "cluster.routing.allocation.enable: null" in upgrade


def test_playbooks_have_headers_and_roles_have_readmes(tree):
    for playbook in PLAYBOOKS:
        lines = (tree / playbook).read_text().splitlines()
        assert lines[0].startswith("# Generated by homelab")
        head = lines[1:lines.index("---")]
        assert len(head) >= 3 and all(line.startswith("#") for line in head), playbook
        assert any("ansible-playbook" in line for line in head), f"{playbook}: no 'how to run' line"
    for role in ROLES:
        readme = (tree / "roles" / role / "README.md").read_text()
        defaults = tree / "roles" / role / "defaults" / "main.yml"
        for variable in load_yaml(defaults):
            assert f"`{variable}`" in readme, f"{role}/README.md does not document {variable}"


def test_static_files_are_shipped_and_executable_where_needed(rendered):
    by_path = {f.path: f for f in rendered}
    for name in ("ansible/.yamllint", "ansible/.ansible-lint", "ansible/ansible.cfg", "ansible/requirements.yml"):
        assert name in by_path
    assert by_path["ansible/roles/k3s/files/k3s-detached.sh"].mode == 0o755
    assert by_path["ansible/roles/k3s/files/k3s-detached.sh"].content.startswith("#!/bin/sh\n# Generated by")
    cfg = by_path["ansible/ansible.cfg"].content
    assert "inventory = inventory.yml" in cfg and "roles_path = roles" in cfg and "pipelining = True" in cfg
    reqs = yaml.safe_load(by_path["ansible/requirements.yml"].content)
    assert {c["name"]: c["version"] for c in reqs["collections"]} == {
        "community.hashi_vault": HASHI_VAULT_VERSION, "kubernetes.core": "6.2.0"}


# ------------------------------------------------------------------------------------------ Vault, for real
@pytest.fixture(scope="module")
def hashi_vault_collections() -> Path:
    """A collections path holding community.hashi_vault, taken from the `ansible` package on PyPI at
    install time by scripts/test-collections.sh (run by `make test`); the tests download nothing."""
    cache = ROOT / ".venv" / "share" / "homelab-test-collections" / f"ansible-{ANSIBLE_BUNDLE}"
    manifest_file = cache / "ansible_collections" / "community" / "hashi_vault" / "MANIFEST.json"
    if not manifest_file.exists():
        pytest.fail(f"community.hashi_vault is not installed at {cache}: run `make test` "
                    "(or scripts/test-collections.sh), which installs it from PyPI")
    manifest = json.loads(manifest_file.read_text())
    assert manifest["collection_info"]["version"] == HASHI_VAULT_VERSION
    return cache


VAULT_PLAY = """---
- name: Read the join token from Vault and write the k3s configuration locally
  hosts: kube01:kube06
  gather_facts: false
  tasks:
    - name: Token
      ansible.builtin.import_role:
        name: k3s
        tasks_from: token.yml
    - name: Configuration
      ansible.builtin.import_role:
        name: k3s
        tasks_from: config.yml
"""


@needs_root
@pytest.mark.validators
def test_k3s_token_is_read_from_vault_and_never_printed(tree, tmp_path, hashi_vault_collections, openbao_dev):
    """The rendered lookup (url, KV mount, field) works against a real Vault API with VAULT_ADDR and
    VAULT_TOKEN only; the planted token reaches config.yaml and nowhere in ansible's output (-vv)."""
    addr, root, client = openbao_dev
    planted = "planted-k3s-token-" + secrets.token_hex(16)
    client.secrets.kv.v2.create_or_update_secret(path="k3s/cluster", secret={"token": planted}, mount_point="secret")
    (tree / "_vault_test.yml").write_text(VAULT_PLAY)
    out = tmp_path / "nodes"
    try:
        result = run([tool("ansible-playbook"), "-vv", "-i", "inventory.yml", "_vault_test.yml",
                      "-e", "ansible_connection=local", "-e", "ansible_become=false",
                      "-e", f"ansible_python_interpreter={sys.executable}",
                      "-e", f"k3s_config_file={out}/{{{{ inventory_hostname }}}}/config.yaml",
                      "-e", "k3s_service_mgr=none", "-e", "k3s_detached_bin=/bin/true"],
                     tree, VAULT_ADDR=addr, VAULT_TOKEN=root, ANSIBLE_COLLECTIONS_PATH=str(hashi_vault_collections))
    finally:
        (tree / "_vault_test.yml").unlink()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert planted not in output
    assert "community.hashi_vault" not in output or "not found" not in output
    for host in ("kube01", "kube06"):
        assert yaml.safe_load((out / host / "config.yaml").read_text())["token"] == planted
    # and nothing rendered could have carried it
    assert all(planted not in p.read_text(errors="replace") for p in tree.rglob("*") if p.is_file())


KEYSTORE_STUB = """#!/bin/sh
# Stand-in for elasticsearch-keystore: `show NAME` and `add --stdin --force NAME` (reads one line, as
# the real --stdin does), one file per setting in STORE.
set -eu
store=STORE
case "$1" in
    show) [ -f "$store/$2" ] || { echo "ERROR: Setting [$2] does not exist in the keystore." >&2; exit 65; }
          cat "$store/$2" ;;
    add) [ "$2 $3" = "--stdin --force" ] || exit 64
         IFS= read -r value || true; printf '%s' "$value" > "$store/$4"; echo "$4" >> "$store/.writes" ;;
    *) exit 64 ;;
esac
"""

KEYSTORE_PLAY = """---
- name: Put the S3 client keys from Vault in the keystore
  hosts: es01
  gather_facts: false
  tasks:
    - name: Keystore
      ansible.builtin.import_role:
        name: elasticsearch
        tasks_from: keystore.yml
"""


@needs_root
@pytest.mark.validators
def test_elasticsearch_keystore_gets_s3_keys_from_vault_once(tree, tmp_path, hashi_vault_collections, openbao_dev):
    addr, root, client = openbao_dev
    access, secret = "planted-access-" + secrets.token_hex(8), "planted-secret-" + secrets.token_hex(16)
    client.secrets.kv.v2.create_or_update_secret(
        path="elastic/s3", secret={"access_key": access, "secret_key": secret}, mount_point="secret")
    elastic = "planted-elastic-" + secrets.token_hex(12)  # the bootstrap.password (issue 11, item 5)
    client.secrets.kv.v2.create_or_update_secret(
        path="elastic/cluster", secret={"elastic_password": elastic}, mount_point="secret")
    store = tmp_path / "keystore"
    store.mkdir()
    stub = tmp_path / "elasticsearch-keystore"
    stub.write_text(KEYSTORE_STUB.replace("STORE", str(store)))
    stub.chmod(0o755)
    (tree / "_keystore_test.yml").write_text(KEYSTORE_PLAY)
    args = [tool("ansible-playbook"), "-v", "-i", "inventory.yml", "_keystore_test.yml",
            "-e", "ansible_connection=local", "-e", "ansible_become=false",
            "-e", f"ansible_python_interpreter={sys.executable}",
            "-e", f"elasticsearch_keystore_bin={stub}", "-e", "elasticsearch_manage_services=false"]
    env = {"VAULT_ADDR": addr, "VAULT_TOKEN": root, "ANSIBLE_COLLECTIONS_PATH": str(hashi_vault_collections)}
    try:
        first = run(args, tree, **env)
        second = run(args, tree, **env)
    finally:
        (tree / "_keystore_test.yml").unlink()
    for result in (first, second):
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert access not in output and secret not in output and elastic not in output
    assert (store / "bootstrap.password").read_text() == elastic
    assert (store / "s3.client.default.access_key").read_text() == access
    assert (store / "s3.client.default.secret_key").read_text() == secret
    # written once each: the second run compares and leaves the keystore alone
    assert sorted((store / ".writes").read_text().split()) == [
        "bootstrap.password", "s3.client.default.access_key", "s3.client.default.secret_key"]
    assert _recap(second.stdout)["es01"]["changed"] == 0


# ------------------------------------------------------------------------------------------ Elastic stack
def _secret_refs(node, where=""):
    """Every {path, field(s)} Vault reference under a key ending in _secret (or _secrets)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).endswith(("_secret", "_secrets")) and isinstance(value, dict):
                refs = value.values() if str(key).endswith("_secrets") else [value]
                for ref in refs:
                    fields = [ref["field"]] if "field" in ref else [v for k, v in ref.items() if k != "path"]
                    yield f"{where}.{key}", ref["path"], fields
            else:
                yield from _secret_refs(value, f"{where}.{key}")


def test_every_vault_secret_the_roles_read_or_write_is_in_the_catalogue(tree, doc):
    """Issue 11, item 6: Kibana and Fleet read elastic/kibana and elastic/fleet, which were not in the
    catalogue. Every reference in group_vars and the role defaults names a catalogue path and field."""
    catalogue = {s.path: set(s.fields) for s in doc.lab.vault.secrets}
    files = [*sorted((tree / "group_vars").glob("*.yml")), *sorted((tree / "roles").glob("*/defaults/main.yml"))]
    seen = set()
    for path in files:
        for where, secret_path, fields in _secret_refs(load_yaml(path)):
            seen.add(secret_path)
            assert secret_path in catalogue, f"{path.relative_to(tree)}{where}: {secret_path} is not in the catalogue"
            assert set(fields) <= catalogue[secret_path], f"{where}: {fields} not in {secret_path}"
    assert {"elastic/cluster", "elastic/kibana", "elastic/fleet", "elastic/kibana-encryption", "elastic/s3",
            "k3s/cluster"} <= seen
    generated = {s.path for s in doc.lab.vault.secrets if s.generate}
    assert {"elastic/cluster", "elastic/kibana-encryption"} <= generated  # homelab makes these
    assert not {"elastic/kibana", "elastic/fleet"} & generated  # the roles create these through the ES API


def test_ansible_may_store_the_service_tokens_it_creates(tree):
    """The kibana and fleet_server roles write the tokens to Vault: the ansible policy allows exactly that."""
    from homelab.lab.vault_access import kv_capabilities

    lab = load_lab(SEED).lab
    ansible_policy = lab.vault.policies["ansible"]
    for path in ("elastic/kibana", "elastic/fleet"):
        assert {"create", "update", "read"} <= kv_capabilities(ansible_policy, "secret", path)
    assert "update" not in kv_capabilities(ansible_policy, "secret", "elastic/cluster")


def test_kibana_and_fleet_reach_elasticsearch_by_name(tree):
    """Issue 11, item 10: the node certificates carry names (tls/README.md), so clients use names."""
    stack = load_yaml(tree / "group_vars" / "elastic_stack.yml")
    assert stack["elastic_stack_elasticsearch_hosts"] == [f"https://es0{i}.lab.thewortmans.org:9200" for i in range(1, 7)]
    assert stack["elastic_stack_kibana_url"].startswith("https://kibana.lab.thewortmans.org")
    es_vars = (tree / "roles" / "elasticsearch" / "vars" / "main.yml").read_text()
    assert "ansible_host" not in es_vars.split("elasticsearch_api:")[1]  # the roles' own API calls too


@pytest.mark.parametrize(("unix", "es"), [
    ("0 2 * * *", "0 0 2 * * ?"), ("30 1 * * 0", "0 30 1 ? * SUN"), ("0 3 * * 1-5", "0 0 3 ? * MON-FRI"),
    ("15 4 1 * *", "0 15 4 1 * ?"), ("*/15 * * * *", "0 */15 * * * ?"), ("@daily", "0 0 0 * * ?"),
    ("@weekly", "0 0 0 ? * SUN"), ("0 5 * * 7", "0 0 5 ? * SUN"),
])
def test_snapshot_schedules_become_elasticsearch_cron(unix, es):
    """Issue 11, item 9: backup.elasticsearch.schedule (Unix cron) as SLM wants it (Quartz: seconds first,
    one day field '?', day-of-week from SUN); the contract fake refuses anything else."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.elasticsearch import valid_es_cron

    assert ansible.es_cron(unix) == es
    assert valid_es_cron(es) is None and valid_es_cron(unix) is not None


def test_a_schedule_elasticsearch_cannot_express_is_a_located_error():
    from homelab.errors import HomelabError

    text = SEED.read_text().replace('elasticsearch: {schedule: "0 2 * * *"', 'elasticsearch: {schedule: "0 2 1 * 1"')
    with pytest.raises(HomelabError) as info:
        ansible.render(load_text(text))
    assert "homelab.yaml:" in info.value.message and "backup.elasticsearch.schedule" in info.value.message


def test_the_lifecycle_policy_keeps_snapshots_as_long_as_the_lab_says(tree):
    es = load_yaml(tree / "group_vars" / "elasticsearch.yml")
    assert es["elasticsearch_slm_policy"] == {"id": "homelab-snapshots", "policy": {
        "schedule": "0 0 2 * * ?", "name": "<homelab-logs-snap-{now/d}>", "repository": "s3-backups",
        "retention": {"expire_after": "30d"}}}
    plays = load_yaml(tree / "playbooks" / "elasticsearch.yml")
    last = plays[-1]
    assert last["hosts"] == "elasticsearch_masters"
    assert last["tasks"][0]["ansible.builtin.include_role"]["tasks_from"] == "cluster.yml"
    assert last["tasks"][0]["run_once"] is True
