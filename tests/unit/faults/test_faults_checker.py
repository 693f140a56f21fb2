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
    _record(tmp_path, "h1_reset_write", 1, b"prompt\nset server be_app/s3 weight 101\nquit\n", 10.0, 11.5, 10.2, 10.4)
    results = _results(cases, {"failed": True, "changed": False, "msg": "timeout must be a finite number"},
                       {"failed": True, "changed": True, "msg": "/x: connection reset after the batch was sent"})
    summary, broken = faults.check(TABLES, results, str(tmp_path))
    assert broken == []
    assert summary.startswith("faults: 2 of 2 cases passed")


def test_every_broken_promise_is_reported(tmp_path):
    cases = faults.cases(TABLES)
    # The bad case opened a connection and wrote; the hostile one hid a write and took 5 s.
    _record(tmp_path, "bad1", 1, b"prompt\nclear table t\nquit\n", 1.0, 1.2, 1.0, 1.1)
    _record(tmp_path, "h1_reset_write", 1, b"prompt\nset server be_app/s3 weight 101\nquit\n", 10.0, 15.0, 10.0, 14.0)
    results = _results(cases, {"failed": True, "changed": False, "msg": "line one\nline two"},
                       {"failed": True, "changed": False, "msg": "/x: unexpected ConnectionResetError"})
    summary, broken = faults.check(TABLES, results, str(tmp_path))
    assert summary.startswith("faults: 0 of 2 cases passed")
    text = " ".join(broken)
    for needle in ("1 connection(s), expected none", "wrote", "msg is not one bounded line",
                   "changed=False, expected True", "its exchanges took 4.00 s", "its process took 5.00 s"):
        assert needle in text
