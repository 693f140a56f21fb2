"""Verify of the scenario `ha_pair`: an HAProxy + keepalived pair in front of two web servers.

The tests run in file order and build on each other (the VIP moves, tables fill
and are cleared). Every request goes from this host (which sits on the podman
bridge) to the VIP, in loops bounded in count and in time. Measurements are
printed (molecule runs pytest with -s) and collected in MEASURES.
"""

import hashlib
import os
import re
import socket
import ssl
import subprocess
import tempfile
import time

import tls_cert
from halab import (
    BACKUP,
    HOSTS,
    INVENTORY_DIR,
    MEASURES,
    PEERS_SECTION,
    PLATFORMS,
    PREEMPT,
    PRIMARY,
    SOCKET,
    SWITCH_LIMIT,
    VIP,
    RequestLoop,
    VipWatch,
    cli,
    get,
    has_vip,
    info,
    playbook,
    report_lines,
    say,
    say_failures,
    server_status,
    table,
    wait_for,
)

# --- tests -----------------------------------------------------------------------


def test_vip_on_primary_and_served():
    assert wait_for(lambda: has_vip(PRIMARY), 15), "the VIP never reached the primary"
    assert not has_vip(BACKUP)
    answers = [get(80) for _attempt in range(10)]
    assert answers == [(True, "web1")] * 10, answers  # cloudserver = web1
    rr = {get(8080)[1] for _attempt in range(6)}
    assert rr == {"web1", "web2"}, rr


def test_config_has_peers():
    for short in (PRIMARY, BACKUP):
        cfg = HOSTS[short].file("/etc/haproxy/haproxy.cfg").content_string
        # Peer names are the inventory names (haproxy_peer_name defaults to inventory_hostname).
        assert re.search(rf"^\s+localpeer {short}$", cfg, re.M)
        assert f"peers {PEERS_SECTION}" in cfg
        for peer in (PRIMARY, BACKUP):
            assert f"peer {peer} {PLATFORMS[peer]['ip']}:10000" in cfg
        assert f"stick-table type ip size 2 nopurge peers {PEERS_SECTION}" in cfg
        assert f"stick-table type ip size 1k expire 30m peers {PEERS_SECTION} store http_req_cnt" in cfg


def test_peers_replicate_stick_tables():
    """Traffic reaches the primary only; its entries appear on the backup."""
    for _attempt in range(3):
        assert get(8080)[0]
    entries = table(PRIMARY, "web")
    assert len(entries) == 1, entries  # this host's address on the bridge
    key = next(iter(entries))
    took = wait_for(lambda: table(BACKUP, "web").get(key, {}).get("http_req_cnt") == entries[key]["http_req_cnt"], 10)
    assert took is not None, (entries, table(BACKUP, "web"))
    https = wait_for(lambda: VIP in table(BACKUP, "https"), 10)
    assert https is not None, table(BACKUP, "https")
    assert table(BACKUP, "https")[VIP]["server_id"] == "1"  # cloudserver
    MEASURES["peers_replication_s"] = round(took, 2)
    say(f"peers: {key} (http_req_cnt {entries[key]['http_req_cnt']}) on {BACKUP} after {took:.2f} s, fail-over entry {VIP} -> server_id 1 on {BACKUP}")


def test_stick_tables_survive_reload():
    before = {s: (table(s, "web"), table(s, "https"), info(s)["Pid"]) for s in (PRIMARY, BACKUP)}
    for short in (PRIMARY, BACKUP):
        HOSTS[short].run_test("systemctl reload haproxy")
    for short in (PRIMARY, BACKUP):
        # The admin socket answers from the new worker once the old one has handed over.
        assert wait_for(lambda s=short: info(s)["Pid"] != before[s][2], 10) is not None
        web, https = table(short, "web"), table(short, "https")
        assert set(web) == set(before[short][0]) and set(https) == set(before[short][1]), (short, web, https)
    say("reload: the stick-table entries are still there on both members")


