#!/usr/bin/env bash
# Prepares HAProxy <version> from the Debian suite that ships it, on any host release:
#
#   $LBOPS_CACHE/roots/<suite>            debootstrap --variant=minbase --include=haproxy
#   $LBOPS_CACHE/haproxy-<ver>/bin/haproxy  a wrapper that runs that root's binary
#                                           through that root's own dynamic loader
#
# (LBOPS_CACHE defaults to /var/cache/lbops.) No chroot and no bind mount: the loader of
# the root loads the root's libraries (--library-path), so the binary runs as a normal
# host process, sees the host's files, users and network, and can be started with -D,
# -W, -sf like the packaged one. Why this is sound, and its limits: docs/DESIGN-runtime.md
# ("HAProxy versions").
#
# Idempotent: a root is rebuilt only when its stamp is missing or it fails the check
# (the wrapper's -v must report <version>, every library must resolve inside the root,
# and a configuration with user/group lookups must pass -c). Concurrent callers wait
# for each other (flock). Prints the wrapper's path on stdout.
#
# Usage: scripts/haproxy-root.sh <2.6|3.0|3.2>
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VERSION="${1:-}"
SUITE="${LBOPS_HAPROXY_SUITES[$VERSION]:-}"
[ -n "$SUITE" ] || die "usage: $0 <$(IFS='|'; echo "${LBOPS_HAPROXY_VERSIONS[*]}")> (got '${VERSION}')"
ROOTS="$LBOPS_CACHE/roots"
ROOT="$ROOTS/$SUITE"
STAMP="$ROOTS/$SUITE.stamp"
WRAPDIR="$LBOPS_CACHE/haproxy-$VERSION"
WRAPPER="$WRAPDIR/bin/haproxy"

# The root's loader: the ELF interpreter the binary asks for, resolved inside the root
# (an absolute symlink target is taken relative to the root, never the host).
root_path() {
    local path="$1" link _
    for _ in 1 2 3 4 5 6 7 8; do
        [ -L "$ROOT$path" ] || { printf '%s\n' "$ROOT$path"; return 0; }
        link="$(readlink "$ROOT$path")"
        case "$link" in
            /*) path="$link" ;;
            *) path="$(dirname "$path")/$link" ;;
        esac
    done
    return 1
}

# The library directories of the root (the multiarch ones first), colon-separated.
root_library_path() {
    local dirs=() d
    for d in "$ROOT"/usr/lib/*-linux-gnu* "$ROOT"/lib/*-linux-gnu* "$ROOT/usr/lib" "$ROOT/lib"; do
        [ -d "$d" ] && [ ! -L "$d" ] && dirs+=("$d")
    done
    (IFS=:; printf '%s\n' "${dirs[*]}")
}

write_wrapper() {
    local interp loader libpath tmp modules="" d
    interp="$(grep -a -o -m1 -E '/lib[0-9a-z_/-]*/ld-[a-z0-9_.-]+\.so\.[0-9]+' "$ROOT/usr/sbin/haproxy" | head -n1)" ||
        die "no ELF interpreter found in $ROOT/usr/sbin/haproxy"
    loader="$(root_path "$interp")" || die "cannot resolve $interp inside $ROOT"
    [ -x "$loader" ] || die "the root's loader $loader is missing"
    case "$(readlink -f "$loader")" in
        "$ROOT"/*) ;;
        *) die "the root's loader $loader resolves outside the root: $(readlink -f "$loader")" ;;
    esac
    libpath="$(root_library_path)"
    for d in "$ROOT"/usr/lib/*-linux-gnu*/ossl-modules; do [ -d "$d" ] && modules="$d" && break; done
    mkdir -p "$WRAPDIR/bin"
    # OpenSSL of the root: its own providers, and a configuration of its own rather
    # than the host's /usr/lib/ssl/openssl.cnf (written for the host's OpenSSL).
    printf '%s\n' "# OpenSSL configuration of the HAProxy $VERSION wrapper: OpenSSL's compiled-in defaults." \
        >"$WRAPDIR/openssl.cnf"
    tmp="$(mktemp "$WRAPDIR/bin/.haproxy.XXXXXX")"
    cat >"$tmp" <<EOF
#!/bin/sh
# HAProxy $VERSION from the Debian $SUITE root $ROOT (written by scripts/haproxy-root.sh).
# The root's loader runs the root's binary with the root's libraries; argv[0] stays
# this wrapper, so a master process that re-executes itself (-W reload) comes back here.
OPENSSL_CONF="$WRAPDIR/openssl.cnf"
OPENSSL_MODULES="$modules"
export OPENSSL_CONF OPENSSL_MODULES
exec "$loader" --inhibit-cache --library-path "$libpath" --argv0 "\$0" "$ROOT/usr/sbin/haproxy" "\$@"
EOF
    chmod 0755 "$tmp"
    mv -f "$tmp" "$WRAPPER"
}

