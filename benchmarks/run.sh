#!/usr/bin/env bash
# Runs benchmarks/bench.py with the project's environment. Not part of the tests.
# Usage: benchmarks/run.sh [--line 2.19|2.20|2.21] [--haproxy 2.6|3.0|3.2]... [--part servers|table]...
#   (defaults: the newest ansible-core line; every HAProxy version, one after the other; both parts)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
parse_line_option "$@"
set -- "${ARGS[@]}"
versions=() parts=()
while [ $# -gt 0 ]; do
    case "$1" in
        --haproxy) versions+=("${2:?--haproxy needs a value}"); shift 2 ;;
        --haproxy=*) versions+=("${1#--haproxy=}"); shift ;;
        --part) parts+=(--part "${2:?--part needs a value}"); shift 2 ;;
        *) die "unknown argument '$1' (usage: benchmarks/run.sh [--haproxy VERSION]... [--part servers|table]...)" ;;
    esac
done
[ ${#versions[@]} -gt 0 ] || versions=("${LBOPS_HAPROXY_VERSIONS[@]}")
ensure_apt socat time rsync python3-venv
ensure_venv "$LINE"
install_collection
bench_args=()
for v in "${versions[@]}"; do
    ensure_haproxy "$v"
    bench_args+=(--haproxy "$v=$HAPROXY_CMD")
done
exec python "$REPO/benchmarks/bench.py" "${bench_args[@]}" "${parts[@]}"
