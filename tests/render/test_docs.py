"""docs/*.md rendered from the reference lab: facts checked against the seed, well-formed tables,
Vault access computed from the policies, determinism, no secret values."""

from __future__ import annotations

import io
import re

import pytest

from homelab.lab import vault_access
from homelab.lab.load import load_text
from homelab.render import docs
from homelab.render.base import GENERATED
from homelab.render.docs.backup import render_backup
from homelab.render.docs.markdown import table
from homelab.render.docs.secrets import render_secrets

DOMAIN = "lab.thewortmans.org"
GIB = 1024**3

# --- helpers -------------------------------------------------------------------------------------------


def split_row(line: str) -> list[str]:
    assert line.startswith("|") and line.endswith("|"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table in the text, as rows of cells (header first, separator dropped)."""
    found, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    out = []
    for block in found:
        rows = [split_row(line) for line in block]
        assert len(rows) >= 2, f"table without separator: {block[0]}"
        width = len(rows[0])
        for line, row in zip(block, rows, strict=True):
            assert len(row) == width, f"{len(row)} cells, header has {width}: {line}"
        assert all(re.fullmatch(r":?-{3,}:?", c) for c in rows[1]), f"bad separator row: {block[1]}"
        out.append([rows[0], *rows[2:]])
    return out


def table_after(text: str, heading: str) -> list[dict[str, str]]:
    """The first table after a heading, as dicts keyed by the header cells."""
    start = text.index(heading)
    header, *rows = tables(text[start:])[0]
    return [dict(zip(header, row, strict=True)) for row in rows]


def size_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(GiB|TiB|MiB)", text).groups()
    return int(float(number) * {"MiB": 1024**2, "GiB": GIB, "TiB": 1024**4}[unit])


@pytest.fixture(scope="module")
def rendered(reference_doc) -> dict[str, str]:
    return {f.path: f.content for f in docs.render(reference_doc)}


# --- every file ----------------------------------------------------------------------------------------


def test_the_six_documents(rendered):
    assert sorted(rendered) == ["docs/apps.md", "docs/backup.md", "docs/inventory.md", "docs/network.md",
                                "docs/pki.md", "docs/secrets.md"]


@pytest.mark.parametrize("path", ["docs/apps.md", "docs/backup.md", "docs/inventory.md", "docs/network.md",
                                  "docs/pki.md", "docs/secrets.md"])
def test_generated_marker_tables_and_whitespace(rendered, path):
    text = rendered[path]
    assert text.splitlines()[0] == f"<!-- {GENERATED} -->"
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\r" not in text and "\n\n\n" not in text
    assert tables(text), f"{path} has no table"


def test_table_helper_rejects_ragged_rows():
    with pytest.raises(ValueError):
        table(["a", "b"], [["1"]])
    with pytest.raises(AssertionError):
        tables("| a | b |\n| --- | --- |\n| 1 |\n")
    # a pipe inside a value is escaped, so the row keeps its width
    assert tables(table(["a", "b"], [["x|y", "z"]]))[0][1] == ["x\\|y", "z"]


# --- inventory -----------------------------------------------------------------------------------------

# The seed (tech-stack.md "Resource Allocation Standards", reference-lab notes): name -> (role, cores,
# memory GiB, disk GiB, ip). kube06 carries the GPU and an 24GiB memory override for the LLM workloads.
SEED_VMS = {
    **{f"kube0{i}": ("k8s-control-plane", 2, 2, 100, f"192.168.10.7{i}") for i in (1, 2, 3)},
    **{f"kube0{i}": ("k8s-worker", 4, 8, 200, f"192.168.10.7{i}") for i in (4, 5)},
    "kube06": ("k8s-worker", 4, 24, 200, "192.168.10.76"),
    **{f"es0{i}": ("es-data", 4, 8, 1024, f"192.168.10.8{i}") for i in range(1, 7)},
    **{f"es0{i}": ("es-master", 2, 4, 100, f"192.168.10.8{i}") for i in (7, 8, 9)},
    "plex": ("plex", 4, 32, 500, "192.168.10.55"),
    "vault": ("vault", 2, 4, 50, "192.168.10.50"),
}


def test_inventory_lists_every_seed_vm_with_its_resources(rendered):
    rows = {r["Name"]: r for r in table_after(rendered["docs/inventory.md"], "## Virtual machines")}
    assert len(rows) == 22
    assert {"kibana", "fleet", "infra", "proxy", "torrent"} <= set(rows)
    for name, (role, cores, mem, disk, ip) in SEED_VMS.items():
        row = rows[name]
        assert row["FQDN"] == f"{name}.{DOMAIN}"
        assert row["Role"] == role
        assert row["IP"] == ip
        assert int(row["Cores"]) == cores, name
        assert size_bytes(row["Memory"]) == mem * GIB, name
        assert size_bytes(row["Disk"]) == disk * GIB, name
    assert rows["kube06"]["GPU"].startswith("nvidia-tesla") and "0000:01:00" in rows["kube06"]["GPU"]
    assert rows["kube01"]["GPU"] == "—"
    assert rows["kube01"]["Env"] == "kubernetes" and rows["es01"]["Env"] == "lab"
    assert rows["vault"]["Env"] == "vault" and rows["plex"]["Env"] == "home-apps"
    assert rows["kube01"]["VMID"] == "171" and rows["vault"]["VMID"] == "150"
    # pinned placement shown as is; placement homelab chose is marked
    assert rows["kube01"]["Node"] == "pve1"
    assert rows["kibana"]["Node"].endswith("(auto)")
    # sorted by name
    assert list(rows) == sorted(rows)


def test_inventory_node_commitment_adds_up(rendered):
    text = rendered["docs/inventory.md"]
    vms = table_after(text, "## Virtual machines")
    nodes = {r["Node"]: r for r in table_after(text, "## Proxmox nodes")}
    assert sorted(nodes) == ["pve1", "pve2", "pve3"]
    for name, row in nodes.items():
        members = [v for v in vms if v["Node"].split(" ")[0] == name]
        assert int(row["VMs"]) == len(members)
        used, cap = row["Memory"].split(" (")[0].split(" / ")
        assert size_bytes(used) == sum(size_bytes(v["Memory"]) for v in members)
        assert size_bytes(cap) == 192 * GIB
        cores_used, cores_cap = row["vCPU / cores"].split(" (")[0].split(" / ")
        assert int(cores_used) == sum(int(v["Cores"]) for v in members) and cores_cap == "32"
        disk = re.fullmatch(r"local-lvm: (\S+) / (\S+) \(\d+%\)", row["Disk by storage"])
        assert disk, row["Disk by storage"]
        assert size_bytes(disk[1]) == sum(size_bytes(v["Disk"]) for v in members)
        assert size_bytes(disk[2]) == 4 * 1024**4
    assert nodes["pve3"]["GPUs"] == "0000:01:00"


# --- network -------------------------------------------------------------------------------------------


def test_network_plan(rendered):
    text = rendered["docs/network.md"]
    settings = {r["Setting"]: r["Value"] for r in table_after(text, "## Network")}
    assert settings["Network"] == "192.168.10.0/24"
    assert settings["Gateway"] == "192.168.10.1"
    assert settings["DNS servers"] == "192.168.10.1, 192.168.10.200"
    assert settings["Domain"] == DOMAIN
    pools = {r["Pool"]: r for r in table_after(text, "## Address pools")}
    # .20-.199 holds 180 addresses, all 22 VMs are in it; .200-.250 holds 51, Pi-hole's DNS is one
    assert (pools["`vms`"]["Size"], pools["`vms`"]["Used"], pools["`vms`"]["Free"]) == ("180", "22", "158")
    assert (pools["`metallb`"]["Size"], pools["`metallb`"]["Used"]) == ("51", "2")  # Pi-hole .200, Traefik .201

    static = table_after(text, "## Static addresses")
    addresses = [r["Address"] for r in static]
    assert addresses == sorted(addresses, key=lambda a: tuple(int(x) for x in a.split(".")))
    assert len(addresses) == len(set(addresses))
    by_ip = {r["Address"]: r for r in static}
    assert "gateway" in by_ip["192.168.10.1"]["Name"]
    assert "pihole" in by_ip["192.168.10.200"]["Name"] and by_ip["192.168.10.200"]["Pool"] == "metallb"
    for name, (*_, ip) in SEED_VMS.items():
        assert by_ip[ip]["Name"] == name and by_ip[ip]["FQDN"] == f"{name}.{DOMAIN}"
    assert "192.168.10.200-192.168.10.250" in text.split("## MetalLB")[1].split("##")[0]
    hosts = {r["Host"]: r for r in table_after(text, "## Ingress hostnames")}
    assert hosts["watch.lab.thewortmans.org"]["URL"] == "https://watch.lab.thewortmans.org"
    assert len(hosts) == 14


# --- apps ----------------------------------------------------------------------------------------------

# The seed's applications: name -> (namespace, ingress host) as the reference lab declares them.
SEED_APPS = {
    "plex": ("media", "watch"), "radarr": ("media", "radarr"), "sonarr": ("media", "sonarr"),
    "lidarr": ("media", "lidarr"), "qbittorrent": ("media", "qbittorrent"), "jackett": ("media", "jackett"),
    "home-assistant": ("home-automation", "home"), "pihole": ("home-automation", "pihole"),
    "mealie": ("mealie", "mealie"), "paperless-ngx": ("paperless", "paperless"),
    "actual-budget": ("finance", "budget"), "copyparty": ("files", "files"),
    "ollama": ("llm", "ollama"), "text-generation-webui": ("llm", "chat"),
}


def test_apps_every_seed_app_with_namespace_and_url(rendered):
    text = rendered["docs/apps.md"]
    rows = {r["App"]: r for r in table_after(text, "## Overview")}
    assert set(rows) == set(SEED_APPS)
    for name, (ns, host) in SEED_APPS.items():
        assert rows[name]["Namespace"] == ns
        assert rows[name]["URL"] == f"https://{host}.{DOMAIN}"
        assert f"### {name}\n" in text
    assert rows["ollama"]["GPU"] == "1 × nvidia.com/gpu"
    assert rows["text-generation-webui"]["GPU"] == "1 × nvidia.com/gpu"
    assert rows["plex"]["GPU"] == "—"
    assert rows["plex"]["Chart"] == "app-template@4.1.1"
    assert rows["plex"]["Image"] == "plexinc/pms-docker:1.41.9.9961-46083195"
    assert "media 4TiB (freenas-nfs-csi)" in rows["plex"]["Storage"]
    assert "config 50GiB (freenas-iscsi-csi)" in rows["plex"]["Storage"]
    assert "freenas-iscsi-csi, default class" in rows["radarr"]["Storage"]
    assert rows["plex"]["Vault secrets"] == "`apps/plex#claim_token`"
    assert rows["paperless-ngx"]["Vault secrets"].count("`apps/paperless#") == 2
    assert rows["home-assistant"]["Backup"].startswith("daily, keep 30 days")
    assert rows["jackett"]["Backup"].startswith("none")
    # velero's daily-apps schedule covers media, not llm; weekly-all covers everything
    assert "daily-apps" in rows["plex"]["Backup"] and "daily-apps" not in rows["ollama"]["Backup"]
    assert "weekly-all" in rows["ollama"]["Backup"]
    components = {r["Component"]: r for r in table_after(text, "## Platform components")}
    assert components["kube_prometheus_stack"]["Chart"] == "kube-prometheus-stack@75.18.1"
    assert components["cert_manager"]["Enabled"] == "yes"  # pki.cert_manager.enabled in the reference lab
    assert components["velero"]["Enabled"] == "yes"


def test_gpu_app_detail_names_selector_and_toleration(rendered):
    section = rendered["docs/apps.md"].split("### ollama\n")[1].split("###")[0]
    assert "accelerator=nvidia-tesla-gpu" in section and "nvidia.com/gpu=true:NoSchedule" in section
    assert "| Limits | memory 16GiB |" in section


# --- secrets -------------------------------------------------------------------------------------------


def test_secret_catalogue(rendered, reference_doc):
    text = rendered["docs/secrets.md"]
    rows = {r["Path"].strip("`"): r for r in table_after(text, "## Catalogue")}
    assert set(rows) == {s.path for s in reference_doc.lab.vault.secrets}
    assert rows["infra/proxmox"]["Vault API path"] == "`secret/data/infra/proxmox`"
    assert rows["infra/proxmox"]["Fields"] == "`api_token_id`, `api_token_secret`"
    assert rows["k3s/cluster"]["Generated"].startswith("yes (48 chars")
    assert rows["infra/proxmox"]["Generated"].startswith("no")
    assert "Terraform" in rows["infra/proxmox"]["Used by"]
    assert "app plex" in rows["apps/plex"]["Used by"]


def test_who_may_read_what_follows_the_seed_policies(rendered):
    """terraform reads infra/proxmox only (issue 11, item 12), apps reads apps/* only, ansible and admin read
    everything."""
    matrix = table_after(rendered["docs/secrets.md"], "## Who may read what")
    assert {"admin", "ansible", "apps", "terraform"} <= set(matrix[0])
    assert len(matrix) == 16  # 12 + elastic/kibana, elastic/fleet, elastic/kibana-encryption (issue 11, item 6) + backup/vault (issue 14)

    def reads(cell: str) -> bool:
        return "read" in [c.strip() for c in cell.split(",")]

    for row in matrix:
        path = row["Path"].strip("`")
        assert reads(row["terraform"]) == (path == "infra/proxmox"), path
        assert reads(row["apps"]) == path.startswith("apps/"), path
        assert reads(row["ansible"]), path
        assert reads(row["admin"]), path
        assert "sudo" in row["admin"] and "delete" in row["admin"]
        if path.startswith("apps/"):
            assert row["terraform"] == "—"
        assert "list" not in row["terraform"]  # terraform's rule grants read only
    users = {r["User"]: r for r in table_after(rendered["docs/secrets.md"], "## Users")}
    assert users["terraform"]["Can read"] == "`infra/proxmox`"
    assert users["admin"]["Can read"] == "all 16 catalogue paths"
    assert "infra" not in users["apps"]["Can read"]


def test_vault_glob_matching():
    m = vault_access.vault_path_matches
    assert m("secret/data/infra/*", "secret/data/infra/proxmox")
    assert m("secret/data/infra/*", "secret/data/infra/a/b")
    assert not m("secret/data/infra/*", "secret/data/infrastructure/x")
    assert m("secret/data/infra*", "secret/data/infrastructure/x")
    assert not m("secret/data/infra/proxmox", "secret/data/infra/proxmox2")
    assert m("secret/data/+/proxmox", "secret/data/infra/proxmox")
    assert not m("secret/data/+/proxmox", "secret/data/a/b/proxmox")
    assert m("*", "secret/data/anything")
    assert not m("secret/data/a.b", "secret/data/aXb")  # dots are literal


def _policy(*rules):
    from homelab.lab.models.vault import Policy, PolicyRule

    return Policy(rules=[PolicyRule(**r) for r in rules])


def test_most_specific_path_wins_within_a_policy_and_deny_wins():
    p = _policy({"secrets": "apps/*", "capabilities": ["read", "list"]},
                {"secrets": "apps/private", "capabilities": ["deny"]})
    assert vault_access.kv_capabilities(p, "secret", "apps/plex") == {"read", "list"}
    assert vault_access.kv_capabilities(p, "secret", "apps/private") == {"deny"}
    # an exact path beats a glob even when the glob grants more
    p = _policy({"path": "*", "capabilities": ["read", "update"]},
                {"path": "secret/data/infra/proxmox", "capabilities": ["read"]})
    assert vault_access.kv_capabilities(p, "secret", "infra/proxmox") == {"read"}
    assert vault_access.kv_capabilities(p, "secret", "infra/ssh") == {"read", "update"}
    # a raw data-path rule grants no list; list comes from the metadata path
    p = _policy({"path": "secret/data/k3s/*", "capabilities": ["read"]},
                {"path": "secret/metadata/k3s/*", "capabilities": ["list"]})
    assert vault_access.kv_capabilities(p, "secret", "k3s/cluster") == {"read", "list"}
    assert vault_access.kv_capabilities(p, "secret", "infra/x") == set()
    # `+` is less specific than a literal segment
    p = _policy({"path": "secret/data/+/proxmox", "capabilities": ["read"]},
                {"path": "secret/data/infra/proxmox", "capabilities": ["update"]})
    assert vault_access.kv_capabilities(p, "secret", "infra/proxmox") == {"update"}
    assert vault_access.kv_capabilities(p, "secret", "lab/proxmox") == {"read"}


def test_a_narrower_policy_changes_the_matrix(reference_path):
    text = reference_path.read_text().replace(
        "Read application-specific secrets\n      rules:\n        - {secrets: apps/*, capabilities: [read, list]}\n",
        "Read application-specific secrets\n      rules:\n        - {secrets: apps/plex, capabilities: [read]}\n")
    assert text != reference_path.read_text()
    matrix = {r["Path"].strip("`"): r for r in
              table_after(render_secrets(load_text(text)), "## Who may read what")}
    assert matrix["apps/plex"]["apps"] == "read"
    assert matrix["apps/grafana"]["apps"] == "—"
    assert "read" in matrix["apps/grafana"]["ansible"]


# --- backup --------------------------------------------------------------------------------------------


def test_backup_document(rendered):
    text = rendered["docs/backup.md"]
    summary = {r["What"]: r for r in table_after(text, "## Summary")}
    assert summary["Vault"]["Schedule"] == "`0 3 * * *`" and summary["Vault"]["Retention"] == "14 backups"
    assert "es-snapshots" in summary["Elasticsearch snapshots"]["Where"]
    assert summary["Velero `daily-apps`"]["Schedule"] == "`0 4 * * *`"
    assert summary["Velero `weekly-all`"]["How"] == "every namespace"
    assert summary["ZFS `tank/k8s`"]["Schedule"] == "hourly"
    assert summary["Off-site replication"]["Where"] == "truenas-offsite.lab.thewortmans.org:tank/replica"
    drill = text.split("## Disaster-recovery drill")[1]
    assert "**quarterly**" in drill and "embedded OpenBao" in drill
    assert "velero restore create --from-backup" in drill
    assert "_snapshot/s3-backups/" in drill
    assert [int(n) for n in re.findall(r"^(\d)\. ", drill, re.M)] == [1, 2, 3, 4, 5, 6]


def test_backup_without_velero_or_offsite(reference_path):
    text = reference_path.read_text()
    text = text.replace("  offsite: truenas-offsite.lab.thewortmans.org:tank/replica\n", "")
    text = text.replace("  velero:                                  # roadmap: Kubernetes application backups\n"
                        "    enabled: true\n", "  velero:\n    enabled: false\n")
    out = render_backup(load_text(text))
    assert "Velero is **not enabled**" in out
    assert "Velero is not enabled: application data is covered by the ZFS" in out
    assert "Not configured: set `backup.offsite`" in out
    assert "velero restore create" not in out


# --- determinism and secrets ---------------------------------------------------------------------------


def _reordered(reference_path) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    data = yaml.load(reference_path.read_text())
    for key in ("vms", "apps", "namespaces"):
        data[key].reverse()
    data["proxmox"]["nodes"].reverse()
    data["vault"]["secrets"].reverse()
    data["vault"]["users"].reverse()
    for s in data["vault"]["secrets"]:
        s["fields"].reverse()
    for app in data["apps"]:
        app.get("storage", []).reverse()
        app.get("secrets", []).reverse()
    policies = data["vault"]["policies"]
    for name in list(policies)[::-1]:
        policies.move_to_end(name)
    assert list(policies)[0] == "admin"
    data["backup"]["velero"]["schedules"].reverse()
    data["backup"]["zfs"].reverse()
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


def test_deterministic_twice_and_independent_of_list_order(reference_doc, reference_path):
    first = [(f.path, f.content.encode()) for f in docs.render(reference_doc)]
    assert first == [(f.path, f.content.encode()) for f in docs.render(reference_doc)]
    text = _reordered(reference_path)
    assert text != reference_path.read_text()
    again = [(f.path, f.content.encode()) for f in docs.render(load_text(text))]
    assert again == first


def test_no_secret_values(reference_path, monkeypatch, tmp_path):
    """Values the renderer could stumble on (environment, a .homelab key file in the working
    directory) never show up; only paths and field names do."""
    planted = {"VAULT_TOKEN": "hvs.PLANTEDtokenValue0001", "TF_VAR_pm_api_token_secret": "PLANTED-secret-0002",
               "PROXMOX_TOKEN_SECRET": "PLANTED-secret-0003"}
    for k, v in planted.items():
        monkeypatch.setenv(k, v)
    (tmp_path / ".homelab").mkdir()
    (tmp_path / ".homelab" / "vault-keys.json").write_text('{"root_token": "PLANTED-root-0004"}')
    monkeypatch.chdir(tmp_path)
    out = "".join(f.content for f in docs.render(load_text(reference_path.read_text())))
    for value in [*planted.values(), "PLANTED-root-0004"]:
        assert value not in out
    assert "PLANTED" not in out
    assert "`api_token_secret`" in out  # the field name is documented


MINIMAL = """\
version: 1
name: tiny
network: {cidr: 10.0.0.0/24, gateway: 10.0.0.1, dns: [10.0.0.1], domain: tiny.example.org}
proxmox:
  nodes: [{name: pve, cores: 8, memory: 32GiB, storages: {local-lvm: 500GiB}}]
vms:
  - {name: box, role: general, env: lab}
"""


def test_minimal_lab_renders_every_document():
    """No clusters, apps, pools, secrets, gitops or backups declared: every document still renders,
    and says what is missing instead of inventing it."""
    from homelab.render import repo

    doc = load_text(MINIMAL)
    out = {f.path: f.content for f in docs.render(doc)}
    for text in out.values():
        tables(text)
    vm = table_after(out["docs/inventory.md"], "## Virtual machines")[0]
    # allocated by homelab from the whole network (no pool): first free address after the gateway
    assert vm["IP"] == "10.0.0.2 (auto)" and vm["Node"] == "pve (auto)" and vm["VMID"] == "100 (auto)"
    assert "No pools declared" in out["docs/network.md"]
    assert "No MetalLB pool declared." in out["docs/network.md"]
    assert "## Kubernetes networks" not in out["docs/network.md"]
    assert "0 applications" in out["docs/apps.md"]
    assert "embedded OpenBao" in out["docs/secrets.md"]
    assert "No ZFS snapshot policy declared." in out["docs/backup.md"]
    assert "No snapshot repository is configured" not in out["docs/backup.md"]
    assert "The lab has no Elasticsearch cluster" in out["docs/backup.md"]
    assert "ArgoCD re-creates" not in out["docs/backup.md"]
    assert "Not configured: set `backup.offsite`" in out["docs/backup.md"]
    readme = {f.path: f.content for f in repo.render(doc)}["README.md"]
    assert "GitOps is not configured" in readme


def test_backup_doc_names_the_snapshot_lifecycle_policy_that_is_registered(rendered):
    """Issue 11, item 9: the nightly snapshots the doc promises are a real SLM policy (registered by the
    elasticsearch playbook), with the schedule as Elasticsearch reads it."""
    text = rendered["docs/backup.md"]
    assert "`homelab-snapshots`, registered with the repository by `ansible/playbooks/elasticsearch.yml`" in text
    assert "| Schedule (Elasticsearch cron, UTC) | `0 0 2 * * ?` |" in text
