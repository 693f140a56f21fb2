"""Scenario `ha_pair`: a split brain is visible, and the documented check fails while it lasts.

VRRP adverts between the members are cut inside both containers (nftables drops
IP protocol 112 on input), so each member stops hearing the other and claims the
VIP. haproxy_info's virtual_addresses (through playbooks/ha_check.yml) must show
both holders and fail; once the adverts flow again, one member keeps the VIP and
the check passes.
"""

import subprocess
import time

from halab import BACKUP, HOSTVARS, MEASURES, PREEMPT, PRIMARY, VIP, has_vip, playbook, report_lines, say, wait_for

LBS = (PRIMARY, BACKUP)
NFT_TABLE = "lbops_split_brain_test"


def nft(short, *script):
    """Run an nft command inside a member's container."""
    subprocess.run(["podman", "exec", HOSTVARS[short]["ansible_host"], "nft", *script], check=True, timeout=30, capture_output=True, text=True)


def cut_vrrp(short):
    nft(short, "add", "table", "inet", NFT_TABLE)
    nft(short, "add", "chain", "inet", NFT_TABLE, "input", "{ type filter hook input priority -10 ; policy accept ; }")
    nft(short, "add", "rule", "inet", NFT_TABLE, "input", "ip", "protocol", "vrrp", "counter", "drop")


def restore_vrrp(short):
    subprocess.run(
        ["podman", "exec", HOSTVARS[short]["ansible_host"], "nft", "delete", "table", "inet", NFT_TABLE], timeout=30, capture_output=True, check=False
    )


def test_ha_check_passes_on_a_healthy_pair():
    assert wait_for(lambda: has_vip(PRIMARY) and not has_vip(BACKUP), 20) is not None
    rc, out, recap = playbook("ha_check")
    assert rc == 0, out[-4000:]
    assert all(r["failed"] == 0 and r["changed"] == 0 for r in recap.values()), recap
    assert "Every virtual address is on exactly one member" in out
    say("ha_check on the healthy pair:\n  " + "\n  ".join(report_lines(out, "Every virtual address")))


def test_split_brain_is_detected_while_it_lasts():
    try:
        t0 = time.monotonic()
        for short in LBS:
            cut_vrrp(short)
        took = wait_for(lambda: has_vip(PRIMARY) and has_vip(BACKUP), 20, step=0.1)
        assert took is not None, "cutting the VRRP adverts did not make both members claim the VIP"
        MEASURES["split_brain_after_s"] = round(took, 2)
        say(f"split brain: adverts cut at t0, both members hold the VIP after {took:.2f} s")

        rc, out, _recap = playbook("ha_check")
        lines = report_lines(out, "SPLIT BRAIN")
        say("ha_check during the split brain: rc %d\n  %s" % (rc, "\n  ".join(lines)))
        assert rc != 0, out[-4000:]
        assert any(f"{VIP}: SPLIT BRAIN" in line and f"{PRIMARY} and {BACKUP}" in line for line in lines), out[-4000:]
        MEASURES["split_brain_detected"] = True
    finally:
        for short in LBS:
            restore_vrrp(short)
    t1 = time.monotonic()
    holder = PRIMARY if PREEMPT else None
    healed = wait_for(lambda: has_vip(PRIMARY) != has_vip(BACKUP) and (holder is None or has_vip(holder)), 20, step=0.1)
    assert healed is not None, "the pair did not settle on one VIP holder after the adverts came back"
    MEASURES["split_brain_healed_s"] = round(healed, 2)
    say(f"adverts back: one holder after {healed:.2f} s ({time.monotonic() - t0:.1f} s since the cut)")
    assert t1 > t0
    rc, out, _recap = playbook("ha_check")
    assert rc == 0, out[-4000:]
