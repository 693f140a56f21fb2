#!/usr/bin/env bash
# Runs benchmarks/bench.py with the project's environment. Not part of the tests.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
ensure_apt haproxy socat time rsync python3-venv
ensure_venv
install_collection
exec python "$REPO/benchmarks/bench.py" "$@"
