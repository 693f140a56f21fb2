# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_frontend as a module."""

import pytest

from ansible_collections.lbops.haproxy.plugins.modules import haproxy_frontend
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import Instances, lab

FAKES = Instances(haproxy_frontend.main)
run = FAKES.run


@pytest.fixture
def instances():
    return FAKES.reset(lb1=lab(), lb2=lab())


def test_pair_check_change_repeat(instances, capsys):
    args = {"socket": ["/lb1.sock", "/lb2.sock"], "name": "fe_aux", "state": "disabled"}
    out = run(capsys, args, check_mode=True, diff=True)
    assert out["changed"] is True
    assert out["diff"]["after"] == {"/lb1.sock": {"fe_aux": {"state": "disabled", "status": "PAUSED"}},
                                    "/lb2.sock": {"fe_aux": {"state": "disabled", "status": "PAUSED"}}}
    assert instances["/lb1.sock"].frontends["fe_aux"] == "OPEN"
    out = run(capsys, args)
    assert out["changed"] is True
    assert [r["frontend"]["status"] for r in out["results"]] == ["PAUSED", "PAUSED"]
    out = run(capsys, args)
    assert out["changed"] is False
    assert instances["/lb2.sock"].writes == ["disable frontend fe_aux"]


def test_stopped_frontend(instances, capsys):
    out = run(capsys, {"socket": "/lb1.sock", "name": "fe_stop", "state": "enabled"})
    assert out["failed"] is True
    assert "is stopped" in out["msg"]
    out = run(capsys, {"socket": "/lb1.sock", "name": "fe_stop", "state": "disabled"})
    assert out["changed"] is False


def test_invalid_name(instances, capsys):
    out = run(capsys, {"socket": "/lb1.sock", "name": "fe;shutdown", "state": "enabled"})
    assert out["failed"] is True
    assert "invalid frontend name" in out["msg"]
    assert instances["/lb1.sock"].sessions == []
