"""Helm charts: the cache (`.homelab/charts/`), pulling into it (verified by digest), and templating an
ArgoCD Application's chart sources exactly as ArgoCD does — through the Helm v4 engine as a library
(pip `helm-python-sdk`), behind the small seam in `helm.py` (a young library: nothing else imports it).

- `helm`: the seam (load, render, digest, CRDs, default values, `--set` parsing, OCI pull);
- `cache`: where a chart archive of (name, version) lives, and the lock of what was pulled from where;
- `pull`: `homelab charts pull` — HTTP chart repositories (index.yaml, sha256 digest) and OCI registries;
- `application`: an ArgoCD Application's chart sources, values files (`$values` refs), release, namespace;
- `template`: render them, cached on disk by chart digest + values hash.
"""
