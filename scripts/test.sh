#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs
# (apt packages, the Python environment, the container image) and runs, in order:
# lint and sanity, unit tests, the collection build, integration tests against
# live HAProxy, the Molecule scenarios in containers, and the README's main job
# (the local lab: up, checked through the VIP, down).
# Usage: scripts/test.sh [step ...]   steps: sanity unit build integration molecule lab
set -uo pipefail
source "$(dirname "$0")/lib.sh"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(sanity unit build integration molecule lab)
passed=0 failed=0 failures=()

run_step() {
    case "$1" in
        # The lab is the main job: start it (its own smoke check runs at the end of
        # `up`), then always take it down again.
        lab)
            local rc=0
            bash "$REPO/scripts/lab.sh" up || rc=$?
            bash "$REPO/scripts/lab.sh" down || rc=$?
            return $rc
            ;;
        *) bash "$REPO/scripts/$1.sh" ;;
    esac
}
for step in "${steps[@]}"; do
    log "step: $step"
    start=$(date +%s)
    if run_step "$step"; then
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
