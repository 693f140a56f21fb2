#!/usr/bin/env bash
# Prove the container/Molecule plumbing: build the local systemd image if needed,
# then `molecule test` the smoke scenarios from the repository root.
# Usage: scripts/molecule-smoke.sh [scenario...]   (default: _smoke _smoke_pair)
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
# shellcheck disable=SC2119  # no --force here
ensure_image
cd "$REPO"

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(_smoke _smoke_pair)
for s in "${scenarios[@]}"; do
    log "molecule test -s $s"
    start=$(date +%s)
    molecule test -s "$s"
    log "molecule test -s $s: passed in $(( $(date +%s) - start ))s"
done
