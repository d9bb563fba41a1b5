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
