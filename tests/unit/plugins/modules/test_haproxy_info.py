# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_info: one read batch per target, joined and decoded, as results and facts."""

import time

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_info
from ansible_collections.lbops.haproxy.plugins.modules.haproxy_info import assemble, check_gather, gather_facts
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import (
    FakeClient,
    FakeHAProxy,
    run_module,
)

STATE_HEADER = ("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
                "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
                "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
                "srv_check_addr srv_agent_addr srv_agent_port")
REPLIES = {
    "show info": ["Name: HAProxy", "Version: 2.6.12-1+deb12u1", "Pid: 4242", "Uptime_sec: 93",
                  "Build info: 2.6.12-1+deb12u1 built with x"],
    "show servers state": [
        "1", STATE_HEADER,
        "3 be_app 1 s1 127.0.0.1 2 0 10 10 5 6 3 4 6 0 0 0 - 19101 - 0 0 - - 0",
        "3 be_app 2 s2 127.0.0.1 0 1 20 20 5 6 3 4 14 0 0 0 - 19102 - 0 0 - - 0",
        "5 be_track 1 t1 127.0.0.1 0 2 1 1 5 6 3 4 0 0 0 0 - 19101 - 0 0 - - 0",
        "6 be_cfgdisabled 1 d1 127.0.0.1 2 4 1 1 5 6 3 4 0 0 0 0 - 19101 - 0 0 - - 0",
    ],
    "show stat": [
        "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,"
        "chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,",
        "fe_main,FRONTEND,,,3,5,2000,40,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,5,",
        "fe_aux,FRONTEND,,,0,0,2000,0,0,0,0,0,0,,,,,PAUSED,,,,,,,,,1,3,0,,,,0,0,0,0,",
        "be_app,s1,0,0,2,3,,12,0,0,,0,,0,0,0,0,UP,10,1,0,0,0,5,0,,1,3,1,,12,,2,0,,1,L4OK,",
        "be_app,s2,0,0,0,0,,7,0,0,,0,,0,0,0,0,MAINT,20,1,0,0,0,5,0,,1,3,2,,7,,2,0,,1,L4OK,",
        "be_app,BACKEND,0,0,2,3,200,19,0,0,0,0,,0,0,0,0,UP,30,2,0,,0,5,0,,1,3,0,,19,,1,0,,1,,",
        "be_track,t1,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT (via be_app/s2),1,1,0,0,0,5,0,,1,5,1,,0,be_app/s2,2,0,,0,,",
        "be_track,BACKEND,0,0,0,0,200,0,0,0,0,0,,0,0,0,0,DOWN,0,0,0,,1,5,5,,1,5,0,,0,,1,0,,0,,",
    ],
    "show table": ["# table: fe_main, type: ip, size:1024, used:4", "# table: mypeers/sessions, type: string, size:100, used:0"],
}


def info_fake(level="admin", broken=None):
    """The one fake HAProxy, answering the read commands with fixed replies."""
    haproxy = FakeHAProxy(level)
    haproxy.replies.update(REPLIES)
    if broken:
        haproxy.replies[broken] = Feedback(6, "Unknown command, but maybe one of the following ones is a better match:")
    return haproxy


def info_client(sim, spec):
    return FakeClient(sim, spec)


def test_check_gather():
    assert check_gather(None) == ["info", "servers", "frontends", "tables"]
    assert check_gather(["tables", "all"]) == ["info", "servers", "frontends", "tables"]
    assert check_gather(["tables", "info"]) == ["info", "tables"]
    with pytest.raises(InvalidInput):
        check_gather(["bogus"])


