#!/usr/bin/env bash
# Molecule scenarios (podman driver, privileged systemd containers built locally).
# Usage: scripts/molecule.sh [scenario ...]   (default: every scenario, i.e. every
# molecule/<name>/molecule.yml whose name does not start with "_")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_apt rsync python3-venv podman runc debootstrap
ensure_venv
bash "$REPO/scripts/build-image.sh"
install_collection
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    for d in "$REPO"/molecule/*/; do
        name="$(basename "$d")"
        case "$name" in _*) continue ;; esac
        [ -f "$d/molecule.yml" ] || continue
        scenarios+=("$name")
    done
fi
if [ ${#scenarios[@]} -eq 0 ]; then
    log "no Molecule scenario yet"
    exit 0
fi
cd "$REPO"
for s in "${scenarios[@]}"; do
    log "molecule test -s $s"
    molecule test -s "$s"
done
