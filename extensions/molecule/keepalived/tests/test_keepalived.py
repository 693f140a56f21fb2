"""Testinfra checks of the keepalived scenario: VIP placement, HAProxy tracking, fail-over and back."""

import os
import time

import testinfra
import testinfra.utils.ansible_runner

# The hosts are in the inventory directory's hosts file (molecule.yml), next to Molecule's own file.
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"]))
NAMES = sorted(RUNNER.get_hosts("all"))
# molecule.yml (static addresses, its inventory) and vars/scenario.yml (VIPs, password).
IPS = {"lbops-ka-lb1": "10.216.0.11", "lbops-ka-lb2": "10.216.0.12"}
VIP = "10.216.0.100"  # VI_HAPROXY: preempt, multicast
STICKY = "10.216.0.101"  # VI_STICKY: nopreempt, unicast
CONF = "/etc/keepalived/keepalived.conf"

testinfra_hosts = [f"podman://{name}" for name in NAMES]


def _node(name):
    return testinfra.get_host(f"podman://{name}")


LB1, LB2 = (_node(name) for name in ("lbops-ka-lb1", "lbops-ka-lb2"))


def _has(node, address):
    return f" {address}/" in node.check_output("ip -4 -o addr show dev eth0")


def _wait(predicate, timeout):
    """Seconds until predicate() holds (polling every 0.2 s), or None after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.2)
    return None


def test_services(host):
    for unit in ("keepalived", "haproxy"):
        service = host.service(unit)
        assert service.is_running and service.is_enabled, unit


def test_config_file_private(host):
    conf = host.file(CONF)
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o600)


def test_config_valid(host):
    host.run_test("keepalived -t -f %s", CONF)


def test_derived_values(host):
    me = host.backend.name
    first = me == "lbops-ka-lb1"
    conf = host.file(CONF).content_string
    tracked, sticky = conf.split("vrrp_instance VI_HAPROXY")[1].split("vrrp_instance VI_STICKY")
    # Inventory order: lb1 first (MASTER, 150), lb2 second (BACKUP, 140).
    assert f"state {'MASTER' if first else 'BACKUP'}\n" in tracked
    assert f"priority {150 if first else 140}\n" in tracked
    assert "interface eth0\n" in tracked  # detected from the VIP's subnet
    assert "unicast" not in tracked
    # nopreempt: every member starts BACKUP, priorities stay ordered; unicast peers from the inventory.
    assert "state BACKUP\n" in sticky and "nopreempt\n" in sticky
    assert f"priority {150 if first else 140}\n" in sticky
    other = [ip for name, ip in IPS.items() if name != me]
    assert f"unicast_src_ip {IPS[me]}\n" in sticky
    assert f"unicast_peer {{\n        {other[0]}\n    }}" in sticky
    # Process events do not reach a container's network namespace: auto chose the script check.
    assert "vrrp_script track_haproxy_script" in conf and "vrrp_track_process" not in conf
    assert "auth_type PASS" in tracked


def test_track_files_and_haproxy_dropin(host):
    """Both track files exist with 0 (HAProxy runs, no maintenance), every tracked instance
    reads them, and the HAProxy unit's drop-in hands over the preempting VIP only."""
    assert host.file("/run/lbops-keepalived-haproxy.track").content_string.strip() == "0"
    assert host.file("/var/lib/keepalived/lbops-maintenance.track").content_string.strip() == "0"
    conf = host.file(CONF).content_string
    assert "track_file lbops_haproxy {" in conf and "init_file -254" in conf
    assert conf.count("        lbops_maintenance\n") == 2  # both instances
    dropin = host.file("/etc/systemd/system/haproxy.service.d/lbops-keepalived.conf").content_string
    assert "After=keepalived.service" in dropin
    stop = [line for line in dropin.splitlines() if line.startswith("ExecStop=")]
    assert len(stop) == 1 and f"--vip {VIP}" in stop[0] and STICKY not in stop[0], stop
    assert not any(line.strip() in ("ExecStop=", "ExecStopPost=", "ExecStartPost=", "ExecStartPre=") for line in dropin.splitlines())
    assert "lbops-keepalived-track" in host.check_output("systemctl show -p ExecStartPost haproxy.service")


def test_nonlocal_bind(host):
    assert host.sysctl("net.ipv4.ip_nonlocal_bind") == 1
    # HAProxy listens on the VIP on both members, including the one without it.
    assert f"{VIP}:8080" in host.check_output("ss -Hltn")


def test_vip_on_first_member_only():
    assert _has(LB1, VIP) and not _has(LB2, VIP)
    # nopreempt: every member starts BACKUP and the first one to time out takes the VIP
    # (lb1's higher priority only shortens its timer by ~40 ms): exactly one holds it.
    assert _has(LB1, STICKY) != _has(LB2, STICKY)
    assert LB2.check_output("curl -sS --max-time 3 http://%s:8080/", VIP) == "lbops-ka-lb1"


def _act(node, command):
    """Run command on node; return the time (container clock = host clock) just before it."""
    return float(node.check_output(f"date +%s.%N; {command} >/dev/null").split()[0])


def _appears(node, address, timeout):
    """Poll on the node itself every 0.1 s (no podman exec latency) until address is on eth0;
    return that moment, or None after timeout seconds."""
    tries = int(timeout * 10)
    probe = f"ip -4 -o addr show dev eth0 | grep -q ' {address}/'"
    cmd = node.run(f"for i in $(seq 1 {tries}); do {probe} && {{ date +%s.%N; exit 0; }}; sleep 0.1; done; exit 1")
    return float(cmd.stdout.split()[0]) if cmd.rc == 0 else None


def test_failover_and_back():
    """Stop HAProxy on lb1: the VIP moves to lb2 within 5 s (and the nopreempt VIP is on
    lb2 too). Start it again: the preempting VIP comes back to lb1, the nopreempt one
    stays on lb2 although lb1 is healthy again with the higher priority."""
    try:
        stopped = _act(LB1, "systemctl stop haproxy")
        moved = _appears(LB2, VIP, 8)
        assert moved is not None, "VIP did not move to lb2 within 8 s"
        print(f"VIP moved to lb2 {moved - stopped:.1f} s after systemctl stop haproxy on lb1")
        assert moved - stopped <= 5
        assert not _has(LB1, VIP)
        assert _appears(LB2, STICKY, 3) is not None and not _has(LB1, STICKY)
        assert LB1.check_output("curl -sS --max-time 3 http://%s:8080/", VIP) == "lbops-ka-lb2"
    finally:
        started = _act(LB1, "systemctl start haproxy")
    back = _appears(LB1, VIP, 10)
    assert back is not None, "VIP did not come back to lb1 within 10 s"
    print(f"VIP back on lb1 {back - started:.1f} s after systemctl start haproxy")
    assert _wait(lambda: not _has(LB2, VIP), 3) is not None
    time.sleep(2)  # a few advertisement intervals: the nopreempt VIP must not follow
    assert _has(LB2, STICKY) and not _has(LB1, STICKY)
