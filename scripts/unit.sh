#!/usr/bin/env bash
# Unit tests (pytest) of the client, parsers, validation and module decisions.
# Usage: scripts/unit.sh [--line 2.19|2.20|2.21] [pytest arguments...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
parse_line_option "$@"
ensure_venv_or_not_run "$LINE"
install_collection
cd "$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy"
log "unit tests on ansible-core $(ansible --version | sed -n '1s/.*core \([0-9.]*\).*/\1/p'), Python $(venv_python_version)"
PYTHONPATH="$COLLECTIONS_ROOT" python -m pytest -p no:cacheprovider -q tests/unit "${ARGS[@]}"
