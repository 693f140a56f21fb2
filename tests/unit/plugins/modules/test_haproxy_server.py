# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_server as a module: argspec, aliases, results per target, diff, failures."""

import pytest
import yaml

from ansible_collections.lbops.haproxy.plugins.modules import haproxy_server
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import Instances, lab

FAKES = Instances(haproxy_server.main)
run = FAKES.run


@pytest.fixture
def instances():
    """Two fake HAProxy instances, reached as /lb1.sock and /lb2.sock."""
    return FAKES.reset(lb1=lab(), lb2=lab())


def test_alias_host_and_state_synonym(instances, capsys):
    out = run(capsys, {"socket": "/lb1.sock", "backend": "be_app", "host": "s1", "state": "disabled"})
    assert out["changed"] is True
    assert out["results"][0]["commands"] == ["set server be_app/s1 state maint"]
    assert instances["/lb1.sock"].backends["be_app"][1][0].admin == 0x01


def test_two_targets_check_mode_diff_then_change_then_repeat(instances, capsys):
    args = {"socket": ["/lb1.sock", "/lb2.sock"], "backend": "be_app", "name": ["s1", "s2"], "state": "drain", "weight": "50%"}
    out = run(capsys, dict(args), check_mode=True, diff=True)
    assert out["changed"] is True
    assert [r["socket"] for r in out["results"]] == ["/lb1.sock", "/lb2.sock"]
    assert out["diff"]["before"]["/lb2.sock"]["s2"]["weight"] == 20
    assert out["diff"]["after"]["/lb2.sock"]["s2"] == {"state": "drain", "weight": 10, "health": "enabled", "agent": "disabled",
                                                       "address": "127.0.0.1", "port": 8080}
    assert all(fake.writes == [] for fake in instances.values())
    out = run(capsys, dict(args), diff=True)
    assert out["changed"] is True
    assert all(r["changed"] for r in out["results"])
    assert out["diff"]["after"]["/lb1.sock"]["s1"]["state"] == "drain"
    out = run(capsys, dict(args))
    assert out["changed"] is False
    assert "diff" not in out
    assert len(instances["/lb1.sock"].writes) == 4


def test_failure_on_one_target_names_the_changed_ones(instances, capsys):
    instances["/lb2.sock"].level = "operator"
    out = run(capsys, {"socket": ["/lb1.sock", "/lb2.sock"], "backend": "be_app", "name": "s1", "state": "maint"})
    assert out["failed"] is True
    assert "/lb2.sock: the socket's level is 'operator'" in out["msg"]
    assert "(targets already changed: /lb1.sock)" in out["msg"]
    assert instances["/lb2.sock"].writes == []


def test_invalid_input_fails_without_connecting(instances, capsys):
    for args in ({"name": "s;1"}, {"weight": 300}, {"address": "foo.example"}):
        params = {"socket": "/lb1.sock", "backend": "be_app", "name": "s1"}
        params.update(args)
        out = run(capsys, params)
        assert out["failed"] is True
        assert "results" not in out
    assert instances["/lb1.sock"].sessions == []


def test_wait_requires_state(instances, capsys):
    out = run(capsys, {"socket": "/lb1.sock", "backend": "be_app", "name": "s1", "wait": True})
    assert out["failed"] is True
    assert "state" in out["msg"]


def test_argspec_matches_documented_options():
    documented = yaml.safe_load(haproxy_server.DOCUMENTATION)["options"]
    spec = haproxy_server.ARGUMENT_SPEC
    for name in documented:
        assert name in spec
        assert documented[name].get("choices") == spec[name].get("choices")
        assert documented[name].get("default") == spec[name].get("default")
        assert documented[name].get("aliases") == spec[name].get("aliases")
