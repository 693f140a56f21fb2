# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_backend_servers: add, update, remove and exact, against the fake HAProxy."""

import pytest
import yaml

from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_backend_servers as module
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_dynsrv import STILL_CONNECTED, install
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import Instances, Srv, lab

FAKES = Instances(module.main)
run = FAKES.run
NEW = {"name": "dyn1", "address": "127.0.0.9", "port": 9001, "weight": 7}


def fake(version="2.6.12-1+deb12u3", level="admin"):
    haproxy = install(lab(level, version))
    haproxy.add_backend("be_dyn", [Srv("c1", 10, check=0)])
    return haproxy


@pytest.fixture
def instances():
    return FAKES.reset(lb1=fake(), lb2=fake("3.2.26-1"))


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(module, "WAIT_INTERVAL", 0.1)


def servers(haproxy, backend="be_dyn"):
    return dict((srv.name, srv) for srv in haproxy.backends[backend][1])


def test_check_mode_then_add_then_repeat_on_both_members(instances, capsys):
    args = {"socket": ["/lb1.sock", "/lb2.sock"], "backend": "be_dyn",
            "servers": [dict(NEW, check=True, check_inter=1000), {"name": "dyn2", "address": "::1", "port": 9002}]}
    predicted = run(capsys, dict(args), check_mode=True, diff=True)
    assert predicted["changed"] is True
    assert all(fake.writes == [] for fake in instances.values())
    assert predicted["results"][0]["commands"] == [
        "add server be_dyn/dyn1 127.0.0.9:9001 weight 7 check inter 1000", "add server be_dyn/dyn2 [::1]:9002",
        "enable health be_dyn/dyn1", "set server be_dyn/dyn1 state ready", "set server be_dyn/dyn2 state ready"]
    out = run(capsys, dict(args), diff=True)
    assert out["changed"] is True
    assert out["diff"] == predicted["diff"]
    assert out["diff"]["before"]["/lb1.sock"] == {"c1": {"address": "127.0.0.1", "port": 8080, "weight": 10,
                                                         "state": "ready", "check": False}}
    assert out["diff"]["after"]["/lb2.sock"]["dyn1"] == {"address": "127.0.0.9", "port": 9001, "weight": 7,
                                                         "state": "ready", "check": True}
    for result in out["results"]:
        assert result["added"] == ["dyn1", "dyn2"]
        assert result["commands"] == predicted["results"][0]["commands"]
    for haproxy in instances.values():
        dyn1 = servers(haproxy)["dyn1"]
        assert (dyn1.admin, dyn1.check, dyn1.op, dyn1.uweight) == (0, 0x06, 2, 7)
        sessions = len(haproxy.sessions)
        writes = len(haproxy.writes)
    again = run(capsys, dict(args))
    assert again["changed"] is False
    for haproxy in instances.values():
        assert len(haproxy.writes) == writes
        assert len(haproxy.sessions) == sessions + 1  # a no-op is one read connection


def test_added_server_ends_in_the_state_asked(instances, capsys):
    out = run(capsys, {"socket": "/lb1.sock", "backend": "be_dyn", "servers": [
        dict(NEW, admin_state="drain"), {"name": "dyn3", "address": "127.0.0.3", "port": 80, "admin_state": "maint"}]})
    assert out["changed"] is True
    got = servers(instances["/lb1.sock"])
    assert got["dyn1"].admin == 0x08
    assert got["dyn3"].admin == 0x01
    assert [s["state"] for s in out["results"][0]["servers"]] == ["ready", "drain", "maint"]
    assert "set server be_dyn/dyn3 state maint" not in out["results"][0]["commands"]


def test_static_algorithm_is_refused_before_sending(instances, capsys):
    for check_mode in (True, False):
        out = run(capsys, {"socket": "/lb1.sock", "backend": "be_static", "servers": [NEW]}, check_mode=check_mode)
        assert out["failed"] is True
        assert out["changed"] is False
        assert "balances with static-rr" in out["msg"]
        assert "Backend must use a dynamic load balancing" in out["msg"]
        assert "nothing was sent" in out["msg"]
    assert instances["/lb1.sock"].writes == []
    assert len(instances["/lb1.sock"].sessions) == 2


