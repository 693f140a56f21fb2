# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Properties of planning: what the modules plan is what they do, and doing it again plans nothing.

Generated HAProxy states (servers with any admin, check and agent bits,
weights and addresses; frontends in every state; stick tables of every type
with entries in use) and generated requests run through the real runner and
client against the in-memory HAProxy of fake_haproxy.py, three times:

- in check mode: nothing is written, and the prediction is the real run's
  result (``changed``, ``commands``, ``servers``/``frontend``, the table's
  ``before``/``after``/``removed``/``updated``..., the diff), or the same
  typed error when the real run fails before writing;
- for real: HAProxy ends in the requested state (``plan(current, desired)``
  applied to ``current`` gives ``desired``);
- again: nothing to do (``plan(desired, desired)`` is empty), one connection.
"""

import copy

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils import _validate as validate
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import HAProxyError
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Runner, build_request
from ansible_collections.lbops.haproxy.plugins.module_utils._validate import resolve_weight
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_frontend, haproxy_server, haproxy_table
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import FakeClient, FakeHAProxy, Srv

VERSIONS = ("2.6.12-1+deb12u3", "3.0.11-1+deb13u4", "3.2.26-1")


class Clock(object):
    """Time that passes only when the module sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += max(seconds, 0.01)


def run(module, sim, params, check_mode=False):
    """One module run on one target: ``(result or error, connections)``."""
    kwargs = getattr(module, "MODULE_KWARGS", None)
    request = build_request(module.DEFINITION, module.ARGUMENT_SPEC, params, kwargs)
    client = FakeClient(sim)
    clock = Clock()
    try:
        result = Runner(module.DEFINITION, request, check_mode, clock=clock, sleep=clock.sleep).run(client)
    except HAProxyError as exc:
        assert "\n" not in str(exc)
        return exc, client.connections
    return result, client.connections


def three_runs(module, sim, params):
    """Check mode, the real run, the run again: their results and the states in between."""
    predicted_sim = copy.deepcopy(sim)
    predicted, dummy = run(module, predicted_sim, params, check_mode=True)
    assert predicted_sim.writes == [], "check mode wrote %r" % predicted_sim.writes
    real, dummy = run(module, sim, params)
    writes = len(sim.writes)
    again, connections = run(module, sim, params) if not isinstance(real, HAProxyError) else (None, 0)
    return predicted, real, again, connections, sim.writes[writes:]


def same_failure(predicted, real, sim):
    """A plan that fails fails the same way in check mode and for real, and nothing is written."""
    assert isinstance(predicted, HAProxyError) == isinstance(real, HAProxyError), (predicted, real)
    if isinstance(real, HAProxyError):
        assert type(predicted) is type(real) and str(predicted) == str(real)
        assert sim.writes == [] and not real.changed
        return True
    return False


# -- haproxy_server -------------------------------------------------------------

ADMIN_BITS = st.sampled_from([0, 0x01, 0x08, 0x04, 0x05, 0x0C, 0x02, 0x10, 0x20, 0x09])
CHECK_BITS = st.sampled_from([0, 0x02, 0x06])  # not configured, configured, configured and enabled


@st.composite
def backends(draw):
    servers = []
    for index in range(draw(st.integers(1, 4))):
        initial = draw(st.integers(0, 256))
        srv = Srv("s%d" % index, initial, admin=draw(ADMIN_BITS), check=draw(CHECK_BITS), agent=draw(CHECK_BITS),
                  addr=draw(st.sampled_from(["127.0.0.1", "10.0.0.%d" % index, "2001:db8::%d" % (index + 1)])),
                  port=draw(st.integers(1, 65535)))
        srv.uweight = draw(st.sampled_from([initial, 0, min(256, initial * 2), 1]))
        servers.append(srv)
    return servers


@st.composite
def server_requests(draw, servers):
    names = draw(st.lists(st.sampled_from([srv.name for srv in servers] + ["#1"]), min_size=1, max_size=3))
    params = {"backend": "be_x", "name": names}
    for option, values in (("state", ["ready", "drain", "maint", "enabled", "disabled"]),
                           ("health", ["enabled", "disabled"]), ("agent", ["enabled", "disabled"])):
        value = draw(st.none() | st.sampled_from(values))
        if value is not None:
            params[option] = value
    weight = draw(st.none() | st.integers(0, 256) | st.integers(0, 150).map("{}%".format))
    if weight is not None:
        params["weight"] = weight
    if draw(st.booleans()):
        params["address"] = draw(st.sampled_from(["127.0.0.1", "10.0.0.9", "2001:db8::9", "2001:DB8:0::9"]))
    if draw(st.booleans()):
        params["port"] = draw(st.integers(1, 65535))
    return params


@st.composite
def server_cases(draw):
    servers = draw(backends())
    return draw(st.sampled_from(VERSIONS)), servers, draw(server_requests(servers))


def server_sim(version, servers):
    sim = FakeHAProxy(version=version)
    sim.add_backend("be_x", copy.deepcopy(servers))
    return sim


@given(server_cases())
def test_haproxy_server_does_what_it_plans_and_then_nothing(case):
    version, servers, params = case
    sim = server_sim(version, servers)
    predicted, real, again, connections, again_writes = three_runs(haproxy_server, sim, params)
    if same_failure(predicted, real, sim):
        return
    for field in ("changed", "commands", "servers", "diff"):
        assert predicted[field] == real[field], field
    # plan(current, desired) applied to current gives desired
    rows = dict((row["name"], row) for row in parsers.parse_servers_state(sim.servers_state("be_x")))
    before = dict((srv.name, srv) for srv in servers)
    names = set("s0" if name == "#1" else name for name in params["name"])
    for name in names:
        row = rows[name]
        state = haproxy_server.STATE_ALIASES.get(params.get("state"), params.get("state"))
        if state is not None:
            assert row["state"] == state
        if "weight" in params:
            assert row["weight"] == resolve_weight(params["weight"], before[name].iweight)
        for option in ("health", "agent"):
            if option in params:
                assert row[option] == params[option]
        if "address" in params:
            assert row["address"] == haproxy_server.check_address(params["address"])
        if "port" in params:
            assert row["port"] == params["port"]
    # plan(desired, desired) is empty: no change, no write, one connection
    assert again["changed"] is False and again["commands"] == [] and again_writes == [] and connections == 1
    assert real["changed"] is bool(real["commands"])


