#!/usr/bin/env bash
# The execution environment (EE) of lbops.haproxy: the container image that
# ansible-navigator, AWX and Ansible Automation Platform run playbooks in.
#
#   bash scripts/ee.sh build            build localhost/lbops-ee:latest with ansible-builder
#                                       (execution-environment/execution-environment.yml)
#   bash scripts/ee.sh run PLAYBOOK [ansible-navigator run options...]
#                                       run a playbook in the EE against the lab over SSH
#                                       (playbooks/lab/inventory-ssh.yml; the lab must be up)
#   bash scripts/ee.sh test [--release bookworm|trixie]
#                                       the suite's proof: build the EE, start the lab's
#                                       containers without converging them, run
#                                       playbooks/site.yml in the EE twice (the first run
#                                       converges lb1 and lb2, the second changes nothing),
#                                       check the lab through its VIP, take the lab down
#
# No registry is needed: the EE's base (execution-environment/Containerfile.base) is
# built on the Debian trixie root that scripts/build-image.sh imports, and pip in the
# build installs only wheels made here first from requirements/ansible-2.21.txt's pins.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EE_DIR="$REPO/execution-environment"
CONTEXT="$EE_DIR/.context"           # what ansible-builder copies into the build (gitignored)
BUILD_DIR="$REPO/.cache/ee/build"    # ansible-builder's build context
BASE_IMAGE=localhost/lbops-ee-base:latest
EE_IMAGE=localhost/lbops-ee:latest
EE_UID=1000                           # options.user of the EE definition
EE_SUITE=trixie
# The Python packages of the EE; their versions come from the pinned requirements.
EE_PIP_PACKAGES=(ansible-core ansible-runner bindep PyYAML packaging)
PINS="$REPO/requirements/ansible-$LBOPS_NEWEST_LINE.txt"
LAB_STATE="$REPO/.cache/lab"
EE_SSH_DIR="$REPO/.cache/ee/lab-ssh"  # the lab's key, owned by the EE's user, mounted
NAVIGATOR_LOG="$REPO/.cache/ee/navigator.log"

usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }

pin_of() {  # the pinned version of package $1
    sed -n "s/^$1==//Ip" "$PINS" | head -n 1
}

build_base() {
    local hash
    hash="$(cat "$EE_DIR/Containerfile.base" "$EE_DIR/lbops-pkgmgr" | sha256sum | cut -c1-16)"
    if [ "$(podman image inspect --format '{{index .Labels "lbops.ee.base.hash"}}' "$BASE_IMAGE" 2>/dev/null)" = "$hash" ]; then
        log "EE base image $BASE_IMAGE is up to date"
        return 0
    fi
    ensure_image --release "$EE_SUITE"
    log "building the EE base image $BASE_IMAGE (execution-environment/Containerfile.base)"
    podman build --quiet --label "lbops.ee.base.hash=$hash" \
        --build-arg "BASE_IMAGE=$(release_base_image "$EE_SUITE")" \
        --build-arg "DEBIAN_SUITE=$EE_SUITE" \
        --build-arg "DEBIAN_MIRROR=$(debian_mirror "$EE_SUITE")" \
        --build-arg "DEBIAN_SECURITY_MIRROR=$(debian_security_mirror "$EE_SUITE")" \
        -t "$BASE_IMAGE" -f "$EE_DIR/Containerfile.base" "$EE_DIR" >/dev/null
}

prepare_context() {
    local pkg spec=() want
    rm -rf "$CONTEXT"
    mkdir -p "$CONTEXT/wheels"
    ansible-galaxy collection build --force --output-path "$CONTEXT" "$REPO" >/dev/null
    mv "$CONTEXT"/lbops-haproxy-*.tar.gz "$CONTEXT/lbops-haproxy.tar.gz"
    for pkg in "${EE_PIP_PACKAGES[@]}"; do
        want="$(pin_of "$pkg")"
        [ -n "$want" ] || die "$pkg is not pinned in $(basename "$PINS")"
        spec+=("$pkg==$want")
    done
    log "wheels for the EE (Python 3.13): ${spec[*]} and their dependencies, pinned by $(basename "$PINS")"
    mkdir -p "$REPO/.cache/ee"
    "$VENV/bin/pip" wheel -q --wheel-dir "$CONTEXT/wheels" -c "$PINS" "${spec[@]}" >"$REPO/.cache/ee/wheels.log" 2>&1 || {
        tail -n 20 "$REPO/.cache/ee/wheels.log" >&2
        die "pip wheel failed (log .cache/ee/wheels.log)"
    }
    log "  $(find "$CONTEXT/wheels" -name '*.whl' | wc -l) wheels"
    printf '%s\n' '[global]' 'no-index = true' 'find-links = /wheels' 'disable-pip-version-check = true' \
        > "$CONTEXT/pip.conf"
}

