"""What some container images need beyond a port and volumes: one table, `IMAGE_SETTINGS`.

homelab builds the container of an app-template app itself, so it has to know how an image reads its
settings. Each entry is keyed by image repository and returns `ImageSettings`: plain environment,
container arguments, extra app-template controllers/services the image cannot run without (a broker),
and a note for `docs/apps.md` where the image leaves something to do by hand (a first password that no
setting can choose). Every setting names the image fact it rests on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from homelab.render.kubernetes.external_secrets import app_secret_keys

# docker-library redis 8.2.3 (the 8.x line paperless-ngx's own compose files use: `redis:8`).
REDIS_IMAGE = {"repository": "docker.io/library/redis", "tag": "8.2.3"}
REDIS_PORT = 6379


@dataclass
class ImageSettings:
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    controllers: dict[str, dict] = field(default_factory=dict)  # app-template controllers besides `main`
    services: dict[str, dict] = field(default_factory=dict)
    note: str = ""


def _url(app) -> str | None:
    return f"https://{app.ingress}" if app.ingress else None


def _password_env(app) -> str | None:
    """The environment variable of the app's first password field (from its Secret), if any."""
    return next((k.env for k in app_secret_keys(app) if "password" in k.field.lower()), None)


def service_name(app, identifier: str) -> str:
    """bjw-s app-template 4.1.1 common.lib.service.name: `<release>-<identifier>` (release = app name)."""
    return f"{app.name}-{identifier}"


def paperless(lab, app) -> ImageSettings:
    s = ImageSettings()
    # paperless-ngx 2.17 docs/configuration.md PAPERLESS_REDIS (default redis://localhost:6379; start-up waits
    # for it): a Redis of its own, a second controller and Service of the same release.
    s.env["PAPERLESS_REDIS"] = f"redis://{service_name(app, 'redis')}:{REDIS_PORT}"
    s.controllers["redis"] = {"containers": {"main": {"image": dict(REDIS_IMAGE)}}}
    s.services["redis"] = {"controller": "redis", "ports": {"redis": {"port": REDIS_PORT}}}
    if _url(app):
        # PAPERLESS_URL sets ALLOWED_HOSTS, CORS and CSRF_TRUSTED_ORIGINS: logins through the Ingress need it.
        s.env["PAPERLESS_URL"] = _url(app)
    if any(k.env == "PAPERLESS_ADMIN_PASSWORD" for k in app_secret_keys(app)):
        # PAPERLESS_ADMIN_PASSWORD is "only used when PAPERLESS_ADMIN_USER is set" (configuration.md).
        s.env["PAPERLESS_ADMIN_USER"] = "admin"
    return s


def text_generation_webui(lab, app) -> ImageSettings:
    # Atinoda/text-generation-webui-docker scripts/docker-entrypoint.sh appends EXTRA_LAUNCH_ARGS to
    # server.py; without --listen the web UI binds 127.0.0.1 and the Service cannot reach it.
    args = "--listen" + (f" --listen-port {app.port}" if app.port and app.port != 7860 else "")
    return ImageSettings(env={"EXTRA_LAUNCH_ARGS": args})


def copyparty(lab, app) -> ImageSettings:
    env = _password_env(app)
    if env is None:
        return ImageSettings(note="copyparty shares /w read-write with anyone who reaches it: give the app a "
                                  "password secret (account admin) to restrict it.")
    # copyparty (scripts/docker: ENTRYPOINT python3 -m copyparty --no-crt -c /z/initcfg) takes accounts as
    # `-a user:password` and volumes as `-v src:dst:perm,user` (README "accounts and volumes"); without any
    # -v it shares /w read-write with everyone. Kubernetes expands $(VAR) in args from the container env.
    return ImageSettings(args=["-a", f"admin:$({env})", "-v", "/w::A,admin"],
                         note="Log in as admin with the password from Vault; /w is shared with admin only.")


def qbittorrent(lab, app) -> ImageSettings:
    # linuxserver/docker-qbittorrent readme-vars.yml: no password variable; qBittorrent >= 4.6.1 prints a
    # temporary Web UI password for user admin to the log at first start.
    return ImageSettings(note="qBittorrent has no password setting: the first start prints a temporary Web UI "
                              "password for user admin to its log (kubectl logs); set your own under Tools > "
                              "Options > Web UI.")


def mealie(lab, app) -> ImageSettings:
    # mealie-recipes/mealie: the first admin's password is the private _DEFAULT_PASSWORD, not a setting;
    # BASE_URL is the address Mealie puts into links it sends (docs: backend configuration).
    return ImageSettings(env={"BASE_URL": _url(app)} if _url(app) else {},
                         note="Mealie's first admin is changeme@example.com with password MyPassword (no setting "
                              "chooses them): log in and change both at once.")


Settings = Callable[..., ImageSettings]

# image repository -> settings(lab, app)
IMAGE_SETTINGS: dict[str, Settings] = {
    "ghcr.io/paperless-ngx/paperless-ngx": paperless,
    "atinoda/text-generation-webui": text_generation_webui,
    "lscr.io/linuxserver/qbittorrent": qbittorrent,
    "ghcr.io/mealie-recipes/mealie": mealie,
    **{f"copyparty/{edition}": copyparty for edition in ("min", "im", "ac", "iv", "dj")},
    **{f"ghcr.io/9001/copyparty-{edition}": copyparty for edition in ("min", "im", "ac", "iv", "dj")},
}


def image_settings(lab, app) -> ImageSettings:
    build = IMAGE_SETTINGS.get(app.image.repository) if app.image else None
    return build(lab, app) if build else ImageSettings()
