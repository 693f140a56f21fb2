#!/usr/bin/env bash
# Builds the collection artifact, installs it into a scratch path and checks
# that every module's documentation renders with ansible-doc.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_apt rsync python3-venv
ensure_venv
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" "$REPO" >/dev/null
artifact="$(ls "$out"/lbops-haproxy-*.tar.gz)"
log "built $(basename "$artifact")"
ansible-galaxy collection install --force -p "$out/installed" "$artifact" >/dev/null
modules=$(cd "$REPO/plugins/modules" && ls ./*.py | sed 's|^\./||; s|\.py$||')
for m in $modules; do
    ANSIBLE_COLLECTIONS_PATH="$out/installed" ansible-doc "lbops.haproxy.$m" >"$out/doc.txt"
    grep -q "lbops.haproxy.$m" "$out/doc.txt" || { echo "ansible-doc did not render lbops.haproxy.$m" >&2; exit 1; }
    log "ansible-doc lbops.haproxy.$m renders"
done
