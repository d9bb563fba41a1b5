"""Render `docs/`: inventory, address plan, apps, secrets (who may read what), backups, certificates and DNS.

One module per page (`inventory`, `network`, `apps`, `secrets`, `backup`, `pki`), each returning the page's
markdown; `markdown` holds the table and prose helpers they share with `repo.py`. Tables are built
from data; Jinja2 renders only the prose-shaped parts (templates under `render/templates/`).
Everything is sorted so the output does not depend on the order of lists in homelab.yaml. Secret
*values* never reach this package: only catalogue paths and field names.
"""

from __future__ import annotations

from homelab.render.base import RenderedFile
from homelab.render.docs.apps import render_apps
from homelab.render.docs.backup import render_backup
from homelab.render.docs.inventory import render_inventory
from homelab.render.docs.markdown import markdown_file
from homelab.render.docs.network import render_network
from homelab.render.docs.pki import render_pki
from homelab.render.docs.secrets import render_secrets

PAGES = {
    "docs/apps.md": render_apps,
    "docs/backup.md": render_backup,
    "docs/inventory.md": render_inventory,
    "docs/network.md": render_network,
    "docs/pki.md": render_pki,
    "docs/secrets.md": render_secrets,
}


def render(doc) -> list[RenderedFile]:
    return [markdown_file(path, page(doc)) for path, page in PAGES.items()]
