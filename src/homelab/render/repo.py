"""Render the repository's own files: README.md, SECURITY.md, .gitignore, .pre-commit-config.yaml, .yamllint.

README and SECURITY are prose (Jinja2 templates under `render/templates/`); their tables and the
other files are built from data. Pure: no filesystem access besides reading the package templates.
"""

from __future__ import annotations

from homelab.lab.tls import CA_FILE, TLS_DIR, proxmox_verify, vault_ca_file, vault_verify
from homelab.lab.vault_access import kv_capabilities, lab_vault_url
from homelab.render import repo_ci
from homelab.render.base import GENERATED, RenderedFile, header, normalise
from homelab.render.docs.markdown import markdown_file, render_template, table
from homelab.render.serializers import dump_json, dump_yaml
from homelab.render.terraform import bootstrap_env

# Pinned hook versions (pre-commit `rev`s are git tags of these repositories).
GITLEAKS_REPO = "https://github.com/gitleaks/gitleaks"
GITLEAKS_REV = "v8.30.0"
YAMLLINT_REPO = "https://github.com/adrienverge/yamllint"
YAMLLINT_REV = "v1.38.0"

# (pattern, why) — what must never reach git.
GITIGNORE: list[tuple[str, str]] = [
    ("*.tfstate*", "Terraform local state (and its backups): holds every value providers read "
                   "(not the ephemeral Proxmox token; any other secret read from Vault would be)"),
    ("*.tfplan", "saved Terraform plans: hold the same values as the state"),
    (".terraform/", "Terraform's provider and module cache (per environment)"),
    (".homelab/", "homelab's state, the embedded Vault's data, backups and key files"),
    ("*.pem", "private keys and certificates"),
    ("*.key", "private keys (TLS, step-ca)"),
    ("*.p12", "key stores"),
    ("*.pfx", "key stores"),
    ("id_rsa", "SSH private keys"),
    ("id_ecdsa", "SSH private keys"),
    ("id_ed25519", "SSH private keys"),
    ("*.vault-token", "Vault tokens"),
    ("kubeconfig", "cluster-admin credentials fetched from K3s"),
    ("*.kubeconfig", "cluster-admin credentials fetched from K3s"),
    (".env", "environment files with credentials"),
    (".ansible/", "Ansible and ansible-lint caches"),
]

DIRECTORIES: list[tuple[str, str]] = [
    ("homelab.yaml", "the lab file: the one place to change anything (not generated)"),
    ("tf/modules/proxmox_vm/", "the reusable Terraform module: one Proxmox VM (telmate/proxmox `proxmox_vm_qemu`)"),
    ("tf/<env>/", "one Terraform root per environment, each with its own local state"),
    ("ansible/", "inventory, group_vars, roles and playbooks; `site.yml` runs them in order"),
    ("k8s/bootstrap/", "ArgoCD install values, AppProjects and the root app-of-apps"),
    ("k8s/platform/", "cluster components: namespaces, MetalLB, Traefik, democratic-csi, monitoring, GPU plugin"),
    ("k8s/apps/", "one ArgoCD Application per app, by namespace"),
    ("k8s/values/", "Helm values per app and component (the `$values` source of the Applications)"),
    ("vault/", "Vault server configuration and the policies"),
    (f"{TLS_DIR}/", "the internal CA's root (`ca.crt`) and the service certificates it issued (`<vm>.crt`, "
                    "`<vm>.key`; keys are git-ignored)"),
    ("docs/", "inventory, address plan, apps, secrets and backups — generated reference"),
    (".github/workflows/validate.yml", "on every push: `homelab render --check`, `homelab validate`, "
                                       "`homelab secrets scan` (whole history)"),
    ("renovate.json", "Renovate updates chart versions, images and the K3s version in homelab.yaml, then re-renders"),
]

DOCS: list[tuple[str, str]] = [
    ("docs/inventory.md", "every VM with its node, address, VMID and resources; Proxmox capacity"),
    ("docs/network.md", "the address plan: pools, static addresses, MetalLB, ingress hostnames"),
    ("docs/apps.md", "every application: namespace, URL, chart, storage, secrets, backup"),
    ("docs/secrets.md", "the Vault catalogue and who may read what"),
    ("docs/backup.md", "backups, snapshots and the disaster-recovery drill"),
    ("SECURITY.md", "secret management and what stays out of git"),
]


