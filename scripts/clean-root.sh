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

# The command's mounts live in its own namespace; a root left mounted on the host
# comes from an older version of this script or a crash (debootstrap's /proc...).
unmount_all() {
    local m
    { findmnt -rn -o TARGET | grep -F "$ROOT" || true; } | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}
remove_root() {
    unmount_all
    if findmnt -rn -o TARGET | grep -qF "$ROOT"; then
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

log "cloning $commit into $ROOT/work/lbops"
git clone -q --no-hardlinks "$REPO" "$ROOT/work/lbops"
git -C "$ROOT/work/lbops" checkout -q "$commit"
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
[ -d "$pyenv_root" ] && mkdir -p "$ROOT/root/.pyenv"

# The command runs in a mount namespace of its own whose root IS the clean root
# (pivot_root, not chroot): container runtimes inside then see a real machine's
# layout (with a mere chroot, `podman exec` lands in the host's root). The host's
# network, processes and cgroups are shared, as on a machine. Every mount made here
# or by the command stays in that namespace and goes away with it.
log "running in the clean $release root: $*"
rc=0
# Variables a machine of this kind sets for everyone (its CA bundle), and CI.
passthrough=()
for v in CI SSL_CERT_FILE PIP_CERT REQUESTS_CA_BUNDLE CURL_CA_BUNDLE; do
    [ -n "${!v:-}" ] && passthrough+=("$v=${!v}")
done
export LBOPS_CLEAN_ENV="${passthrough[*]}"
# shellcheck disable=SC2016  # expanded by the inner shell
unshare --mount --propagation private -- /bin/bash -c '
    set -e
    root="$1" pyenv="$2"; shift 2
    mount --bind "$root" "$root"
    mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=755 tmpfs "$root/run"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    if [ -d "$pyenv" ]; then
        mount --rbind "$pyenv" "$root/root/.pyenv"
        mount -o remount,bind,ro "$root/root/.pyenv"
    fi
    mkdir -p "$root/.host-root"
    cd "$root"
    pivot_root . .host-root
    cd /
    umount -R -l /.host-root
    rmdir /.host-root
    exec /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $LBOPS_CLEAN_ENV \
        /bin/bash -c "cd /work/lbops && eval \"\$*\"" bash "$@"
' bash "$ROOT" "$pyenv_root" "$@" || rc=$?
log "command exited $rc"
exit $rc