def test_everything_in_one_connection():
    sim = info_fake()
    client = info_client(sim, "/lb1.sock")
    result = gather_facts(client, check_gather(["all"]))
    assert client.connections == 1
    assert sim.sessions == [["show cli level", "show info", "show servers state", "show stat", "show table"]]
    assert result["version"] == "2.6.12-1+deb12u1"
    assert result["pid"] == 4242 and result["uptime_seconds"] == 93
    assert abs(result["started_at"] - (time.time() - 93)) < 5
    assert result["info"]["Build info"] == "2.6.12-1+deb12u1 built with x"
    s1, s2 = result["servers"]["be_app"]["s1"], result["servers"]["be_app"]["s2"]
    assert (s1["state"], s1["status"], s1["current_sessions"], s1["total_sessions"], s1["weight"]) == ("ready", "UP", 2, 12, 10)
    assert (s2["state"], s2["status"], s2["operational_state"], s2["health"]) == ("maint", "MAINT", "down", "enabled")
    t1 = result["servers"]["be_track"]["t1"]
    assert t1["state"] == "maint" and t1["status_word"] == "MAINT"
    assert t1["admin_state_sources"] == ["maint inherited from a tracked server"]
    d1 = result["servers"]["be_cfgdisabled"]["d1"]
    assert d1["state"] == "ready" and d1["status"] is None  # CMAINT alone is not maint; no stat row
    assert result["backends"]["be_app"] == {"status": "UP", "current_sessions": 2, "total_sessions": 19,
                                            "active_servers": 2, "backup_servers": 0}
    assert result["frontends"] == {
        "fe_main": {"status": "OPEN", "current_sessions": 3, "total_sessions": 40, "session_limit": 2000},
        "fe_aux": {"status": "PAUSED", "current_sessions": 0, "total_sessions": 0, "session_limit": 2000},
    }
    assert result["tables"] == {"fe_main": {"type": "ip", "size": 1024, "used": 4},
                                "mypeers/sessions": {"type": "string", "size": 100, "used": 0}}


def test_subset_sends_only_what_is_needed():
    sim = info_fake(level="user")
    result = gather_facts(info_client(sim, "/lb1.sock"), check_gather(["tables"]))
    assert sim.sessions == [["show cli level", "show table"]]
    assert result["level"] == "user"
    assert set(result) == {"changed", "level", "gathered", "tables"}
    sim = info_fake()
    gather_facts(info_client(sim, "/lb1.sock"), check_gather(["frontends"]))
    assert sim.sessions == [["show cli level", "show stat"]]


FAKES = {}


@pytest.fixture
def instances():
    FAKES.clear()
    FAKES.update({"/lb1.sock": info_fake(), "/lb2.sock": info_fake(level="user"), "/bad.sock": info_fake(broken="show table")})
    return FAKES


def run_info(capsys, args, check_mode=False):
    return run_module(capsys, haproxy_info.main, args, check_mode, fakes=FAKES)


def test_module_results_and_facts(capsys, instances):
    out = run_info(capsys, {"socket": ["/lb1.sock", "/lb2.sock"]}, check_mode=True)
    assert out["changed"] is False
    assert [r["socket"] for r in out["results"]] == ["/lb1.sock", "/lb2.sock"]
    facts = out["ansible_facts"]["haproxy_runtime"]
    assert set(facts) == {"/lb1.sock", "/lb2.sock"}
    assert facts["/lb2.sock"]["level"] == "user"
    assert facts["/lb1.sock"]["servers"]["be_app"]["s2"]["state"] == "maint"
    assert "socket" not in facts["/lb1.sock"] and "failed" not in facts["/lb1.sock"]
    assert [len(fake.sessions) for fake in instances.values()] == [1, 1, 0]


def test_module_failure_is_one_line_and_keeps_the_others(capsys, instances):
    out = run_info(capsys, {"socket": ["/lb1.sock", "/bad.sock"], "gather": ["tables"]})
    assert out["failed"] is True
    assert out["msg"].startswith("/bad.sock: HAProxy does not know the command 'show table'")
    assert out["results"][0]["failed"] is False
    assert list(out["ansible_facts"]["haproxy_runtime"]) == ["/lb1.sock"]


