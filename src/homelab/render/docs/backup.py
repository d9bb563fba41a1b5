"""`docs/backup.md`: what is backed up, when, for how long and where, and how to run the DR drill.

Vault (raft snapshots or, with file storage, an archive of its data directory), Elasticsearch
snapshots, Velero schedules for Kubernetes, per-app backup policies, ZFS snapshots on TrueNAS and
off-site replication; the disaster-recovery drill is prose (template `dr-drill.md.j2`).
`backup_policy` is shared with `docs/apps.md`.
"""

from __future__ import annotations

from homelab.lab.backups import volume_backed_up, zfs_lifetime
from homelab.render.docs.markdown import NONE, by_name, code, md_header, render_template, section, size, table
from homelab.render.kubernetes.common import sorted_apps
from homelab.render.kubernetes.velero import schedule_object_name


def velero_schedules_for(lab, namespace: str) -> list[str]:
    velero = lab.backup.velero
    if not velero or not lab.platform.velero.enabled:
        return []
    return sorted(s.name for s in velero.schedules if not s.namespaces or namespace in s.namespaces)


def backup_policy(lab, app) -> str:
    if app.backup is None:
        policy = "none"
    elif not app.backup.enabled:
        policy = "disabled"
    else:
        policy = f"{app.backup.schedule}, keep {app.backup.retention_days} days"
    velero = velero_schedules_for(lab, app.namespace)
    if velero:
        policy += " (Velero: " + ", ".join(velero) + ")"
    return policy


def _velero_on(lab) -> bool:
    return bool(lab.backup.velero) and lab.platform.velero.enabled


def _by_dataset(zfs) -> list:
    return sorted(zfs, key=lambda z: z.dataset)


def _es_target(repo) -> str:
    if not repo:
        return "no snapshot repository configured"
    if repo.type != "s3":
        return f"repository `{repo.name}`: fs `{repo.location}`"
    return (f"repository `{repo.name}`: {repo.type} bucket `{repo.bucket}`"
            + (f", base path `{repo.base_path}`" if repo.base_path else "")
            + (f" at {repo.endpoint}" if repo.endpoint else ""))


def _summary(lab) -> str:
    b = lab.backup
    es = lab.clusters.elasticsearch
    rows = []
    method = ("file storage: the data directory is archived (there is no snapshot API with file storage)"
              if lab.vault.storage == "file" else "raft snapshot (`/v1/sys/storage/raft/snapshot`)")
    rows.append(["Vault", code(b.vault.schedule), f"{b.vault.retention} backups", code(b.vault.directory), method])
    if es:
        target = _es_target(es.snapshot_repository)
        if b.elasticsearch:
            rows.append(["Elasticsearch snapshots", code(b.elasticsearch.schedule),
                         f"{b.elasticsearch.retention_days} days", target, "snapshot lifecycle"])
        else:
            rows.append(["Elasticsearch snapshots", NONE, NONE, target, "not scheduled"])
    if b.velero:
        for s in by_name(b.velero.schedules):
            rows.append([f"Velero `{s.name}`", code(s.schedule), f"TTL {s.ttl}",
                         f"bucket `{b.velero.bucket}`" if b.velero.bucket else NONE,
                         ("namespaces " + ", ".join(sorted(s.namespaces)) if s.namespaces else "every namespace")
                         + ("" if _velero_on(lab) else " (Velero not enabled)")])
    for z in _by_dataset(b.zfs):
        rows.append([f"ZFS `{z.dataset}`", z.schedule, _keep(z),
                     lab.storage.truenas.host if lab.storage.truenas else NONE,
                     "recursive" if z.recursive else "dataset only"])
    rows.append(["Off-site replication", NONE, NONE, b.offsite or "not configured", NONE])
    return table(["What", "Schedule", "Retention", "Where", "How"], rows)


def _vault(lab) -> str:
    from homelab.lab.cron import on_calendar

    b = lab.backup
    try:
        events = ", ".join(code(e) for e in on_calendar(b.vault.schedule))
    except ValueError:
        events = "not a cron schedule"
    off = b.vault.offsite
    return table(["Setting", "Value"], [
        ["Schedule (cron, UTC)", code(b.vault.schedule)],
        ["On the Vault VM", f"`vault-backup.timer` (OnCalendar {events}), into {code(b.vault.vm_directory)}"],
        ["Backups kept", b.vault.retention],
        ["Directory (`homelab backup vault`)", code(b.vault.directory)],
        ["Off-site copy", f"S3 bucket `{off.bucket}` (prefix `{off.prefix}`) at {off.endpoint}, keys from Vault "
                          f"`{off.credentials}`" if off else "not configured"],
        ["Storage backend", lab.vault.storage],
        ["Unseal", f"Shamir {lab.vault.init.threshold} of {lab.vault.init.shares} key shares, held by operators"],
    ])


def _elasticsearch(lab, es) -> str:
    b, repo = lab.backup, es.snapshot_repository
    rows = [["Cluster", es.cluster_name]]
    if repo:
        rows += [["Repository", f"`{repo.name}` ({repo.type})"]]
        if repo.type == "s3":
            rows += [["Bucket", repo.bucket], ["Base path", repo.base_path or NONE],
                     ["Endpoint", repo.endpoint or "AWS default"],
                     ["Path-style access", "yes" if repo.path_style_access else "no"],
                     ["Credentials (Vault)", f"`{repo.credentials}`"]]
        else:
            rows += [["Location", repo.location]]
    if b.elasticsearch:
        rows += [["Schedule (cron)", code(b.elasticsearch.schedule)],
                 ["Retention", f"{b.elasticsearch.retention_days} days"]]
        if repo:
            from homelab.render.ansible import SLM_POLICY_ID, es_cron

            try:
                quartz = code(es_cron(b.elasticsearch.schedule))
            except ValueError:
                quartz = "not expressible (keep one of the day fields `*`)"
            rows += [["Snapshot lifecycle policy", f"`{SLM_POLICY_ID}`, registered with the repository by "
                                                   "`ansible/playbooks/elasticsearch.yml`"],
                     ["Schedule (Elasticsearch cron, UTC)", quartz]]
    return table(["Setting", "Value"], rows)