def test_failover_when_haproxy_stops():
    loop = RequestLoop(80, interval=0.05, max_seconds=30, max_requests=600)
    loop.start()
    time.sleep(1.0)
    watch = VipWatch(BACKUP)
    time.sleep(0.5)
    t0 = time.monotonic()
    try:
        HOSTS[PRIMARY].run_test("systemctl stop haproxy")  # returns once the unit has stopped (ExecStop: FAULT first)
        moved = wait_for(lambda: has_vip(BACKUP), 10, step=0.05)
        t_switch = time.monotonic()
    finally:
        watch.close()
    # From the start of the command to the kernel's event on the backup (else to the poll that saw it).
    took = None if moved is None else ((watch.added_at if watch.added_at is not None and watch.added_at >= t0 else t_switch) - t0)
    time.sleep(3.0)  # keep the loop running on the backup for a while
    records = loop.finish()
    failures = loop.failures
    assert took is not None, "the VIP did not move to the backup"
    MEASURES["failover_s"] = round(took, 2)
    MEASURES["failover_requests"] = len(records)
    MEASURES["failover_failed"] = len(failures)
    say(f"fail-over: VIP on {BACKUP} {took:.2f} s after haproxy stopped on {PRIMARY}; {len(records)} requests, {len(failures)} failed")
    say_failures(failures, t0)
    assert took <= SWITCH_LIMIT
    assert not has_vip(PRIMARY)
    window = (max(t for t, _ok, _d in failures) - min(t for t, _ok, _d in failures)) if failures else 0.0
    MEASURES["failover_failed_window_s"] = round(window, 2)
    assert window <= 1.0, failures
    # Failures only inside the switchover window (from the stop until the VIP has
    # moved, plus 1 s for the bridge's ARP cache to take the gratuitous ARP).
    assert all(t0 - 0.1 <= t <= t_switch + 1.0 for t, _ok, _detail in failures), failures
    after = [r for r in records if r[0] > t_switch + 1.0]
    assert len(after) >= 20 and all(ok for _t, ok, _detail in after), after
    # The backup follows the replicated fail-over entry: still the primary server.
    assert {d for _t, ok, d in records if ok} == {"web1"}


def test_vip_placement_when_haproxy_returns():
    t0 = time.monotonic()
    HOSTS[PRIMARY].run_test("systemctl start haproxy")
    if PREEMPT:
        took = wait_for(lambda: has_vip(PRIMARY) and not has_vip(BACKUP), 20, step=0.1)
        assert took is not None, "the VIP did not come back to the primary (preempt)"
        MEASURES["preempt_back_s"] = round(took, 2)
        say(f"preempt: VIP back on {PRIMARY} {took:.2f} s after haproxy started")
    else:
        time.sleep(5)
        assert has_vip(BACKUP) and not has_vip(PRIMARY), "nopreempt: the VIP must stay on the backup"
    holder = PRIMARY if PREEMPT else BACKUP
    assert wait_for(lambda: get(80) == (True, "web1"), 10) is not None
    # The restarted HAProxy learnt the tables back from its peer.
    assert VIP in table(PRIMARY, "https"), table(PRIMARY, "https")
    say(f"VIP on {holder}; {PRIMARY} relearnt {len(table(PRIMARY, 'web'))} web entries from its peer ({time.monotonic() - t0:.1f} s)")


def test_failback_playbook():
    """The article's story on the pair: web1 fails, traffic sticks to web2 after web1
    is back; failback.yml clears the table on both members; traffic returns to web1."""
    web1 = HOSTS["web1"]
    web1.run_test("systemctl stop lab-web")
    down = wait_for(lambda: server_status(PRIMARY, "https", "cloudserver") == "DOWN", 15, step=0.2)
    assert down is not None
    assert get(80) == (True, "web2")
    web1.run_test("systemctl start lab-web")
    up = wait_for(lambda: server_status(PRIMARY, "https", "cloudserver") == "UP", 15, step=0.2)
    assert up is not None
    assert [get(80) for _attempt in range(3)] == [(True, "web2")] * 3  # stuck on the backup server
    for short in (PRIMARY, BACKUP):
        assert wait_for(lambda s=short: table(s, "https").get(VIP, {}).get("server_id") == "2", 10) is not None

    rc, out, recap = playbook("failback", "--check")
    assert rc == 0, out
    say("failback --check:\n  " + "\n  ".join(report_lines(out, "would remove")))
    assert all(VIP in table(s, "https") for s in (PRIMARY, BACKUP)), "check mode changed a table"

    rc, out, recap = playbook("failback")
    assert rc == 0, out
    lines = report_lines(out, "removed")
    say("failback:\n  " + "\n  ".join(lines))
    assert {h: recap[h]["changed"] for h in recap} == {s: 1 for s in (PRIMARY, BACKUP)}, recap
    for short in (PRIMARY, BACKUP):
        assert any(line.startswith(short) and "removed 1 of 1" in line for line in lines), lines
        assert table(short, "https") == {}

    rc, out, recap = playbook("failback")
    assert rc == 0, out
    say("failback again:\n  " + "\n  ".join(report_lines(out, SOCKET + ":")))
    assert all(r["changed"] == 0 for r in recap.values()) and len(recap) == 2, recap
    assert len(report_lines(out, "is empty, nothing to clear")) == 2, out
    assert get(80) == (True, "web1")
    MEASURES["failback"] = "cleared 1 entry on each member, second run changed=0"


