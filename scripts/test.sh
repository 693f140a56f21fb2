#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 or 13 machine. Every step installs what
# it needs (apt packages, one Python environment per ansible-core line, HAProxy roots,
# container images) and the suite runs the support matrix cell by cell:
#
#   sanity/<line>             ruff, yamllint, ansible-test sanity, ansible-lint   (each line)
#   unit/<line>               pytest                                              (each line)
#   build                     ansible-galaxy build + install, ansible-doc        (newest line)
#   integration/<line>/<hap>  ansible-test integration against live HAProxy     (pairs: each line
#                             once, each HAProxy version once)
#   molecule/<scenario>/<rel> Molecule in containers of a Debian release         (newest line)
#   lab/<release>             the README's main job: lab up (smoke check), down  (newest line)
#
# Usage: scripts/test.sh [cell-or-prefix ...]
#   scripts/test.sh                 every cell
#   scripts/test.sh sanity unit     every sanity and unit cell
#   scripts/test.sh integration/2.20/3.0
# A cell passes, fails, or does NOT RUN (say, no Python for its ansible-core line on
# this machine). The suite exits non-zero unless every selected cell passed: a cell
# that did not run is never counted as passed.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# name|command (run from the repository). The order is the order of the run.
CELLS=(
    "sanity/2.19|bash scripts/sanity.sh --line 2.19"
    "sanity/2.20|bash scripts/sanity.sh --line 2.20"
    "sanity/2.21|bash scripts/sanity.sh --line 2.21"
    "unit/2.19|bash scripts/unit.sh --line 2.19"
    "unit/2.20|bash scripts/unit.sh --line 2.20"
    "unit/2.21|bash scripts/unit.sh --line 2.21"
    "build|bash scripts/build.sh"
    "integration/2.19/2.6|bash scripts/integration.sh --line 2.19 --haproxy 2.6"
    "integration/2.20/3.0|bash scripts/integration.sh --line 2.20 --haproxy 3.0"
    "integration/2.21/3.2|bash scripts/integration.sh --line 2.21 --haproxy 3.2"
    "molecule/default/bookworm|bash scripts/molecule.sh --release bookworm default"
    "molecule/default/trixie|bash scripts/molecule.sh --release trixie default"
    "molecule/ha_pair/bookworm|bash scripts/molecule.sh --release bookworm ha_pair"
    "molecule/ha_pair/trixie|bash scripts/molecule.sh --release trixie ha_pair"
    "molecule/keepalived/trixie|bash scripts/molecule.sh --release trixie keepalived"
    "lab/trixie|bash scripts/lab.sh up --release trixie; rc=\$?; bash scripts/lab.sh down || rc=1; exit \$rc"
)

selected=()
if [ $# -eq 0 ]; then
    selected=("${CELLS[@]}")
else
    for want in "$@"; do
        found=0
        for cell in "${CELLS[@]}"; do
            name="${cell%%|*}"
            if [ "$name" = "$want" ] || [ "${name#"$want"/}" != "$name" ]; then
                selected+=("$cell")
                found=1
            fi
        done
        [ $found -eq 1 ] || die "no test cell matches '$want' (cells: $(printf '%s ' "${CELLS[@]%%|*}"))"
    done
fi

cd "$REPO" || exit 1
names=() results=() times=()
t_suite=$(date +%s)
for cell in "${selected[@]}"; do
    name="${cell%%|*}"
    command="${cell#*|}"
    log "cell $name: $command"
    start=$(date +%s)
    bash -c "$command"
    rc=$?
    elapsed=$(($(date +%s) - start))
    case $rc in
        0) result=passed ;;
        "$NOT_RUN") result="NOT RUN" ;;
        *) result="FAILED (rc $rc)" ;;
    esac
    log "cell $name: $result in ${elapsed}s"
    names+=("$name") results+=("$result") times+=("$elapsed")
done

passed=0 bad=0
echo
echo "suite summary ($(( $(date +%s) - t_suite ))s):"
for i in "${!names[@]}"; do
    printf '  %-28s %-16s %5ss\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
    if [ "${results[$i]}" = passed ]; then passed=$((passed + 1)); else bad=$((bad + 1)); fi
done
echo "suite: $passed passed, $bad failed or not run"
[ $bad -eq 0 ]