def _velero(lab) -> str:
    velero = lab.backup.velero
    return ((("Velero is enabled." if _velero_on(lab) else "Velero is **not enabled** in `platform.velero`; "
              "these schedules take effect once it is.") + "\n\n")
            + table(["Setting", "Value"], [
                ["Bucket", velero.bucket or NONE], ["S3 URL", velero.s3_url or NONE],
                ["Credentials (Vault)", f"`{velero.credentials}`"],
                ["File-system backup (kopia node agent)",
                 "every pod volume except those left out (opt-out)" if velero.fs_backup == "opt-out"
                 else "only the volumes chosen (opt-in)"],
                ["Volumes left out unless they opt in", f"larger than {size(velero.max_volume_size)}"]])
            + "\n"
            + table(["Schedule", "Cron", "Namespaces", "TTL", "Object (namespace " + lab.platform.velero.namespace + ")"], [
                [s.name, code(s.schedule), ", ".join(sorted(s.namespaces)) or "every namespace", s.ttl,
                 code(f"Schedule/{schedule_object_name(s.name)}")]
                for s in by_name(velero.schedules)]))


def _volume(lab, vol) -> str:
    text = f"{vol.name} {size(vol.size)}"
    if not _velero_on(lab):
        return text
    if volume_backed_up(lab, vol):
        return text
    why = "opted out" if vol.backup is False else f"larger than {size(lab.backup.velero.max_volume_size)}"
    return f"{text} (no file-system backup: {why})"


def _app_policies(lab, apps) -> str:
    return table(["App", "Namespace", "Policy", "Persistent volumes"], [
        [a.name, a.namespace, backup_policy(lab, a),
         ", ".join(_volume(lab, v) for v in by_name(a.storage)) or NONE]
        for a in apps])


def _zfs(lab) -> str:
    if not lab.backup.zfs:
        return "No ZFS snapshot policy declared.\n"
    out = table(["Dataset", "Schedule", "Keep", "Recursive"], [
        [code(z.dataset), z.schedule, _keep(z), "yes" if z.recursive else "no"]
        for z in _by_dataset(lab.backup.zfs)], "llrl")
    if lab.backup.zfs_replication:
        out += "\nReplication tasks (pushed after each snapshot of their source datasets):\n\n" + table(
            ["Name", "Source datasets", "Target", "Transport", "Retention"], [
                [r.name, ", ".join(f"`{d}`" for d in r.source_datasets), f"`{r.target_dataset}`",
                 r.transport + (f" (`{r.ssh_credentials}`)" if r.ssh_credentials else ""),
                 r.lifetime if r.retention == "custom" else r.retention]
                for r in sorted(lab.backup.zfs_replication, key=lambda r: r.name)])
    nas = lab.storage.truenas
    out += ("\nApplied through the TrueNAS API at " + f"`{nas.api_url}` by `homelab apply` (layer `nas`).\n"
            if nas and nas.api_url else "\nSet `storage.truenas.api_url` for `homelab apply` to keep these tasks "
            "on the NAS (layer `nas`).\n")
    return out


def _keep(z) -> str:
    value, unit = zfs_lifetime(z)
    return f"{z.retention} snapshots" if z.retention else f"{value} {unit.lower()}{'s' if value != 1 else ''}"


def _dr_drill(lab, apps) -> str:
    b = lab.backup
    es = lab.clusters.elasticsearch
    repo = es.snapshot_repository if es else None
    return render_template(
        "dr-drill.md.j2",
        schedule=b.dr_drill.schedule,
        restore_target=b.dr_drill.restore_target,
        vault_storage=lab.vault.storage,
        vault_directory=b.vault.directory,
        kv_mount=lab.vault.kv_mount,
        catalogue_count=len(lab.vault.secrets),
        es=bool(es and repo),
        es_cluster=bool(es),
        gitops=lab.gitops is not None,
        es_repository=repo.name if repo else "",
        velero=_velero_on(lab),
        velero_namespace=next((ns for s in by_name(b.velero.schedules if b.velero else [])
                               for ns in sorted(s.namespaces)), next((a.namespace for a in apps), "default")),
        zfs=", ".join(f"`{z.dataset}`" for z in _by_dataset(b.zfs)),
        offsite=b.offsite or "",
    )


def render_backup(doc) -> str:
    lab = doc.lab
    b = lab.backup
    es = lab.clusters.elasticsearch
    apps = sorted_apps(lab)
    out = [md_header(f"Backup and disaster recovery — {lab.name}"),
           section("Summary", _summary(lab)),
           section("Vault", _vault(lab))]
    if es:
        out.append(section("Elasticsearch snapshots", _elasticsearch(lab, es)))
    if b.velero:
        out.append(section("Velero (Kubernetes applications)", _velero(lab)))
    if apps:
        out.append(section("Application backup policies", _app_policies(lab, apps)))
    out.append(section("ZFS snapshots (TrueNAS)", _zfs(lab)))
    out.append(section("Off-site replication", f"Snapshots are replicated to `{b.offsite}`.\n" if b.offsite else
                       "Not configured: set `backup.offsite` to a secondary storage location.\n"))
    out.append("\n")
    out.append(_dr_drill(lab, apps))
    return "".join(out)
