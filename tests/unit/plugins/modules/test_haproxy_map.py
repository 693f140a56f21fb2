# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_map as a module, against the fake HAProxy's map commands (fake_maps)."""

import os
import stat

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils._transport import MAX_PAYLOAD_BYTES, Payload
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_map
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import Instances
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_maps import HOSTS, maps_lab

FAKES = Instances(haproxy_map.main)
run = FAKES.run
VERSIONS = ("2.6.12-1+deb12u3", "3.0.11-1+deb13u4", "3.2.26-1")
PAIR = ["/lb1.sock", "/lb2.sock"]


@pytest.fixture
def instances():
    return FAKES.reset(lb1=maps_lab(), lb2=maps_lab())


def args(entries, **extra):
    values = {"socket": "/lb1.sock", "map": HOSTS, "entries": entries}
    values.update(extra)
    return values


def served(fake, path=HOSTS):
    return list(fake.maps.ref(path).entries)


@pytest.mark.parametrize("version", VERSIONS)
def test_present_check_change_repeat_on_a_pair(capsys, version):
    instances = FAKES.reset(lb1=maps_lab(version=version), lb2=maps_lab(version=version))
    wanted = args({"a.example": "be_new", "c.example": "be_c"}, socket=PAIR)
    checked = run(capsys, wanted, check_mode=True, diff=True)
    assert checked["changed"] is True
    expected_before = {"count": 2, "entries": {"a.example": "be_a"}}
    expected_after = {"count": 3, "entries": {"a.example": "be_new", "c.example": "be_c"}}
    assert checked["diff"]["before"] == {"/lb1.sock": expected_before, "/lb2.sock": expected_before}
    assert checked["diff"]["after"] == {"/lb1.sock": expected_after, "/lb2.sock": expected_after}
    commands = ["set map %s a.example be_new" % HOSTS, "add map %s c.example be_c" % HOSTS]
    assert [r["commands"] for r in checked["results"]] == [commands, commands]
    for fake in instances.values():
        assert fake.writes == []
        assert len(fake.sessions) == 1
        fake.sessions[:] = []
    done = run(capsys, wanted, diff=True)
    assert done["changed"] is True
    assert done["diff"] == checked["diff"]  # check mode predicted the real run exactly
    assert [r["commands"] for r in done["results"]] == [commands, commands]
    assert [(r["added"], r["updated"], r["removed"], r["count"]) for r in done["results"]] == [(1, 1, 0, 3)] * 2
    for fake in instances.values():
        assert served(fake) == [("a.example", "be_new"), ("b.example", "be_b"), ("c.example", "be_c")]
        assert fake.sessions[1] == commands  # one write batch
        fake.sessions[:] = []
    again = run(capsys, wanted, diff=True)
    assert again["changed"] is False
    assert [r["commands"] for r in again["results"]] == [[], []]
    for fake in instances.values():
        assert len(fake.sessions) == 1  # a no-op is one read connection
        assert fake.sessions[0] == ["show cli level", "show map", "show map %s" % HOSTS]


def test_list_form_and_numbers(instances, capsys):
    out = run(capsys, args([{"key": "c.example", "value": 8080}]))
    assert out["changed"] is True
    assert served(instances["/lb1.sock"])[-1] == ("c.example", "8080")


def test_values_with_blanks_and_backslashes_are_escaped(instances, capsys):
    out = run(capsys, args({"^/api\\.v1": "be api;x"}))
    assert out["results"][0]["commands"] == ["add map %s ^/api\\\\.v1 be\\ api\\;x" % HOSTS]
    assert served(instances["/lb1.sock"])[-1] == ("^/api\\.v1", "be api;x")
    assert run(capsys, args({"^/api\\.v1": "be api;x"}))["changed"] is False


def test_present_sets_every_duplicate(capsys):
    fake = FAKES.reset(lb1=maps_lab(hosts=[("a.example", "be_a"), ("a.example", "be_old")]))["/lb1.sock"]
    out = run(capsys, args({"a.example": "be_a"}))
    assert out["changed"] is True  # one duplicate differs
    assert out["results"][0]["commands"] == ["set map %s a.example be_a" % HOSTS]
    assert served(fake) == [("a.example", "be_a"), ("a.example", "be_a")]
    assert run(capsys, args({"a.example": "be_a"}))["changed"] is False


