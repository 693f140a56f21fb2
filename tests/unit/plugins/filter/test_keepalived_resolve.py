# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""keepalived_resolve: interface, own address, state and priority of each instance on one member."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lbops.haproxy.plugins.filter.keepalived_resolve import FilterModule, keepalived_resolve

DEFAULTS = {
    "state": "",
    "priority": 0,
    "priority_base": 150,
    "priority_step": 10,
    "nopreempt": False,
    "preempt_delay": 0,
    "advert_int": 1,
    "unicast": False,
}
MEMBERS = ["lb1", "lb2", "lb3"]


def iface(device, address=None, prefix=None, secondaries=(), kind="ether"):
    f = {"device": device, "type": kind}
    if address:
        f["ipv4"] = {"address": address, "prefix": str(prefix)}
    if secondaries:
        f["ipv4_secondaries"] = [{"address": a, "prefix": str(p)} for a, p in secondaries]
    return f


def facts(*ifaces):
    out = {"interfaces": [f["device"] for f in ifaces]}
    for f in ifaces:
        out[f["device"].replace("-", "_").replace(".", "_")] = f
    return out


HOST = facts(
    iface("lo", "127.0.0.1", 8, kind="loopback"),
    iface("eth0", "10.216.0.11", 24, secondaries=[("10.216.0.100", 24)]),  # the VIP is held here now
    iface("eth1", "192.168.7.5", 22),
)


def inst(**kw):
    base = {"name": "VI_1", "virtual_router_id": 51, "virtual_ipaddresses": ["10.216.0.100/24"]}
    base.update(kw)
    return base


def resolve(instances, host="lb1", ansible_facts=None, members=None, defaults=None):
    return keepalived_resolve(instances, HOST if ansible_facts is None else ansible_facts, MEMBERS if members is None else members, host,
                              DEFAULTS if defaults is None else defaults)


def test_registered_under_its_name():
    assert FilterModule().filters()["keepalived_resolve"] is keepalived_resolve


def test_interface_and_source_from_the_vip_network_ignoring_the_vip_itself():
    [r] = resolve([inst()])
    assert r["interface"] == "eth0"
    assert r["interface_candidates"] == ["eth0"]
    assert r["interface_given"] is False
    # 10.216.0.100 is on eth0 too (this member holds the VIP): never the source address.
    assert r["src"] == "10.216.0.11"
    assert r["vip"] == "10.216.0.100"


def test_network_boundaries_follow_the_prefix():
    # 192.168.7.5/22 holds 192.168.4.0-192.168.7.255.
    assert resolve([inst(virtual_ipaddresses=["192.168.4.1"])])[0]["interface"] == "eth1"
    assert resolve([inst(virtual_ipaddresses=["192.168.7.254/22 dev eth1"])])[0]["interface"] == "eth1"
    outside = resolve([inst(virtual_ipaddresses=["192.168.8.1/24"])])[0]
    assert (outside["interface"], outside["interface_candidates"], outside["src"]) == ("", [], "")


def test_two_interfaces_in_the_vip_network_are_ambiguous():
    both = facts(iface("eth0", "10.0.0.2", 24), iface("eth1", "10.0.0.3", 24))
    [r] = resolve([inst(virtual_ipaddresses=["10.0.0.100/24"])], ansible_facts=both)
    assert r["interface"] == ""
    assert r["interface_candidates"] == ["eth0", "eth1"]


def test_given_interface_wins_and_takes_its_first_address_outside_the_vip_network():
    [r] = resolve([inst(interface="eth1")])
    assert r["interface"] == "eth1" and r["interface_given"] is True
    assert r["src"] == "192.168.7.5"


def test_secondary_address_in_the_network_is_preferred_as_source():
    f = facts(iface("eth0", "172.16.0.5", 24, secondaries=[("10.9.0.7", 24)]))
    [r] = resolve([inst(virtual_ipaddresses=["10.9.0.100/24"])], ansible_facts=f)
    assert (r["interface"], r["src"]) == ("eth0", "10.9.0.7")


def test_interface_names_with_dashes_and_dots_are_read():
    f = facts(iface("br-lan.10", "10.1.0.2", 24))
    assert resolve([inst(virtual_ipaddresses=["10.1.0.9/24"])], ansible_facts=f)[0]["interface"] == "br-lan.10"


def test_state_and_priority_follow_the_member_position():
    got = [(r["state"], r["priority"]) for r in (resolve([inst()], host=h)[0] for h in MEMBERS)]
    assert got == [("MASTER", 150), ("BACKUP", 140), ("BACKUP", 130)]
    # A host outside the members counts as the first one.
    assert resolve([inst()], host="other")[0]["priority"] == 150


