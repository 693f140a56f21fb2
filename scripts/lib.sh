# shellcheck shell=bash
# Common environment for every script of this repository. Source it; do not run it.
# Sets REPO, the podman configuration, and helpers to install what the scripts need:
# Debian packages (ensure_apt), one Python environment per ansible-core line
# (ensure_venv), an installed copy of this collection (install_collection).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO
export CONTAINERS_CONF="$REPO/containers.conf"
# podman 5 warns on every command that this kind of machine uses cgroups v1.
export PODMAN_IGNORE_CGROUPSV1_WARNING=1
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
export PY_COLORS=0

# The ansible-core lines this collection is tested on (meta/runtime.yml says the same),
# oldest first. The newest one runs Molecule and the lab.
LBOPS_LINES=(2.19 2.20 2.21)
LBOPS_NEWEST_LINE=2.21
# Python interpreters each line runs on, in order of preference: each line gets its
# own Python where the machine has it, so the matrix covers three interpreters.
declare -A LBOPS_LINE_PYTHONS=(
    [2.19]="3.11 3.12 3.13"
    [2.20]="3.12 3.13"
    [2.21]="3.13 3.12"
)
# Where the Python environments live: one per line, $LBOPS_VENV_ROOT/<line>.
LBOPS_VENV_ROOT="${LBOPS_VENV_ROOT:-$REPO/.venv}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# The Debian release of this machine, as a codename (bookworm, trixie...).
host_release() {
    # shellcheck disable=SC1091
    (. /etc/os-release && printf '%s\n' "${VERSION_CODENAME:-unknown}")
}

