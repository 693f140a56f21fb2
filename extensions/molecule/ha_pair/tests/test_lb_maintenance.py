"""playbooks/lb_maintenance.yml on the pair, and the hand-over of a stopping HAProxy.

Runs after test_ha_pair.py (name order) and leaves the pair as it found it: the VIP
on the primary, both members healthy, no maintenance mark. Requests go from this host
to the VIP in bounded loops (interval 0.05 s); the figures land in MEASURES.
"""

import os
import tempfile
import time

from halab import (
    BACKUP,
    HOSTS,
    MEASURES,
    PREEMPT,
    PRIMARY,
    RequestLoop,
    get,
    has_vip,
    playbook,
    report_lines,
    say,
    say_failures,
    wait_for,
)

MARK = "/var/lib/keepalived/lbops-maintenance.track"  # keepalived_maintenance_track_file (default)
HAPROXY_TRACK = "/run/lbops-keepalived-haproxy.track"  # keepalived_haproxy_track_file (default)
DROPIN = "/etc/systemd/system/haproxy.service.d/lbops-keepalived.conf"
CFG = "/etc/haproxy/haproxy.cfg"
SAVED_CFG = "/root/haproxy.cfg.lbops-test"
MEMBERS = (PRIMARY, BACKUP)
FAST = '{"lb_maintenance_timeout": 20}'


def track_value(short, path):
    return HOSTS[short].check_output(f"cat {path}").strip()


def marks():
    return {s: (track_value(s, MARK), track_value(s, HAPROXY_TRACK)) for s in MEMBERS}


def healthy(short):
    return HOSTS[short].run("systemctl is-active --quiet haproxy.service keepalived.service").rc == 0


def longest_stall(records, interval):
    """Longest time between the starts of two consecutive requests, less the loop's pause:
    how long one request waited (a SYN retransmitted, a slow answer)."""
    gaps = [b[0] - a[0] - interval for a, b in zip(records, records[1:])]
    return max(gaps) if gaps else 0.0


def test_pair_as_expected_before():
    assert wait_for(lambda: has_vip(PRIMARY) and not has_vip(BACKUP), 20) is not None
    for short in MEMBERS:
        assert healthy(short), short
        assert marks()[short] == ("0", "0"), marks()
        dropin = HOSTS[short].file(DROPIN).content_string
        # Only additions to the unit's lists: an empty assignment would reset other drop-ins' entries.
        for key in ("ExecStop", "ExecStopPost", "ExecStartPost"):
            lines = [line for line in dropin.splitlines() if line.startswith(key + "=")]
            assert len(lines) == 1 and lines[0] != key + "=", (short, key, lines)
        assert "After=keepalived.service" in dropin
        conf = HOSTS[short].file("/etc/keepalived/keepalived.conf").content_string
        assert "track_file lbops_haproxy {" in conf and "track_file lbops_maintenance {" in conf


def test_check_mode_prints_the_plan_and_changes_nothing():
    before = marks()
    rc, out, recap = playbook("lb_maintenance", "--check", "-e", FAST)
    assert rc == 0, out
    plan = report_lines(out, "Would maintain")
    say("lb_maintenance --check:\n  " + "\n  ".join(report_lines(out, "Would maintain") + report_lines(out, "2. mark") + report_lines(out, "6. clear")))
    # The member without the VIP first, the holder last; each one's plan printed.
    first, last = out.find(f"Would maintain {BACKUP} "), out.find(f"Would maintain {PRIMARY} ")
    assert 0 <= first < last, plan
    assert len(report_lines(out, "1. check the peers")) == 2, out
    assert len(report_lines(out, "4. maintenance:")) == 2, out
    assert all(r.get("changed", 0) == 0 for r in recap.values()), recap
    assert marks() == before
    assert has_vip(PRIMARY) and not has_vip(BACKUP)


def test_rolling_maintenance_loses_no_request():
    loop = RequestLoop(80, interval=0.05, max_seconds=150, max_requests=3000)
    loop.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    rc, out, recap = playbook("lb_maintenance", "-e", FAST, timeout=170)
    took = time.monotonic() - t0
    time.sleep(1.0)
    records = loop.finish()
    failures = loop.failures
    assert rc == 0, out
    answered = {d for _t, ok, d in records if ok}
    stall = longest_stall(records, 0.05)
    MEASURES["lb_maintenance_s"] = round(took, 1)
    MEASURES["lb_maintenance_requests"] = len(records)
    MEASURES["lb_maintenance_failed"] = len(failures)
    MEASURES["lb_maintenance_longest_stall_s"] = round(stall, 2)
    say(
        f"lb_maintenance (both members) under load: {took:.1f} s, {len(records)} requests through the VIP,"
        f" {len(failures)} failed, longest wait for one request {stall:.2f} s"
    )
    say("  " + "\n  ".join(report_lines(out, "maintained and back")))
    say_failures(failures, t0)
    assert failures == []
    assert answered == {"web1"}, answered
    # Both members ran their maintenance: marked, then cleared.
    for short in MEMBERS:
        assert recap[short]["changed"] >= 2, recap
        assert f"{short} maintained and back" in out, out
    assert marks() == {s: ("0", "0") for s in MEMBERS}
    holder = PRIMARY if PREEMPT else BACKUP
    assert wait_for(lambda: has_vip(holder), 20) is not None
    assert not has_vip(BACKUP if holder == PRIMARY else PRIMARY)