# -- haproxy_frontend -------------------------------------------------------------


@given(st.sampled_from(VERSIONS), st.sampled_from(["OPEN", "PAUSED", "STOP", None]), st.sampled_from(["enabled", "disabled"]))
def test_haproxy_frontend_does_what_it_plans_and_then_nothing(version, status, state):
    sim = FakeHAProxy(version=version)
    sim.frontends["fe_x"] = status
    params = {"name": "fe_x", "state": state}
    predicted, real, again, connections, again_writes = three_runs(haproxy_frontend, sim, params)
    if same_failure(predicted, real, sim):
        assert status in ("STOP", None) and state == "enabled"
        return
    for field in ("changed", "commands", "frontend", "diff"):
        assert predicted[field] == real[field], field
    if status not in ("STOP", None):
        assert sim.frontends["fe_x"] == {"enabled": "OPEN", "disabled": "PAUSED"}[state]
    assert again["changed"] is False and again_writes == [] and connections == 1


# -- haproxy_table ------------------------------------------------------------------

TYPED_KEYS = {
    "ip": st.ip_addresses(v=4).map(str),
    "integer": st.integers(0, 2 ** 32 - 1).map(str),
    "string": st.text(st.sampled_from(list("ab é;\\#=\"' x")), min_size=1, max_size=12),
}
STORED = ("gpc0", "server_id", "conn_cur")


@st.composite
def table_cases(draw):
    version = draw(st.sampled_from(VERSIONS))
    table_type = draw(st.sampled_from(sorted(TYPED_KEYS)))
    pool = draw(st.lists(TYPED_KEYS[table_type], min_size=1, max_size=8, unique=True))
    present = draw(st.lists(st.sampled_from(pool), unique=True, max_size=6))
    entries = [(key, draw(st.sampled_from([0, 0, 0, 1])), dict((name, draw(st.integers(0, 5))) for name in STORED))
               for key in present]
    mode = draw(st.sampled_from(["present", "absent keys", "clear", "filter"]))
    params = {"name": "st_x", "wait_timeout": 0, "fail_on_in_use": False}
    # Keys are given as the module shows them (a backslash as \\, other bytes as \xNN).
    shown = st.lists(st.sampled_from(pool), min_size=1, max_size=3).map(lambda keys: [key_text(key) for key in keys])
    if mode == "present":
        params.update(state="present", keys=draw(shown),
                      data=draw(st.dictionaries(st.sampled_from(STORED), st.integers(0, 5), min_size=1)))
    elif mode == "absent keys":
        params.update(keys=draw(shown))
    elif mode == "filter":
        params.update(filter=[{"data": draw(st.sampled_from(STORED)), "operator": draw(st.sampled_from(["eq", "ge", "lt"])),
                               "value": draw(st.integers(0, 5))}])
    return version, table_type, entries, params


def table_sim(version, table_type, entries):
    sim = FakeHAProxy(version=version)
    table = sim.table("st_x", table_type, STORED)
    for key, use, data in entries:
        table.add(key, use, **data)
    return sim


def key_text(key):
    return validate.key_text(key) if hasattr(validate, "key_text") else key


def canonical(shown, table_type):
    """The key of the table (as the fake stores it) that a key given to the module names."""
    key = validate.key_from_text(shown) if hasattr(validate, "key_from_text") else shown
    return validate.normalize_key(key, table_type)


@given(table_cases())
def test_haproxy_table_does_what_it_plans_and_then_nothing(case):
    version, table_type, entries, params = case
    sim = table_sim(version, table_type, entries)
    predicted, real, again, connections, again_writes = three_runs(haproxy_table, sim, params)
    if same_failure(predicted, real, sim):
        return
    fields = ["changed", "removed", "in_use", "before", "after", "diff"]
    if "keys" in params:
        fields += ["commands", "commands_count"]
    # A clear's commands are not predicted one by one: HAProxy 2.6 to 3.x skip the entry
    # before each one in use, which the real run then clears by key (the outcome is predicted).
    if params.get("state") == "present":
        fields += ["updated", "updated_count"]
    for field in fields:
        assert predicted.get(field) == real.get(field), field
    left = sim.tables["st_x"].entries
    busy = set(key for key, use, dummy in entries if use)
    if params.get("state") == "present":
        for key in params["keys"]:
            assert all(left[canonical(key, table_type)]["data"][name] == value for name, value in params["data"].items())
    elif "keys" in params:
        gone = set(canonical(key, table_type) for key in params["keys"])
        assert set(left) == set(key for key, dummy, dummy2 in entries if key not in gone or key in busy)
    else:
        selected = [key for key, dummy, data in entries if "filter" not in params or
                    _matches(data, params["filter"][0])]
        assert set(left) == set(key for key, dummy, dummy2 in entries if key not in selected or key in busy)
    # Again: nothing left to do but the entries in use.
    assert again["changed"] is False and again_writes == [] and connections == 1


def _matches(data, item):
    value = data.get(item["data"], 0)
    return {"eq": value == item["value"], "ge": value >= item["value"], "lt": value < item["value"]}[item["operator"]]
