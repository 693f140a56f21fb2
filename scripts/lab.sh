#!/usr/bin/env bash
# The local lab: an HAProxy + keepalived pair in front of two web servers, in four
# podman containers on a private podman network, converged with playbooks/site.yml.
#
#   bash scripts/lab.sh up [--release bookworm|trixie] [--no-converge]
#                                       start (or converge again) the lab, then check it;
#                                       the containers run that Debian release (default:
#                                       the one of the lab that is there, else trixie).
#                                       --no-converge: containers and web servers only, no
#                                       site.yml and no check (for another controller, such
#                                       as an execution environment: scripts/ee.sh)
#   bash scripts/lab.sh check           the checks that end `up`: stats page and backend
#                                       through the VIP, SSH to every container
#   bash scripts/lab.sh run PLAYBOOK [ansible-playbook options...]
#                                       run a playbook against the lab
#   bash scripts/lab.sh status          the lab's Debian release, its containers, and
#                                       which load balancer holds the VIP (and says
#                                       SPLIT BRAIN when more than one does)
#   bash scripts/lab.sh down            remove the containers, the network and .cache/lab
#                                       (the images stay)
#
# A lab runs one release. `up --release R` on a lab of another release stops with
# what to do (`down`, then `up --release R`): it never mixes releases.
#
# Topology, names and addresses: playbooks/lab/inventory.yml and playbooks/lab/group_vars/.
# Secrets (random, made by the first `up`, mode 0600, never printed):
#   .cache/lab/stats-password   password of the stats user
#   .cache/lab/extra-vars.yml   lab_stats_password and lab_vrrp_password for Ansible
#   .cache/lab/netrc            the stats credentials for `curl --netrc-file`
#   .cache/lab/ssh/             the lab's SSH key (id_ed25519, root's only authorized key in
#                               the containers) and known_hosts (their host keys, by address),
#                               for playbooks/lab/inventory-ssh.yml
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LABEL="lbops.lab"
# Set by cmd_up (--release, or the running lab's): the Debian release and its image.
RELEASE=""
IMAGE=""
INVENTORY="$REPO/playbooks/lab/inventory.yml"
STATE="$REPO/.cache/lab"
EXTRA_VARS="$STATE/extra-vars.yml"
PASSWORD_FILE="$STATE/stats-password"
NETRC="$STATE/netrc"
SSH_DIR="$STATE/ssh"
# A copy of the collection that stays after `up`, for running ansible-playbook by hand.
LAB_COLLECTIONS="$STATE/collections"

usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }

