#!/usr/bin/env bash
# Runtime demo: a standalone HAProxy on loopback (the article's setup) operated
# with lbops.haproxy's modules. `scripts/demo.sh down` stops it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ "${1:-up}" = down ]; then
    if [ -s /tmp/lbops-demo/haproxy.pid ]; then kill "$(cat /tmp/lbops-demo/haproxy.pid)" 2>/dev/null || true; fi
    rm -rf /tmp/lbops-demo
    log "demo stopped"
    exit 0
fi
ensure_apt haproxy socat rsync python3-venv
ensure_venv
install_collection
cd "$REPO"
ANSIBLE_PYTHON_INTERPRETER="$VENV/bin/python" ansible-playbook -i localhost, -c local playbooks/demo_runtime.yml --diff
cat <<TXT

The demo HAProxy runs on loopback:
  stats page:    http://127.0.0.1:11936/haproxy?stats  (user demo, password in /tmp/lbops-demo/stats-password)
  admin socket:  /tmp/lbops-demo/admin.sock
  load balancer: http://127.0.0.1:18443/
Stop it with: bash scripts/demo.sh down
TXT