# Succeeds when the root and its wrapper work and run HAProxy $VERSION; says why not otherwise.
check_root() {
    local out loader libpath missing cfg
    [ -x "$ROOT/usr/sbin/haproxy" ] || { echo "no $ROOT/usr/sbin/haproxy"; return 1; }
    [ -x "$WRAPPER" ] || { echo "no wrapper $WRAPPER"; return 1; }
    loader="$(sed -n 's/^exec "\([^"]*\)".*/\1/p' "$WRAPPER")"
    libpath="$(sed -n 's/^exec .*--library-path "\([^"]*\)".*/\1/p' "$WRAPPER")"
    # Every shared library must come from the root: one found on the host instead
    # (missing from the root) would mix two releases' libraries in one process.
    out="$("$loader" --inhibit-cache --library-path "$libpath" --list "$ROOT/usr/sbin/haproxy" 2>&1)" ||
        { echo "the root's loader cannot load haproxy: $out"; return 1; }
    missing="$(printf '%s\n' "$out" | awk -v root="$ROOT/" '/=>/ && index($3, root) != 1 { print }')"
    [ -z "$missing" ] || { echo "libraries not resolved inside $ROOT: $missing"; return 1; }
    out="$("$WRAPPER" -v 2>&1)" || { echo "$WRAPPER -v failed: $out"; return 1; }
    case "$(printf '%s\n' "$out" | sed -n '1s/^HAProxy version \([0-9]*\.[0-9]*\)\..*/\1/p')" in
        "$VERSION") ;;
        *) echo "$WRAPPER -v reports '$(printf '%s\n' "$out" | head -n1)', not HAProxy $VERSION"; return 1 ;;
    esac
    # user/group lookups go through the root's libc and the host's /etc/passwd.
    cfg="$(mktemp)"
    printf 'global\n    user nobody\n    group nogroup\ndefaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nfrontend f\n    bind 127.0.0.1:9\n' >"$cfg"
    out="$("$WRAPPER" -c -f "$cfg" 2>&1)" || { rm -f "$cfg"; echo "$WRAPPER -c with user/group failed: $out"; return 1; }
    rm -f "$cfg"
    [ -f "$STAMP" ] || { echo "no stamp $STAMP (an earlier build did not finish)"; return 1; }
    return 0
}

build_root() {
    local mirror script tmp start
    ensure_apt debootstrap debian-archive-keyring
    mirror="$(debian_mirror "$SUITE")"
    script="$(debootstrap_script "$SUITE")"
    tmp="$ROOTS/.$SUITE.build"
    rm -rf "$tmp" "$STAMP"
    log "debootstrap $SUITE (HAProxy $VERSION) from $mirror into $ROOT (about a minute)"
    start=$(date +%s)
    if ! debootstrap --variant=minbase --include=haproxy "$SUITE" "$tmp" "$mirror" "$script" \
            >"$ROOTS/$SUITE.log" 2>&1; then
        tail -n 20 "$ROOTS/$SUITE.log" >&2
        rm -rf "$tmp"
        die "debootstrap of $SUITE failed (log: $ROOTS/$SUITE.log)"
    fi
    rm -rf "$ROOT"
    mv "$tmp" "$ROOT"
    write_wrapper
    log "root $SUITE ready in $(($(date +%s) - start))s"
}

mkdir -p "$ROOTS"
(
    flock 9
    if ! why="$(check_root)" && [ -f "$STAMP" ] && [ -x "$ROOT/usr/sbin/haproxy" ]; then
        # A finished root whose wrapper is missing or stale: a new wrapper may be enough.
        write_wrapper
        why="$(check_root)" || true
    fi
    if ! why="$(check_root)"; then
        [ -e "$ROOT" ] && log "rebuilding the $SUITE root: $why"
        build_root
        # The stamp records what was built; check_root requires it.
        printf 'suite=%s\nhaproxy=%s\nbuilt=%s\n' "$SUITE" "$("$WRAPPER" -v | head -n1)" "$(date -u +%FT%TZ)" >"$STAMP"
        why="$(check_root)" || { rm -f "$STAMP"; die "HAProxy $VERSION from $ROOT does not work: $why"; }
    fi
) 9>"$ROOTS/.lock-$SUITE"
printf '%s\n' "$WRAPPER"