# Install Debian packages that are missing. Several scripts may run at once: one
# apt-get at a time (flock), and the package lists are refreshed at most once an hour.
ensure_apt() {
    local missing=() p stamp=/var/tmp/lbops-apt-update.stamp
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    (
        flock 8
        # Again under the lock: another script may have installed them meanwhile.
        local still=()
        for p in "${missing[@]}"; do
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || still+=("$p")
        done
        [ ${#still[@]} -eq 0 ] && exit 0
        log "apt-get install ${still[*]}"
        if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
            apt-get -o DPkg::Lock::Timeout=600 update -qq || exit 1
            touch "$stamp"
        fi
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
            --no-install-recommends "${still[@]}" >/dev/null
    ) 8>/var/tmp/lbops-apt.lock
}

# Print the path of a Python interpreter for ansible-core line $1, or fail.
# Looks for pythonX.Y in /usr/bin (Debian's own), on PATH, in /usr/local/bin, then in
# pyenv's versions.
find_python() {
    local line="$1" want v c pyenv_root
    want="${LBOPS_LINE_PYTHONS[$line]:-}"
    [ -n "$want" ] || { echo "unknown ansible-core line '$line' (known: ${LBOPS_LINES[*]})" >&2; return 2; }
    pyenv_root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    for v in $want; do
        local candidates=("/usr/bin/python$v" "$(command -v "python$v" 2>/dev/null)" "/usr/local/bin/python$v")
        # pyenv's versions of X.Y, newest patch release first.
        while IFS= read -r c; do candidates+=("$c"); done < <(
            printf '%s\n' "$pyenv_root/versions/$v".*/bin/"python$v" | sort -V -r)
        for c in "${candidates[@]}"; do
            if [ -z "$c" ] || [ ! -x "$c" ]; then continue; fi
            # pyenv shims may point at a version that is not installed: ask the interpreter.
            if "$c" -c "import sys, venv, ssl; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))" \
                    2>/dev/null; then
                printf '%s\n' "$c"
                return 0
            fi
        done
    done
    echo "no Python interpreter for ansible-core $line: it needs one of Python $want (looked on PATH," \
        "in /usr/bin, /usr/local/bin and $pyenv_root/versions)" >&2
    return 1
}

# Create or refresh the Python environment of ansible-core line $1 (default: the
# newest) from requirements/ansible-<line>.txt, and put it first on PATH.
# Sets VENV and LBOPS_LINE. Concurrent scripts wait for each other (flock).
ensure_venv() {
    local line="${1:-$LBOPS_NEWEST_LINE}" req py want stamp
    req="$REPO/requirements/ansible-$line.txt"
    [ -f "$req" ] || { echo "no requirements file for ansible-core $line: $req" >&2; return 1; }
    py="$(find_python "$line")" || return 1
    case "$py" in /usr/bin/*) ensure_apt python3-venv ;; esac
    VENV="$LBOPS_VENV_ROOT/$line"
    stamp="$VENV/.requirements.sha256"
    want="$(cat "$req" <("$py" -VV) | sha256sum | cut -d' ' -f1)"
    mkdir -p "$LBOPS_VENV_ROOT"
    (
        flock 8
        if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
            exit 0
        fi
        log "creating the Python environment of ansible-core $line in $VENV ($("$py" -V 2>&1))"
        rm -rf "$VENV"
        "$py" -m venv "$VENV" || exit 1
        # --no-compile: the ansible package alone has tens of thousands of modules;
        # byte-compiling them all takes minutes, and Python compiles what it imports.
        if ! { "$VENV/bin/pip" install -q --upgrade pip &&
                "$VENV/bin/pip" install -q --no-compile -r "$req"; } \
                >"$VENV/pip-install.log" 2>&1; then
            grep -v '^WARNING: Location' "$VENV/pip-install.log" >&2
            exit 1
        fi
        echo "$want" > "$stamp"
    ) 8>"$LBOPS_VENV_ROOT/.lock-$line" || return 1
    LBOPS_LINE="$line"
    export VENV LBOPS_LINE
    export PATH="$VENV/bin:$PATH"
}

# The X.Y of the Python in the active environment.
venv_python_version() { python -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

# Install this collection (as it is in the work tree) where ansible finds it,
# in a private collections path of this process: scripts that run at the same
# time never see each other's copy. Sets ANSIBLE_COLLECTIONS_PATH.
COLLECTIONS_BASE="/var/tmp/lbops-collections"
COLLECTIONS_ROOT="${LBOPS_COLLECTIONS_ROOT:-$COLLECTIONS_BASE/$$}"
install_collection() {
    local dest="$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy" old
    ensure_apt rsync git
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

# --- Debian mirrors ----------------------------------------------------------------
# Prints the first URI of an enabled apt source (one-line .list or deb822 .sources)
# that serves the suite given as $1 (exactly; "bookworm" does not match
# "bookworm-updates").
host_mirror_for_suite() {
    local suite="$1" f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        case "$f" in
            *.sources)
                awk -v suite="$suite" '
                    function flush() {
                        if (is_deb && enabled && uri != "" && has_suite) { print uri; found = 1; exit }
                        uri = ""; has_suite = 0; is_deb = 0; enabled = 1
                    }
                    BEGIN { enabled = 1 }
                    /^[ \t]*#/ { next }
                    /^[ \t]*$/ { flush(); next }
                    tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") is_deb = 1 }
                    tolower($1) == "uris:" { uri = $2 }
                    tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
                    tolower($1) == "enabled:" { if (tolower($2) == "no") enabled = 0 }
                    END { if (!found) flush() }
                ' "$f"
                ;;
            *)
                awk -v suite="$suite" '
                    $1 != "deb" { next }
                    {
                        i = 2
                        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                        if ($(i + 1) == suite) { print $i; exit }
                    }
                ' "$f"
                ;;
        esac
    done | head -n1
}

# The Debian mirror to debootstrap suite $1 from: LBOPS_DEBIAN_MIRROR, else the one
# the host uses for its own release (the same mirror serves every suite), else deb.debian.org.
debian_mirror() {
    local m="${LBOPS_DEBIAN_MIRROR:-}"
    [ -n "$m" ] || m="$(host_mirror_for_suite "$1")"
    [ -n "$m" ] || m="$(host_mirror_for_suite "$(host_release)")"
    printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# The Debian security mirror for suite $1 (LBOPS_DEBIAN_SECURITY_MIRROR overrides).
debian_security_mirror() {
    local m="${LBOPS_DEBIAN_SECURITY_MIRROR:-}"
    [ -n "$m" ] || m="$(host_mirror_for_suite "$1-security")"
    [ -n "$m" ] || m="$(host_mirror_for_suite "$(host_release)-security")"
    printf '%s\n' "${m:-http://deb.debian.org/debian-security}"
}

# The debootstrap script for suite $1: its own when this debootstrap knows the suite,
# else sid's (a debootstrap older than the suite, e.g. Debian 12's and forky).
debootstrap_script() {
    if [ -e "/usr/share/debootstrap/scripts/$1" ]; then
        printf '%s\n' "/usr/share/debootstrap/scripts/$1"
    else
        printf '%s\n' /usr/share/debootstrap/scripts/sid
    fi
}

# --- Debian releases of the containers (Molecule, the lab) ---------------------------
# The releases the roles are proven on, oldest first, and the one used when none is
# given (the newest that passes). Each has its own locally built image.
LBOPS_RELEASES=(bookworm trixie)
LBOPS_DEFAULT_RELEASE=trixie

# Fail unless $1 is one of LBOPS_RELEASES.
check_release() {
    case " ${LBOPS_RELEASES[*]} " in
        *" ${1:-} "*) return 0 ;;
    esac
    die "unknown Debian release '${1:-}' (known: ${LBOPS_RELEASES[*]})"
}

# The releases as choices for a usage line: bookworm|trixie.
release_choices() { local IFS='|'; printf '%s\n' "${LBOPS_RELEASES[*]}"; }

# The images of release $1: the systemd image the containers run, and the
# debootstrapped base it is built on.
release_image() { printf 'localhost/lbops-debian-%s-systemd:latest\n' "$1"; }
release_base_image() { printf 'localhost/lbops-debian-%s-base:latest\n' "$1"; }

# Parse --release <codename> out of the arguments. Sets RELEASE (default:
# LBOPS_DEFAULT_RELEASE), RELEASE_GIVEN (1 when the option was there) and leaves
# the other arguments in ARGS.
# shellcheck disable=SC2034  # RELEASE, RELEASE_GIVEN and ARGS are for the caller
parse_release_option() {
    RELEASE="$LBOPS_DEFAULT_RELEASE"
    RELEASE_GIVEN=0
    ARGS=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --release) RELEASE="${2:?--release needs a value (${LBOPS_RELEASES[*]})}"; RELEASE_GIVEN=1; shift 2 ;;
            --release=*) RELEASE="${1#--release=}"; RELEASE_GIVEN=1; shift ;;
            *) ARGS+=("$1"); shift ;;
        esac
    done
    check_release "$RELEASE"
}

# Install rootful podman and what its networks need on this host, whatever its
# release. netavark (the network backend of podman 4 and 5) runs a firewall tool
# for every container it attaches to a podman network, but the packages do not
# depend on it (podman suggests iptables, trixie's netavark recommends nftables,
# and ensure_apt installs no recommends). Measured on fresh machines:
#   - bookworm (podman 4.3, netavark 1.4): iptables only. Without it every
#     `podman run --network` fails with "netavark: No such file or directory (os error 2)".
#   - trixie (podman 5.4, netavark 1.14): Debian builds netavark with nftables as
#     the default driver, which runs `nft` (package nftables). Without it:
#     "netavark: nftables error: unable to execute nft: No such file or directory";
#     iptables alone does not help (unless containers.conf picks firewall_driver).
#   - a release this file does not know yet: both, so that either default works.
# runc: the runtime containers.conf names (podman prefers crun when it has both).
ensure_podman() {
    local fw
    case "$(host_release)" in
        bookworm) fw=(iptables) ;;
        trixie) fw=(nftables) ;;
        *) fw=(iptables nftables) ;;
    esac
    ensure_apt podman runc conmon netavark aardvark-dns "${fw[@]}"
}

# --- HAProxy versions under test ---------------------------------------------------
# Each HAProxy line the runtime modules are tested on, and the Debian suite whose
# package provides it. scripts/haproxy-root.sh debootstraps that suite and writes a
# wrapper command that runs its binary (whatever the host's release is).
# shellcheck disable=SC2034  # for the scripts that source this file
LBOPS_HAPROXY_VERSIONS=(2.6 3.0 3.2)
# shellcheck disable=SC2034
declare -A LBOPS_HAPROXY_SUITES=([2.6]=bookworm [3.0]=trixie [3.2]=forky)
LBOPS_CACHE="${LBOPS_CACHE:-/var/cache/lbops}"

# Prepare HAProxy version $1 (idempotent; ~45 s the first time) and set HAPROXY_CMD
# to its wrapper command.
ensure_haproxy() {
    HAPROXY_CMD="$("$REPO/scripts/haproxy-root.sh" "$1")" || return 1
    export HAPROXY_CMD
}

# Make sure the local image of a release exists; builds it without any registry
# when missing (scripts/build-image.sh [--release R] [--force], ~2 min).
ensure_image() {
    "$REPO/scripts/build-image.sh" "$@"
}

# Parse the common option of the step scripts: --line <ansible-core line>.
# Sets LINE (default: the newest) and leaves the other arguments in ARGS.
# shellcheck disable=SC2034  # LINE and ARGS are for the calling script
parse_line_option() {
    LINE="$LBOPS_NEWEST_LINE"
    ARGS=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --line) LINE="${2:?--line needs a value}"; shift 2 ;;
            --line=*) LINE="${1#--line=}"; shift ;;
            *) ARGS+=("$1"); shift ;;
        esac
    done
}

# Exit code of a step that could not run at all (an interpreter is missing, say):
# scripts/test.sh reports it as NOT RUN, never as passed.
NOT_RUN=3
# ensure_venv, or exit NOT_RUN when this machine has no interpreter for the line.
ensure_venv_or_not_run() {
    local line="$1"
    if ! find_python "$line" >/dev/null; then
        log "NOT RUN: ansible-core $line (no suitable Python on this machine)"
        exit "$NOT_RUN"
    fi
    ensure_venv "$line"
}
