#!/usr/bin/env bash
# Integration tests: ansible-test runs tests/integration/targets/* through
# ansible-playbook, with the Python environment of one ansible-core line, against live
# HAProxy instances of one version (scripts/haproxy-root.sh: that version's Debian
# package, whatever the host's release) that the setup_haproxy target starts.
#
# Usage: scripts/integration.sh [--line 2.19|2.20|2.21] [--haproxy 2.6|3.0|3.2] [target ...]
#   (defaults: the newest line, the newest HAProxy)
#
# Runs against different HAProxy versions can run at the same time: each has its own
# instance directory (/tmp/lbops-it/<version>) and TCP port range (the version's base,
# 1000 ports), passed to the targets in tests/integration/integration_config.yml of the
# private collection copy. Two runs against the same version wait for each other.
# LBOPS_IT_PORT_OFFSET (default 0, a multiple of 1000 up to 30000) moves the port ranges
# and the instance directories, so that a second checkout's run does not wait for this
# one (the same host, another worktree, a clean root sharing the host's network).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
parse_line_option "$@"
set -- "${ARGS[@]}"
HAPROXY_VERSION="${LBOPS_HAPROXY_VERSIONS[-1]}"
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --haproxy) HAPROXY_VERSION="${2:?--haproxy needs a value}"; shift 2 ;;
        --haproxy=*) HAPROXY_VERSION="${1#--haproxy=}"; shift ;;
        *) targets+=("$1"); shift ;;
    esac
done
# The port range of each version: 21000-21999 for the first, 22000-22999 for the next...
port_base=""
for i in "${!LBOPS_HAPROXY_VERSIONS[@]}"; do
    [ "${LBOPS_HAPROXY_VERSIONS[$i]}" = "$HAPROXY_VERSION" ] && port_base=$((21000 + 1000 * i))
done
[ -n "$port_base" ] || die "unknown HAProxy version '$HAPROXY_VERSION' (known: ${LBOPS_HAPROXY_VERSIONS[*]})"
offset="${LBOPS_IT_PORT_OFFSET:-0}"
case "$offset" in
    0) IT_DIR="/tmp/lbops-it/$HAPROXY_VERSION" ;;
    [1-9]000|[12][0-9]000|30000) port_base=$((port_base + offset)); IT_DIR="/tmp/lbops-it/$HAPROXY_VERSION+$offset" ;;
    *) die "LBOPS_IT_PORT_OFFSET must be a multiple of 1000 from 0 to 30000, not '$offset'" ;;
esac

# openssh-client: ansible-test integration runs ssh-keygen even for local targets.
# python3-apt: the apt module of setup_haproxy needs it (on a fresh machine it would install it
# itself, outside the apt lock of scripts/lib.sh, and fail when a parallel cell holds the lock).
# openssl: setup_haproxy and haproxy_ssl_cert make throwaway certificates, and s_client reads the served one.
ensure_apt socat curl sudo acl rsync python3-venv openssh-client python3-apt openssl
ensure_venv_or_not_run "$LINE"
ensure_haproxy "$HAPROXY_VERSION"
install_collection
# A packaged HAProxy service, if the host has one, is not what the tests drive.
systemctl disable --now haproxy >/dev/null 2>&1 || true

COPY="$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy"
cat >"$COPY/tests/integration/integration_config.yml" <<EOF
---
# Written by scripts/integration.sh for this run only.
it_haproxy: $HAPROXY_CMD
it_haproxy_version: "$HAPROXY_VERSION"
it_dir: $IT_DIR
it_port_base: $port_base
it_install_tools: false
EOF
(cd "$COPY" && git add -f tests/integration/integration_config.yml)

stop_own_instances() {
    python3 "$COPY/tests/integration/targets/setup_haproxy/files/stop_instances.py" "$IT_DIR" >/dev/null || true
}

mkdir -p /tmp/lbops-it
exec 9>"/tmp/lbops-it/.lock-${IT_DIR##*/}"
if ! flock -n 9; then
    log "another integration run against HAProxy $HAPROXY_VERSION is in progress: waiting for it"
    flock 9
fi
log "integration: ansible-core $LINE ($(venv_python_version)), HAProxy $HAPROXY_VERSION ($HAPROXY_CMD)," \
    "instances in $IT_DIR, ports $port_base-$((port_base + 999))"
cd "$COPY"
rc=0
ansible-test integration --python "$(venv_python_version)" --color no "${targets[@]}" || rc=$?
# Leave none of this run's processes behind (and only this run's).
stop_own_instances
exit $rc
