#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 or 13 machine. Every step installs what
# it needs (apt packages, one Python environment per ansible-core line, HAProxy roots,
# container images) and the suite runs the support matrix cell by cell:
#
#   sanity/<line>             ruff, yamllint, ansible-test sanity, ansible-lint   (each line)
#   unit/<line>               pytest                                              (each line)
#   build                     ansible-galaxy build + install, ansible-doc        (newest line)
#   release                   changelog check, tarball contents, galaxy-importer (newest line)
#   docs                      antsibull-docs lint, docsite build, page checks    (newest line)
#   integration/<line>/<hap>  ansible-test integration against live HAProxy     (pairs: each line
#                             once, each HAProxy version once)
#   molecule/<scenario>/<rel> Molecule in containers of a Debian release         (newest line; scenarios
#                             and releases pair up: default on both, ha_pair on trixie,
#                             keepalived on bookworm)
#   ee/<release>              the execution environment: ansible-builder build, then
#                             ansible-navigator runs site.yml in it over SSH against the
#                             lab's pair twice (converges, then changes nothing)  (newest line)
#   lab/<release>             the README's main job: lab up (smoke check), down  (newest line)
#
# Usage: scripts/test.sh [cell-or-prefix ...]
#   scripts/test.sh                 every cell
#   scripts/test.sh sanity unit     every sanity and unit cell
#   scripts/test.sh integration/2.20/3.0
# A cell passes, fails, or does NOT RUN (say, no Python for its ansible-core line on
# this machine). The suite exits non-zero unless every selected cell passed: a cell
# that did not run is never counted as passed.
#
# Cells marked "par" run up to LBOPS_JOBS at a time (default 2; their output is shown
# whole when each ends). Cells marked "seq" (containers, VRRP timings, the lab) run
# alone. While the first cells run, the suite prepares in the background what later
# cells need (Python environments, HAProxy roots, container images); the cells wait
# for those (flock) and report their failures themselves.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# name|mode|command (run from the repository). The order is the order of the run.
CELLS=(
    "unit/2.19|par|bash scripts/unit.sh --line 2.19"
    "unit/2.20|par|bash scripts/unit.sh --line 2.20"
    "unit/2.21|par|bash scripts/unit.sh --line 2.21"
    "build|par|bash scripts/build.sh"
    "release|par|bash scripts/release.sh"
    "docs|par|bash scripts/docs.sh"
    "sanity/2.19|par|bash scripts/sanity.sh --line 2.19"
    "sanity/2.20|par|bash scripts/sanity.sh --line 2.20"
    "sanity/2.21|par|bash scripts/sanity.sh --line 2.21"
    "integration/2.19/2.6|par|bash scripts/integration.sh --line 2.19 --haproxy 2.6"
    "integration/2.20/3.0|par|bash scripts/integration.sh --line 2.20 --haproxy 3.0"
    "integration/2.21/3.2|par|bash scripts/integration.sh --line 2.21 --haproxy 3.2"
    "molecule/default/bookworm|seq|bash scripts/molecule.sh --release bookworm default"
    "molecule/default/trixie|seq|bash scripts/molecule.sh --release trixie default"
    "molecule/ha_pair/trixie|seq|bash scripts/molecule.sh --release trixie ha_pair"
    "molecule/keepalived/bookworm|seq|bash scripts/molecule.sh --release bookworm keepalived"
    "ee/trixie|seq|bash scripts/ee.sh test --release trixie"
    "lab/trixie|seq|bash scripts/lab.sh up --release trixie; rc=\$?; bash scripts/lab.sh down || rc=1; exit \$rc"
)
JOBS="${LBOPS_JOBS:-2}"

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
LOGS="$REPO/.cache/test-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"

