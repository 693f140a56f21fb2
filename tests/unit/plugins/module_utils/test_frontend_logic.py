# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decisions of haproxy_frontend."""

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    InvalidInput,
    LevelTooLow,
    NotFound,
    ProtocolError,
    StateError,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Runner, build_request
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_frontend as frontend
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import FakeClient, lab

STATUS_OF = {"enabled": "OPEN", "disabled": "PAUSED"}


def request(name="fe_aux", state="disabled"):
    return build_request(frontend.DEFINITION, frontend.ARGUMENT_SPEC, {"name": name, "state": state})


def plan(request, state):
    """The commands planned for a frontend in ``state`` (its 'show stat' rows made up)."""
    rows = [{"pxname": request["name"], "svname": "FRONTEND", "status": STATUS_OF[state]}] if state in STATUS_OF else []
    return frontend.DEFINITION.plan(request, {"stat": rows, "level": "admin"}).commands


def converge(client, request, check_mode=False):
    return Runner(frontend.DEFINITION, request, check_mode).run(client)


@pytest.mark.parametrize("name", ["fe;x", "fe x", "fe\\x", "", "fe\n"])
def test_invalid_names(name):
    with pytest.raises(InvalidInput):
        request(name=name)


def test_invalid_state():
    with pytest.raises(InvalidInput):
        request(state="paused")


@pytest.mark.parametrize("status, expected", [
    ("OPEN", "enabled"), ("FULL", "enabled"), ("PAUSED", "disabled"), ("STOP", "stopped"), ("OPEN 1/2", "enabled"),
])
def test_decode_first_word(status, expected):
    assert frontend.decode("fe", [{"pxname": "fe", "svname": "FRONTEND", "status": status}]) == (expected, status)


def test_decode_unlisted_and_backend_and_garbage():
    assert frontend.decode("fe", []) == ("stopped", "STOP")
    with pytest.raises(NotFound) as err:
        frontend.decode("be_app", [{"pxname": "be_app", "svname": "BACKEND", "status": "UP"}])
    assert "is a backend, not a frontend" in str(err.value)
    with pytest.raises(ProtocolError):
        frontend.decode("fe", [{"pxname": "fe", "svname": "FRONTEND", "status": "WEIRD"}])


@pytest.mark.parametrize("state, wanted, commands", [
    ("enabled", "enabled", []),
    ("enabled", "disabled", ["disable frontend fe_aux"]),
    ("disabled", "enabled", ["enable frontend fe_aux"]),
    ("disabled", "disabled", []),
    ("stopped", "disabled", []),
])
def test_plan(state, wanted, commands):
    assert plan(request(state=wanted), state) == commands


def test_stopped_cannot_be_enabled():
    with pytest.raises(StateError) as err:
        plan(request(state="enabled"), "stopped")
    assert "cannot enable it again" in str(err.value)


@pytest.mark.parametrize("name", ["fe_stop", "fe_off"])
def test_stopped_enable_fails_and_sends_nothing(name):
    haproxy = lab()
    with pytest.raises(StateError):
        converge(FakeClient(haproxy), request(name=name, state="enabled"))
    assert haproxy.writes == []


def test_change_repeat_and_check_mode():
    haproxy = lab()
    predicted = converge(FakeClient(haproxy), request(), check_mode=True)
    assert haproxy.writes == []
    assert haproxy.frontends["fe_aux"] == "OPEN"
    client = FakeClient(haproxy)
    result = converge(client, request())
    assert client.connections == 3
    assert haproxy.writes == ["disable frontend fe_aux"]
    assert predicted["changed"] is result["changed"] is True
    assert predicted["diff"] == result["diff"] == {"before": {"fe_aux": {"state": "enabled", "status": "OPEN"}},
                                                   "after": {"fe_aux": {"state": "disabled", "status": "PAUSED"}}}
    client = FakeClient(haproxy)
    again = converge(client, request())
    assert again["changed"] is False
    assert client.connections == 1
    assert haproxy.writes == ["disable frontend fe_aux"]
    back = converge(FakeClient(haproxy), request(state="enabled"))
    assert back["frontend"] == {"name": "fe_aux", "state": "enabled", "status": "OPEN"}


def test_unknown_frontend():
    with pytest.raises(NotFound) as err:
        converge(FakeClient(lab()), request(name="fe_nope"))
    assert "unknown frontend fe_nope" in str(err.value)
    assert "No such proxy" in str(err.value)


@pytest.mark.parametrize("level", ["user", "operator"])
def test_level_too_low(level):
    haproxy = lab(level)
    with pytest.raises(LevelTooLow) as err:
        converge(FakeClient(haproxy), request())
    assert "needs level admin" in str(err.value)
    assert haproxy.writes == []