def test_absent_with_a_list_of_keys_removes_every_duplicate(capsys):
    fake = FAKES.reset(lb1=maps_lab(hosts=[("a.example", "1"), ("b.example", "2"), ("a.example", "3")]))["/lb1.sock"]
    checked = run(capsys, args(["a.example", "zz.example"], state="absent"), check_mode=True, diff=True)
    done = run(capsys, args(["a.example", "zz.example"], state="absent"), diff=True)
    assert checked["diff"] == done["diff"]
    assert done["diff"]["after"]["/lb1.sock"] == {"count": 1, "entries": {}}
    assert done["results"][0]["commands"] == ["del map %s a.example" % HOSTS]
    assert served(fake) == [("b.example", "2")]
    fake.sessions[:] = []
    assert run(capsys, args(["a.example"], state="absent"))["changed"] is False
    assert len(fake.sessions) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_exact_prepares_fills_then_commits(capsys, version):
    hosts = [("a.example", "be_a"), ("a.example", "dup"), ("old.example", "be_old")]
    fake = FAKES.reset(lb1=maps_lab(version=version, hosts=hosts))["/lb1.sock"]
    wanted = args({"a.example": "be_a", "n.example": "be n"}, state="exact")
    checked = run(capsys, wanted, check_mode=True, diff=True)
    assert fake.writes == [] and len(fake.sessions) == 1
    fake.sessions[:] = []
    done = run(capsys, wanted, diff=True)
    assert done["changed"] is True
    assert done["diff"] == checked["diff"]
    assert done["results"][0]["commands"] == checked["results"][0]["commands"] == [
        "prepare map %s" % HOSTS, "add map @1 %s <<" % HOSTS, "commit map @1 %s" % HOSTS]
    assert served(fake) == [("a.example", "be_a"), ("n.example", "be n")]
    # read, prepare, the version's entries, the commit (only once they all took), the re-read
    assert [session[0] for session in fake.sessions] == ["show cli level", "prepare map %s" % HOSTS,
                                                         "add map @1 %s <<" % HOSTS, "commit map @1 %s" % HOSTS,
                                                         "show map %s" % HOSTS]
    assert fake.sessions[2][0].text == "a.example be_a\nn.example be n\n"
    fake.sessions[:] = []
    again = run(capsys, wanted)
    assert again["changed"] is False and len(fake.sessions) == 1


def test_exact_on_a_big_map_cuts_payloads_under_the_buffer(capsys):
    fake = FAKES.reset(lb1=maps_lab())["/lb1.sock"]
    entries = dict(("host%06d.example.com" % index, "be_%d" % (index % 9)) for index in range(100000))
    out = run(capsys, args(entries, state="exact"), diff=True)
    assert out["changed"] is True
    assert len(served(fake)) == 100000 and served(fake)[12345] == ("host012345.example.com", "be_6")
    chunks = fake.sessions[2]
    assert len(chunks) > 100 and all(isinstance(chunk, Payload) for chunk in chunks)
    assert all(len(chunk.encode()) + len(chunk.text.encode()) + 2 <= MAX_PAYLOAD_BYTES for chunk in chunks)
    diff = out["diff"]["after"]["/lb1.sock"]
    assert diff["count"] == 100000 and len(diff["entries"]) == 200 and diff["omitted"] == 99800  # bounded
    assert out["diff"]["before"]["/lb1.sock"]["count"] == 2
    fake.sessions[:] = []
    assert run(capsys, args(entries, state="exact"))["changed"] is False
    assert len(fake.sessions) == 1


def test_exact_failure_before_the_commit_commits_nothing(instances, capsys):
    fake = instances["/lb1.sock"]
    entries = dict(("h%05d" % index, "x" * 40) for index in range(2000))
    seen = []

    def second_chunk(command):
        if command.startswith("add map @"):
            seen.append(command)
            if len(seen) == 2:
                return "out of memory (test)"
        return None

    fake.maps.fail_on = second_chunk
    out = run(capsys, args(entries, state="exact"))
    assert out["failed"] is True
    assert out["changed"] is False  # nothing was committed: requests see the map they saw
    assert "nothing was committed" in out["msg"] and "@1" in out["msg"] and "out of memory (test)" in out["msg"]
    assert "\n" not in out["msg"]
    assert not any(command.startswith("commit ") for command in fake.writes)
    assert served(fake) == [("a.example", "be_a"), ("b.example", "be_b")]
    assert 1 not in fake.maps.ref(HOSTS).versions  # the prepared version was dropped (clear map @1)


