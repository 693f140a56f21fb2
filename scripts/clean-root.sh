#!/usr/bin/env bash
# Run a command from a fresh clone of this repository in a CLEAN Debian root: a chroot
# debootstrapped from scratch with only what a new machine has (Python 3, git, curl,
# CA certificates), so that anything a script uses but does not install shows up. It
# shares the host's kernel, network and cgroups like a real machine, so podman, the
# lab and Molecule run in it as they would on a new Debian machine.
#
#   bash scripts/clean-root.sh [--release bookworm|trixie] [--ref REF] [--keep] [--] COMMAND...
#   bash scripts/clean-root.sh --release trixie -- bash scripts/test.sh unit
#   bash scripts/clean-root.sh -- 'bash scripts/lab.sh up && bash scripts/lab.sh down'
#
# --release  the Debian release of the clean machine (default: the host's)
# --ref      what to clone: a commit, branch or tag of this repository (default: HEAD)
# --keep     keep the root afterwards (default: remove it)
# What every new machine of this kind has is carried over: the pyenv interpreters
# ($HOME/.pyenv, mounted read-only) and the network's CA certificates (copied).
# Nothing else of the host is visible.
# The root lives in /var/tmp/lbops-clean-<release>; the command's output goes to stdout,
# its exit code is the script's. Do not run the lab on the host at the same time (the
# same subnets would be used twice).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

release="$(host_release)" ref=HEAD keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --release) release="${2:?}"; shift 2 ;;
        --ref) ref="${2:?}"; shift 2 ;;
        --keep) keep=1; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || die "no command given (see --help)"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mounts)"

ensure_apt debootstrap debian-archive-keyring util-linux git
ROOT="/var/tmp/lbops-clean-$release"
commit="$(git -C "$REPO" rev-parse --verify "$ref^{commit}")"

mounts=()
unmount_all() {
    local i m
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        m="${mounts[$i]}"
        mountpoint -q "$m" && { umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null || true; }
    done
    mounts=()
    # Anything a command mounted below the root (netns, overlay, container mounts...).
    { findmnt -rn -o TARGET | grep -F "$ROOT/" || true; } | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}
remove_root() {
    unmount_all
    if findmnt -rn -o TARGET | grep -qF "$ROOT/"; then
        log "mounts remain below $ROOT: not removing it"
        return 1
    fi
    rm -rf --one-file-system "$ROOT"
}
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    if [ "$keep" -eq 1 ]; then unmount_all; log "kept $ROOT"; else remove_root || true; fi
}

[ -e "$ROOT" ] && { log "removing the previous clean root $ROOT"; remove_root; }
trap cleanup EXIT

mirror="$(debian_mirror "$release")"
log "debootstrap --variant=minbase $release $ROOT ($mirror)"
t0=$(date +%s)
if ! debootstrap --variant=minbase --include=ca-certificates,git,curl,python3 \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$release" "$ROOT" "$mirror" "$(debootstrap_script "$release")" >"/var/tmp/lbops-clean-$release.log" 2>&1; then
    tail -n 30 "/var/tmp/lbops-clean-$release.log" >&2
    die "debootstrap failed"
fi
security="$(debian_security_mirror "$release")"
cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $mirror $release main
deb $mirror $release-updates main
deb $security $release-security main
EOF
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# The machine's own trust: its network may intercept TLS with a CA of its own, which
# every machine of this kind carries (local CA certificates, pip's cert setting).
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    chroot "$ROOT" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the clean root"
fi
[ -f /etc/pip.conf ] && grep -q '^cert' /etc/pip.conf && printf '[global]\n%s\n' "$(grep '^cert' /etc/pip.conf)" > "$ROOT/etc/pip.conf"
echo "lbops-clean-$release" > "$ROOT/etc/hostname"
log "clean root ready in $(($(date +%s) - t0)) s"

bind() {  # bind SRC DEST [ro]
    mkdir -p "$2"
    mount --rbind "$1" "$2"
    mount --make-rslave "$2"
    mounts+=("$2")
    if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}
# The root is a mount point of its own, as / is on a machine (podman 5 needs it: it
# pivots into containers from a mount, and `podman import` refuses a non-mount /).
mount --bind "$ROOT" "$ROOT"; mounts+=("$ROOT")
mount --make-private "$ROOT"
mkdir -p "$ROOT/proc" "$ROOT/run" "$ROOT/tmp"
mount -t proc proc "$ROOT/proc"; mounts+=("$ROOT/proc")
bind /sys "$ROOT/sys"
bind /dev "$ROOT/dev"
mount -t tmpfs -o mode=755 tmpfs "$ROOT/run"; mounts+=("$ROOT/run")
mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"; mounts+=("$ROOT/tmp")
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
if [ -d "$pyenv_root" ]; then
    bind "$pyenv_root" "$ROOT/root/.pyenv" ro
fi

log "cloning $commit into $ROOT/work/lbops"
git clone -q --no-hardlinks "$REPO" "$ROOT/work/lbops"
git -C "$ROOT/work/lbops" checkout -q "$commit"

log "running in the clean $release root: $*"
rc=0
chroot "$ROOT" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    ${CI:+CI="$CI"} ${SSL_CERT_FILE:+SSL_CERT_FILE="$SSL_CERT_FILE"} ${PIP_CERT:+PIP_CERT="$PIP_CERT"} \
    ${REQUESTS_CA_BUNDLE:+REQUESTS_CA_BUNDLE="$REQUESTS_CA_BUNDLE"} ${CURL_CA_BUNDLE:+CURL_CA_BUNDLE="$CURL_CA_BUNDLE"} \
    /bin/bash -c 'cd /work/lbops && eval "$*"' bash "$@" || rc=$?
log "command exited $rc"
exit $rc
