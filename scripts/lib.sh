# shellcheck shell=bash
# Common environment for every script of this repository. Source it; do not run it.
# Sets REPO, the podman configuration, and helpers to install what the scripts need.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO
export CONTAINERS_CONF="$REPO/containers.conf"
VENV="${LBOPS_VENV:-$REPO/.venv}"
export VENV
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
export PY_COLORS=0

log() { printf '==> %s\n' "$*" >&2; }

# Install Debian packages that are missing (apt-get update once per run).
ensure_apt() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    if [ -z "${_LBOPS_APT_UPDATED:-}" ]; then
        apt-get update -qq
        _LBOPS_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Create or refresh the project's virtual environment from requirements.txt.
ensure_venv() {
    ensure_apt python3-venv 2>/dev/null || true
    local stamp="$VENV/.requirements.sha256" want
    want="$(sha256sum "$REPO/requirements.txt" | cut -d' ' -f1)"
    if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "creating Python environment in $VENV"
        python3 -m venv "$VENV"
        if ! { "$VENV/bin/pip" install -q --upgrade pip && "$VENV/bin/pip" install -q -r "$REPO/requirements.txt"; } \
                >"$VENV/pip-install.log" 2>&1; then
            grep -v '^WARNING: Location' "$VENV/pip-install.log" >&2
            return 1
        fi
        echo "$want" > "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

# Install this collection (as it is in the work tree) where ansible finds it,
# in a private collections path of this process: scripts that run at the same
# time never see each other's copy. Sets ANSIBLE_COLLECTIONS_PATH.
COLLECTIONS_BASE="/var/tmp/lbops-collections"
COLLECTIONS_ROOT="${LBOPS_COLLECTIONS_ROOT:-$COLLECTIONS_BASE/$$}"
install_collection() {
    local dest="$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy" old
    # Drop the copies of processes that have ended.
    for old in "$COLLECTIONS_BASE"/*; do
        [ -d "$old" ] || continue
        case "${old##*/}" in *[!0-9]*) continue ;; esac
        kill -0 "${old##*/}" 2>/dev/null || rm -rf "$old"
    done
    rm -rf "$dest"
    mkdir -p "$dest"
    # Exactly the files git would take: tracked, or new and not ignored.
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard) |
        rsync -a --from0 --files-from=- "$REPO/" "$dest/"
    # ansible-test lists the collection's files with git when it is a repository.
    (cd "$dest" && git init -q . && git add -A >/dev/null 2>&1) || true
    export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT"
}

# Make sure the local Molecule image (localhost/lbops-debian12-systemd:latest) exists;
# builds it without any registry when missing (scripts/build-image.sh, ~1-2 min).
ensure_image() {
    "$REPO/scripts/build-image.sh" "$@"
}