def test_hash_algorithm_warns_in_check_mode_and_quotes_the_refusal(instances, capsys):
    args = {"socket": "/lb1.sock", "backend": "be_hash", "servers": [NEW]}
    predicted = run(capsys, dict(args), check_mode=True)
    assert predicted["changed"] is True
    assert "hash-type consistent" in predicted["results"][0]["warnings"][0]
    out = run(capsys, dict(args))
    assert out["failed"] is True
    assert out["changed"] is False
    assert "HAProxy refused 'add server be_hash/dyn1 127.0.0.9:9001 weight 7': " \
           "Backend must use a dynamic load balancing to support dynamic servers" in out["msg"]
    assert "nothing was changed on this target" in out["msg"]
    assert instances["/lb1.sock"].writes == ["add server be_hash/dyn1 127.0.0.9:9001 weight 7"]


def test_existing_server_is_set_and_a_config_server_that_matches_is_present(instances, capsys):
    declared = {"name": "c1", "address": "127.0.0.1", "port": 8080, "weight": 10}
    same = {"socket": "/lb1.sock", "backend": "be_dyn", "servers": [declared]}
    out = run(capsys, same)
    assert out["changed"] is False
    assert instances["/lb1.sock"].writes == []
    moved = dict(same, servers=[{"name": "c1", "address": "127.0.0.2", "port": 8081, "weight": 20}])
    predicted = run(capsys, dict(moved), check_mode=True)
    out = run(capsys, dict(moved))
    assert out["changed"] is True
    assert out["results"][0]["updated"] == ["c1"] == predicted["results"][0]["updated"]
    assert out["results"][0]["commands"] == ["set server be_dyn/c1 addr 127.0.0.2 port 8081", "set server be_dyn/c1 weight 20"]
    c1 = servers(instances["/lb1.sock"])["c1"]
    assert (c1.addr, c1.port, c1.uweight) == ("127.0.0.2", 8081, 20)


def test_check_difference_on_an_existing_server_is_a_warning(instances, capsys):
    out = run(capsys, {"socket": "/lb1.sock", "backend": "be_dyn",
                       "servers": [{"name": "c1", "address": "127.0.0.1", "port": 8080, "check": True}]})
    assert out["changed"] is False
    assert "cannot be changed at runtime" in out["results"][0]["warnings"][0]


@pytest.mark.parametrize("version", ["2.6.12-1+deb12u3", "3.0.11-1", "3.2.26-1"])
def test_absent_drains_waits_then_deletes(version, capsys):
    haproxy = fake(version)
    FAKES.reset(lb1=haproxy)
    haproxy.backends["be_dyn"][1].append(Srv("dyn1", 5, check=0, scur=2))
    seen = []

    def end_sessions(srv, ms=None):
        seen.append(srv.admin)
        srv.scur = 0

    haproxy.on_wait = end_sessions
    reads = []

    def on_read(h):
        reads.append(1)
        if len(reads) >= 3 and "dyn1" in servers(h):
            servers(h)["dyn1"].scur = 0

    haproxy.on_read = on_read
    args = {"socket": "/lb1.sock", "backend": "be_dyn", "servers": [{"name": "dyn1"}], "state": "absent", "wait_timeout": 5}
    predicted = run(capsys, dict(args), check_mode=True, diff=True)
    assert "dyn1" in predicted["diff"]["before"]["/lb1.sock"]
    assert "dyn1" not in predicted["diff"]["after"]["/lb1.sock"]
    out = run(capsys, dict(args), diff=True)
    assert out["changed"] is True
    assert out["diff"] == predicted["diff"]
    assert out["results"][0]["removed"] == ["dyn1"]
    assert out["results"][0]["commands"] == predicted["results"][0]["commands"] == [
        "set server be_dyn/dyn1 state drain", "set server be_dyn/dyn1 state maint", "del server be_dyn/dyn1"]
    assert "dyn1" not in servers(haproxy)
    waited = [command for session in haproxy.sessions for command in session if command.startswith("wait ")]
    if version.startswith("2.6"):
        assert waited == [] and len(reads) >= 3
    else:
        assert len(waited) == 1 and waited[0].endswith(" srv-removable be_dyn/dyn1") and seen == [0x01]
    again = run(capsys, dict(args))
    assert again["changed"] is False, again