def test_exact_commit_answer_lost_counts_as_changed(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.maps.break_on = lambda command: command.startswith("commit ")
    out = run(capsys, args({"z.example": "be_z"}, state="exact"))
    assert out["failed"] is True
    assert out["changed"] is True  # the commit went out: it may have taken
    assert "commit map @1" in " ".join(out["results"][0]["commands"])


def test_exact_commit_refused_commits_nothing(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.maps.fail_on = lambda command: "Version number out of range." if command.startswith("commit ") else None
    out = run(capsys, args({"z.example": "be_z"}, state="exact"))
    assert out["failed"] is True and out["changed"] is False
    assert "nothing was committed" in out["msg"]
    assert served(fake) == [("a.example", "be_a"), ("b.example", "be_b")]


def test_present_failure_after_a_write_says_changed(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.maps.fail_on = lambda command: "entry not found." if "c.example" in command else None
    out = run(capsys, args({"a.example": "be_new", "c.example": "be_c"}))
    assert out["failed"] is True and out["changed"] is True
    assert out["results"][0]["commands"] == ["set map %s a.example be_new" % HOSTS]
    assert "already changed on this target" in out["msg"]


@pytest.mark.parametrize("entries, message", [
    ({"a b": "x"}, "holds a blank"),
    ({"a\nb": "x"}, "line break"),
    ({"a": "x\ty"}, "control character"),
    ({"#a": "x"}, "starts with '#'"),
    ({"": "x"}, "must not be empty"),
    ({"a": " x"}, "starts or ends with a blank"),
    ({"a": ""}, "must not be empty"),
    ({"a": None}, "must be text or numbers"),
    ([{"key": "a", "value": "1"}, {"key": "a", "value": "2"}], "twice"),
    ([{"key": "a"}], "has no value"),
    ("a", "must be a dict or a list"),
])
def test_bad_input_sends_nothing(instances, capsys, entries, message):
    out = run(capsys, args(entries))
    assert out["failed"] is True and not out.get("changed")
    assert message in out["msg"] and "\n" not in out["msg"]
    assert instances["/lb1.sock"].sessions == []


def test_a_missing_map_is_refused_before_writing(instances, capsys):
    out = run(capsys, args({"a": "b"}, map="/etc/haproxy/maps/nope.map"))
    assert out["failed"] is True and out["changed"] is False
    assert out["msg"] == ("/lb1.sock: HAProxy has no map '/etc/haproxy/maps/nope.map' (show map lists: %s); "
                          "nothing was sent" % HOSTS)
    assert instances["/lb1.sock"].writes == []
    assert len(instances["/lb1.sock"].sessions) == 1


def test_map_by_id(instances, capsys):
    out = run(capsys, args({"c.example": "be_c"}, map="#2"))
    assert out["changed"] is True and out["results"][0]["file"] == HOSTS
    assert out["results"][0]["commands"] == ["add map #2 c.example be_c"]


def test_a_cut_dump_is_an_error_not_a_shorter_map(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.maps.cut_dump = True
    out = run(capsys, args({"a.example": "be_a"}, state="exact"))
    assert out["failed"] is True and out["changed"] is False
    assert "closed in the middle" in out["msg"]
    assert fake.writes == []


def test_an_operator_socket_reads_but_does_not_write(capsys):
    fake = FAKES.reset(lb1=maps_lab(level="operator"))["/lb1.sock"]
    assert run(capsys, args({"a.example": "be_a"}))["changed"] is False  # a no-op is fine
    out = run(capsys, args({"a.example": "be_x"}), check_mode=True)
    assert out["failed"] is True and "needs level admin" in out["msg"]
    assert fake.writes == []


def test_persist_writes_once_every_target_took_it(tmp_path, capsys):
    path = str(tmp_path / "hosts.map")
    with open(path, "w") as handle:
        handle.write("# routes\na.example be_a\nb.example   be_b\n")
    os.chmod(path, 0o640)
    FAKES.reset(lb1=maps_lab(hosts_path=path), lb2=maps_lab(hosts_path=path))
    wanted = args({"c.example": "be_c"}, map=path, socket=PAIR, persist=True)
    checked = run(capsys, wanted, check_mode=True, diff=True)
    assert checked["persisted"] is True
    with open(path) as handle:
        assert handle.read() == "# routes\na.example be_a\nb.example   be_b\n"  # check mode writes nothing
    done = run(capsys, wanted, diff=True)
    assert done["changed"] is True and done["persisted"] is True
    assert done["diff"] == checked["diff"]
    assert done["diff"]["after"]["file:%s" % path] == {"count": 3, "entries": {"c.example": "be_c"}}
    with open(path) as handle:
        assert handle.read() == "a.example be_a\nb.example be_b\nc.example be_c\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640  # the mode of the file it replaced
    assert [name for name in os.listdir(str(tmp_path)) if name != "hosts.map"] == []  # no temporary file left
    inode = os.stat(path).st_ino
    again = run(capsys, wanted)
    assert again["changed"] is False and again["persisted"] is False
    assert os.stat(path).st_ino == inode  # not rewritten


def test_persist_does_not_write_when_a_target_failed(tmp_path, capsys):
    path = str(tmp_path / "hosts.map")
    with open(path, "w") as handle:
        handle.write("a.example be_a\nb.example be_b\n")
    instances = FAKES.reset(lb1=maps_lab(hosts_path=path), lb2=maps_lab(hosts_path=path))
    instances["/lb2.sock"].maps.fail_on = lambda command: "no memory (test)"
    out = run(capsys, args({"c.example": "be_c"}, map=path, socket=PAIR, persist=True))
    assert out["failed"] is True and out["persisted"] is False
    assert "targets already changed: /lb1.sock" in out["msg"]
    with open(path) as handle:
        assert handle.read() == "a.example be_a\nb.example be_b\n"


def test_persist_refuses_targets_that_end_different(tmp_path, capsys):
    path = str(tmp_path / "hosts.map")
    FAKES.reset(lb1=maps_lab(hosts_path=path), lb2=maps_lab(hosts_path=path, hosts={"x.example": "be_x"}))
    out = run(capsys, args({"c.example": "be_c"}, map=path, socket=PAIR, persist=True))
    assert out["failed"] is True and "hold different entries" in out["msg"]
    assert not os.path.exists(path)
