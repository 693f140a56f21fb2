#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs
# (apt packages, the Python environment, the container image) and runs, in order:
# lint and sanity, unit tests, the collection build, integration tests against
# live HAProxy, and the Molecule scenarios in containers.
# Usage: scripts/test.sh [step ...]   steps: sanity unit build integration molecule
set -uo pipefail
source "$(dirname "$0")/lib.sh"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(sanity unit build integration molecule)
passed=0 failed=0 failures=()
for step in "${steps[@]}"; do
    log "step: $step"
    start=$(date +%s)
    if bash "$REPO/scripts/$step.sh"; then
        passed=$((passed + 1))
        log "step $step passed in $(( $(date +%s) - start ))s"
    else
        failed=$((failed + 1))
        failures+=("$step")
        log "step $step FAILED after $(( $(date +%s) - start ))s"
    fi
done
[ $failed -gt 0 ] && log "failed steps: ${failures[*]}"
echo "suite: $passed passed, $failed failed"
[ $failed -eq 0 ]