def _bullets(items: list[tuple[str, str]]) -> str:
    return "\n".join(f"- [`{path}`]({path}) — {what}" if path.startswith("docs/") or path.endswith(".md")
                     else f"- `{path}` — {what}" for path, what in items)


def _env_line(doc, env: str) -> str:
    names = sorted(vm.name for vm in doc.inventory.vms if vm.env == env)
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f"  - `tf/{env}/` — {len(names)} VM{'' if len(names) == 1 else 's'}" + (f" ({shown})" if names else "")


# Files of the ArgoCD bootstrap (written by render/argocd.py; test_repo checks they exist).
ARGOCD_VALUES = "k8s/bootstrap/argocd-values.yaml"
ARGOCD_BOOTSTRAP = ("k8s/bootstrap/projects.yaml", "k8s/bootstrap/root.yaml")


def _argocd_steps(doc) -> str:
    gitops = doc.lab.gitops
    if not gitops:
        return "GitOps is not configured in `homelab.yaml` (`gitops.argocd`): nothing to bootstrap."
    a = gitops.argocd
    lines = [
        "The K3s role fetched the cluster's kubeconfig to the machine running Ansible. `homelab apply`",
        f"installs ArgoCD itself — the {a.chart.name} chart {a.chart.version} rendered with the bootstrap values",
        f"(`{ARGOCD_VALUES}`) by homelab's Helm library, server-side applied — then the projects and the",
        "root app-of-apps. The chart comes from the chart cache, verified by digest:",
        "",
        "```sh",
        "homelab charts pull homelab.yaml",
        "homelab apply",
        "```",
        "",
        "Without homelab on that machine, the same by hand:",
        "",
        "```sh",
        f"export KUBECONFIG=~/.kube/{doc.lab.name}.yaml",
        f"helm install argocd {a.chart.name} --repo {a.chart.repo} --version {a.chart.version} \\",
        f"  --namespace {a.namespace} --create-namespace --values {ARGOCD_VALUES}",
        "kubectl apply " + " ".join(f"-f {f}" for f in ARGOCD_BOOTSTRAP),
        "```",
        "",
        "Give ArgoCD read access to the repository once (`argocd repo add`), out of band.",
    ]
    return "\n".join(lines)


def readme(doc) -> str:
    lab = doc.lab
    vault = lab.vault
    envs = sorted(set(lab.environments) | {vm.env for vm in doc.inventory.vms})
    directories = []
    for path, what in DIRECTORIES:
        directories.append(f"- `{path}` — {what}")
        if path == "tf/<env>/":
            directories += [_env_line(doc, env) for env in envs]
    gitops = lab.gitops.argocd if lab.gitops else None
    first = bootstrap_env(lab, doc.inventory)
    vault_vm = doc.inventory.by_name.get(vault.server) if vault.server else None
    return render_template(
        "README.md.j2",
        generated=GENERATED,
        name=lab.name,
        domain=lab.network.domain,
        vm_count=len(doc.inventory.vms),
        node_count=len(lab.proxmox.nodes),
        app_count=len(lab.apps),
        parts=", ".join(p for p, has in (("a K3s cluster", lab.clusters.k3s), ("Elasticsearch", lab.clusters.elasticsearch),
                                           ("Vault", True)) if has),
        directories="\n".join(directories),
        kv_mount=vault.kv_mount,
        proxmox_secret=lab.proxmox.credentials.token_secret.path,
        proxmox_id_path=lab.proxmox.credentials.token_id.path,
        proxmox_id_field=lab.proxmox.credentials.token_id.field,
        proxmox_secret_field=lab.proxmox.credentials.token_secret.field,
        vault_addr=lab_vault_url(lab) or "$(homelab vault status --format json | jq -r .url)",
        skip_verify=not vault_verify(lab),
        vault_ca=vault_ca_file(lab) or "",
        proxmox_ca=CA_FILE if proxmox_verify(lab) else "",
        vault_server=vault.server or "",
        vault_fqdn=vault_vm.fqdn if vault_vm is not None else "",
        vault_ip=vault_vm.ip if vault_vm is not None and vault_vm.ip else "",
        bootstrap_env=first or "",
        shares=vault.init.shares,
        threshold=vault.init.threshold,
        policies=sorted(vault.policies),
        users=[(u.name, ",".join(sorted(u.policies)), u.token_ttl, u.token_max_ttl)
               for u in sorted(vault.users, key=lambda u: u.name)] if "userpass" in vault.auth else [],
        tf_envs=[e for e in envs if e != first],
        argocd_steps=_argocd_steps(doc),
        repo_url=gitops.repo_url if gitops else "",
        revision=gitops.revision if gitops else "",
        automated=bool(gitops and gitops.automated),
        docs=_bullets(DOCS),
    )


