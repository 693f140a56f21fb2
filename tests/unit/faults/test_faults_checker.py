# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fault-injection suite's checker (tests/integration/targets/faults/files/faults.py) can fail."""

import importlib.util
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "..", "..", "integration", "targets", "faults", "files", "faults.py")
SPEC = importlib.util.spec_from_file_location("lbops_faults_checker", PATH)
faults = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(faults)

TABLES = {
    "bad": [{"module": "haproxy_info", "args": {"timeout": "nan"}, "sends": "nothing"}],
    "check": [],
    "hostile_plan": {"haproxy_server": {"write": ["reset"]}},
    "hostile_extra": [],
    "modes": {"reset": "reset"},
    "timeout": 1.0, "exchange_slack": 0.5, "slack": 1.0,
    "write_re": "^(set (?!severity-output )|clear )",
    "real_only": ["socket"],
}


def _record(directory, listener, number, data, started, exited, accepted, ended):
    base = os.path.join(str(directory), "rec", listener)
    os.makedirs(base, exist_ok=True)
    with open(os.path.join(base, "%05d.bin" % number), "wb") as handle:
        handle.write(data)
    with open(os.path.join(base, "%05d.json" % number), "w") as handle:
        json.dump({"started": started, "exited": exited, "accepted": accepted, "ended": ended, "pid": 1}, handle)


def _results(cases, bad, hostile):
    return [dict(bad, case=cases[0]), dict(hostile, case=cases[1])]


def test_cases_are_numbered_and_named():
    cases = faults.cases(TABLES)
    assert [case["id"] for case in cases] == ["bad1", "h1"]
    assert cases[1]["spec"] == "reset@write" and cases[1]["changed"] is True
    assert cases[1]["args"] == {"backend": "be_app", "name": ["s3"], "weight": 101}


def test_kept_promises_pass(tmp_path):
    cases = faults.cases(TABLES)
    # 0.2 s to connect, 0.7 s of exchange, 0.6 s to exit: within the slack of a run without a baseline.
    _record(tmp_path, "h1_reset_write", 1, b"prompt\nset server be_app/s3 weight 101\nquit\n", 10.0, 11.5, 10.2, 10.9)
    results = _results(cases, {"failed": True, "changed": False, "msg": "timeout must be a finite number"},
                       {"failed": True, "changed": True, "msg": "/x: connection reset after the batch was sent"})
    summary, broken = faults.check(TABLES, results, str(tmp_path))
    assert broken == []
    assert summary.startswith("faults: 2 of 2 cases passed")


def test_every_broken_promise_is_reported(tmp_path):
    cases = faults.cases(TABLES)
    # The bad case opened a connection and wrote (0.2 s: the baseline); the hostile one hid a
    # write, its exchange took 4 s and it spent 2 s more outside it (more than 2 x 0.2 + 1).
    _record(tmp_path, "bad1", 1, b"prompt\nclear table t\nquit\n", 1.0, 1.2, 1.0, 1.1)
    _record(tmp_path, "h1_reset_write", 1, b"prompt\nset server be_app/s3 weight 101\nquit\n", 10.0, 16.0, 11.0, 15.0)
    results = _results(cases, {"failed": True, "changed": False, "msg": "line one\nline two"},
                       {"failed": True, "changed": False, "msg": "/x: unexpected ConnectionResetError"})
    summary, broken = faults.check(TABLES, results, str(tmp_path))
    assert summary.startswith("faults: 0 of 2 cases passed")
    text = " ".join(broken)
    for needle in ("1 connection(s), expected none", "wrote", "msg is not one bounded line",
                   "changed=False, expected True", "a connection took 4.00 s",
                   "its process took 2.00 s outside its exchanges of 4.00 s (a module that does not wait: 0.20 s)"):
        assert needle in text


def test_a_loaded_machine_slows_start_and_exit_not_the_verdict(tmp_path):
    """Start-up and exit scale with the run's own baseline; only time outside it beyond twice that fails."""
    tables = dict(TABLES, bad=[{"module": "haproxy_info", "args": {"name": "x"}, "sends": "reads"}])
    cases = faults.cases(tables)
    # A module that never waits took 0.8 s (the machine is loaded); the hostile case: 1.0 s to
    # connect, 0.9 s of exchange, 1.0 s to exit (2.9 s in all: 2.0 s outside, under 2 x 0.8 + 1).
    _record(tmp_path, "bad1", 1, b"prompt\nshow table\nquit\n", 1.0, 1.8, 1.5, 1.6)
    _record(tmp_path, "h1_reset_write", 1, b"prompt\nset server be_app/s3 weight 101\nquit\n", 10.0, 12.9, 11.0, 11.9)
    ok = _results(cases, {"failed": True, "changed": False, "msg": "no table x"},
                  {"failed": True, "changed": True, "msg": "/x: connection reset after the batch was sent"})
    assert faults.check(tables, ok, str(tmp_path))[1] == []
    # The same case hanging 0.7 s more after its last connection is reported.
    _record(tmp_path, "h1_reset_write", 1, b"prompt\nset server be_app/s3 weight 101\nquit\n", 10.0, 13.6, 11.0, 11.9)
    broken = faults.check(tables, ok, str(tmp_path))[1]
    assert len(broken) == 1 and "its process took 2.70 s outside its exchanges of 0.90 s" in broken[0]


def test_the_timeout_bounds_each_connection_not_their_sum(tmp_path):
    """A read, then a write that times out: 1.5 s of connections in all, each within its own timeout."""
    cases = faults.cases(TABLES)
    _record(tmp_path, "h1_reset_write", 1, b"prompt\nshow servers state\nquit\n", 10.0, 12.2, 10.3, 10.7)
    _record(tmp_path, "h1_reset_write", 2, b"prompt\nset server be_app/s3 weight 101\nquit\n", 10.0, 12.2, 10.8, 11.9)
    results = _results(cases, {"failed": True, "changed": False, "msg": "timeout must be a finite number"},
                       {"failed": True, "changed": True, "msg": "/x: timed out after 1.0s"})
    assert faults.check(TABLES, results, str(tmp_path))[1] == []
    # The same write lasting 1.6 s is reported.
    _record(tmp_path, "h1_reset_write", 2, b"prompt\nset server be_app/s3 weight 101\nquit\n", 10.0, 12.9, 10.8, 12.4)
    broken = faults.check(TABLES, results, str(tmp_path))[1]
    assert len(broken) == 1 and "a connection took 1.60 s (timeout 1.0)" in broken[0]
