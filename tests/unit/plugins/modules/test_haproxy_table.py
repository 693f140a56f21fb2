# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_table: every decision, against an in-memory stick table with HAProxy 2.6's behaviour.

The simulator plugs into the real RuntimeClient in place of the socket session,
so replies go through the client's classification and the streaming parsers.
"""

import json

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _table as table_logic
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import HAProxyError, InvalidInput, LevelTooLow, NotFound
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Runner, build_request
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_table
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import (
    FakeClient,
    run_module,
    table_lab,
)


class Clock(object):
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.01)


def request(**kwargs):
    kwargs.setdefault("name", "fe_main")
    return build_request(haproxy_table.DEFINITION, haproxy_table.ARGUMENT_SPEC, kwargs, haproxy_table.MODULE_KWARGS)


def run_table(sim, check_mode=False, clock=None, **kwargs):
    clock = clock or Clock()
    client = FakeClient(sim)
    result = Runner(haproxy_table.DEFINITION, request(**kwargs), check_mode, sleep=clock.sleep, clock=clock).run(client)
    result["_connections"] = client.connections
    return result


def lab(level="admin", shard=False):
    return table_lab(level, "3.0.11-1" if shard else "2.6.12-1+deb12u3")


def keys_of(sim, name="fe_main"):
    return list(sim.tables[name].entries)


# -- request validation (before any connection) ---------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(name="fe main"), "invalid table name"),
    (dict(name=""), "must not be empty"),
    (dict(state="present"), "missing: keys"),
    (dict(state="present", keys=["1.1.1.1"], filter=[{"data": "gpc0", "operator": "gt", "value": 1}]), "mutually exclusive"),
    (dict(data={"gpc0": 1}), "only applies to state=present"),
    (dict(keys=["1.1.1.1"], filter=[{"data": "gpc0", "operator": "gt", "value": 1}]), "mutually exclusive: keys|filter"),
    (dict(keys=[]), "must not be an empty list"),
    (dict(keys=[""]), "must not be empty"),
    (dict(keys=["a\nb"]), "line breaks and NUL"),
    (dict(filter=[{"data": "gpc0", "operator": "gt", "value": 1}] * 5), "at most 4 filters"),
    (dict(filter=[{"data": "gpc0", "operator": "like", "value": 1}]), "value of operator must be one of"),
    (dict(state="present", keys=["1.1.1.1"], data={"gpc0": -1}), "non-negative integer"),
    (dict(state="present", keys=["1.1.1.1"], data={"bad name": 1}), "invalid stick-table data type"),
    (dict(max_entries=-1), "max_entries"),
    (dict(wait_timeout=-1), "wait_timeout"),
])
def test_request_refused_before_connecting(kwargs, message):
    with pytest.raises(InvalidInput) as err:
        request(**kwargs)
    assert message in str(err.value)


request_of = request


def test_request_commands_are_escaped():
    request = request_of(name="st_string", state="present", keys=["a b;c", "a b;c"], data={"gpc0": 2, "server_id": 1})
    assert request.keys == ["a b;c"]
    assert request.set_command("a b;c") == "set table st_string key a\\ b\\;c data.gpc0 2 data.server_id 1"
    request = request_of(filter=[{"data": "gpc0", "operator": "gt", "value": "5"}])
    assert request.clear_command() == "clear table fe_main data.gpc0 gt 5"
    assert request.show_command() == "show table fe_main data.gpc0 gt 5"


# -- absent, whole table -----------------------------------------------------

def test_clear_all_check_mode_predicts_and_sends_nothing():
    sim = lab()
    sim.tables["fe_main"].entries["10.9.0.4"]["use"] = 1
    result = run_table(sim, check_mode=True, fail_on_in_use=False)
    assert sim.writes == []
    assert result["_connections"] == 1
    assert result["changed"] is True
    assert result["removed"] == 5
    assert result["before"]["count"] == 6 and result["before"]["in_use"] == 1
    assert result["after"] == {"count": 1, "in_use": 1, "truncated": False,
                               "entries": [{"key": "10.9.0.4", "use": 1, "data": {"gpc0": 4, "conn_cur": 0}}]}
    assert result["commands"] == ["clear table fe_main"]
    # The real run ends exactly as predicted.
    real = run_table(sim, fail_on_in_use=False)
    assert real["after"] == result["after"]
    assert real["removed"] == 5


def test_clear_all_removes_skipped_neighbours_by_key():
    sim = lab()
    sim.tables["fe_main"].entries["10.9.0.3"]["use"] = 1
    sim.tables["fe_main"].entries["10.9.0.6"]["use"] = 1
    result = run_table(sim, fail_on_in_use=False)
    assert keys_of(sim) == ["10.9.0.3", "10.9.0.6"]
    assert "clear table fe_main key 10.9.0.2" in sim.writes
    assert "clear table fe_main key 10.9.0.5" in sim.writes
    assert result["changed"] is True
    assert result["removed"] == 4
    assert result["in_use"] == ["10.9.0.3", "10.9.0.6"]
    assert result["in_use_count"] == 2
    assert result["after"]["count"] == 2
    assert "still in use" in result["warnings"][0]


def test_clear_all_in_use_fails_when_asked_and_flags_the_change():
    sim = lab()
    sim.tables["fe_main"].entries["10.9.0.2"]["use"] = 1
    with pytest.raises(HAProxyError) as err:
        run_table(sim)
    assert "1 entry of table 'fe_main' still in use by live sessions, not removed: 10.9.0.2" in str(err.value)
    assert err.value.changed is True
    assert err.value.partial["removed"] == 5
    assert err.value.partial["diff"]["after"]["count"] == 1


def test_clear_all_waits_for_in_use_entries():
    sim = lab()
    entries = sim.tables["fe_main"].entries
    entries["10.9.0.2"]["use"] = 1
    clock = Clock()

    def release(sim):
        if clock.now >= 1.0 and "10.9.0.2" in entries:
            entries["10.9.0.2"]["use"] = 0
    sim.on_session = release
    result = run_table(sim, clock=clock, wait_timeout=5)
    assert keys_of(sim) == []
    assert result["changed"] is True
    assert result["in_use_count"] == 0
    assert clock.now >= 1.0 and clock.now < 5
    assert clock.sleeps


def test_clear_all_gives_up_after_wait_timeout():
    sim = lab()
    sim.tables["fe_main"].entries["10.9.0.6"]["use"] = 1
    clock = Clock()
    result = run_table(sim, clock=clock, wait_timeout=2, fail_on_in_use=False)
    assert keys_of(sim) == ["10.9.0.6"]
    assert 2 <= clock.now < 3
    assert result["in_use"] == ["10.9.0.6"]


def test_clear_all_only_in_use_is_a_no_op_without_wait():
    sim = lab()
    table = sim.tables["fe_main"]
    table.entries.clear()
    table.add("10.9.0.1", use=2)
    result = run_table(sim, fail_on_in_use=False)
    assert sim.writes == []
    assert result["changed"] is False
    assert result["_connections"] == 1


def test_clear_all_empty_table_is_a_no_op():
    sim = lab()
    sim.tables["fe_main"].entries.clear()
    result = run_table(sim)
    assert result["changed"] is False
    assert sim.writes == []
    assert result["_connections"] == 1
    assert result["before"] == result["after"] == {"count": 0, "in_use": 0, "entries": [], "truncated": False}


def test_clear_all_repeat_is_unchanged():
    sim = lab()
    assert run_table(sim)["changed"] is True
    writes = len(sim.writes)
    again = run_table(sim)
    assert again["changed"] is False
    assert len(sim.writes) == writes


def test_binary_table_is_cleared_without_keys():
    sim = lab()
    table = sim.tables["st_bin"]
    for key in ("0a0b", "0c0d", "0e0f"):
        table.add(key)
    table.entries["0e0f"]["use"] = 1
    result = run_table(sim, name="st_bin", fail_on_in_use=False)
    assert keys_of(sim, "st_bin") == ["0c0d", "0e0f"]  # the neighbour stays: no key clears on binary tables
    assert not [w for w in sim.writes if " key " in w]
    assert result["in_use"] == ["0e0f"]


def test_filter_clears_only_matching_entries():
    sim = lab()
    flt = [{"data": "gpc0", "operator": "ge", "value": 3}, {"data": "gpc0", "operator": "lt", "value": 6}]
    check = run_table(sim, check_mode=True, filter=flt)
    assert check["removed"] == 3 and sim.writes == []
    result = run_table(sim, filter=flt)
    assert keys_of(sim) == ["10.9.0.1", "10.9.0.2", "10.9.0.6"]
    assert sim.writes[0] == "clear table fe_main data.gpc0 ge 3 data.gpc0 lt 6"
    assert result["removed"] == 3
    assert result["after"]["count"] == 0
    assert run_table(sim, filter=flt)["changed"] is False


def test_bounded_report_keeps_exact_counts():
    sim = lab()
    table = sim.tables["fe_main"]
    for index in range(500):
        table.add("10.8.%d.%d" % (index // 256, index % 256))
    result = run_table(sim, check_mode=True, max_entries=10)
    assert result["before"]["count"] == 506
    assert len(result["before"]["entries"]) == 10
    assert result["before"]["truncated"] is True


def test_streaming_consumer_holds_a_bounded_number_of_entries():
    dump = table_logic.Dump(limit=3, key_cap=5)

    def lines():
        yield "# table: fe_main, type: ip, size:2000000, used:1000000"
        for index in range(100000):
            yield "0x1: key=10.%d.%d.%d use=%d exp=1 gpc0=1" % (index >> 16, (index >> 8) & 255, index & 255, index % 1000 == 0)
    dump.consume(lines())
    assert dump.count == 100000
    assert dump.in_use == 100
    assert len(dump.entries) == 3 and len(dump.in_use_entries) == 3 and len(dump.free_keys) == 5
    assert dump.header["used"] == 1000000


# -- absent, keys --------------------------------------------------------

def test_clear_keys_only_existing_ones():
    sim = lab()
    check = run_table(sim, check_mode=True, keys=["10.9.0.1", "10.9.0.99"])
    assert check["changed"] is True and check["removed"] == 1 and sim.writes == []
    assert check["commands"] == ["clear table fe_main key 10.9.0.1"]
    result = run_table(sim, keys=["10.9.0.1", "10.9.0.99"])
    assert sim.writes == ["clear table fe_main key 10.9.0.1"]
    assert "10.9.0.1" not in keys_of(sim)
    assert result["removed"] == 1
    assert result["after"]["count"] == 0
    again = run_table(sim, keys=["10.9.0.1", "10.9.0.99"])
    assert again["changed"] is False and again["_connections"] == 1  # table list, then the keys, one connection


def test_clear_keys_in_use_retried_then_reported():
    sim = lab()
    sim.tables["fe_main"].entries["10.9.0.2"]["use"] = 1
    clock = Clock()
    with pytest.raises(HAProxyError) as err:
        run_table(sim, clock=clock, keys=["10.9.0.1", "10.9.0.2"], wait_timeout=1.5)
    assert "still in use" in str(err.value)
    assert err.value.changed is True
    assert err.value.partial["in_use"] == ["10.9.0.2"]
    assert sim.writes.count("clear table fe_main key 10.9.0.2") >= 3
    assert "10.9.0.1" not in keys_of(sim)


def test_clear_keys_in_use_without_wait_sends_nothing():
    sim = lab()
    sim.tables["fe_main"].entries["10.9.0.2"]["use"] = 1
    result = run_table(sim, keys=["10.9.0.2"], fail_on_in_use=False)
    assert sim.writes == []
    assert result["changed"] is False
    assert result["in_use"] == ["10.9.0.2"]


def test_check_mode_predicts_the_clears_of_keys_in_use_that_go_out_with_the_others():
    # A free key and one in use: both clears go out (the session may end meanwhile);
    # check mode predicted the free one only.
    sim = lab()
    sim.tables["fe_main"].entries["10.9.0.2"]["use"] = 1
    args = dict(keys=["10.9.0.1", "10.9.0.2"], fail_on_in_use=False)
    check = run_table(sim, check_mode=True, **args)
    result = run_table(sim, **args)
    assert sim.writes == ["clear table fe_main key 10.9.0.1", "clear table fe_main key 10.9.0.2"]
    assert check["commands"] == result["commands"] == sim.writes
    assert check["commands_count"] == result["commands_count"] == 2
    assert check["removed"] == result["removed"] == 1 and check["in_use"] == result["in_use"] == ["10.9.0.2"]


def test_invalid_ip_key_refused_before_any_key_is_sent():
    sim = lab()
    for key in ("notanip", "::1", "10.0.0.256"):
        with pytest.raises(InvalidInput) as err:
            run_table(sim, state="present", keys=["10.9.0.1", key], data={"gpc0": 1})
        assert "type ip" in str(err.value)
    assert sim.writes == []
    assert all(command in ("show cli level", "show table", "show version") for session in sim.sessions for command in session)
    assert "0.0.0.0" not in keys_of(sim)


@pytest.mark.parametrize("name, key, good", [
    ("mypeers/sessions", "12", True), ("mypeers/sessions", "-1", False), ("mypeers/sessions", "4294967296", False),
    ("st_string", "any thing", True),
])
def test_keys_checked_by_table_type(name, key, good):
    sim = lab()
    if good:
        run_table(sim, name=name, state="present", keys=[key], data={"server_id": 1})
        assert key in keys_of(sim, name)
    else:
        with pytest.raises(InvalidInput):
            run_table(sim, name=name, state="present", keys=[key], data={"server_id": 1})
        assert sim.writes == []


# -- present -----------------------------------------------------------------

def test_present_sets_only_what_differs():
    sim = lab()
    check = run_table(sim, check_mode=True, state="present", keys=["10.9.0.1", "10.9.0.2", "10.1.1.1"], data={"gpc0": 2})
    assert sim.writes == []
    assert check["updated"] == ["10.9.0.1", "10.1.1.1"]
    assert check["changed"] is True
    result = run_table(sim, state="present", keys=["10.9.0.1", "10.9.0.2", "10.1.1.1"], data={"gpc0": 2})
    assert sim.writes == ["set table fe_main key 10.9.0.1 data.gpc0 2", "set table fe_main key 10.1.1.1 data.gpc0 2"]
    assert sim.tables["fe_main"].entries["10.1.1.1"]["data"]["gpc0"] == 2
    assert result["updated_count"] == 2
    assert [e["data"]["gpc0"] for e in result["after"]["entries"]] == [2, 2, 2]
    assert [e["data"]["gpc0"] for e in check["after"]["entries"]] == [2, 2, 2]
    again = run_table(sim, state="present", keys=["10.9.0.1", "10.9.0.2", "10.1.1.1"], data={"gpc0": 2})
    assert again["changed"] is False
    assert len(sim.writes) == 2


def test_present_without_data_creates_missing_keys_only():
    sim = lab()
    result = run_table(sim, state="present", keys=["10.9.0.1", "10.7.7.7"])
    assert sim.writes == ["set table fe_main key 10.7.7.7"]
    assert result["changed"] is True


def test_present_canonicalises_keys():
    sim = lab()
    run_table(sim, name="mypeers/sessions", state="present", keys=["007"], data={"server_id": 3})
    assert sim.writes == ["set table mypeers/sessions key 7 data.server_id 3"]


def test_present_escaped_string_key_is_idempotent():
    sim = lab()
    run_table(sim, name="st_string", state="present", keys=["a b"], data={"server_id": 3})
    assert sim.writes == ["set table st_string key a\\ b data.server_id 3"]
    assert run_table(sim, name="st_string", state="present", keys=["a b"], data={"server_id": 3})["changed"] is False


def test_present_data_not_stored_is_refused_before_sending():
    # HAProxy refuses it too, but only after it created the entry: the module asks first.
    sim = lab()
    with pytest.raises(InvalidInput) as err:
        run_table(sim, state="present", keys=["10.1.1.1"], data={"server_id": 1})
    assert "table 'fe_main' does not store data.server_id (it stores: gpc0, conn_cur); nothing was sent" in str(err.value)
    assert err.value.changed is False
    assert sim.writes == [] and "10.1.1.1" not in keys_of(sim)


def test_present_with_shard_field_of_27():
    sim = lab(shard=True)
    result = run_table(sim, state="present", keys=["10.9.0.3"], data={"gpc0": 3})
    assert result["changed"] is False
    assert result["before"]["entries"][0]["shard"] == 0


# -- level and unknown table ---------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(), dict(keys=["10.9.0.1"]), dict(state="present", keys=["10.9.0.1"], data={"gpc0": 1})])
def test_user_level_socket_refused(kwargs):
    sim = lab(level="user")
    with pytest.raises(LevelTooLow) as err:
        run_table(sim, **kwargs)
    assert "level is 'user'" in str(err.value)
    assert "\n" not in str(err.value)
    assert sim.writes == []
    assert len(keys_of(sim)) == 6


def test_operator_level_is_enough():
    sim = lab(level="operator")
    assert run_table(sim, keys=["10.9.0.1"])["changed"] is True


@pytest.mark.parametrize("kwargs", [dict(), dict(keys=["10.9.0.1"])])
def test_unknown_table(kwargs):
    sim = lab()
    with pytest.raises(NotFound) as err:
        run_table(sim, name="nosuch", **kwargs)
    assert "no stick table named 'nosuch'" in str(err.value)
    assert "<peers>/<table>" in str(err.value)
    if kwargs:  # keys mode reads the table list first and names the tables
        assert "mypeers/sessions" in str(err.value)
    assert sim.writes == []


# -- the module --------------------------------------------------------------

FAKES = {}


@pytest.fixture
def instances():
    FAKES.clear()
    FAKES.update({"/lb1.sock": lab(), "/lb2.sock": lab()})
    FAKES["/lb2.sock"].tables["fe_main"].entries["10.9.0.6"]["use"] = 1
    return FAKES


def table_module(capsys, args, check_mode=False, diff=False):
    return run_module(capsys, haproxy_table.main, args, check_mode, diff, fakes=FAKES)


def test_module_both_sockets_with_diff(capsys, instances):
    out = table_module(capsys, {"socket": ["/lb1.sock", "/lb2.sock"], "name": "fe_main", "fail_on_in_use": False}, diff=True)
    assert out["changed"] is True
    assert [r["socket"] for r in out["results"]] == ["/lb1.sock", "/lb2.sock"]
    assert out["diff"]["before"]["/lb1.sock"]["count"] == 6
    assert out["diff"]["after"]["/lb1.sock"]["count"] == 0
    assert out["diff"]["after"]["/lb2.sock"]["entries"][0]["key"] == "10.9.0.6"
    assert "/lb2.sock: 1 entry of table 'fe_main' still in use" in json.dumps(out["warnings"])
    assert "diff" not in out["results"][0]


def test_module_check_mode_sends_nothing(capsys, instances):
    out = table_module(capsys, {"socket": ["/lb1.sock", "/lb2.sock"], "name": "fe_main", "fail_on_in_use": False}, check_mode=True)
    assert out["changed"] is True
    assert [r["removed"] for r in out["results"]] == [6, 5]
    assert instances["/lb1.sock"].writes == [] and instances["/lb2.sock"].writes == []


def test_module_fails_on_in_use_naming_changed_targets(capsys, instances):
    out = table_module(capsys, {"socket": ["/lb1.sock", "/lb2.sock"], "name": "fe_main"})
    assert out["failed"] is True
    assert "still in use" in out["msg"]
    assert "targets already changed: /lb1.sock, /lb2.sock" in out["msg"]


def test_module_invalid_input_fails_before_connecting(capsys, instances):
    five = [{"data": "gpc0", "operator": "gt", "value": 1}] * 5
    out = table_module(capsys, {"socket": ["/lb1.sock"], "name": "fe_main", "filter": five})
    assert out["failed"] is True
    assert "at most 4 filters" in out["msg"]
    assert instances["/lb1.sock"].sessions == []


# -- a full clear of a big table goes out unread -----------------------------


def _big(monkeypatch, in_use=()):
    # COUNT_ONLY_ABOVE is 10,000; four entries stand for a big table here.
    monkeypatch.setattr(haproxy_table, "COUNT_ONLY_ABOVE", 3)
    sim = lab()
    sim.tables["fe_main"].entries.clear()
    for index in range(1, 9):
        sim.tables["fe_main"].add("10.9.1.%d" % index, use=1 if index in in_use else 0, gpc0=index)
    return sim


def _dumps(sim):
    return [command for session in sim.sessions for command in session if command == "show table fe_main"]


def test_big_full_clear_sends_the_clear_without_a_dump_first(monkeypatch):
    sim = _big(monkeypatch)
    result = run_table(sim)
    assert sim.writes == ["clear table fe_main"]
    # The only dump is the re-read after the clear.
    assert _dumps(sim) == ["show table fe_main"]
    assert sim.sessions[0][-1] == "show table"
    assert result["before"] == {"count": 8, "in_use": None, "entries": [], "truncated": True}
    assert result["after"] == {"count": 0, "in_use": 0, "entries": [], "truncated": False}
    assert result["changed"] is True and result["removed"] == 8 and result["in_use_count"] == 0
    assert keys_of(sim) == []


def test_big_full_clear_check_mode_reads_and_predicts_the_real_run(monkeypatch):
    predicted = run_table(_big(monkeypatch, in_use=(5,)), check_mode=True, fail_on_in_use=False)
    sim = _big(monkeypatch, in_use=(5,))
    real = run_table(sim, fail_on_in_use=False)
    for result in (predicted, real):
        result.pop("_connections")
    expected_before = {"count": 8, "in_use": None, "entries": [], "truncated": True}
    assert predicted["diff"]["before"] == real["diff"]["before"] == expected_before
    # Commands aside (HAProxy 2.6 skips the entry before one in use: the real run then
    # clears it by key), the prediction is the real run.
    assert (predicted.pop("commands"), predicted.pop("commands_count")) == (["clear table fe_main"], 1)
    assert (real.pop("commands"), real.pop("commands_count")) == (
        ["clear table fe_main", "clear table fe_main key 10.9.1.4"], 2)
    assert predicted == real
    assert real["removed"] == 7 and real["in_use"] == ["10.9.1.5"] and real["changed"] is True
    assert keys_of(sim) == ["10.9.1.5"]


def test_big_full_clear_of_entries_all_in_use_is_not_a_change(monkeypatch):
    sim = _big(monkeypatch, in_use=range(1, 9))
    predicted = run_table(sim, check_mode=True, fail_on_in_use=False)
    real = run_table(sim, fail_on_in_use=False)
    assert real["changed"] is False and predicted["changed"] is False
    assert real["removed"] == predicted["removed"] == 0
    assert real["commands"] == predicted["commands"] == ["clear table fe_main"]
    assert len(keys_of(sim)) == 8


def test_a_filtered_clear_of_a_big_table_still_reads_first(monkeypatch):
    sim = _big(monkeypatch)
    result = run_table(sim, filter=[{"data": "gpc0", "operator": "gt", "value": 4}])
    assert result["before"]["count"] == 4 and len(result["before"]["entries"]) == 4
    assert result["removed"] == 4
    assert keys_of(sim) == ["10.9.1.%d" % index for index in range(1, 5)]
