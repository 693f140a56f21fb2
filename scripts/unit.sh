#!/usr/bin/env bash
# Unit tests (pytest) of the client, parsers, validation and module decisions.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_apt rsync python3-venv
ensure_venv
install_collection
cd "$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy"
PYTHONPATH="$COLLECTIONS_ROOT" python -m pytest -p no:cacheprovider -q tests/unit "$@"
