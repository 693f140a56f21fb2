#!/usr/bin/env bash
# ansible-test sanity (all tests, no ignore file), ruff, yamllint and ansible-lint,
# with the tools of one ansible-core line.
# Every step runs even when an earlier one fails; the script fails if any did.
# Usage: scripts/sanity.sh [--line 2.19|2.20|2.21]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
parse_line_option "$@"
ensure_apt rsync python3-venv shellcheck
ensure_venv_or_not_run "$LINE"
install_collection
py="$(venv_python_version)"
log "sanity on ansible-core $(ansible --version | sed -n '1s/.*core \([0-9.]*\).*/\1/p'), Python $py"

failed=()
step() {
    local name="$1"
    shift
    log "$name"
    if ! "$@"; then
        log "$name: FAILED"
        failed+=("$name")
    fi
}

# ansible-test bootstraps pip in each sanity virtual environment with a get-pip.py
# downloaded from a host this machine cannot reach (ci-files.testing.ansible.com),
# unless the script is already in its cache: seed the cache with our stand-in,
# which installs the pinned pip from the package index in the same way.
pipver="$(python - <<'PY'
import re, ansible_test, pathlib
text = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", text).group(1))
PY
)"
mkdir -p "$HOME/.ansible/test/cache"
cp "$REPO/scripts/ansible-test/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"

run_ruff() { (cd "$REPO" && ruff check --no-cache .); }
run_yamllint() { (cd "$REPO" && yamllint -s .); }
run_ansible_test() {
    (cd "$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy" && PIP_NO_COMPILE=1 ansible-test sanity --python "$py" --requirements --color no)
}
# ansible-lint runs on the fresh copy with a scratch HOME, so that no stale copy of
# this collection under ~/.ansible can stand in for the one being linted.
run_ansible_lint() {
    local home
    home="$(mktemp -d)"
    (cd "$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy" &&
        HOME="$home" ansible-lint --profile production --offline --nocolor)
    local rc=$?
    rm -rf "$home"
    return $rc
}

step ruff run_ruff
step yamllint run_yamllint
step "ansible-test sanity" run_ansible_test
if [ -d "$REPO/roles" ] && [ -n "$(ls -A "$REPO/roles" 2>/dev/null)" ]; then
    step "ansible-lint (production profile)" run_ansible_lint
fi

if [ ${#failed[@]} -gt 0 ]; then
    log "failed: ${failed[*]}"
    exit 1
fi
log "sanity: all passed"