def _bootstrap(doc) -> str:
    return bootstrap_env(doc.lab, doc.inventory) or ""


def security(doc) -> str:
    lab = doc.lab
    vault = lab.vault
    mount = vault.kv_mount
    catalogue = sorted(s.path for s in vault.secrets)
    rows = []
    for name, policy in sorted(vault.policies.items()):
        readable = [p for p in catalogue if "read" in kv_capabilities(policy, mount, p)]
        if catalogue and len(readable) == len(catalogue):
            reads = f"all {len(catalogue)} catalogue paths"
        else:
            reads = ", ".join(f"`{p}`" for p in readable) or "no catalogue path"
        rows.append([f"`{name}`", policy.description or "—", reads])
    policy_table = table(["Policy", "Purpose", "May read"], rows) if rows else "No policies declared.\n"
    users = sorted(vault.users, key=lambda u: u.name)
    user_table = ("\n" + table(["User (userpass)", "Policies", "Token TTL", "Max TTL"],
                              [[u.name, ", ".join(sorted(u.policies)), u.token_ttl, u.token_max_ttl] for u in users])
                  if users else "")
    url = lab_vault_url(lab)
    where = ("an embedded OpenBao server that homelab runs locally" if url is None
             else f"`{vault.address}`" + (f" on the VM `{vault.server}`" if vault.server else ""))
    step_ca = lab.pki.step_ca
    return render_template(
        "SECURITY.md.j2",
        generated=GENERATED,
        name=lab.name,
        vault_where=where,
        vault_version=vault.version,
        kv_mount=mount,
        secret_count=len(catalogue),
        policy_table=policy_table,
        user_table=user_table,
        shares=vault.init.shares,
        threshold=vault.init.threshold,
        audit=vault.audit,
        tls_ca=vault.tls.ca,
        step_ca_url=f" (`{step_ca.url}`)" if step_ca else "",
        cert_file=vault.tls.cert_file,
        key_file=vault.tls.key_file,
        skip_verify=not vault_verify(lab),
        ca_file=vault_ca_file(lab) or "",
        ca_file_any=CA_FILE,
        proxmox_verify=proxmox_verify(lab),
        bootstrap_env=_bootstrap(doc),
        ignore_table=table(["Pattern", "Why"], [[f"`{p}`", why] for p, why in GITIGNORE]),
    )


def gitignore() -> str:
    lines = [header("#").rstrip("\n"),
             "# Never commit these: Terraform local state holds the secrets providers read from Vault.",
             "# See SECURITY.md."]
    for pattern, why in GITIGNORE:
        lines += [f"# {why}", pattern]
    return "\n".join(lines) + "\n"


def pre_commit_config() -> str:
    data = {
        "repos": [
            {
                "repo": "local",
                "hooks": [
                    {
                        "id": "homelab-check",
                        "name": "homelab check",
                        "entry": "homelab check homelab.yaml",
                        "language": "system",
                        "files": r"^homelab\.ya?ml$",
                        "pass_filenames": False,
                    },
                    {
                        "id": "homelab-render-check",
                        "name": "homelab render --check (generated files match homelab.yaml)",
                        "entry": "homelab render --check homelab.yaml",
                        "language": "system",
                        "pass_filenames": False,
                        "always_run": True,
                    },
                    *repo_ci.pre_commit_hooks(),
                ],
            },
            {"repo": GITLEAKS_REPO, "rev": GITLEAKS_REV, "hooks": [{"id": "gitleaks"}]},
            {"repo": YAMLLINT_REPO, "rev": YAMLLINT_REV,
             "hooks": [{"id": "yamllint", "args": ["-c", ".yamllint"]}]},
        ],
    }
    head = header("#") + ("# Run `pre-commit install` once per clone. Secret scanning (gitleaks, homelab secrets scan), "
                          "YAML lint, homelab check/render/validate.\n")
    return dump_yaml(data, header_line=head)


