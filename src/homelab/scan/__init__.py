"""Secret scanning of a repository — its working tree and its whole git history — and purging what leaked
from history (git-filter-repo). `homelab secrets scan|purge`.

- `detectors`: what a secret looks like (Vault tokens, K3s join tokens, Proxmox API token secrets, private
  keys, cloud keys, password-like assignments with entropy) and what is allowed (digests, Vault paths,
  `var.`/`data.` references, templates);
- `scanner`: the working tree (`git ls-files`, or every file outside git) and every commit's added lines
  (`git log -p --all`);
- `purge`: back up the refs, rewrite history with git-filter-repo `--replace-text`, scan again.

A finding never carries the secret: only a masked preview and a fingerprint (sha256 prefix) to name it.
"""
