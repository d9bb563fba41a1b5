#!/usr/bin/env bash
# The main job on the bundled reference lab. Talks to nothing outside this machine: the reference
# lab's real endpoints are not configured, so only local steps run and the rest is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
HL=.venv/bin/homelab
LAB=examples/reference/homelab.yaml
echo "== homelab check $LAB"
$HL check "$LAB"
echo
echo "== homelab inventory $LAB"
$HL inventory "$LAB"