# --- background preparation ----------------------------------------------------------
# What the selected cells will need, prepared while the first cells run. Each script
# below is idempotent and locked, so a cell that needs it waits or finds it done.
prepare() {
    local cell lines=() haproxies=() releases=() x
    for cell in "${selected[@]}"; do
        case "${cell%%|*}" in
            sanity/*|unit/*) lines+=("${cell%%|*}") ;;
            integration/*) x="${cell%%|*}"; x="${x#integration/}"; lines+=("${x%%/*}"); haproxies+=("${x#*/}") ;;
            molecule/*|lab/*|ee/*) x="${cell%%|*}"; releases+=("${x##*/}") ;;
        esac
    done
    for x in $(printf '%s\n' "${lines[@]##*/}" | sort -u); do
        (ensure_venv "$x") >"$LOGS/prepare-venv-$x.log" 2>&1 &
    done
    for x in $(printf '%s\n' "${haproxies[@]}" | sort -u); do
        [ -x scripts/haproxy-root.sh ] && bash scripts/haproxy-root.sh "$x" >"$LOGS/prepare-haproxy-$x.log" 2>&1 &
    done
    if [ ${#releases[@]} -gt 0 ]; then
        (ensure_venv "$LBOPS_NEWEST_LINE") >"$LOGS/prepare-venv-$LBOPS_NEWEST_LINE.log" 2>&1 &
        for x in $(printf '%s\n' "${releases[@]}" | sort -u); do
            bash scripts/build-image.sh --release "$x" >"$LOGS/prepare-image-$x.log" 2>&1 &
        done
    fi
    wait
}
prepare &
prepare_pid=$!

# --- running cells ---------------------------------------------------------------------
declare -A RESULT=() TIME=()
order=()

finish_cell() {  # name rc elapsed
    local result
    case $2 in
        0) result=passed ;;
        "$NOT_RUN") result="NOT RUN" ;;
        *) result="FAILED (rc $2)" ;;
    esac
    RESULT[$1]="$result"
    TIME[$1]="$3"
    log "cell $1: $result in ${3}s"
}

run_alone() {  # name command
    local start rc
    log "cell $1: $2"
    start=$(date +%s)
    bash -c "$2" 2>&1 | tee "$LOGS/${1//\//_}.log"
    rc=${PIPESTATUS[0]}
    finish_cell "$1" "$rc" $(($(date +%s) - start))
}

