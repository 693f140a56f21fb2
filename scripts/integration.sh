#!/usr/bin/env bash
# Integration tests: ansible-test runs tests/integration/targets/* through
# ansible-playbook against live HAProxy instances (Debian's package) that the
# setup_haproxy target starts on temporary sockets.
# Usage: scripts/integration.sh [--line 2.19|2.20|2.21] [target ...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
parse_line_option "$@"
set -- "${ARGS[@]}"
ensure_apt haproxy socat curl sudo acl rsync python3-venv
ensure_venv_or_not_run "$LINE"
install_collection
# The packaged service is not what the tests drive: keep it out of the way.
systemctl disable --now haproxy >/dev/null 2>&1 || true
cd "$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy"
rc=0
ansible-test integration --python "$(venv_python_version)" \
    --color no "$@" || rc=$?
# Leave no test instance behind.
for pidfile in /tmp/lbops-it/*/haproxy.pid /tmp/lbops-it/silent.pid; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
done
exit $rc