def _servers_state(short):
    return {s: server_status(short, "web", s) for s in ("web1", "web2")}


def test_server_maintenance_playbook():
    servers = '{"maintenance_servers": ["web/web1", "web/web2"], "maintenance_pause": 1, "maintenance_drain_timeout": 30, "maintenance_up_timeout": 30}'

    rc, out, recap = playbook("server_maintenance", "--check", "-e", servers)
    assert rc == 0, out
    say("server_maintenance --check:\n  " + "\n  ".join(report_lines(out, "set server")[:8]))
    assert "Would take out web/web1, web/web2" in out
    assert report_lines(out, "drain: set server web/web1 state drain")
    for short in (PRIMARY, BACKUP):
        assert _servers_state(short) == {"web1": "UP", "web2": "UP"}

    loop = RequestLoop(8080, interval=0.05, max_seconds=120, max_requests=3000)
    loop.start()
    time.sleep(1.0)
    rc, out, recap = playbook("server_maintenance", "-e", servers, timeout=150)
    time.sleep(1.0)
    records = loop.finish()
    assert rc == 0, out
    failures = loop.failures
    answered = {d for _t, ok, d in records if ok}
    MEASURES["maintenance_requests"] = len(records)
    MEASURES["maintenance_failed"] = len(failures)
    say(f"server_maintenance under load: {len(records)} requests, {len(failures)} failed, answered by {sorted(answered)}")
    say("report:\n  " + "\n  ".join(report_lines(out, "state ")[:12]))
    say_failures(failures, records[0][0] if records else 0.0)
    assert failures == []
    assert answered == {"web1", "web2"}
    for short in (PRIMARY, BACKUP):
        assert recap[short]["changed"] > 0, recap
        assert _servers_state(short) == {"web1": "UP", "web2": "UP"}


# --- TLS: the certificate rotated on both members without a reload -----------------

