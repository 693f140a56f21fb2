# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ha_vip_holders: one verdict per virtual address over the members' haproxy_info reports."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lbops.haproxy.plugins.filter.ha_vip_holders import FilterModule, ha_vip_holders

MEMBERS = ["lb1", "lb2"]
VIP = "10.0.0.100"


def report(*held, vips=(VIP, "10.0.0.101")):
    return [{"address": a, "held": a in held, "interface": "eth0" if a in held else None} for a in vips]


def test_registered_under_its_name():
    assert FilterModule().filters()["ha_vip_holders"] is ha_vip_holders


def test_one_holder_each():
    out = ha_vip_holders({"lb1": report(VIP), "lb2": report("10.0.0.101")}, MEMBERS)
    assert out == [
        {"address": VIP, "state": "ok", "holders": ["lb1"], "unknown": []},
        {"address": "10.0.0.101", "state": "ok", "holders": ["lb2"], "unknown": []},
    ]


def test_split_brain_when_both_hold_it():
    out = ha_vip_holders({"lb2": report(VIP), "lb1": report(VIP)}, MEMBERS)
    assert out[0] == {"address": VIP, "state": "split_brain", "holders": ["lb1", "lb2"], "unknown": []}
    assert out[1]["state"] == "none" and out[1]["holders"] == []


def test_a_member_without_a_report_is_unknown_not_absent():
    out = ha_vip_holders({"lb1": report(), "lb2": None}, MEMBERS)
    assert [item["state"] for item in out] == ["unknown", "unknown"]
    assert out[0]["unknown"] == ["lb2"]
    # One holder stays ok, even when the other member did not answer.
    assert ha_vip_holders({"lb1": report(VIP)}, MEMBERS)[0] == {"address": VIP, "state": "ok", "holders": ["lb1"], "unknown": ["lb2"]}


def test_no_report_at_all():
    assert ha_vip_holders({}, MEMBERS) == []


@pytest.mark.parametrize(
    "reports, members, message",
    [
        ([], MEMBERS, "the input must map each member"),
        ({"lb1": "yes"}, MEMBERS, "the report of lb1 must be a list"),
        ({"lb1": [{"address": VIP}]}, MEMBERS, "the report of lb1 must be a list"),
        ({}, "lb1", "members must be a list of host names"),
    ],
)
def test_refuses_what_it_cannot_read(reports, members, message):
    with pytest.raises(AnsibleFilterError, match="^ha_vip_holders: " + message):
        ha_vip_holders(reports, members)
