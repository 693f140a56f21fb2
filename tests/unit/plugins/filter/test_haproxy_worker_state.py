# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_worker_state: the role's post-reload verdict on a haproxy_info read."""

import calendar

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lbops.haproxy.plugins.filter.haproxy_worker_state import FilterModule, haproxy_worker_state

WRITTEN = calendar.timegm((2026, 12, 1, 10, 0, 0)) + 0.25  # haproxy.cfg's mtime, 10:00:00 UTC


def read(started_at, name="HAProxy"):
    """A registered haproxy_info result of one socket (failed_when: false)."""
    return {
        "changed": False,
        "results": [{"socket": "/run/haproxy/admin.sock", "changed": False, "failed": False, "pid": 4242,
                     "version": "3.0.11-1", "started_at": started_at, "uptime_seconds": 3,
                     "info": {"Name": name, "Version": "3.0.11-1", "Pid": "4242"}}],
    }


def test_registered_under_its_name():
    assert FilterModule().filters()["haproxy_worker_state"] is haproxy_worker_state


def test_worker_started_after_the_file_runs_it():
    out = haproxy_worker_state(read(WRITTEN + 2), WRITTEN, "/etc/haproxy/haproxy.cfg")
    assert out == {
        "state": "current",
        "summary": "pid 4242, version 3.0.11-1, worker started 10:00:02 UTC, /etc/haproxy/haproxy.cfg written 10:00:00 UTC",
    }
    # The same second counts as current only when not earlier than the file.
    assert haproxy_worker_state(read(WRITTEN), WRITTEN)["state"] == "current"


def test_worker_older_than_the_file_means_the_reload_did_not_take():
    out = haproxy_worker_state(read(WRITTEN - 60), WRITTEN, "/etc/haproxy/haproxy.cfg")
    assert out["state"] == "older"
    assert "worker started 09:59:00 UTC" in out["summary"]


def test_failed_read_is_no_answer_with_the_module_message():
    failed = {"failed": True, "msg": "1 of 1 targets failed",
              "results": [{"socket": "/run/haproxy/admin.sock", "failed": True,
                           "msg": "/run/haproxy/admin.sock: connection refused (is HAProxy running?)"}]}
    assert haproxy_worker_state(failed, WRITTEN) == {
        "state": "no answer", "summary": "/run/haproxy/admin.sock: connection refused (is HAProxy running?)"}
    # A module that returned nothing per target (it could not start).
    assert haproxy_worker_state({"failed": True, "msg": "MODULE FAILURE"}, WRITTEN) == {"state": "no answer", "summary": "MODULE FAILURE"}


def test_an_answer_not_from_haproxy_is_no_answer():
    out = haproxy_worker_state(read(WRITTEN + 5, name="Impostor"), WRITTEN)
    assert out["state"] == "no answer"
    assert out["summary"].startswith("unexpected answer to show info: ")
    no_uptime = read(WRITTEN + 5)
    del no_uptime["results"][0]["started_at"]
    assert haproxy_worker_state(no_uptime, WRITTEN)["state"] == "no answer"


@pytest.mark.parametrize(
    "value, written, message",
    [
        ("show info", WRITTEN, "the input must be the registered result of haproxy_info"),
        (read(WRITTEN), "yesterday", "written must be a time in seconds (stat.mtime), not 'yesterday'"),
        (read(WRITTEN), None, "written must be a time in seconds"),
    ],
)
def test_bad_input_is_one_clear_line(value, written, message):
    with pytest.raises(AnsibleFilterError) as err:
        haproxy_worker_state(value, written)
    assert message in str(err.value) and "\n" not in str(err.value)