def test_started_at_is_the_read_time_minus_the_uptime():
    result = assemble(["info"], {"level": "user", "info": {"Uptime_sec": "93", "Pid": "7"}}, now=1000.0)
    assert result["started_at"] == 907.0
    assert "started_at" not in assemble(["info"], {"level": "user", "info": {"Pid": "7"}}, now=1000.0)


# --- virtual addresses: held by this host or not (split brain when more than one member says yes) ---

IP_ADDR = """1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever
2: eth0@if7    inet 10.213.50.11/24 brd 10.213.50.255 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0@if7    inet 10.213.50.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever
2: eth0@if7    inet6 fd00::100/64 scope global \\       valid_lft forever preferred_lft forever
3: bond0.12    inet 192.0.2.7/32 scope global bond0.12\\       valid_lft forever preferred_lft forever
garbage line
4: broken    inet not-an-address
"""


def test_parse_ip_addr():
    held = haproxy_info.parse_ip_addr(IP_ADDR)
    assert held == {
        "127.0.0.1": "lo",
        "::1": "lo",
        "10.213.50.11": "eth0",
        "10.213.50.100": "eth0",
        "fd00::100": "eth0",
        "192.0.2.7": "bond0.12",
    }


def test_check_virtual_addresses():
    assert haproxy_info.check_virtual_addresses(["10.0.0.1/24", " 10.0.0.1 ", "FD00::0100", "10.0.0.2"]) == ["10.0.0.1", "fd00::100", "10.0.0.2"]
    assert haproxy_info.check_virtual_addresses([]) == []
    with pytest.raises(InvalidInput, match="^virtual_addresses: 'lb.example' is not an IPv4 or IPv6 address$"):
        haproxy_info.check_virtual_addresses(["10.0.0.1", "lb.example"])


def test_virtual_address_report():
    report = haproxy_info.virtual_address_report(["10.213.50.100", "10.213.50.101"], haproxy_info.parse_ip_addr(IP_ADDR))
    assert report == [
        {"address": "10.213.50.100", "held": True, "interface": "eth0"},
        {"address": "10.213.50.101", "held": False, "interface": None},
    ]


def test_module_reports_virtual_addresses(capsys, instances, monkeypatch):
    asked = []

    def fake_reader(module, wanted):
        asked.append(wanted)
        return haproxy_info.virtual_address_report(wanted, {"10.0.0.100": "eth0"})

    monkeypatch.setattr(haproxy_info, "read_virtual_addresses", fake_reader)
    out = run_info(capsys, {"socket": ["/lb1.sock", "/lb2.sock"], "gather": ["info"], "virtual_addresses": ["10.0.0.100/24", "10.0.0.101"]})
    assert not out.get("failed")
    assert asked == [["10.0.0.100", "10.0.0.101"]]  # once per task, not per socket
    assert out["virtual_addresses"] == [
        {"address": "10.0.0.100", "held": True, "interface": "eth0"},
        {"address": "10.0.0.101", "held": False, "interface": None},
    ]
    assert out["ansible_facts"]["haproxy_virtual_addresses"] == {"10.0.0.100": True, "10.0.0.101": False}


def test_module_refuses_a_bad_virtual_address_before_connecting(capsys, instances):
    out = run_info(capsys, {"socket": ["/lb1.sock"], "virtual_addresses": ["10.0.0.300"]})
    assert out["failed"] is True
    assert out["msg"] == "virtual_addresses: '10.0.0.300' is not an IPv4 or IPv6 address"
    assert [len(fake.sessions) for fake in instances.values()] == [0, 0, 0]


def test_module_without_virtual_addresses_reads_no_host_address(capsys, instances, monkeypatch):
    monkeypatch.setattr(haproxy_info, "read_virtual_addresses", lambda module, wanted: pytest.fail("read the host's addresses"))
    out = run_info(capsys, {"socket": ["/lb1.sock"], "gather": ["info"]})
    assert "virtual_addresses" not in out
    assert "haproxy_virtual_addresses" not in out["ansible_facts"]
