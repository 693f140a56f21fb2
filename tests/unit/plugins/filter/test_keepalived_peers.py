# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""keepalived_peers: unicast peers, missing members and disagreements between members."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lbops.haproxy.plugins.filter.keepalived_peers import FilterModule, keepalived_peers

MEMBERS = ["lb1", "lb2", "lb3"]


def derived(src, name="VI_1", vrid=51, vips=("10.0.0.100/24",), peers=None):
    return {"name": name, "virtual_router_id": vrid, "virtual_ipaddresses": list(vips), "src": src, "unicast_peers": peers}


def hostvars(**resolved):
    return {host: ({"_keepalived_resolved": value} if value is not None else {"other": 1}) for host, value in resolved.items()}


def test_registered_under_its_name():
    assert FilterModule().filters()["keepalived_peers"] is keepalived_peers


def test_peers_are_the_other_members_sources_in_member_order():
    hv = hostvars(lb1=[derived("10.0.0.11")], lb2=[derived("10.0.0.12")], lb3=[derived("10.0.0.13")])
    assert keepalived_peers([derived("10.0.0.12")], hv, MEMBERS, "lb2") == [
        {"name": "VI_1", "peers": ["10.0.0.11", "10.0.0.13"], "missing": [], "mismatch": []}
    ]


def test_given_peers_win_and_members_without_source_are_left_out():
    hv = hostvars(lb1=[derived("10.0.0.11")], lb2=[derived("")], lb3=[derived("10.0.0.13")])
    assert keepalived_peers([derived("10.0.0.11")], hv, MEMBERS, "lb1")[0]["peers"] == ["10.0.0.13"]
    given = keepalived_peers([derived("10.0.0.11", peers=["192.0.2.1"])], hv, MEMBERS, "lb1")[0]
    assert given["peers"] == ["192.0.2.1"]


def test_missing_members_and_mismatches_are_named():
    hv = hostvars(
        lb1=[derived("10.0.0.11"), derived("10.0.0.11", name="VI_2", vrid=52, vips=("10.0.0.101/24",))],
        lb2=[derived("10.0.0.12", vrid=99), derived("10.0.0.12", name="VI_2", vrid=52, vips=("10.0.0.102/24",))],
        lb3=None,
    )
    mine = hv["lb1"]["_keepalived_resolved"]
    out = keepalived_peers(mine, hv, MEMBERS, "lb1")
    assert out == [
        {"name": "VI_1", "peers": [], "missing": ["lb3"], "mismatch": ["lb2"]},
        {"name": "VI_2", "peers": [], "missing": ["lb3"], "mismatch": ["lb2"]},
    ]
    # An instance the other member lacks is a mismatch too; a host not in hostvars at all is missing.
    out = keepalived_peers([derived("10.0.0.11", name="VI_3")], hostvars(lb2=[derived("10.0.0.12")]), MEMBERS, "lb1")
    assert out == [{"name": "VI_3", "peers": [], "missing": ["lb3"], "mismatch": ["lb2"]}]


@pytest.mark.parametrize(
    "resolved, others, members, message",
    [
        ("VI_1", {}, MEMBERS, "the input must be a list of derived instances"),
        ([derived("10.0.0.11")], [], MEMBERS, "others must be a mapping"),
        ([derived("10.0.0.11")], {}, "lb1", "members must be a list"),
        ([derived("10.0.0.11")], {"lb2": {"_keepalived_resolved": "oops"}}, MEMBERS, "_keepalived_resolved of lb2 must be a list"),
    ],
)
def test_bad_input_is_one_clear_line(resolved, others, members, message):
    with pytest.raises(AnsibleFilterError) as err:
        keepalived_peers(resolved, others, members, "lb1")
    assert message in str(err.value)
    assert str(err.value).startswith("keepalived_peers: ") and "\n" not in str(err.value)
