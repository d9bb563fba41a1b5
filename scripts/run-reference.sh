#!/usr/bin/env bash
# `make run`: the main job on the bundled reference lab, from a clean state every time.
#
# check -> inventory -> render -> (embedded Vault) -> plan -> up (apply) -> plan again (nothing to do)
# -> backup -> drill (a scratch OpenBao restores the newest Vault backup; report in build/reference/drills)
#
# Talks to nothing outside this machine: the reference lab keeps its real addresses, which are not
# reachable from here, so its Vault is overridden to an embedded OpenBao server on 127.0.0.1
# (HOMELAB_VAULT_ADDR=embedded) and every layer whose endpoint is not configured (Proxmox, SSH to
# the VMs, the Kubernetes API) is reported as "not configured" in the plan and skipped by apply.
set -euo pipefail
cd "$(dirname "$0")/.."
HL=.venv/bin/homelab
LAB=examples/reference/homelab.yaml
OUT=build/reference
export HOMELAB_STATE_DIR="$OUT/.homelab"
export HOMELAB_VAULT_ADDR=embedded

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$OUT"
mkdir -p "$OUT"
trap '$HL vault down --lab "$LAB" >/dev/null 2>&1 || true' EXIT

step "homelab check $LAB"
$HL check "$LAB"

step "homelab inventory $LAB"
$HL inventory "$LAB"

step "homelab render $LAB --out $OUT/repo"
$HL render "$LAB" --out "$OUT/repo" | tail -n 1
step "the committed rendering (examples/reference/rendered) is up to date"
$HL render "$LAB" --out examples/reference/rendered --check

step "homelab vault up / init / unseal (embedded OpenBao on 127.0.0.1, keys in $HOMELAB_STATE_DIR, mode 0600)"
$HL vault up --lab "$LAB"
$HL vault init --lab "$LAB"
$HL vault unseal --lab "$LAB"

step "homelab plan $LAB"
$HL plan "$LAB" --out "$OUT/repo"

step "homelab up $LAB -y   (check -> render -> plan -> apply)"
$HL up "$LAB" --out "$OUT/repo" -y

step "homelab plan again: every configured layer has converged (the rest stays 'not configured')"
$HL plan "$LAB" --out "$OUT/repo" --format json > "$OUT/plan-after.json"
.venv/bin/python - "$OUT/plan-after.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
pending = []
for layer in plan["layers"]:
    actions = sorted({c["action"] for c in layer["changes"]})
    state = "live" if layer["reachable"] else "not configured"
    print(f"  {layer['name']:<9} {layer['engine']:<11} {state:<15} {len(layer['changes']):>3} resources: "
          f"{', '.join(actions)}  ({layer['reason']})")
    if layer["reachable"] and actions != ["no-op"]:
        pending.append(layer["name"])
if pending:
    sys.exit(f"not converged: {pending}")
print("converged: nothing left to do on the configured layers")
PY

step "homelab pki init / issue: real certificates from the embedded CA (OpenBao's PKI engine) for the lab's names"
# `pki init` records the root certificate in the lab file: it works on a copy, the committed example stays as is.
cp "$LAB" "$OUT/homelab.yaml"
$HL pki init --lab "$OUT/homelab.yaml" --out "$OUT/repo"
$HL pki status --lab "$OUT/homelab.yaml" --format json > "$OUT/pki-status.json"
for name in $(.venv/bin/python -c 'import json,sys; print(" ".join(c["name"] for c in json.load(open(sys.argv[1]))["certificates"]))' "$OUT/pki-status.json"); do
  $HL pki issue "$name" --lab "$OUT/homelab.yaml" --out "$OUT/repo" | sed -n 1p   # (sed reads to the end: no SIGPIPE)
done
.venv/bin/python - "$OUT/repo/tls" "$OUT/pki-status.json" <<'PY'
# Every certificate the lab needs, verified independently of homelab: openssl verify against the root,
# and the SANs read back with cryptography.
import json, subprocess, sys
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
tls, status = Path(sys.argv[1]), json.load(open(sys.argv[2]))
for cert in status["certificates"]:
    pems = x509.load_pem_x509_certificates((tls / f"{cert['name']}.crt").read_bytes())
    chain = tls / f".{cert['name']}.chain"
    chain.write_bytes(b"".join(p.public_bytes(Encoding.PEM) for p in pems[1:]))
    out = subprocess.run(["openssl", "verify", "-CAfile", str(tls / "ca.crt"), "-untrusted", str(chain),
                          str(tls / f"{cert['name']}.crt")], capture_output=True, text=True)
    chain.unlink()
    san = pems[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = {str(v) for v in san.get_values_for_type(x509.DNSName)} | {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    missing = set(cert["sans"]) - have
    if out.returncode != 0 or missing:
        sys.exit(f"{cert['name']}: {out.stdout.strip()} {out.stderr.strip()} missing SANs {sorted(missing)}")
    print(f"  {cert['name']:<8} openssl verify OK, SANs {', '.join(cert['sans'])}")
print(f"verified: {len(status['certificates'])} certificates chain to the root and carry their names")
PY
# With the root recorded, the rendering trusts it everywhere: the trust bundle, the issuer, Velero, democratic-csi.
$HL render "$OUT/homelab.yaml" --out "$OUT/repo" | tail -n 1
grep -c "^kind: ConfigMap" "$OUT/repo/k8s/platform/trust-bundle.yaml" | sed 's/^/  trust bundle (ConfigMap homelab-ca) in namespaces: /'
grep -q "caBundle:" "$OUT/repo/k8s/platform/cert-manager-issuers.yaml" && echo "  ClusterIssuer homelab-ca verifies step-ca with the root"

step "homelab vault status / backup"
$HL vault status --lab "$LAB"
$HL vault backup --lab "$LAB"

step "homelab backup vault (the off-site bucket is the lab's TrueNAS: not contacted from here)"
$HL backup vault --lab "$LAB" --no-offsite -y

step "homelab drill: the newest Vault backup restored into a scratch OpenBao, verified by hash, RPO/RTO"
$HL drill --lab "$LAB" --out "$OUT/drills"

step "homelab vault down"
$HL vault down --lab "$LAB"
trap - EXIT
echo
echo "done: rendered repository in $OUT/repo, state in $HOMELAB_STATE_DIR"