def yamllint_config() -> str:
    """yamllint for the rendered tree; compatible with ansible-lint's requirements for `.yamllint`."""
    data = {
        "extends": "default",
        "ignore": [".terraform/", ".homelab/", ".ansible/"],
        "rules": {
            "comments": {"min-spaces-from-content": 1},
            "comments-indentation": False,
            "document-start": "disable",
            "braces": {"min-spaces-inside": 0, "max-spaces-inside": 1},
            "octal-values": {"forbid-implicit-octal": True, "forbid-explicit-octal": True},
            "truthy": {"allowed-values": ["true", "false"], "check-keys": False},
            "line-length": {"max": 160, "level": "warning"},
        },
    }
    return dump_yaml(data, header_line=header("#") + "# yamllint configuration for this repository.\n")


def tls_readme(doc) -> str:
    """`tls/README.md`: what the directory holds and how to fill it (lab/tls.py is the convention)."""
    lab = doc.lab
    step_ca = lab.pki.step_ca
    es = lab.clusters.elasticsearch
    serving = {lab.vault.server} | (set(es.data_nodes) | set(es.master_nodes) | {es.kibana, es.fleet_server}
                                    if es else set())
    rows = []
    for vm in sorted(doc.inventory.vms, key=lambda v: v.name):
        if vm.name not in serving:
            continue
        sans = [vm.fqdn, vm.name] + ([vm.ip] if vm.ip else [])
        rows.append(f"step ca certificate {vm.fqdn} {TLS_DIR}/{vm.name}.crt {TLS_DIR}/{vm.name}.key "
                    + " ".join(f"--san {s}" for s in sans))
    ca = (f"the internal step-ca CA (`{step_ca.url}`)" if step_ca else "the lab's internal CA")
    lines = [
        f"<!-- {GENERATED} -->",
        "",
        f"# {TLS_DIR}/ — certificates of {lab.name}",
        "",
        f"Certificates the lab's services serve, issued by {ca}, and the CA's root certificate every",
        "client verifies them against. Ansible copies them to the VMs; Terraform and homelab read `ca.crt`.",
        "Private keys (`*.key`) are git-ignored: keep them here only on the machine that runs Ansible.",
        "",
        f"- `ca.crt` — the CA's root certificate: `step ca root {CA_FILE}`. Before the CA exists, the",
        "  `vault_server` role puts the Vault server's self-signed bootstrap certificate here.",
        "- `<vm>.crt`, `<vm>.key` — a VM's certificate (full chain) and key, with its FQDN, short name and",
        "  address as subject alternative names, for every VM that serves one (Elasticsearch nodes, Kibana,",
        "  Fleet Server, Vault):",
        "",
        "```sh",
        *rows,
        "```",
    ]
    return "\n".join(lines) + "\n"


def render(doc) -> list[RenderedFile]:
    return [
        markdown_file(f"{TLS_DIR}/README.md", tls_readme(doc)),
        RenderedFile(".gitignore", normalise(gitignore())),
        RenderedFile(".pre-commit-config.yaml", normalise(pre_commit_config())),
        RenderedFile(".yamllint", normalise(yamllint_config())),
        RenderedFile(repo_ci.WORKFLOW, normalise(dump_yaml(repo_ci.workflow(), header_line=header("#")
                                                           + "# On every push: render --check, validate, secrets scan.\n"))),
        RenderedFile(repo_ci.RENOVATE, dump_json(repo_ci.renovate())),
        markdown_file("README.md", readme(doc)),
        markdown_file("SECURITY.md", security(doc)),
    ]