def test_absent_times_out_and_leaves_the_server_in_maint(instances, capsys):
    haproxy = instances["/lb1.sock"]
    haproxy.backends["be_dyn"][1].append(Srv("dyn1", 5, check=0, scur=1))
    out = run(capsys, {"socket": "/lb1.sock", "backend": "be_dyn", "servers": [{"name": "dyn1"}], "state": "absent",
                       "wait_timeout": 0.3})
    assert out["failed"] is True
    assert out["changed"] is True
    assert "timed out after 0.3s waiting for the sessions of be_dyn/dyn1 to end (dyn1: 1)" in out["msg"]
    assert "not deleted" in out["msg"]
    assert out["results"][0]["timed_out"] == ["dyn1"]
    assert servers(haproxy)["dyn1"].admin == 0x01
    assert not any(command.startswith("del server") for command in haproxy.writes)


def test_a_wait_that_expires_is_a_timeout_not_a_refusal(instances, capsys):
    """3.0.11 and 3.2.26 answer a 'wait srv-removable' that runs out of time with 'Wait delay expired.'."""
    haproxy = instances["/lb2.sock"]
    haproxy.backends["be_dyn"][1].append(Srv("dyn1", 5, check=0, scur=1))
    haproxy.extensions.insert(0, lambda h, command, words: Feedback(3, "Wait delay expired.") if words[0] == "wait" else None)
    out = run(capsys, {"socket": "/lb2.sock", "backend": "be_dyn", "servers": [{"name": "dyn1"}], "state": "absent",
                       "wait_timeout": 0.2})
    assert out["failed"] is True and out["changed"] is True
    assert "timed out after 0.2s waiting for the sessions of be_dyn/dyn1 to end (dyn1: 1)" in out["msg"]
    assert servers(haproxy)["dyn1"].admin == 0x01


def test_del_is_retried_while_idle_connections_remain(instances, capsys):
    haproxy = instances["/lb2.sock"]  # 3.2: HAProxy's wait says removable, del still sees a connection once
    haproxy.backends["be_dyn"][1].append(Srv("dyn1", 5, check=0))
    tries = []
    original = haproxy.extensions[0]

    def once_busy(h, command, words):
        if command.startswith("del server") and not tries:
            tries.append(command)
            h.writes.append(command)
            return Feedback(3, STILL_CONNECTED)
        return original(h, command, words)

    haproxy.extensions[0] = once_busy
    out = run(capsys, {"socket": "/lb2.sock", "backend": "be_dyn", "servers": [{"name": "dyn1"}], "state": "absent"})
    assert out["changed"] is True, out
    assert tries and "dyn1" not in servers(haproxy)


def test_exact_removes_managed_servers_and_keeps_the_others(instances, capsys):
    haproxy = instances["/lb1.sock"]
    haproxy.backends["be_dyn"][1].extend([Srv("dyn_old", 1, check=0), Srv("dyn_keep", 3, addr="127.0.0.5", port=80, check=0)])
    args = {"socket": "/lb1.sock", "backend": "be_dyn", "state": "exact", "prefix": "dyn_",
            "servers": [{"name": "dyn_keep", "address": "127.0.0.5", "port": 80}, {"name": "dyn_new", "address": "127.0.0.6", "port": 80}]}
    predicted = run(capsys, dict(args), check_mode=True)
    out = run(capsys, dict(args))
    for result in (predicted["results"][0], out["results"][0]):
        assert (result["added"], result["removed"], result["kept"], result["updated"]) == (["dyn_new"], ["dyn_old"], ["c1"], [])
    assert out["results"][0]["commands"] == predicted["results"][0]["commands"]
    assert sorted(servers(haproxy)) == ["c1", "dyn_keep", "dyn_new"]
    assert run(capsys, dict(args))["changed"] is False
    empty = run(capsys, dict(args, servers=[]))
    assert empty["results"][0]["removed"] == ["dyn_keep", "dyn_new"]
    assert sorted(servers(haproxy)) == ["c1"]


