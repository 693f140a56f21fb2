# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decisions of haproxy_server: validation, state decoding, planning, writes, waiting."""

import time

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    CommandError,
    InvalidInput,
    LevelTooLow,
    NotFound,
    StateError,
    WaitTimeout,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._parsers import parse_servers_state
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Runner, build_request
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_server as server
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import FakeClient, Srv, lab


def request(**params):
    base = {"backend": "be_app", "name": ["s1"]}
    base.update(params)
    return build_request(server.DEFINITION, server.ARGUMENT_SPEC, base, server.MODULE_KWARGS)


def converge(client, req, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    return Runner(server.DEFINITION, req, check_mode, clock=clock, sleep=sleep).run(client)


class Clock(object):
    """A fake clock: sleep() advances time, optionally running a hook."""

    def __init__(self, hook=None):
        self.now = 0.0
        self.hook = hook
        self.sleeps = 0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps += 1
        self.now += max(seconds, 0.01)
        if self.hook:
            self.hook(self.sleeps)


# -- validation -------------------------------------------------------------

@pytest.mark.parametrize("params, fragment", [
    ({"name": ["s1;shutdown"]}, "invalid server name"),
    ({"name": ["s 1"]}, "invalid server name"),
    ({"name": ["s\\1"]}, "invalid server name"),
    ({"name": ["s\x01"]}, "invalid server name"),
    ({"backend": "be;x"}, "invalid backend name"),
    ({"backend": ""}, "backend name must not be empty"),
    ({"name": []}, "at least one server"),
    ({"weight": 300}, "between 0 and 256"),
    ({"weight": "-1"}, "invalid weight"),
    ({"weight": "ten"}, "invalid weight"),
    ({"weight": True}, "invalid weight"),
    ({"address": "foo.example"}, "invalid address"),
    ({"port": 0}, "invalid port"),
    ({"port": 70000}, "invalid port"),
    ({"state": "up"}, "value of state must be one of"),
    ({"health": "on"}, "value of health must be one of"),
    ({"wait": True}, "missing: state"),
    ({"state": "drain", "wait": True, "wait_timeout": 0}, "positive"),
    ({"state": "drain", "shutdown_sessions": True}, "shutdown_sessions applies only"),
    ({"state": "drain", "wait": True, "wait_timeout_action": "retry"}, "value of wait_timeout_action must be one of"),
])
def test_invalid_input_is_refused(params, fragment):
    with pytest.raises(InvalidInput) as err:
        request(**params)
    assert fragment in str(err.value)


def test_aliases_and_normalisation():
    req = request(name=["s1", "s2", "s1"], state="enabled", weight=50, address="::ffff:7f00:1", port="80")
    assert req["names"] == ["s1", "s2"]
    assert req["state"] == "ready"
    assert req["weight"] == "50"
    assert req["port"] == 80
    assert request(state="disabled")["state"] == "maint"
    assert request(weight="050%")["weight"] == "50%"


def test_invalid_input_sends_nothing_through_the_module_flow():
    haproxy = lab()
    with pytest.raises(InvalidInput):
        converge(FakeClient(haproxy), request(weight=300))
    assert haproxy.sessions == []


# -- admin state ------------------------------------------------------------

@pytest.mark.parametrize("bits, wanted, expected", [
    (0x00, "maint", 0x01), (0x08, "maint", 0x01), (0x01, "drain", 0x08), (0x00, "drain", 0x08),
    (0x09, "ready", 0x00), (0x05, "ready", 0x04), (0x02, "ready", 0x02), (0x20, "maint", 0x21),
])
def test_predict_admin_state(bits, wanted, expected):
    assert server.predict_admin_state(bits, wanted) == expected


def rows_of(haproxy, backend="be_app"):
    return parse_servers_state(haproxy.answer("show servers state %s" % backend))


def set_bits(haproxy, backend, name, bits):
    srv, dummy = haproxy.server("%s/%s" % (backend, name))
    srv.admin = bits


@pytest.mark.parametrize("bits, wanted, commands", [
    (0x00, "ready", []),
    (0x04, "ready", []),  # CMAINT alone is not maint
    (0x05, "ready", ["set server be_app/s1 state ready"]),
    (0x00, "drain", ["set server be_app/s1 state drain"]),
    (0x08, "drain", []),
    (0x01, "drain", ["set server be_app/s1 state drain"]),
    (0x08, "maint", ["set server be_app/s1 state maint"]),
    (0x01, "maint", []),
    (0x02, "maint", []),  # inherited maint already is maint
    (0x10, "maint", ["set server be_app/s1 state maint"]),
])
def test_state_decisions(bits, wanted, commands):
    haproxy = lab()
    set_bits(haproxy, "be_app", "s1", bits)
    row = rows_of(haproxy)[0]
    planned, after = server.plan_server(request(state=wanted), row)
    assert planned == commands
    assert after["state"] == wanted


@pytest.mark.parametrize("bits, wanted, cause", [
    (0x02, "ready", "maint inherited from a tracked server"),
    (0x10, "ready", "drain inherited from a tracked server"),
    (0x20, "ready", "maint after a DNS resolution failure"),
    (0x02, "drain", "maint inherited from a tracked server"),
    (0x21, "drain", "DNS"),
])
def test_states_that_cannot_be_cleared(bits, wanted, cause):
    haproxy = lab()
    set_bits(haproxy, "be_track", "t1", bits)
    row = rows_of(haproxy, "be_track")[0]
    with pytest.raises(StateError) as err:
        server.plan_server(request(backend="be_track", name=["t1"], state=wanted), row)
    assert cause in str(err.value)
    assert "nothing was sent" in str(err.value)


def test_inherited_maint_fails_before_any_write_even_for_other_servers():
    haproxy = lab()
    haproxy.backends["be_track"][1].insert(0, Srv("t0", 1, check=0))
    set_bits(haproxy, "be_track", "t1", 0x02)
    set_bits(haproxy, "be_track", "t0", 0x01)
    with pytest.raises(StateError):
        converge(FakeClient(haproxy), request(backend="be_track", name=["t0", "t1"], state="ready"))
    assert haproxy.writes == []
    assert len(haproxy.sessions) == 1


# -- weights, checks, address -------------------------------------------------

@pytest.mark.parametrize("weight, expected_command, expected_weight", [
    ("25", "set server be_app/s2 weight 25", None),
    ("20", None, 20),
    ("50%", "set server be_app/s2 weight 50%", 10),
    ("33%", "set server be_app/s2 weight 33%", 6),   # 20 * 33 // 100 = 6: rounded down
    ("100%", None, 20),
    ("0", "set server be_app/s2 weight 0", 0),
])
def test_weight_decisions(weight, expected_command, expected_weight):
    haproxy = lab()
    row = rows_of(haproxy)[1]
    commands, after = server.plan_server(request(name=["s2"], weight=weight), row)
    assert commands == ([expected_command] if expected_command else [])
    assert after["weight"] == (expected_weight if expected_weight is not None else int(weight))


def test_percent_weight_is_compared_with_the_initial_weight():
    haproxy = lab()
    haproxy.backends["be_app"][1][1].uweight = 10   # s2: initial 20, current 10
    row = rows_of(haproxy)[1]
    assert server.plan_server(request(name=["s2"], weight="50%"), row)[0] == []
    assert server.plan_server(request(name=["s2"], weight="10"), row)[0] == []
    assert server.plan_server(request(name=["s2"], weight="100%"), row)[0] == ["set server be_app/s2 weight 100%"]


def test_health_and_agent_decisions():
    haproxy = lab()
    rows = rows_of(haproxy)
    assert server.plan_server(request(health="enabled"), rows[0])[0] == []
    assert server.plan_server(request(health="disabled"), rows[0])[0] == ["disable health be_app/s1"]
    assert server.plan_server(request(name=["s4"], agent="disabled"), rows[3])[0] == ["disable agent be_app/s4"]
    # disabling what is not configured is a no-op, enabling it is an error
    assert server.plan_server(request(name=["s3"], health="disabled"), rows[2])[0] == []
    with pytest.raises(InvalidInput) as err:
        server.plan_server(request(name=["s3"], health="enabled"), rows[2])
    assert "health checks are not configured on be_app/s3" in str(err.value)
    with pytest.raises(InvalidInput) as err:
        server.plan_server(request(agent="enabled"), rows[0])
    assert "no agent is configured on be_app/s1" in str(err.value)


def test_address_and_port_decisions():
    haproxy = lab()
    row = rows_of(haproxy)[0]
    assert server.plan_server(request(address="127.0.0.1"), row)[0] == []
    assert server.plan_server(request(address="127.0.0.1", port=8080), row)[0] == []
    assert server.plan_server(request(address="127.0.0.2"), row)[0] == ["set server be_app/s1 addr 127.0.0.2"]
    commands, after = server.plan_server(request(port=8081), row)
    assert commands == ["set server be_app/s1 addr 127.0.0.1 port 8081"]
    assert (after["address"], after["port"]) == ("127.0.0.1", 8081)


def test_command_order_ready_last_maint_first():
    haproxy = lab()
    set_bits(haproxy, "be_app", "s1", 0x01)
    row = rows_of(haproxy)[0]
    commands = server.plan_server(request(state="ready", weight="5", health="disabled"), row)[0]
    assert commands == ["set server be_app/s1 weight 5", "disable health be_app/s1", "set server be_app/s1 state ready"]
    set_bits(haproxy, "be_app", "s1", 0)
    row = rows_of(haproxy)[0]
    commands = server.plan_server(request(state="maint", weight="5", shutdown_sessions=True), row)[0]
    assert commands == ["set server be_app/s1 state maint", "shutdown sessions server be_app/s1", "set server be_app/s1 weight 5"]


def test_shutdown_sessions_only_when_this_run_puts_the_server_in_maint():
    haproxy = lab()
    set_bits(haproxy, "be_app", "s1", 0x01)
    row = rows_of(haproxy)[0]
    assert server.plan_server(request(state="maint", shutdown_sessions=True), row)[0] == []


# -- whole runs against the fake HAProxy ------------------------------------

def test_noop_uses_one_read_connection_and_no_write():
    haproxy = lab()
    client = FakeClient(haproxy)
    result = converge(client, request(name=["s1", "s2"], state="ready", weight="100%", health="enabled"))
    assert result["changed"] is False
    assert result["commands"] == []
    assert client.connections == 1
    assert haproxy.writes == []
    assert result["diff"]["before"] == result["diff"]["after"]


def test_check_mode_predicts_exactly_and_sends_nothing():
    haproxy = lab()
    req = request(name=["s1", "s2"], state="drain", weight="50%")
    predicted = converge(FakeClient(haproxy), req, check_mode=True)
    assert haproxy.writes == []
    assert len(haproxy.sessions) == 1
    real = converge(FakeClient(haproxy), req)
    assert predicted["changed"] is real["changed"] is True
    assert predicted["commands"] == real["commands"]
    assert predicted["diff"] == real["diff"]
    assert predicted["servers"] == real["servers"]
    again = converge(FakeClient(haproxy), req)
    assert again["changed"] is False


def test_change_then_reread_and_diff():
    haproxy = lab()
    client = FakeClient(haproxy)
    result = converge(client, request(state="maint", weight="5", address="10.0.0.5", port=81))
    assert result["changed"] is True
    assert client.connections == 3  # read, write, re-read
    assert result["diff"]["before"]["s1"] == {"state": "ready", "weight": 10, "health": "enabled", "agent": "disabled",
                                              "address": "127.0.0.1", "port": 8080}
    assert result["diff"]["after"]["s1"] == {"state": "maint", "weight": 5, "health": "enabled", "agent": "disabled",
                                             "address": "10.0.0.5", "port": 81}


def test_unknown_server_fails_before_any_write():
    haproxy = lab()
    with pytest.raises(NotFound) as err:
        converge(FakeClient(haproxy), request(name=["s1", "nope", "zz"], state="maint"))
    assert "unknown servers nope, zz in backend be_app" in str(err.value)
    assert haproxy.writes == []


def test_unknown_backend():
    haproxy = lab()
    with pytest.raises(NotFound) as err:
        converge(FakeClient(haproxy), request(backend="be_nope", state="maint"))
    assert "unknown backend be_nope" in str(err.value)
    assert "Can't find backend" in str(err.value)


def test_id_selector():
    haproxy = lab()
    result = converge(FakeClient(haproxy), request(name=["#2"], weight="7"))
    assert result["commands"] == ["set server be_app/s2 weight 7"]


@pytest.mark.parametrize("level", ["user", "operator"])
def test_level_too_low_sends_nothing(level):
    haproxy = lab(level)
    with pytest.raises(LevelTooLow) as err:
        converge(FakeClient(haproxy), request(state="maint"))
    assert "level is '%s'" % level in str(err.value)
    assert haproxy.writes == []
    # a no-op needs no admin level
    assert converge(FakeClient(haproxy), request(state="ready"))["changed"] is False


def test_haproxy_refusal_quotes_haproxy_and_names_what_changed():
    haproxy = lab()
    with pytest.raises(CommandError) as err:
        converge(FakeClient(haproxy), request(backend="be_hash", name=["a", "b"], state="drain", weight="50"))
    message = str(err.value)
    assert "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'" in message
    assert "already changed on this target: be_hash/a, be_hash/b" in message
    assert err.value.changed is True
    assert err.value.partial["failed_commands"] == ["set server be_hash/a weight 50", "set server be_hash/b weight 50"]


def test_haproxy_refusal_with_nothing_changed():
    haproxy = lab()
    with pytest.raises(CommandError) as err:
        converge(FakeClient(haproxy), request(backend="be_hash", name=["a"], weight="50"))
    assert "nothing was changed on this target" in str(err.value)
    assert err.value.changed is False


def test_invalid_addr_warning_is_a_failure():
    haproxy = lab()
    req = request()
    req["address"] = "foo.example"  # bypasses validation, as a host name HAProxy refuses
    with pytest.raises(CommandError) as err:
        converge(FakeClient(haproxy), req)
    assert "Invalid addr 'foo.example'" in str(err.value)


# -- wait -------------------------------------------------------------------

def test_drain_wait_until_no_sessions():
    haproxy = lab()
    haproxy.backends["be_app"][1][0].scur = 3

    def drop(count):
        if count == 3:
            haproxy.backends["be_app"][1][0].scur = 0
    clock = Clock(drop)
    result = converge(FakeClient(haproxy), request(state="drain", wait=True, wait_timeout=30),
                      sleep=clock.sleep, clock=clock)
    assert result["changed"] is True
    assert clock.sleeps == 3
    assert "timed_out" not in result


def test_drain_wait_noop_idle_server_is_one_connection():
    haproxy = lab()
    set_bits(haproxy, "be_app", "s1", 0x08)
    client = FakeClient(haproxy)
    result = converge(client, request(state="drain", wait=True))
    assert result["changed"] is False
    assert client.connections == 1


def test_drain_wait_timeout_fails():
    haproxy = lab()
    haproxy.backends["be_app"][1][0].scur = 2
    clock = Clock()
    with pytest.raises(WaitTimeout) as err:
        converge(FakeClient(haproxy), request(state="drain", wait=True, wait_timeout=5), sleep=clock.sleep, clock=clock)
    assert "timed out after 5s waiting for be_app/s1 to have no sessions left (s1: 2)" in str(err.value)
    assert err.value.changed is True
    assert 4 <= clock.sleeps <= 6


@pytest.mark.parametrize("action, expected_command, expected_state", [
    ("maint", "set server be_app/s1 state maint", "maint"),
    ("shutdown_sessions", "shutdown sessions server be_app/s1", "drain"),
])
def test_drain_wait_timeout_actions(action, expected_command, expected_state):
    haproxy = lab()
    haproxy.backends["be_app"][1][0].scur = 2
    clock = Clock()
    result = converge(FakeClient(haproxy), request(state="drain", wait=True, wait_timeout=2, wait_timeout_action=action),
                      sleep=clock.sleep, clock=clock)
    assert result["timed_out"] == ["s1"]
    assert result["commands"] == ["set server be_app/s1 state drain", expected_command]
    assert result["servers"][0]["state"] == expected_state
    assert result["wait_timeout_action_taken"] == action


def test_ready_wait_until_up_only_for_checked_servers():
    haproxy = lab()
    for srv in haproxy.backends["be_app"][1]:
        srv.admin, srv.op = 0x01, 0
    original = haproxy.answer

    def answer(command):   # servers stay down for two polls after 'ready'
        reply = original(command)
        if command.startswith("set server") and command.endswith("ready"):
            haproxy.backends["be_app"][1][0].op = 0
        return reply
    haproxy.answer = answer
    clock = Clock(lambda count: setattr(haproxy.backends["be_app"][1][0], "op", 2 if count >= 2 else 0))
    result = converge(FakeClient(haproxy), request(name=["s1", "s3"], state="ready", wait=True, wait_timeout=10),
                      sleep=clock.sleep, clock=clock)
    assert clock.sleeps == 2
    assert result["servers"][0]["operational_state"] == "up"


def test_ready_wait_timeout_always_fails():
    haproxy = lab()
    set_bits(haproxy, "be_app", "s1", 0x01)
    original = haproxy.answer

    def answer(command):
        reply = original(command)
        haproxy.backends["be_app"][1][0].op = 0
        return reply
    haproxy.answer = answer
    clock = Clock()
    with pytest.raises(WaitTimeout) as err:
        converge(FakeClient(haproxy), request(state="ready", wait=True, wait_timeout=3, wait_timeout_action="maint"),
                 sleep=clock.sleep, clock=clock)
    assert "be_app/s1 to come UP" in str(err.value)


# -- wait on HAProxy 3.0+: 'wait <ms> srv-removable' --------------------------

def test_maint_wait_lets_haproxy_wait_on_3_0():
    haproxy = lab(version="3.0.11-1+deb13u4")
    haproxy.backends["be_app"][1][1].scur = 2
    waits = []

    def on_wait(srv, ms):  # the last session ends 1.5 s into HAProxy's wait
        waits.append(ms)
        srv.scur = 0
        clock.now += 1.5
    haproxy.on_wait = on_wait
    clock = Clock()
    client = FakeClient(haproxy)
    result = converge(client, request(name=["s2"], state="maint", wait=True, wait_timeout=30),
                      sleep=clock.sleep, clock=clock)
    assert result["changed"] is True and "timed_out" not in result
    assert clock.sleeps == 0 and waits == [30000]
    sent = [command for batch in haproxy.sessions for command in batch]
    assert "wait 30000 srv-removable be_app/s2" in sent
    # read (with 'show version'), write, one wait with its reading, the final re-read
    assert client.connections == 4
    assert "show version" in haproxy.sessions[0]


def test_maint_wait_on_3_0_times_out_at_the_deadline():
    haproxy = lab(version="3.2.26-1")
    haproxy.backends["be_app"][1][1].scur = 1

    def on_wait(srv, ms):  # nothing ends: HAProxy waits the whole time
        clock.now += ms / 1000.0
    haproxy.on_wait = on_wait
    clock = Clock()
    with pytest.raises(WaitTimeout) as err:
        converge(FakeClient(haproxy), request(name=["s2"], state="maint", wait=True, wait_timeout=4),
                 sleep=clock.sleep, clock=clock)
    assert "timed out after 4s waiting for be_app/s2 to have no sessions left (s2: 1)" in str(err.value)
    assert clock.sleeps == 0


def test_maint_wait_falls_back_to_polling_when_haproxy_refuses_to_wait():
    # 3.0 answers 'Failed.' at once for a server other servers track (be_app/s1 here)
    haproxy = lab(version="3.0.11-1+deb13u4")
    haproxy.backends["be_app"][1][0].scur = 1
    clock = Clock(lambda count: setattr(haproxy.backends["be_app"][1][0], "scur", 0 if count >= 2 else 1))
    result = converge(FakeClient(haproxy), request(state="maint", wait=True, wait_timeout=30),
                      sleep=clock.sleep, clock=clock)
    assert "timed_out" not in result and clock.sleeps == 2
    sent = [command for batch in haproxy.sessions for command in batch]
    assert sent.count("wait 30000 srv-removable be_app/s1") == 1


@pytest.mark.parametrize("version, state", [("2.6.12-1+deb12u3", "maint"), ("3.0.11-1+deb13u4", "drain")])
def test_no_server_side_wait_before_3_0_or_for_drain(version, state):
    haproxy = lab(version=version)
    haproxy.backends["be_app"][1][1].scur = 1
    clock = Clock(lambda count: setattr(haproxy.backends["be_app"][1][1], "scur", 0))
    converge(FakeClient(haproxy), request(name=["s2"], state=state, wait=True, wait_timeout=30),
             sleep=clock.sleep, clock=clock)
    sent = [command for batch in haproxy.sessions for command in batch]
    assert not [command for command in sent if command.startswith("wait ")]
    assert clock.sleeps == 1


def test_a_server_named_by_name_and_by_id_is_planned_once():
    # s1 is #1: check mode used to predict each command twice, the real run sent them twice.
    sim = lab()
    req = request(name=["s1", "#1"], port=9000)
    predicted = converge(FakeClient(sim), req, check_mode=True)
    real = converge(FakeClient(sim), req)
    assert predicted["commands"] == real["commands"] == ["set server be_app/s1 addr 127.0.0.1 port 9000"]
    assert [row["name"] for row in real["servers"]] == ["s1"]
    assert sim.writes == ["set server be_app/s1 addr 127.0.0.1 port 9000"]