HOOK = """---
# Test-only hook (test_lb_maintenance.py): breaks HAProxy on {member}: a configuration that
# does not parse, then a restart that fails.
- name: Break HAProxy on {member}
  when: inventory_hostname == '{member}'
  block:
    - name: Keep the good configuration
      ansible.builtin.copy:
        src: {cfg}
        dest: {saved}
        remote_src: true
        mode: "0600"
    - name: Add a line HAProxy refuses
      ansible.builtin.lineinfile:
        path: {cfg}
        line: "this-is-not-a-keyword"
    - name: Restart HAProxy (fails)
      ansible.builtin.systemd_service:
        name: haproxy
        state: restarted
      failed_when: false
"""


def test_member_that_does_not_come_back_healthy_fails_the_play():
    victim = BACKUP  # the first member of the run (it does not hold the VIP)
    with tempfile.TemporaryDirectory() as tmp:
        hook = os.path.join(tmp, "break.yml")
        with open(hook, "w", encoding="utf-8") as fh:
            fh.write(HOOK.format(member=victim, cfg=CFG, saved=SAVED_CFG))
        loop = RequestLoop(80, interval=0.05, max_seconds=120, max_requests=2500)
        loop.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        rc, out, recap = playbook("lb_maintenance", "-e", FAST, "-e", f"lb_maintenance_hook={hook}", timeout=150)
        took = time.monotonic() - t0
        time.sleep(1.0)
        records = loop.finish()
    try:
        failures = loop.failures
        MEASURES["lb_maintenance_unhealthy_s"] = round(took, 1)
        MEASURES["lb_maintenance_unhealthy_failed"] = len(failures)
        say(f"lb_maintenance with a hook that breaks {victim}: rc {rc} after {took:.1f} s; {len(records)} requests, {len(failures)} failed")
        say_failures(failures, t0)
        assert rc != 0, out
        assert recap[victim]["failed"] == 1, recap
        assert PRIMARY not in recap or recap[PRIMARY].get("changed", 0) == 0, recap  # never reached
        assert "Check that HAProxy is active again" in out or "Check HAProxy's configuration" in out
        # The mark stays: the VIP stays on the healthy member, which answers.
        assert track_value(victim, MARK) == "-253"
        assert has_vip(PRIMARY) and not has_vip(victim)
        assert [get(80) for _attempt in range(5)] == [(True, "web1")] * 5
        assert failures == []
    finally:
        # Repair and leave the pair as found.
        node = HOSTS[victim]
        node.run_test(f"test -f {SAVED_CFG} && cp {SAVED_CFG} {CFG} && rm -f {SAVED_CFG}")
        node.run_test("systemctl reset-failed haproxy.service; systemctl start haproxy.service")
        node.run_test(f"echo 0 > {MARK}")
        assert wait_for(lambda: healthy(victim) and marks()[victim] == ("0", "0"), 20) is not None, marks()
        assert wait_for(lambda: has_vip(PRIMARY) and not has_vip(BACKUP), 20) is not None
    say(f"repaired {victim}: healthy, mark cleared, VIP on {PRIMARY}")


def _stop_on_primary(command, restore):
    """Run command on the primary under a request loop; time until the VIP is on the backup,
    failed requests, longest stall; then restore and wait for the VIP back."""
    loop = RequestLoop(80, interval=0.05, max_seconds=40, max_requests=800)
    loop.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    HOSTS[PRIMARY].run_test(command)
    took = wait_for(lambda: has_vip(BACKUP), 10, step=0.05)
    moved = time.monotonic() - t0 if took is not None else None
    time.sleep(2.0)
    records = loop.finish()
    failures = loop.failures
    window = failures[-1][0] - failures[0][0] if failures else 0.0
    t1 = time.monotonic()
    HOSTS[PRIMARY].run_test(restore)
    back = wait_for(lambda: has_vip(PRIMARY) and not has_vip(BACKUP), 20, step=0.1)
    back = time.monotonic() - t1 if back is not None else None
    return moved, records, failures, window, longest_stall(records, 0.05), back, t0


def test_crash_of_haproxy_on_the_master():
    """SIGKILL to every HAProxy process of the master: systemd restarts the unit at once
    (Debian's Restart=always), so the helper leaves the track file at 0 (no hand-over); the
    VIP moves only if a check of the tracker script falls into the restart gap."""
    loop = RequestLoop(80, interval=0.05, max_seconds=40, max_requests=800)
    loop.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    HOSTS[PRIMARY].run_test("systemctl kill -s KILL haproxy.service")
    moved = wait_for(lambda: has_vip(BACKUP), 3, step=0.05)
    restarted = wait_for(healthy_and_listening, 20, step=0.1)
    time.sleep(1.0)
    records = loop.finish()
    failures = loop.failures
    window = failures[-1][0] - failures[0][0] if failures else 0.0
    assert restarted is not None, "haproxy did not come back"
    assert wait_for(lambda: has_vip(PRIMARY) and not has_vip(BACKUP), 20) is not None
    assert wait_for(lambda: marks()[PRIMARY] == ("0", "0"), 5) is not None, marks()
    MEASURES["crash_vip_moved"] = moved is not None
    MEASURES["crash_failed"] = len(failures)
    MEASURES["crash_failed_window_s"] = round(window, 2)
    MEASURES["crash_restarted_s"] = round(time.monotonic() - t0 if restarted is None else restarted, 2)
    say(
        f"SIGKILL to haproxy on {PRIMARY}: systemd restarted it ({MEASURES['crash_restarted_s']} s until it answered again),"
        f" VIP {'moved to ' + BACKUP if moved is not None else 'stayed'}; {len(records)} requests, {len(failures)} failed (window {window:.2f} s)"
    )
    say_failures(failures, t0)


def healthy_and_listening():
    return healthy(PRIMARY) and HOSTS[PRIMARY].run("ss -Hltn 'sport = :80' | grep -q LISTEN").rc == 0