@pytest.mark.parametrize("params, message", [
    ({"servers": [{"name": "a", "address": "foo.example", "port": 80}]}, "invalid address 'foo.example'"),
    ({"servers": [{"name": "a", "address": "127.0.0.1", "port": 70000}]}, "invalid port 70000"),
    ({"servers": [{"name": "a", "address": "127.0.0.1", "port": 80, "weight": 300}]}, "expected an integer from 0 to 256"),
    ({"servers": [{"name": "a", "address": "127.0.0.1"}]}, "server a needs address and port"),
    ({"servers": [{"name": "a;b", "address": "127.0.0.1", "port": 80}]}, "invalid server name"),
    ({"servers": [{"name": "a", "address": "127.0.0.1", "port": 80}] * 2}, "listed twice"),
    ({"servers": [{"name": "a", "address": "127.0.0.1", "port": 80, "check_port": 81}]}, "needs check=true"),
    ({"servers": [{"name": "a", "address": "127.0.0.1", "port": 80, "check": True, "check_inter": 5}]}, "invalid check_inter"),
    ({"servers": [{"name": "c1", "address": "127.0.0.1", "port": 80}], "state": "exact", "prefix": "dyn"},
     "does not start with the prefix 'dyn'"),
    ({"servers": [], "state": "exact"}, "prefix"),
    ({"servers": [{"name": "a"}], "state": "absent", "prefix": "a"}, "prefix applies only with state=exact"),
    ({"servers": []}, "at least one server"),
])
def test_invalid_input_fails_before_connecting(instances, capsys, params, message):
    out = run(capsys, dict({"socket": "/lb1.sock", "backend": "be_dyn"}, **params))
    assert out["failed"] is True
    assert message in out["msg"]
    assert instances["/lb1.sock"].sessions == []


def test_unknown_backend_and_low_level(instances, capsys):
    out = run(capsys, {"socket": "/lb1.sock", "backend": "be_nope", "servers": [NEW]})
    assert out["failed"] is True
    assert "unknown backend be_nope" in out["msg"] and "nothing was sent" in out["msg"]
    instances["/lb1.sock"].level = "operator"
    instances["/lb1.sock"].backends["be_dyn"][1].append(Srv("dyn1", 5, admin=0x01, check=0))
    for args in ({"servers": [NEW]}, {"servers": [{"name": "dyn1"}], "state": "absent"}):
        for check_mode in (True, False):
            out = run(capsys, dict({"socket": "/lb1.sock", "backend": "be_dyn"}, **args), check_mode=check_mode)
            assert out["failed"] is True
            assert "/lb1.sock: the socket's level is 'operator'" in out["msg"]
    assert instances["/lb1.sock"].writes == []


def test_argspec_matches_documented_options():
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    spec = module.ARGUMENT_SPEC
    assert sorted(documented) == sorted(spec)
    for name in documented:
        assert documented[name].get("choices") == spec[name].get("choices")
        assert documented[name].get("default") == spec[name].get("default")
    suboptions = documented["servers"]["suboptions"]
    assert sorted(suboptions) == sorted(module.SERVER_OPTIONS)
    for name in suboptions:
        assert suboptions[name].get("default") == module.SERVER_OPTIONS[name].get("default")
        assert suboptions[name].get("choices") == module.SERVER_OPTIONS[name].get("choices")