# Run the "par" cells given as arguments, JOBS at a time; show each log when it ends.
run_parallel() {
    local -A pid_of=() start_of=()
    local cell name command done_pid rc
    local queue=("$@")
    while [ ${#queue[@]} -gt 0 ] || [ ${#pid_of[@]} -gt 0 ]; do
        while [ ${#queue[@]} -gt 0 ] && [ ${#pid_of[@]} -lt "$JOBS" ]; do
            cell="${queue[0]}"
            queue=("${queue[@]:1}")
            name="${cell%%|*}"
            command="${cell#*|*|}"
            log "cell $name: $command (in parallel, log in ${LOGS#"$REPO"/}/${name//\//_}.log)"
            bash -c "$command" >"$LOGS/${name//\//_}.log" 2>&1 &
            pid_of[$name]=$!
            start_of[$name]=$(date +%s)
        done
        wait -n -p done_pid "${pid_of[@]}"
        rc=$?
        for name in "${!pid_of[@]}"; do
            [ "${pid_of[$name]}" = "$done_pid" ] || continue
            echo "----- log of cell $name -----"
            cat "$LOGS/${name//\//_}.log"
            echo "----- end of cell $name -----"
            finish_cell "$name" "$rc" $(($(date +%s) - ${start_of[$name]}))
            unset "pid_of[$name]"
        done
    done
}

# The lab of `scripts/lab.sh up` (the README's first command) and the ha_pair scenario are
# the same four containers (playbooks/lab/), and the lab cell ends with `down`: a lab that
# is up when those cells come is taken down first and brought back up after the suite.
LAB_RELEASE=""
lab_release_up() {  # the release of a lab made by lab.sh, if one exists
    command -v podman >/dev/null || return 0
    podman ps -a --filter label=lbops.lab.owner=lab.sh --format '{{index .Labels "lbops.lab.release"}}' 2>/dev/null | head -n 1
}
set_lab_aside() {  # before a cell that needs the lab's containers
    [ -z "$LAB_RELEASE" ] || return 0
    LAB_RELEASE="$(lab_release_up)"
    [ -n "$LAB_RELEASE" ] || return 0
    log "a lab made by scripts/lab.sh is up (Debian $LAB_RELEASE): the cells ha_pair and lab use the same" \
        "containers, so it goes down now and comes back up (lab.sh up --release $LAB_RELEASE) after the suite"
    bash scripts/lab.sh down
}
LAB_RESTORE_RC=0
restore_lab() {
    [ -n "$LAB_RELEASE" ] || return 0
    log "bringing the lab back up (Debian $LAB_RELEASE), as it was before the suite"
    bash scripts/lab.sh up --release "$LAB_RELEASE" || LAB_RESTORE_RC=$?
}

t_suite=$(date +%s)
batch=()
for cell in "${selected[@]}"; do
    name="${cell%%|*}"
    mode="${cell#*|}"; mode="${mode%%|*}"
    order+=("$name")
    if [ "$mode" = par ]; then
        batch+=("$cell")
        continue
    fi
    if [ ${#batch[@]} -gt 0 ]; then run_parallel "${batch[@]}"; batch=(); fi
    case "$name" in molecule/ha_pair/*|lab/*|ee/*) set_lab_aside ;; esac
    run_alone "$name" "${cell#*|*|}"
done
if [ ${#batch[@]} -gt 0 ]; then run_parallel "${batch[@]}"; fi
wait "$prepare_pid" 2>/dev/null
restore_lab

passed=0 bad=0
echo
echo "suite summary ($(($(date +%s) - t_suite))s, up to $JOBS parallel cells):"
for name in "${order[@]}"; do
    printf '  %-28s %-16s %5ss\n' "$name" "${RESULT[$name]}" "${TIME[$name]}"
    if [ "${RESULT[$name]}" = passed ]; then passed=$((passed + 1)); else bad=$((bad + 1)); fi
done
notrun=()
for name in "${order[@]}"; do [ "${RESULT[$name]}" = "NOT RUN" ] && notrun+=("$name"); done
if [ ${#notrun[@]} -gt 0 ]; then
    echo
    echo "!!! THE SUPPORT MATRIX WAS NOT FULLY TESTED: ${#notrun[@]} cell(s) did NOT RUN on this machine:"
    for name in "${notrun[@]}"; do
        echo "!!!   $name: $(grep -h -m1 -E 'NOT RUN|no Python' "$LOGS/${name//\//_}.log" 2>/dev/null | sed 's/^==> //')"
    done
    echo "!!! They count as failures."
fi
# Why each failed cell failed, last, where a reader of only the end of the output sees it.
for name in "${order[@]}"; do
    case "${RESULT[$name]}" in FAILED*) ;; *) continue ;; esac
    echo
    echo "!!! why $name failed (${LOGS#"$REPO"/}/${name//\//_}.log; its failed tasks, then its last lines):"
    grep -n -E '^(fatal|failed):|^FAILED|ERROR|Error:|assert' "$LOGS/${name//\//_}.log" 2>/dev/null |
        grep -v -E '\.\.\.ignoring|FAILED - RETRYING' | tail -n 12 | cut -c1-400 | sed 's/^/!!!   /'
    echo "!!!   ..."
    tail -n 25 "$LOGS/${name//\//_}.log" 2>/dev/null | cut -c1-400 | sed 's/^/!!!   /'
done
echo "suite: $passed passed, $bad failed or not run"
if [ "$LAB_RESTORE_RC" -ne 0 ]; then
    echo "!!! the lab that was up before the suite could not be brought back up (rc $LAB_RESTORE_RC):" \
        "bash scripts/lab.sh up --release $LAB_RELEASE"
    exit 1
fi
[ $bad -eq 0 ]
