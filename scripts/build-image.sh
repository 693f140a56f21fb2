#!/usr/bin/env bash
# Build, without any container registry, the local image the Molecule scenarios use:
#   localhost/lbops-debian12-systemd:latest
#
#   1. debootstrap --variant=minbase bookworm into a scratch directory, from the
#      Debian mirror the host uses (/etc/apt/sources.list*);
#   2. tar it into `podman import` -> localhost/lbops-debian12-base:latest;
#   3. `podman build` scripts/image/Containerfile (systemd as PID 1, python3, ...).
#
# Idempotent: does nothing when the image already exists, unless --force.
# Usage: scripts/build-image.sh [--force]
# Environment: LBOPS_DEBIAN_MIRROR, LBOPS_DEBIAN_SECURITY_MIRROR override the mirrors.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE="localhost/lbops-debian12-systemd:latest"
BASE_IMAGE="localhost/lbops-debian12-base:latest"
SUITE=bookworm

force=0
for arg in "$@"; do
    case "$arg" in
        --force|-f) force=1 ;;
        -h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg (usage: $0 [--force])" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "$0: must run as root (debootstrap, rootful podman)" >&2
    exit 1
fi

ensure_apt debootstrap debian-archive-keyring podman runc netavark aardvark-dns \
    conmon util-linux tar

# Several engineers/scripts may ask for the image at the same time: one builds,
# the others wait and then find it there.
mkdir -p "$REPO/.cache"
exec 9>"$REPO/.cache/build-image.lock"
flock 9

if [ "$force" -eq 0 ] && podman image exists "$IMAGE"; then
    log "image $IMAGE already exists (use --force to rebuild)"
    exit 0
fi

old_image_id="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
old_base_id="$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)"

MIRROR="${LBOPS_DEBIAN_MIRROR:-$(host_mirror_for_suite "$SUITE")}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${LBOPS_DEBIAN_SECURITY_MIRROR:-$(host_mirror_for_suite "$SUITE-security")}"
SECURITY_MIRROR="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
log "Debian mirror: $MIRROR (security: $SECURITY_MIRROR)"

# --- debootstrap ----------------------------------------------------------------
WORK="$(mktemp -d /var/tmp/lbops-debootstrap.XXXXXX)"
cleanup() {
    # debootstrap mounts /proc, /sys... in the target; never rm -rf through a mount.
    local m
    if command -v findmnt >/dev/null; then
        { findmnt -rn -o TARGET | grep -F "$WORK/" || true; } | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
    fi
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

t0=$(date +%s)
log "debootstrap --variant=minbase $SUITE $WORK/rootfs $MIRROR"
debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    "$SUITE" "$WORK/rootfs" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 || {
    tail -n 40 "$WORK/debootstrap.log" >&2
    tail -n 40 "$WORK/rootfs/debootstrap/debootstrap.log" 2>/dev/null >&2 || true
    exit 1
}
# Leave nothing host-specific in the image.
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"* \
    "$WORK/rootfs/debootstrap"
: > "$WORK/rootfs/etc/hostname"
t1=$(date +%s)

log "podman import -> $BASE_IMAGE"
tar --numeric-owner --xattrs -C "$WORK/rootfs" -c . \
    | podman import --message "debootstrap --variant=minbase $SUITE $MIRROR" - "$BASE_IMAGE" >/dev/null
cleanup
trap - EXIT
t2=$(date +%s)

# --- podman build ------------------------------------------------------------------
log "podman build -> $IMAGE"
podman build --pull=never --network=host \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "DEBIAN_MIRROR=$MIRROR" \
    --build-arg "DEBIAN_SECURITY_MIRROR=$SECURITY_MIRROR" \
    -t "$IMAGE" -f "$REPO/scripts/image/Containerfile" "$REPO/scripts/image"
t3=$(date +%s)

# With --force, drop the images this build replaced (left untagged), unless a
# container still uses them.
for id in $old_image_id $old_base_id; do
    if [ -n "$(podman image inspect --format '{{.RepoTags}}' "$id" 2>/dev/null | tr -d '[]')" ]; then
        continue  # still tagged (nothing changed)
    fi
    podman rmi "$id" >/dev/null 2>&1 || true
done

log "built $IMAGE in $((t3 - t0))s (debootstrap $((t1 - t0))s, import $((t2 - t1))s, build $((t3 - t2))s)"
podman image ls --filter "reference=localhost/lbops-debian12-*" >&2
