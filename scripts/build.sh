#!/usr/bin/env bash
# Builds the collection artifact, installs it into a scratch path and checks
# that every module's documentation renders with ansible-doc.
# Usage: scripts/build.sh [--line 2.19|2.20|2.21]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
parse_line_option "$@"
ensure_venv_or_not_run "$LINE"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" "$REPO" >/dev/null
artifact="$(find "$out" -maxdepth 1 -name 'lbops-haproxy-*.tar.gz' | head -n 1)"
log "built $(basename "$artifact")"
ansible-galaxy collection install --force -p "$out/installed" "$artifact" >/dev/null
modules=$(find "$REPO/plugins/modules" -maxdepth 1 -name '*.py' ! -name '__init__.py' -printf '%f\n' | sed 's|\.py$||' | sort)
for m in $modules; do
    ANSIBLE_COLLECTIONS_PATH="$out/installed" ansible-doc "lbops.haproxy.$m" >"$out/doc.txt"
    grep -q "lbops.haproxy.$m" "$out/doc.txt" || { echo "ansible-doc did not render lbops.haproxy.$m" >&2; exit 1; }
    log "ansible-doc lbops.haproxy.$m renders"
done
