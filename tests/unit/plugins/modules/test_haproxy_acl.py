# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_acl as a module, against the fake HAProxy's ACL commands (fake_maps)."""

import os
import stat

import pytest

from ansible_collections.lbops.haproxy.plugins.modules import haproxy_acl
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import Instances
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_maps import BLOCKED, maps_lab

FAKES = Instances(haproxy_acl.main)
run = FAKES.run
VERSIONS = ("2.6.12-1+deb12u3", "3.0.11-1+deb13u4", "3.2.26-1")
PAIR = ["/lb1.sock", "/lb2.sock"]


@pytest.fixture
def instances():
    return FAKES.reset(lb1=maps_lab(), lb2=maps_lab())


def args(patterns, **extra):
    values = {"socket": "/lb1.sock", "acl": BLOCKED, "patterns": patterns}
    values.update(extra)
    return values


def served(fake, path=BLOCKED):
    return [key for key, dummy in fake.maps.ref(path).entries]


@pytest.mark.parametrize("version", VERSIONS)
def test_present_check_change_repeat_on_a_pair(capsys, version):
    instances = FAKES.reset(lb1=maps_lab(version=version), lb2=maps_lab(version=version))
    wanted = args(["/debug", "/with space", "/x"], socket=PAIR)
    checked = run(capsys, wanted, check_mode=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["after"]["/lb1.sock"] == {"count": 4, "patterns": ["/with space", "/x"]}
    commands = ["add acl %s /with\\ space" % BLOCKED, "add acl %s /x" % BLOCKED]
    for fake in instances.values():
        assert fake.writes == [] and len(fake.sessions) == 1
        fake.sessions[:] = []
    done = run(capsys, wanted, diff=True)
    assert done["diff"] == checked["diff"]
    assert [r["commands"] for r in done["results"]] == [commands, commands]
    for fake in instances.values():
        assert served(fake) == ["/admin", "/debug", "/with space", "/x"]
        fake.sessions[:] = []
    again = run(capsys, wanted)
    assert again["changed"] is False
    for fake in instances.values():
        assert len(fake.sessions) == 1


def test_absent(instances, capsys):
    fake = instances["/lb1.sock"]
    out = run(capsys, args(["/admin", "/nothere"], state="absent"))
    assert out["changed"] is True and out["results"][0]["commands"] == ["del acl %s /admin" % BLOCKED]
    assert served(fake) == ["/debug"]
    assert run(capsys, args(["/admin"], state="absent"))["changed"] is False


@pytest.mark.parametrize("version", VERSIONS)
def test_exact_one_command_per_pattern_then_commit(capsys, version):
    fake = FAKES.reset(lb1=maps_lab(version=version))["/lb1.sock"]
    checked = run(capsys, args(["/x", "/admin"], state="exact"), check_mode=True, diff=True)
    fake.sessions[:] = []
    done = run(capsys, args(["/x", "/admin"], state="exact"), diff=True)
    assert done["diff"] == checked["diff"]
    # the diff names what goes (before) and what comes (after)
    assert done["diff"]["before"]["/lb1.sock"] == {"count": 2, "patterns": ["/debug"]}
    assert done["diff"]["after"]["/lb1.sock"] == {"count": 2, "patterns": ["/x"]}
    assert done["results"][0]["commands"] == checked["results"][0]["commands"] == [
        "prepare acl %s" % BLOCKED, "add acl @1 %s /x" % BLOCKED, "add acl @1 %s /admin" % BLOCKED,
        "commit acl @1 %s" % BLOCKED]
    assert served(fake) == ["/x", "/admin"]
    assert fake.sessions[2] == ["add acl @1 %s /x" % BLOCKED, "add acl @1 %s /admin" % BLOCKED]  # one batch
    fake.sessions[:] = []
    assert run(capsys, args(["/x", "/admin"], state="exact"))["changed"] is False
    assert len(fake.sessions) == 1


def test_exact_failure_commits_nothing(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.maps.fail_on = lambda command: "out of memory (test)" if command.endswith(" /y") else None
    out = run(capsys, args(["/x", "/y", "/z"], state="exact"))
    assert out["failed"] is True and out["changed"] is False
    assert "nothing was committed" in out["msg"]
    assert served(fake) == ["/admin", "/debug"]
    assert not any(command.startswith("commit ") for command in fake.writes)


def test_exact_empty_list_empties_the_file(instances, capsys):
    out = run(capsys, args([], state="exact"))
    assert out["changed"] is True and served(instances["/lb1.sock"]) == []


@pytest.mark.parametrize("patterns, message", [
    (["/a\nb"], "line break"),
    (["#x"], "starts with '#'"),
    ([" /x"], "starts or ends with a blank"),
    (["/x", "/x"], "twice"),
    ([None], "must be text"),
])
def test_bad_input_sends_nothing(instances, capsys, patterns, message):
    out = run(capsys, args(patterns))
    assert out["failed"] is True and not out.get("changed")
    assert message in out["msg"]
    assert instances["/lb1.sock"].sessions == []


def test_missing_acl_and_a_map_are_refused(instances, capsys):
    out = run(capsys, args(["/x"], acl="/etc/haproxy/maps/hosts.map"))  # a map, not an ACL file
    assert out["failed"] is True
    assert out["msg"].startswith("/lb1.sock: HAProxy has no ACL file '/etc/haproxy/maps/hosts.map' (show acl lists: ")
    assert instances["/lb1.sock"].writes == []


def test_persist(tmp_path, capsys):
    path = str(tmp_path / "blocked.acl")
    with open(path, "w") as handle:
        handle.write("/admin\n/debug\n")
    os.chmod(path, 0o600)
    FAKES.reset(lb1=maps_lab(blocked_path=path), lb2=maps_lab(blocked_path=path))
    out = run(capsys, args(["/x"], acl=path, socket=PAIR, persist=True))
    assert out["changed"] is True and out["persisted"] is True
    with open(path) as handle:
        assert handle.read() == "/admin\n/debug\n/x\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = run(capsys, args(["/x"], acl=path, socket=PAIR, persist=True))
    assert again["changed"] is False and again["persisted"] is False


def test_persist_needs_a_file(instances, capsys):
    out = run(capsys, args(["/x"], acl="#1", persist=True))
    assert out["failed"] is True and "persist needs the file" in out["msg"]
    assert instances["/lb1.sock"].writes == []