# Print a path relative to the repository when it is inside it.
rel() { case "$1" in "$REPO"/*) printf '%s' "${1#"$REPO"/}" ;; *) printf '%s' "$1" ;; esac; }

# --- the lab's description, read from the inventory --------------------------------
# Sets LAB_NETWORK, LAB_SUBNET, LAB_VIP, LAB_USER and HOSTS (lines: "name container address group").
read_inventory() {
    local out
    out="$(ansible-inventory -i "$INVENTORY" --list | python3 -c '
import json, sys
inv = json.load(sys.stdin)
hv = inv["_meta"]["hostvars"]
lb = inv["loadbalancers"]["hosts"]
first = hv[lb[0]]
for key in ("lab_network", "lab_subnet", "lab_vip", "lab_stats_user"):
    print("%s=%s" % (key.upper(), first[key]))
for group in ("loadbalancers", "webservers"):
    for h in inv[group]["hosts"]:
        print("HOST=%s %s %s %s" % (h, hv[h]["ansible_host"], hv[h]["lab_address"], group))
')"
    LAB_NETWORK="$(sed -n 's/^LAB_NETWORK=//p' <<<"$out")"
    LAB_SUBNET="$(sed -n 's/^LAB_SUBNET=//p' <<<"$out")"
    LAB_VIP="$(sed -n 's/^LAB_VIP=//p' <<<"$out")"
    LAB_USER="$(sed -n 's/^LAB_STATS_USER=//p' <<<"$out")"
    HOSTS="$(sed -n 's/^HOST=//p' <<<"$out")"
}

# --- secrets ------------------------------------------------------------------------
random_word() {  # $1 characters from [A-Za-z0-9]
    python3 -c 'import secrets, string, sys
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(int(sys.argv[1]))))' "$1"
}

ensure_secrets() {
    local stats vrrp
    mkdir -p "$STATE"
    chmod 0700 "$STATE"
    (
        umask 077
        if [ ! -s "$PASSWORD_FILE" ]; then
            random_word 24 > "$PASSWORD_FILE"
            log "new random stats password in $(rel "$PASSWORD_FILE")"
        fi
        stats="$(cat "$PASSWORD_FILE")"
        # keepalived's PASS authentication takes at most 8 characters; keep it across runs.
        vrrp="$(sed -n 's/^lab_vrrp_password: "\(.*\)"$/\1/p' "$EXTRA_VARS" 2>/dev/null || true)"
        [ -n "$vrrp" ] || vrrp="$(random_word 8)"
        printf '%s\n' "# Written by scripts/lab.sh (mode 0600). Pass it with -e @$(rel "$EXTRA_VARS")." \
            "lab_stats_password: \"$stats\"" "lab_vrrp_password: \"$vrrp\"" > "$EXTRA_VARS.new"
        mv "$EXTRA_VARS.new" "$EXTRA_VARS"
        printf 'machine %s login %s password %s\n' "$LAB_VIP" "$LAB_USER" "$stats" > "$NETRC.new"
        mv "$NETRC.new" "$NETRC"
        chmod 0600 "$PASSWORD_FILE" "$EXTRA_VARS" "$NETRC"
    )
}

ensure_ssh_key() {
    mkdir -p "$SSH_DIR"
    chmod 0700 "$SSH_DIR"
    if [ ! -s "$SSH_DIR/id_ed25519" ]; then
        ssh-keygen -q -t ed25519 -N '' -C "lbops-lab@$(hostname)" -f "$SSH_DIR/id_ed25519"
        log "new SSH key for the lab in $(rel "$SSH_DIR")/id_ed25519"
    fi
}

# --- podman -------------------------------------------------------------------------
# The network and the containers come from playbooks/lab/containers.yml (shared with
# the Molecule scenario ha_pair).

# The Debian release(s) of the lab's containers, one per line ("none" for a
# container made before releases were recorded); nothing when there is no lab.
lab_releases() {
    command -v podman >/dev/null || return 0
    podman ps -a --filter "label=$LABEL" --format "{{index .Labels \"$LABEL.release\"}}" 2>/dev/null |
        sed 's/^$/none/; s/^<no value>$/none/' | sort -u
}

# Choose the release of `up`: --release, else the running lab's, else the default.
# A lab of another release is never converged with this one: say what to do.
choose_release() {
    local want="$1" given="$2" have one=""
    have="$(lab_releases | tr '\n' ' ')"
    have="${have% }"
    # The lab's release, when all its containers agree on a known one.
    case "$have" in *" "* | none) ;; *) one="$have" ;; esac
    if [ -z "$have" ]; then
        RELEASE="$want"
    elif [ -n "$one" ] && { [ "$one" = "$want" ] || [ "$given" -eq 0 ]; }; then
        RELEASE="$one"
        [ "$one" = "$want" ] ||
            log "the lab runs Debian $one: converging it (for $want: 'bash scripts/lab.sh down' first)"
    else
        if [ "$have" = none ]; then
            echo "The lab was made by an older scripts/lab.sh, before labs had a release." >&2
        else
            echo "The lab runs Debian ${have// / and } (as its containers say), not $want." >&2
        fi
        echo "A lab runs one release: remove it, then start the one you want:" >&2
        echo "  bash scripts/lab.sh down && bash scripts/lab.sh up --release $want" >&2
        [ -z "$one" ] || echo "or keep the lab as it is:  bash scripts/lab.sh up --release $one" >&2
        exit 1
    fi
    IMAGE="$(release_image "$RELEASE")"
}

# --- Ansible ------------------------------------------------------------------------
lab_playbook() {
    ansible-playbook -i "$INVENTORY" -e "@$EXTRA_VARS" "$@"
}

# --- checks -------------------------------------------------------------------------
# Which load balancer holds the VIP (prints its inventory name, or nothing).
vip_holder() {
    local name c group
    while read -r name c _ group; do
        [ "$group" = loadbalancers ] || continue
        if podman exec "$c" ip -4 -o addr show 2>/dev/null | grep -qF " $LAB_VIP/"; then
            echo "$name"
        fi
    done <<<"$HOSTS"
}

# Every container answers over SSH as root with the lab's key, its host key checked.
ssh_check() {
    local name addr out
    while read -r name _ addr _; do
        out="$(ssh -n -i "$SSH_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
            -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$SSH_DIR/known_hosts" \
            -o ConnectTimeout=5 "root@$addr" hostname 2>&1)" || {
            echo "FAILED: ssh root@$addr ($name) with the lab's key: $out" >&2
            return 1
        }
        [ "$out" = "$name" ] || { echo "FAILED: ssh root@$addr answered hostname '$out' (want $name)" >&2; return 1; }
    done <<<"$HOSTS"
    log "  SSH as root with the lab's key and checked host keys: $(awk '{ print $1 }' <<<"$HOSTS" | tr '\n' ' ')"
}

smoke_check() {
    local i code body ok=0
    log "smoke check through the VIP $LAB_VIP"
    for i in $(seq 1 30); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --netrc-file "$NETRC" \
            "http://$LAB_VIP:1936/haproxy?stats" || true)"
        [ "$code" = 200 ] && { ok=1; break; }
        sleep 1
    done
    if [ "$ok" -ne 1 ]; then
        echo "FAILED: stats page http://$LAB_VIP:1936/haproxy?stats answered '${code:-nothing}' (want 200) after 30 s" >&2
        return 1
    fi
    log "  stats page through the VIP: 200 (after ${i} s), held by $(vip_holder | tr '\n' ' ')"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$LAB_VIP:1936/haproxy?stats" || true)"
    if [ "$code" != 401 ]; then
        echo "FAILED: stats page without credentials answered '$code' (want 401)" >&2
        return 1
    fi
    log "  stats page without credentials: 401"
    body="$(curl -s --max-time 2 "http://$LAB_VIP/" || true)"
    if [ "$body" != web1 ]; then
        echo "FAILED: http://$LAB_VIP/ answered '$body' (want web1, the primary server)" >&2
        return 1
    fi
    log "  http://$LAB_VIP/ -> web1"
    ssh_check
}

print_usage_notes() {
    local lab="bash scripts/lab.sh" vip="$LAB_VIP"
    cat <<TXT

The lab is up: load balancers lb1, lb2 (HAProxy + keepalived) and web servers web1, web2
on the podman network $LAB_NETWORK ($LAB_SUBNET). VIP $vip, now on: $(vip_holder | tr '\n' ' ')

Stats page through the VIP:  http://$vip:1936/haproxy?stats
  user $LAB_USER, password in $(rel "$PASSWORD_FILE") (mode 0600); this machine reaches the VIP
  curl --netrc-file $(rel "$NETRC") 'http://$vip:1936/haproxy?stats;csv'

The article's fail-over backend (cloudserver = web1, backup localserver = web2, stick on dst):
  curl http://$vip/                            # web1
  podman exec lbops-lab-web1 systemctl stop lab-web     # the primary fails
  curl http://$vip/                            # web2 (the first request may get a 503)
  podman exec lbops-lab-web1 systemctl start lab-web
  curl http://$vip/                            # still web2: the stick table remembers
  $lab run playbooks/failback.yml --diff  # clear it on lb1 and lb2
  curl http://$vip/                            # web1 again
Load balancer fail-over:
  podman exec lbops-lab-lb1 systemctl stop haproxy      # the VIP moves to lb2 ($lab status)
  podman exec lbops-lab-lb1 systemctl start haproxy     # and comes back to lb1

Playbooks against the lab ('run' installs the collection and passes the inventory and secrets):
  $lab run playbooks/site.yml --diff
  $lab run playbooks/failback.yml --diff
  $lab run playbooks/server_maintenance.yml -e '{"maintenance_servers": ["https/cloudserver", "https/localserver"]}' --check
  $lab run playbooks/server_maintenance.yml -e '{"maintenance_servers": ["https/cloudserver", "https/localserver"]}'
With ansible-playbook itself, ANSIBLE_COLLECTIONS_PATH must point at an installed copy of the
collection; 'up' leaves one in $(rel "$LAB_COLLECTIONS") (refreshed by every 'up'):
  export CONTAINERS_CONF=$REPO/containers.conf ANSIBLE_COLLECTIONS_PATH=$LAB_COLLECTIONS
  $(rel "$VENV")/bin/ansible-playbook -i $(rel "$INVENTORY") -e @$(rel "$EXTRA_VARS") playbooks/failback.yml

A shell in a container:  podman exec -it lbops-lab-lb1 bash
  echo 'show table https' | socat stdio /run/haproxy/admin.sock    # (inside lb1 or lb2)
Tear the lab down:       $lab down
TXT
}

# --- commands -----------------------------------------------------------------------
cmd_up() {
    local t0 t1
    t0=$(date +%s)
    local converge=1 arg
    parse_release_option "$@"
    for arg in "${ARGS[@]}"; do
        case "$arg" in
            --no-converge) converge=0 ;;
            *) die "unknown argument for up: $arg (usage: bash scripts/lab.sh up [--release $(release_choices)] [--no-converge])" ;;
        esac
    done
    ensure_podman
    ensure_apt rsync curl python3-venv git openssh-client
    choose_release "$RELEASE" "$RELEASE_GIVEN"
    log "lab on Debian $RELEASE ($IMAGE)"
    ensure_venv
    # No --force: keep the image there is.
    ensure_image --release "$RELEASE"
    # The collection copy of `up` stays in .cache/lab for ansible-playbook by hand
    # (`run` makes a private one per process, like the other scripts).
    COLLECTIONS_ROOT="$LAB_COLLECTIONS" install_collection
    read_inventory
    ensure_secrets
    ensure_ssh_key
    cd "$REPO"
    log "ansible-playbook playbooks/lab/containers.yml (network $LAB_NETWORK, $(wc -l <<<"$HOSTS") containers)"
    LBOPS_RELEASE="$RELEASE" LBOPS_LAB_SSH_DIR="$SSH_DIR" lab_playbook playbooks/lab/containers.yml
    log "ansible-playbook playbooks/lab/webservers.yml"
    lab_playbook playbooks/lab/webservers.yml
    if [ "$converge" -eq 0 ]; then
        log "lab containers up on Debian $RELEASE in $(($(date +%s) - t0)) s, not converged (--no-converge):" \
            "site.yml is for another controller (inventory playbooks/lab/inventory-ssh.yml, key $(rel "$SSH_DIR"))"
        return 0
    fi
    log "ansible-playbook playbooks/site.yml"
    lab_playbook playbooks/site.yml
    smoke_check
    t1=$(date +%s)
    print_usage_notes
    log "lab up on Debian $RELEASE in $((t1 - t0)) s"
}

cmd_run() {
    local pb
    if [ $# -eq 0 ]; then
        echo "usage: bash scripts/lab.sh run PLAYBOOK [ansible-playbook options...]" >&2
        exit 2
    fi
    if [ ! -s "$EXTRA_VARS" ]; then
        echo "no lab secrets in $(rel "$EXTRA_VARS"): run 'bash scripts/lab.sh up' first" >&2
        exit 1
    fi
    pb="$1"
    shift
    # A playbook path relative to the repository works from anywhere.
    if [ ! -e "$pb" ] && [ -e "$REPO/$pb" ]; then pb="$REPO/$pb"; fi
    ensure_venv
    install_collection
    lab_playbook "$pb" "$@"
}

cmd_check() {
    ensure_podman
    ensure_apt curl openssh-client
    ensure_venv
    read_inventory
    [ -s "$NETRC" ] || die "no lab secrets in $(rel "$STATE"): run 'bash scripts/lab.sh up' first"
    smoke_check
}

cmd_status() {
    local have c
    ensure_venv
    read_inventory
    have="$(lab_releases | tr '\n' ' ')"
    if [ -z "$have" ]; then
        echo "no lab (start it with: bash scripts/lab.sh up [--release $(release_choices)])"
        return 0
    fi
    have="${have% }"
    echo "Debian release: ${have//none/unknown (made before labs recorded one)}"
    podman ps -a --filter "label=$LABEL" --format '{{.Names}}\t{{.Status}}\t{{.Image}}'
    c="$(awk '$4 == "loadbalancers" { print $2; exit }' <<<"$HOSTS")"
    if [ "$(podman container inspect --format '{{.State.Running}}' "$c" 2>/dev/null)" = true ]; then
        echo "on $c: $(podman exec "$c" sh -c 'haproxy -v 2>/dev/null | head -n1; keepalived --version 2>&1 | head -n1' | tr '\n' ';' | sed 's/;$//; s/;/; /')"
    fi
    local holders n
    holders="$(vip_holder)"
    n="$(grep -c . <<<"$holders" || true)"
    echo "VIP $LAB_VIP on: $(tr '\n' ' ' <<<"$holders")"
    if [ "$n" -gt 1 ]; then
        echo "SPLIT BRAIN: $n load balancers hold the VIP (they do not hear each other's VRRP adverts);" \
            "bash scripts/lab.sh run playbooks/ha_check.yml fails while it lasts"
    elif [ "$n" -eq 0 ]; then
        echo "NO VIP: no load balancer holds it"
    fi
}

cmd_down() {
    local t0 ids nets
    t0=$(date +%s)
    if command -v podman >/dev/null; then
        ids="$(podman ps -aq --filter "label=$LABEL")"
        if [ -n "$ids" ]; then
            log "removing the lab's containers"
            # shellcheck disable=SC2086  # one id per word
            podman rm -f -t 5 $ids >/dev/null
        fi
        nets="$(podman network ls -q --filter "label=$LABEL")"
        if [ -n "$nets" ]; then
            log "removing podman network(s) $(tr '\n' ' ' <<<"$nets")"
            # shellcheck disable=SC2086
            podman network rm $nets >/dev/null
        fi
    fi
    rm -rf "$STATE"
    log "lab down in $(($(date +%s) - t0)) s (the images stay: podman image ls 'localhost/lbops-debian-*')"
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    run) shift; cmd_run "$@" ;;
    status) shift; cmd_status ;;
    check) shift; cmd_check ;;
    down) shift; cmd_down ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
esac
