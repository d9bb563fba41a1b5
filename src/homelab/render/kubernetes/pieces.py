"""Small pieces of Helm values that the chart builders in `charts.py` compose.

Each piece turns one aspect of an app (image, resources, secrets as environment, ingress, persistent
volume; GPU scheduling is `gpu.gpu_scheduling`) into the shape charts commonly use, and is empty when
the app has nothing to say about it; `compact` then leaves the key out, so a builder reads like the
chart's values file: one key per line.
"""

from __future__ import annotations

from homelab.render.kubernetes.cert_manager import ingress_annotations, ingress_tls_entry
from homelab.render.kubernetes.common import quantity
from homelab.render.kubernetes.external_secrets import app_secret_keys, app_secret_name
from homelab.render.kubernetes.gpu import GPU_RESOURCE


def compact(values: dict) -> dict:
    """`values` without its empty entries: a key homelab has nothing to say about.

    Empty is anything false (None, "", {}, [], but also False and 0): write a value that may be false
    or zero on purpose outside `compact`."""
    return {key: value for key, value in values.items() if value}


def image(app) -> dict:
    return {"repository": app.image.repository, "tag": app.image.tag} if app.image else {}


def resources(app, *, gpu: bool = True) -> dict:
    """`requests` / `limits` from the app's resources; a GPU app's GPUs are a limit (`gpu=False`: the chart
    sets that limit itself)."""
    r = app.resources
    requests = compact({
        "cpu": r.cpu if r else None,
        "memory": quantity(r.memory) if r and r.memory else None,
    })
    limits = compact({
        "cpu": r.cpu_limit if r else None,
        "memory": quantity(r.memory_limit) if r and r.memory_limit else None,
        GPU_RESOURCE: app.gpu if gpu else None,
    })
    return compact({"requests": requests, "limits": limits})


# ------------------------------------------------------------------------- secrets as environment


def secret_key_ref(app, key) -> dict:
    """Where one Vault field lives in the app's Secret (`<app>-secrets`, see external_secrets.py)."""
    return {"name": app_secret_name(app), "key": key.key}


def env_list(app) -> list[dict]:
    """The app's Vault fields as a container `env` list (`- name: X, valueFrom: secretKeyRef`)."""
    return [{"name": k.env, "valueFrom": {"secretKeyRef": secret_key_ref(app, k)}} for k in app_secret_keys(app)]


def env_map(app) -> dict:
    """The same as a map from variable name to `valueFrom` (bjw-s app-template)."""
    return {k.env: {"valueFrom": {"secretKeyRef": secret_key_ref(app, k)}} for k in app_secret_keys(app)}


# ----------------------------------------------------------------------------------------- ingress


def ingress_class(lab) -> str | None:
    return "traefik" if lab.platform.traefik.enabled else None


def ingress_class_key(lab, key: str = "className") -> dict:
    """`{key: <ingress class>}`, or nothing when the lab runs no ingress controller."""
    return compact({key: ingress_class(lab)})


def root_path() -> dict:
    return {"path": "/", "pathType": "Prefix"}


def ingress_tls(lab, app) -> list[dict]:
    """The Ingress `tls` entry for the app's host. Without it Traefik routes the host on plain HTTP only
    (its websecure entry point terminates TLS only for routers with TLS). With cert-manager it names the
    Secret ingress-shim writes the host's certificate to (cert_manager.py); without, no secretName:
    Traefik's default certificate serves it."""
    return [ingress_tls_entry(lab, app.ingress)] if app.ingress else []


def ingress_meta(lab, app) -> dict:
    """`{annotations: {cert-manager.io/cluster-issuer: ...}}` for the app's Ingress (nothing without cert-manager)."""
    ann = ingress_annotations(lab, app.ingress)
    return {"annotations": ann} if ann else {}


def helm_create_ingress(lab, app) -> dict:
    """The `helm create` ingress shape (ollama, home-assistant and most community charts)."""
    if not app.ingress:
        return {}
    return {"enabled": True, **ingress_class_key(lab), **ingress_meta(lab, app),
            "hosts": [{"host": app.ingress, "paths": [root_path()]}], "tls": ingress_tls(lab, app)}


# -------------------------------------------------------------------------------------- persistence


def first_volume(app):
    """The app's first volume: charts with a single data volume get only that one (None without)."""
    return app.storage[0] if app.storage else None


def claim(vol, *, access_modes: bool = False) -> dict:
    """Access mode, size and storage class of a volume claim (`accessModes: [...]` where a chart wants a list)."""
    access = {"accessModes": [vol.access_mode]} if access_modes else {"accessMode": vol.access_mode}
    return {**access, "size": quantity(vol.size), **compact({"storageClass": vol.class_})}


def enabled_claim(vol, *, access_modes: bool = False) -> dict:
    """`enabled: true` and the claim, the shape of most charts' `persistence` (nothing without a volume)."""
    return {"enabled": True, **claim(vol, access_modes=access_modes)} if vol else {}