def test_nopreempt_makes_every_member_backup():
    [r] = resolve([inst(nopreempt=True)])
    assert (r["state"], r["priority"], r["nopreempt"]) == ("BACKUP", 150, True)
    [r] = resolve([inst()], defaults=dict(DEFAULTS, nopreempt=True))
    assert r["state"] == "BACKUP"
    # The instance's own false wins over the host-level default.
    assert resolve([inst(nopreempt=False)], defaults=dict(DEFAULTS, nopreempt=True))[0]["state"] == "MASTER"


def test_explicit_values_win_over_host_defaults():
    [r] = resolve(
        [inst(state="backup", priority=200, preempt_delay=30, advert_int=3, unicast=True, unicast_peers=["10.0.0.9"],
              track_haproxy=False, extra=["garp_master_delay 1"])],
        defaults=dict(DEFAULTS, state="MASTER", priority=100),
    )
    assert r["state"] == "BACKUP" and r["state_given"] is True
    assert (r["priority"], r["preempt_delay"], r["advert_int"]) == (200, 30, 3)
    assert (r["unicast"], r["unicast_peers"], r["track_haproxy"], r["extra"]) == (True, ["10.0.0.9"], False, ["garp_master_delay 1"])
    [r] = resolve([inst()], host="lb2", defaults=dict(DEFAULTS, state="MASTER", priority=100))
    assert (r["state"], r["state_given"], r["priority"]) == ("MASTER", True, 100)


def test_defaults_of_unset_settings():
    [r] = resolve([inst()])
    assert (r["unicast"], r["unicast_peers"], r["track_haproxy"], r["extra"], r["preempt_delay"]) == (False, None, True, [], 0)
    assert r["state_given"] is False
    # Priority 0 derives it, like an unset one.
    assert resolve([inst(priority=0)], host="lb3")[0]["priority"] == 130


def test_out_of_range_priority_is_returned_for_the_role_to_report():
    # The role's assert names the instance; the filter computes honestly.
    members = ["m%d" % i for i in range(20)]
    assert resolve([inst()], host="m19", members=members)[0]["priority"] == -40


def test_other_instances_vips_never_count_as_own_addresses():
    f = facts(iface("eth0", "10.5.0.101", 24, secondaries=[("10.5.0.20", 24)]))
    second = inst(name="VI_2", virtual_router_id=52, virtual_ipaddresses=["10.5.0.101/24"])
    r = resolve([inst(virtual_ipaddresses=["10.5.0.100/24"]), second], ansible_facts=f)
    assert [x["src"] for x in r] == ["10.5.0.20", "10.5.0.20"]


@pytest.mark.parametrize(
    "instances, defaults, message",
    [
        ([inst(virtual_ipaddresses=["10.0.0.300/24"])], DEFAULTS, "instance VI_1: virtual address '10.0.0.300/24' is not an IPv4 address"),
        ([inst(virtual_ipaddresses=["fe80::1/64"])], DEFAULTS, "is not an IPv4 address"),
        ([inst(virtual_ipaddresses=[])], DEFAULTS, "instance VI_1: virtual_ipaddresses must be a non-empty list"),
        ([{"name": "VI_X", "virtual_router_id": 1}], DEFAULTS, "an instance lacks virtual_ipaddresses: VI_X"),
        ([inst(priority="high")], DEFAULTS, "VI_1: priority must be an integer, not 'high'"),
        ([inst(nopreempt="perhaps")], DEFAULTS, "VI_1: nopreempt must be a boolean, not 'perhaps'"),
        ([inst()], {"state": ""}, "defaults lack priority, priority_base"),
        ("VI_1", DEFAULTS, "the input must be a list of instances"),
    ],
)
def test_bad_input_is_one_clear_line(instances, defaults, message):
    with pytest.raises(AnsibleFilterError) as err:
        resolve(instances, defaults=defaults)
    text = str(err.value)
    assert message in text
    assert text.startswith("keepalived_resolve: ")
    assert "\n" not in text


def test_bad_facts_are_reported():
    with pytest.raises(AnsibleFilterError, match="invalid IPv4 address"):
        resolve([inst()], ansible_facts=facts(iface("eth0", "10.0.0.1", 33)))
    with pytest.raises(AnsibleFilterError, match="facts must be a dict"):
        resolve([inst()], ansible_facts="eth0")
