"""Unit tests of roles/keepalived/files/lbops_keepalived_track.py, the helper the HAProxy
unit's drop-in runs on stop and start (the role installs it as lbops-keepalived-track)."""

import argparse
import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "keepalived", "files", "lbops_keepalived_track.py")
_SPEC = importlib.util.spec_from_file_location("lbops_keepalived_track", _PATH)
helper = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(helper)

IP_OUTPUT = """1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.213.50.11/24 brd 10.213.50.255 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.213.50.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever
"""


class Clock:
    """A fake monotonic clock that sleep() advances."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _args(tmp_path, **kw):
    values = {"file": str(tmp_path / "haproxy.track"), "vip": ["10.213.50.100"], "timeout": 5.0, "unit": "haproxy.service"}
    values.update(kw)
    return argparse.Namespace(**values)


def test_local_addresses():
    assert helper.local_addresses(IP_OUTPUT) == {"127.0.0.1", "10.213.50.11", "10.213.50.100"}
    assert helper.local_addresses("") == set()


def test_read_and_write_value(tmp_path):
    path = str(tmp_path / "t")
    assert helper.read_value(path) == 0  # missing
    helper.write_value(path, -253)
    with open(path, encoding="ascii") as fh:
        assert fh.read() == "-253\n"
    assert helper.read_value(path) == -253
    assert os.listdir(tmp_path) == ["t"]  # no temporary file left
    with open(path, "w", encoding="ascii") as fh:
        fh.write("garbage")
    assert helper.read_value(path) == 0


@pytest.mark.parametrize(
    ("result", "policy", "expected"),
    [
        ("signal", "always", True),
        ("exit-code", "always", True),
        ("success", "always", True),
        ("signal", "no", False),
        ("exit-code", "on-failure", True),
        ("success", "on-failure", False),
        ("signal", "on-abnormal", True),
        ("exit-code", "on-abnormal", False),
        ("core-dump", "on-abort", True),
        ("watchdog", "on-watchdog", True),
        ("start-limit-hit", "always", False),
        ("", "always", False),
        ("signal", "unknown-policy", False),
    ],
)
def test_restart_follows(result, policy, expected):
    assert helper.restart_follows(result, policy) is expected


def test_stop_hands_over_then_faults(tmp_path):
    clock = Clock()
    seen = []

    # The VIP is here for the first 0.5 s (the peer takes over), gone afterwards.
    def addresses():
        seen.append((clock(), helper.read_value(str(tmp_path / "haproxy.track"))))
        return {"10.213.50.11", "10.213.50.100"} if clock() < 0.5 else {"10.213.50.11"}

    outcome = helper.do_stop(_args(tmp_path), {"MAINPID": "123"}, addresses, clock, clock.sleep)
    assert outcome == "handed-over"
    # While waiting, the file said HANDOVER (priority 1: HAProxy still serves, a peer preempts).
    assert all(value == helper.HANDOVER for _t, value in seen)
    assert 0.5 <= clock() < 0.6
    assert helper.read_value(str(tmp_path / "haproxy.track")) == helper.FAULT


def test_stop_gives_up_after_the_timeout(tmp_path):
    clock = Clock()
    outcome = helper.do_stop(_args(tmp_path, timeout=3.0), {"MAINPID": "1"}, lambda: {"10.213.50.100"}, clock, clock.sleep)
    assert outcome == "handed-over"
    assert 3.0 <= clock() < 3.1
    assert helper.read_value(str(tmp_path / "haproxy.track")) == helper.FAULT


def test_stop_without_the_vip_or_with_timeout_0_faults_at_once(tmp_path):
    clock = Clock()
    assert helper.do_stop(_args(tmp_path), {"MAINPID": "1"}, lambda: {"10.213.50.12"}, clock, clock.sleep) == "released"
    assert clock() == 0.0 and helper.read_value(str(tmp_path / "haproxy.track")) == helper.FAULT
    assert helper.do_stop(_args(tmp_path, timeout=0.0), {"MAINPID": "1"}, lambda: {"10.213.50.100"}, clock, clock.sleep) == "handed-over"
    assert clock() == 0.0


def test_stop_after_a_crash_leaves_the_decision_to_stop_post(tmp_path):
    helper.write_value(str(tmp_path / "haproxy.track"), 0)
    assert helper.do_stop(_args(tmp_path), {}, lambda: {"10.213.50.100"}) == "crashed"
    assert helper.read_value(str(tmp_path / "haproxy.track")) == 0


def test_stop_post(tmp_path):
    path = str(tmp_path / "haproxy.track")
    args = _args(tmp_path)
    # Already marked by stop (a requested stop): kept.
    helper.write_value(path, helper.FAULT)
    assert helper.do_stop_post(args, {"SERVICE_RESULT": "success"}, lambda unit: "always") == "kept"
    # A crash that systemd restarts right away: not marked (the tracker script is the backstop).
    helper.write_value(path, 0)
    assert helper.do_stop_post(args, {"SERVICE_RESULT": "signal"}, lambda unit: "always") == "restart"
    assert helper.read_value(path) == 0
    # A crash without a restart, or a start that failed without one: FAULT.
    assert helper.do_stop_post(args, {"SERVICE_RESULT": "exit-code"}, lambda unit: "no") == "fault"
    assert helper.read_value(path) == helper.FAULT
    # A start that failed (an exit code) is FAULT even when systemd will try again.
    helper.write_value(path, 0)
    assert helper.do_stop_post(args, {"SERVICE_RESULT": "exit-code"}, lambda unit: "always") == "fault"
    assert helper.read_value(path) == helper.FAULT
    helper.write_value(path, 0)
    assert helper.do_stop_post(args, {"SERVICE_RESULT": "core-dump"}, lambda unit: "on-failure") == "restart"


def test_main_start_post_and_set(tmp_path):
    path = str(tmp_path / "haproxy.track")
    assert helper.main(["set", "-254", "--file", path], {}) == "written"
    assert helper.read_value(path) == -254
    assert helper.main(["start-post", "--file", path], {}) == "written"
    assert helper.read_value(path) == 0
    assert helper.main(["set", "5", "--file", str(tmp_path / "missing" / "t")], {}) == "error"
