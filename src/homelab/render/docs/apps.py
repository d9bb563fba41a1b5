"""`docs/apps.md`: every application (chart, image, URL, storage, GPU, Vault secrets, backup) and the
platform components.

An overview table, then one section per namespace with each app's details: resources, GPU placement
(the same node label and taint the Kubernetes renderer uses), volumes and which Vault field becomes
which environment variable (`path#field`, never a value).
"""

from __future__ import annotations

from homelab.lab.parts import component_on
from homelab.render.docs.backup import backup_policy
from homelab.render.docs.markdown import NONE, by_name, chart_ref, code, md_header, section, size, table
from homelab.render.kubernetes.common import sorted_apps
from homelab.render.kubernetes.gpu import GPU_RESOURCE, gpu_label, gpu_taint
from homelab.render.kubernetes.images import image_settings


def default_storage_class(lab) -> str | None:
    return next((c.name for c in by_name(lab.storage.classes) if c.default), None)


def _volume(lab, v) -> str:
    cls = v.class_ or f"{default_storage_class(lab) or 'cluster'}, default class"
    return f"{v.name} {size(v.size)} ({cls})"


def _image(app, default: str) -> str:
    return f"{app.image.repository}:{app.image.tag}" if app.image else default


def _overview(lab, apps) -> str:
    return table(
        ["App", "Namespace", "URL", "Chart", "Image", "Storage", "GPU", "Vault secrets", "Backup"],
        [[a.name, a.namespace, f"https://{a.ingress}" if a.ingress else NONE,
          chart_ref(a.chart),
          _image(a, NONE),
          "<br>".join(_volume(lab, v) for v in by_name(a.storage)) or NONE,
          f"{a.gpu} × {GPU_RESOURCE}" if a.gpu else NONE,
          "<br>".join(f"`{s.path}#{s.field}`" for s in sorted(a.secrets, key=lambda s: (s.path, s.field)))
          or NONE,
          backup_policy(lab, a)] for a in apps],
    )


def _resources(r) -> list[list[str]]:
    req = ", ".join(x for x in (f"cpu {r.cpu}" if r.cpu else "",
                                f"memory {size(r.memory)}" if r.memory else "") if x)
    lim = ", ".join(x for x in (f"cpu {r.cpu_limit}" if r.cpu_limit else "",
                                f"memory {size(r.memory_limit)}" if r.memory_limit else "") if x)
    return [["Requests", req or NONE], ["Limits", lim or NONE]]


def _details(lab, a) -> str:
    rows = [
        ["Namespace", a.namespace],
        ["URL", f"https://{a.ingress}" if a.ingress else "no ingress"],
        ["Chart", f"{chart_ref(a.chart)} from {a.chart.repo}"],
        ["Image", _image(a, "chart default")],
        ["Port", a.port],
    ]
    if a.resources:
        rows += _resources(a.resources)
    if a.gpu:
        rows.append(["GPU", f"{a.gpu} × {GPU_RESOURCE}; node selector `{gpu_label(lab)}`, "
                            f"tolerates `{gpu_taint(lab)}`"])
    rows.append(["Backup", backup_policy(lab, a)])
    note = image_settings(lab, a).note  # what the image leaves to do by hand (first login, ...)
    if note:
        rows.append(["Note", note])
    out = [table(["", a.name], rows)]
    if a.storage:
        out.append("\n")
        out.append(table(["Volume", "Size", "Class", "Mount", "Access"], [
            [v.name, size(v.size), v.class_ or f"{default_storage_class(lab) or 'cluster default'} (default)",
             code(v.mount), v.access_mode] for v in by_name(a.storage)
        ], "lrlll"))
    if a.secrets:
        out.append("\n")
        out.append(table(["Vault secret", "Environment variable"], [
            [f"`{s.path}#{s.field}`", code(s.env or "")]
            for s in sorted(a.secrets, key=lambda s: (s.path, s.field, s.env or ""))
        ]))
    return "".join(out)


def render_apps(doc) -> str:
    lab = doc.lab
    apps = sorted_apps(lab)
    out = [md_header(f"Applications — {lab.name}")]
    out.append(f"{len(apps)} applications, deployed by ArgoCD from pinned Helm charts. Secrets come from "
               "Vault (listed as `path#field`; values are never written to this repository).\n")
    out.append(section("Overview", _overview(lab, apps)))
    for ns in sorted({a.namespace for a in apps}):
        out.append(f"\n## Namespace `{ns}`\n")
        for a in (x for x in apps if x.namespace == ns):
            description = a.description.strip() + "\n\n" if a.description else ""
            out.append(section(a.name, description + _details(lab, a), level=3))
    out.append(section("Platform components", table(["Component", "Enabled", "Namespace", "Chart"], [
        [name, "yes" if component_on(lab, name) else "no (no GPU nodes)" if c.enabled else "no", c.namespace,
         chart_ref(c.chart)]
        for name, c in sorted(lab.platform.components().items())
    ])))
    return "".join(out)
