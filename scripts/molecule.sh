#!/usr/bin/env bash
# Molecule scenarios (podman driver, privileged systemd containers built locally),
# in containers of one Debian release.
# Usage: scripts/molecule.sh [--release bookworm|trixie] [scenario ...]
#   --release   the containers' Debian release (default: the newest,
#               LBOPS_DEFAULT_RELEASE in scripts/lib.sh). Its image is built when
#               missing (scripts/build-image.sh) and reaches the scenarios'
#               molecule.yml as LBOPS_RELEASE.
#   scenario    default: every scenario, i.e. every extensions/molecule/<name>/molecule.yml
#               whose name does not start with "_" (shared base: extensions/molecule/config.yml)
# Molecule runs on the newest ansible-core line (ensure_venv).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
parse_release_option "$@"
set -- ${ARGS[@]+"${ARGS[@]}"}
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
ensure_podman
ensure_apt rsync python3-venv debootstrap
ensure_venv
ensure_image --release "$RELEASE"
install_collection
export LBOPS_RELEASE="$RELEASE"
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    for d in "$REPO"/extensions/molecule/*/; do
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
    [ -f "$REPO/extensions/molecule/$s/molecule.yml" ] || die "no Molecule scenario '$s' (extensions/molecule/$s/molecule.yml)"
done
for s in "${scenarios[@]}"; do
    log "molecule test -s $s (Debian $RELEASE: $(release_image "$RELEASE"))"
    t0=$(date +%s)
    molecule test -s "$s"
    log "molecule test -s $s on $RELEASE passed in $(($(date +%s) - t0)) s"
done