cmd_build() {
    local t0 out
    t0=$(date +%s)
    [ "$(id -u)" -eq 0 ] || die "$0 build must run as root (rootful podman)"
    ensure_podman
    ensure_venv "$LBOPS_NEWEST_LINE"
    build_base
    prepare_context
    rm -rf "$BUILD_DIR"
    log "ansible-builder build -> $EE_IMAGE (log in .cache/ee/builder.log)"
    if ! ansible-builder build --file "$EE_DIR/execution-environment.yml" --context "$BUILD_DIR" \
            --container-runtime podman --verbosity 2 >"$REPO/.cache/ee/builder.log" 2>&1; then
        tail -n 40 "$REPO/.cache/ee/builder.log" >&2
        die "ansible-builder build failed (whole log: .cache/ee/builder.log)"
    fi
    # What is in it, checked: the pinned ansible-core and ansible-runner, this collection, ssh.
    out="$(podman run --rm "$EE_IMAGE" sh -c 'ansible --version | head -n 1; ansible-runner --version;
        ansible-galaxy collection list lbops.haproxy 2>/dev/null | grep "^lbops\.haproxy "; ssh -V 2>&1; id -u')"
    grep -qF "core $(pin_of ansible-core)]" <<<"$out" || die "the EE has not ansible-core $(pin_of ansible-core): $out"
    grep -qxF "$(pin_of ansible-runner)" <<<"$out" || die "the EE has not ansible-runner $(pin_of ansible-runner): $out"
    grep -qE "^lbops\.haproxy +$(sed -n 's/^version: *//p' "$REPO/galaxy.yml") *\$" <<<"$out" ||
        die "the EE has not lbops.haproxy $(sed -n 's/^version: *//p' "$REPO/galaxy.yml"): $out"
    grep -q '^OpenSSH' <<<"$out" || die "the EE has no SSH client: $out"
    [ "$(tail -n 1 <<<"$out")" = "$EE_UID" ] || die "the EE does not run as uid $EE_UID: $out"
    log "EE $EE_IMAGE built in $(($(date +%s) - t0)) s: $(tr '\n' ';' <<<"$out" | sed 's/;$//; s/;/; /g')"
}

