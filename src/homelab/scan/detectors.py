"""What a secret looks like. Each detector is a regex whose group `s` is the secret; password-like
assignments additionally need entropy (bits per character of the value) — `password: changeme` is not
reported, `password: Zr8#kQ2v!pLx` is. Sources for the token formats:
- Vault/OpenBao service tokens `hvs.` (Vault ≥ 1.10), batch tokens `hvb.`, legacy `s.` + 24 characters
  (vault docs "Tokens": token prefixes);
- K3s join tokens `K10<sha256 of the cluster CA>::<user>:<password>` (k3s docs "Token": secure format);
- Proxmox API token secrets: UUIDs, sent as `PVEAPIToken=<user>@<realm>!<name>=<uuid>` (pve docs
  "API Tokens"), or assigned to *token_secret;
- private keys (PEM/OpenSSH headers), AWS access keys (AKIA/ASIA) and secret keys, GitHub tokens (ghp_,
  github_pat_), Slack tokens (xox?-), GCP service-account private keys.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class Detector:
    id: str
    summary: str
    pattern: re.Pattern
    min_entropy: float = 0.0


def _d(id: str, summary: str, pattern: str, min_entropy: float = 0.0, flags: int = 0) -> Detector:
    return Detector(id, summary, re.compile(pattern, flags), min_entropy)


DETECTORS: tuple[Detector, ...] = (
    _d("vault-token", "Vault/OpenBao token", r"(?<![A-Za-z0-9_.])(?P<s>hv[sb]\.[A-Za-z0-9_-]{24,})"),
    _d("vault-token-legacy", "Vault token (legacy s. format)", r"(?<![A-Za-z0-9_./-])(?P<s>s\.[A-Za-z0-9]{24})(?![A-Za-z0-9])"),
    _d("k3s-token", "K3s join token", r"(?P<s>K10[0-9a-f]{64}::[a-z]+:[A-Za-z0-9]{6,})"),
    _d("proxmox-token-secret", "Proxmox API token secret",
       rf"(?:PVEAPIToken=[^\s=]+=|token_secret[\"']?\s*[:=]\s*[\"']?)(?P<s>{UUID})", flags=re.I),
    _d("private-key", "private key", r"(?P<s>-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----)"),
    _d("aws-access-key", "AWS access key id", r"(?<![A-Z0-9])(?P<s>(?:AKIA|ASIA)[0-9A-Z]{16})(?![A-Z0-9])"),
    _d("aws-secret-key", "AWS secret access key",
       r"aws_secret_access_key[\"']?\s*[:=]\s*[\"']?(?P<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])", flags=re.I),
    _d("github-token", "GitHub token", r"(?P<s>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})"),
    _d("slack-token", "Slack token", r"(?P<s>xox[baprs]-[A-Za-z0-9-]{10,})"),
    _d("password-assignment", "password-like assignment",
       r"(?i)(?:^|[\s{,\"'])(?:[a-z0-9_.-]*(?:password|passwd|passphrase|secret|token|api_?key|access_?key|"
       r"private_?key|credential)s?)[\"']?\s*(?::|=|:=|=>)\s*(?P<q>[\"']?)(?P<s>[^\s\"'#,}{]{8,})(?P=q)",
       min_entropy=3.0),
)

# Values that look like assignments but are not secrets.
ALLOW = (
    re.compile(r"^sha(1|256|512):[0-9a-f]+$"),  # digests
    re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$"),  # git object ids, sha256 hex
    re.compile(r"^(var|data|local|module|each|self)\."),  # Terraform references
    re.compile(r"^\$\{|^\{\{|^\$[A-Z_]+|^%\(|^<[^>]*>$"),  # templates, env references, placeholders
    re.compile(r"^[a-z0-9_-]+(/[A-Za-z0-9_.*-]+)+(#[a-z0-9_,]+)?$"),  # Vault paths (apps/plex, secret/data/x#f)
    re.compile(r"^(true|false|null|none|changeme|example\S*|x{6,}|\*{3,}|redacted|REDACTED.*)$", re.I),
    re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\($"),  # a function call (lookup(
    re.compile(r"^[a-z]+(\.[a-z_]+)+$"),  # dotted names (ansible.builtin.x, foo.bar)
    re.compile(r"^[A-Za-z]+([_-][A-Za-z]+)*$"),  # plain words / identifiers (no digits, no symbols)
    re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+[})\]]*$"),  # a snake_case variable (k3s_token_value}})
    re.compile(r"^[A-Za-z_][A-Za-z0-9_]*((\.[A-Za-z0-9_]+)|(\[[^\]]+\]))+[,})\]]*$"),  # attribute/index access
    re.compile(r"^\(|^[A-Za-z_][A-Za-z0-9_.]*[(\[]"),  # code: a call or subscript (secret_reader(doc, (a.b)
    re.compile(r"^(/|~/|\./|`)"),  # a file path (/var/lib/rancher/k3s/server/node-token), markdown code
)
# A line carrying one of these markers is not scanned (homelab's own, gitleaks', detect-secrets').
LINE_ALLOW = ("homelab:allow-secret", "gitleaks:allow", "pragma: allowlist secret")


def entropy(value: str) -> float:
    if not value:
        return 0.0
    counts = {c: value.count(c) for c in set(value)}
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def allowed(value: str) -> bool:
    return any(p.search(value) for p in ALLOW)


def find(line: str):
    """(detector, secret, start) of every secret on a line."""
    if any(marker in line for marker in LINE_ALLOW):
        return
    seen = set()
    for d in DETECTORS:
        for m in d.pattern.finditer(line):
            secret = m.group("s")
            if secret in seen:
                continue
            if d.min_entropy and (allowed(secret) or entropy(secret) < d.min_entropy):
                continue
            seen.add(secret)
            yield d, secret, m.start("s")


def mask(secret: str) -> str:
    keep = 4 if len(secret) > 12 else 1
    return f"{secret[:keep]}…({len(secret)} chars)"
