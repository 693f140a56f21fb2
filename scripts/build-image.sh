#!/usr/bin/env bash
# Build, without any container registry, the local image of one Debian release that
# the Molecule scenarios and the lab run:
#   localhost/lbops-debian-<release>-systemd:latest   (on localhost/lbops-debian-<release>-base:latest)
#
#   1. debootstrap --variant=minbase <release> into a scratch directory, from the
#      Debian mirror the host uses for that release (debian_mirror in scripts/lib.sh);
#   2. tar it into `podman import` -> localhost/lbops-debian-<release>-base:latest;
#   3. `podman build` scripts/image/Containerfile for that suite: the release's own
#      apt sources (<release>, -updates, -security), systemd as PID 1, python3...
#
# Idempotent: does nothing when the image already exists, unless --force (which
# rebuilds both the base and the image). One build at a time (flock); a script
# that asks for an image while another one builds it waits, then finds it there.
# Usage: scripts/build-image.sh [--release bookworm|trixie] [--force]
#   (default release: the newest, LBOPS_DEFAULT_RELEASE in scripts/lib.sh)
# Environment: LBOPS_DEBIAN_MIRROR, LBOPS_DEBIAN_SECURITY_MIRROR override the mirrors.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }

force=0
parse_release_option "$@"
for arg in "${ARGS[@]}"; do
    case "$arg" in
        --force|-f) force=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $arg (usage: $0 [--release $(release_choices)] [--force])" >&2; exit 2 ;;
    esac
done
SUITE="$RELEASE"
IMAGE="$(release_image "$SUITE")"
BASE_IMAGE="$(release_base_image "$SUITE")"

if [ "$(id -u)" -ne 0 ]; then
    echo "$0: must run as root (debootstrap, rootful podman)" >&2
    exit 1
fi

ensure_podman
ensure_apt debootstrap debian-archive-keyring util-linux tar

# Several engineers/scripts may ask for an image at the same time: one builds,
# the others wait and then find it there. One lock for every release: two
# debootstraps at once would only compete for the 2 cores and the mirror.
mkdir -p "$REPO/.cache"
exec 9>"$REPO/.cache/build-image.lock"
flock 9

if [ "$force" -eq 0 ] && podman image exists "$IMAGE"; then
    log "image $IMAGE already exists (use --force to rebuild)"
    exit 0
fi

old_image_id="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
old_base_id="$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)"

MIRROR="$(debian_mirror "$SUITE")"
SECURITY_MIRROR="$(debian_security_mirror "$SUITE")"
SCRIPT="$(debootstrap_script "$SUITE")"
log "Debian $SUITE from $MIRROR (security: $SECURITY_MIRROR; debootstrap script $SCRIPT)"

# --- debootstrap (skipped when the base exists and no --force) -------------------------
t0=$(date +%s)
if [ "$force" -eq 1 ] || ! podman image exists "$BASE_IMAGE"; then
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

    log "debootstrap --variant=minbase $SUITE $WORK/rootfs $MIRROR"
    debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$SUITE" "$WORK/rootfs" "$MIRROR" "$SCRIPT" > "$WORK/debootstrap.log" 2>&1 || {
        tail -n 40 "$WORK/debootstrap.log" >&2
        tail -n 40 "$WORK/rootfs/debootstrap/debootstrap.log" 2>/dev/null >&2 || true
        exit 1
    }
    # Leave nothing host-specific in the image (the Containerfile writes the sources).
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"* \
        "$WORK/rootfs/debootstrap"
    : > "$WORK/rootfs/etc/hostname"
    t1=$(date +%s)

    log "podman import -> $BASE_IMAGE"
    tar --numeric-owner --xattrs -C "$WORK/rootfs" -c . \
        | podman import --message "debootstrap --variant=minbase $SUITE $MIRROR" - "$BASE_IMAGE" >/dev/null
    cleanup
    trap - EXIT
else
    log "base image $BASE_IMAGE already exists: building $IMAGE on it"
    t1=$t0
fi
t2=$(date +%s)

# --- podman build ------------------------------------------------------------------
log "podman build -> $IMAGE"
podman build --pull=never --network=host \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "DEBIAN_SUITE=$SUITE" \
    --build-arg "DEBIAN_MIRROR=$MIRROR" \
    --build-arg "DEBIAN_SECURITY_MIRROR=$SECURITY_MIRROR" \
    --label "lbops.release=$SUITE" \
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
podman image ls --filter "reference=localhost/lbops-debian-$SUITE-*" >&2