# ansible-navigator run in the EE, over SSH, against the lab of scripts/lab.sh.
navigator_run() {
    local pb="$1"
    shift
    if [ ! -s "$LAB_STATE/ssh/known_hosts" ] || [ ! -s "$LAB_STATE/extra-vars.yml" ]; then
        die "no lab (or no SSH known_hosts in .cache/lab/ssh): run 'bash scripts/lab.sh up' first"
    fi
    # The EE runs as uid $EE_UID: it gets its own copy of the key and the secrets, owned by it.
    rm -rf "$EE_SSH_DIR"
    mkdir -p "$EE_SSH_DIR"
    cp "$LAB_STATE/ssh/id_ed25519" "$LAB_STATE/ssh/known_hosts" "$LAB_STATE/extra-vars.yml" "$EE_SSH_DIR/"
    chown -R "$EE_UID:0" "$EE_SSH_DIR"
    chmod 0700 "$EE_SSH_DIR"
    chmod 0600 "$EE_SSH_DIR"/*
    # ansible-navigator checks for POSIX message queues (/dev/mqueue) before it starts.
    [ -d /dev/mqueue ] || mkdir -p /dev/mqueue
    cd "$REPO"
    ansible-navigator run "$pb" --mode stdout \
        --execution-environment true --container-engine podman \
        --execution-environment-image "$EE_IMAGE" --pull-policy never \
        --container-options=--net=host \
        --execution-environment-volume-mounts "$EE_SSH_DIR:/runner/lab-ssh:Z" \
        --playbook-artifact-enable false --log-file "$NAVIGATOR_LOG" \
        -i playbooks/lab/inventory-ssh.yml -e @/runner/lab-ssh/extra-vars.yml \
        -e lab_ssh_dir=/runner/lab-ssh "$@"
}

cmd_run() {
    [ $# -gt 0 ] || { echo "usage: bash scripts/ee.sh run PLAYBOOK [ansible-navigator run options...]" >&2; exit 2; }
    ensure_podman
    ensure_venv "$LBOPS_NEWEST_LINE"
    podman image exists "$EE_IMAGE" || cmd_build
    navigator_run "$@"
}

# The PLAY RECAP of a run's output, as lines "host ok changed unreachable failed".
recap() {
    sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1" | awk '/^PLAY RECAP/ { on = 1; next } on && NF && /ok=/ {
        line = $1; for (i = 2; i <= NF; i++) if ($i ~ /^(ok|changed|unreachable|failed)=/) { split($i, kv, "="); line = line " " kv[2] }
        print line }'
}

check_recap() {  # output-file run-name want-changed(any|zero)
    local r host bad
    r="$(recap "$1")"
    for host in lb1 lb2; do
        grep -q "^$host " <<<"$r" || die "$2: no PLAY RECAP line for $host (recap: $(tr '\n' ';' <<<"$r"))"
    done
    bad="$(awk 'NF && ($4 != 0 || $5 != 0)' <<<"$r")"
    [ -z "$bad" ] || die "$2: a host was unreachable or failed: $bad"
    if [ "$3" = zero ]; then
        bad="$(awk 'NF && $3 != 0' <<<"$r")"
        [ -z "$bad" ] || die "$2: not idempotent, changed on: $bad"
    else
        bad="$(awk 'NF && $3 == 0' <<<"$r")"
        [ -z "$bad" ] || die "$2: the first run changed nothing on: $bad (the lab was not fresh?)"
    fi
    log "$2: $(tr '\n' ';' <<<"$r" | sed 's/;$//; s/;/; /g') (host ok changed unreachable failed)"
}

cmd_test() {
    local t0 t rc=0 release_args=("$@")
    t0=$(date +%s)
    ensure_podman
    ensure_venv "$LBOPS_NEWEST_LINE"
    if [ -n "$(podman ps -aq --filter label=lbops.lab)" ]; then
        die "a lab is up (bash scripts/lab.sh status): this test makes its own from nothing; take it down first (bash scripts/lab.sh down)"
    fi
    cmd_build
    trap 'bash "$REPO/scripts/lab.sh" down >/dev/null 2>&1 || true' EXIT
    bash "$REPO/scripts/lab.sh" up --no-converge "${release_args[@]}"
    mkdir -p "$REPO/.cache/ee"
    t=$(date +%s)
    log "ansible-navigator run playbooks/site.yml in $EE_IMAGE over SSH (first run: converges lb1 and lb2)"
    navigator_run playbooks/site.yml 2>&1 | tee "$REPO/.cache/ee/run1.log" || rc=$?
    [ "$rc" -eq 0 ] || die "the first ansible-navigator run failed (rc $rc; log .cache/ee/run1.log, .cache/ee/navigator.log)"
    check_recap "$REPO/.cache/ee/run1.log" "EE run 1 ($(($(date +%s) - t)) s)" any
    t=$(date +%s)
    log "ansible-navigator run playbooks/site.yml again (second run: changes nothing)"
    navigator_run playbooks/site.yml 2>&1 | tee "$REPO/.cache/ee/run2.log" || rc=$?
    [ "$rc" -eq 0 ] || die "the second ansible-navigator run failed (rc $rc; log .cache/ee/run2.log)"
    check_recap "$REPO/.cache/ee/run2.log" "EE run 2 ($(($(date +%s) - t)) s)" zero
    bash "$REPO/scripts/lab.sh" check
    log "EE test passed in $(($(date +%s) - t0)) s"
}

case "${1:-}" in
    build) shift; cmd_build "$@" ;;
    run) shift; cmd_run "$@" ;;
    test) shift; cmd_test "$@" ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
esac