TLS_PORT = 443
CERT_PATH = "/etc/haproxy/certs/lab.pem"  # haproxy_certs_dir (the role's default) / lab.pem
SCENARIO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tls_get(address, timeout=2.0):
    """One TLS handshake (a new connection, no session resumption) and one GET:
    (ok, SHA-256 fingerprint of the served certificate or the error)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed test certificates: compared by fingerprint
    try:
        with socket.create_connection((address, TLS_PORT), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=tls_cert.COMMON_NAME) as tls:
                fingerprint = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
                tls.sendall(f"GET / HTTP/1.1\r\nHost: {tls_cert.COMMON_NAME}\r\nConnection: close\r\n\r\n".encode())
                head = tls.recv(64).decode("latin-1")
        if not re.match(r"HTTP/1\.[01] 200 ", head):  # the lab's web servers answer HTTP/1.0
            return False, f"answer {head.splitlines()[0] if head else '(none)'!r}"
        return True, fingerprint
    except (OSError, ssl.SSLError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


class TLSLoop(RequestLoop):
    """TLS requests to the VIP until stopped, bounded in count and time."""

    def run(self):
        end = time.monotonic() + self.max_seconds
        while not self._halt.is_set() and len(self.records) < self.max_requests and time.monotonic() < end:
            t = time.monotonic()
            ok, detail = tls_get(VIP)
            self.records.append((t, ok, detail))
            self._halt.wait(self.interval)


def run_rotation(pem_file, timeout=120):
    """ansible-playbook rotate_cert.yml against the molecule inventory: (rc, output, recap)."""
    env = dict(os.environ)
    cfg = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ansible.cfg")
    if os.path.exists(cfg):
        env["ANSIBLE_CONFIG"] = cfg
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_STDOUT_CALLBACK"] = "default"
    cmd = ["ansible-playbook", "-i", INVENTORY_DIR, os.path.join(SCENARIO_DIR, "rotate_cert.yml"), "-e", f"rotate_pem_file={pem_file}"]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    took = time.monotonic() - start
    recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))} for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M)}
    say(f"ansible-playbook rotate_cert.yml: rc {proc.returncode}, {took:.1f} s")
    return proc.returncode, proc.stdout + proc.stderr, recap


def test_tls_certificate_rotation_without_reload():
    """Both members serve the certificate the role seeded; it is replaced on both at
    runtime under a loop of TLS handshakes through the VIP: none fails, the new
    certificate is served by each member afterwards, and no worker was replaced."""
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "lab-tls.pem"), encoding="ascii") as fh:
        old_fp = tls_cert.fingerprint_of_pem(fh.read())
    for short in (PRIMARY, BACKUP):
        f = HOSTS[short].file(CERT_PATH)
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600), short
        d = HOSTS[short].file(os.path.dirname(CERT_PATH))
        assert (d.user, d.group, d.mode) == ("root", "root", 0o700), short
        assert tls_get(PLATFORMS[short]["ip"]) == (True, old_fp), short
    pids = {s: info(s)["Pid"] for s in (PRIMARY, BACKUP)}

    new_pem, new_serial = tls_cert.make_pem()
    new_fp = tls_cert.fingerprint_of_pem(new_pem)
    with tempfile.TemporaryDirectory() as tmp:
        pem_file = os.path.join(tmp, "new.pem")
        tls_cert.write_pem(pem_file, new_pem)
        loop = TLSLoop(TLS_PORT, interval=0.02, max_seconds=60, max_requests=3000)
        loop.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        rc, out, recap = run_rotation(pem_file)
        t_done = time.monotonic()
        time.sleep(1.0)
        records = loop.finish()
    assert rc == 0, out
    assert {h: recap[h]["changed"] for h in recap} == {PRIMARY: 1, BACKUP: 1}, recap
    key_line = new_pem.split("-----BEGIN RSA PRIVATE KEY-----")[1].split()[0]
    assert key_line not in out, "the private key reached the playbook's output"
    failures = loop.failures
    served = [d for _t, ok, d in records if ok]
    MEASURES["tls_rotation_handshakes"] = len(records)
    MEASURES["tls_rotation_failed"] = len(failures)
    say(
        f"TLS rotation under load: {len(records)} handshakes through the VIP ({sum(t0 <= r[0] <= t_done for r in records)} while the playbook ran),"
        f" {len(failures)} failed; "
        f"{served.count(old_fp)} saw the old certificate, {served.count(new_fp)} the new one (serial {new_serial})"
    )
    say_failures(failures, t0)
    assert failures == []
    assert set(served) <= {old_fp, new_fp}, set(served)
    # Old until the rotation, new from its end on (never back to the old one).
    first_new = next(i for i, d in enumerate(served) if d == new_fp)
    assert all(d == new_fp for d in served[first_new:])
    assert [d for t, ok, d in records if ok and t > t_done] and all(d == new_fp for t, ok, d in records if ok and t > t_done)
    during = [r for r in records if t0 <= r[0] <= t_done]
    MEASURES["tls_rotation_handshakes_during"] = len(during)
    assert len(during) >= 10, f"only {len(during)} handshakes while the playbook ran"
    for short in (PRIMARY, BACKUP):
        assert tls_get(PLATFORMS[short]["ip"]) == (True, new_fp), short
        assert info(short)["Pid"] == pids[short], f"{short} reloaded"
        persisted = tls_cert.fingerprint_of_pem(HOSTS[short].file(CERT_PATH).content_string)  # never shown: it holds the key
        assert persisted == new_fp, f"{short}: not persisted"
        assert HOSTS[short].file(CERT_PATH).mode == 0o600
        assert new_serial in cli(short, f"show ssl cert {CERT_PATH}").replace(":", "").upper()
    # Again: the module compares serial and fingerprint, nothing to do.
    with tempfile.TemporaryDirectory() as tmp:
        pem_file = os.path.join(tmp, "new.pem")
        tls_cert.write_pem(pem_file, new_pem)
        rc, out, recap = run_rotation(pem_file)
    assert rc == 0, out
    assert {h: recap[h]["changed"] for h in recap} == {PRIMARY: 0, BACKUP: 0}, recap
    MEASURES["tls_rotation"] = "both members, no reload; second run changed=0"
