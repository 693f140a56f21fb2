# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Regression tests of issue 9: every failure the outside fault-injection run found.

Each test reproduces one example of the issue, through the modules' ``main()``
(as ``ansible-playbook`` runs them) against the in-memory HAProxy, or through
the real transport against a scripted Unix-socket listener.
"""

import json
import socket
import threading
import time

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _transport as transport
from ansible_collections.lbops.haproxy.plugins.module_utils import _validate as validate
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import ConnectError, HAProxyError, ProtocolError
from ansible_collections.lbops.haproxy.plugins.module_utils._parsers import parse_table_entry
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Step
from ansible_collections.lbops.haproxy.plugins.module_utils._waiter import Waiter
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_frontend, haproxy_server, haproxy_table
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import FakeClient, lab, run_module, table_lab

FAKES = {}


@pytest.fixture
def fakes():
    FAKES.clear()
    FAKES.update({"/lb1.sock": lab(), "/lb2.sock": lab()})
    for fake in list(FAKES.values()):
        tables = table_lab()
        fake.tables = tables.tables
    return FAKES


def run(capsys, main, args, check_mode=False, diff=False):
    return run_module(capsys, main, args, check_mode, diff, fakes=FAKES)


def connections(fake):
    return len(fake.sessions)


def one_line(out):
    assert out.get("failed") is True, out
    assert "\n" not in out["msg"], out["msg"]
    assert "Traceback" not in out["msg"] and "unexpected" not in out["msg"], out["msg"]
    return out["msg"]


# -- timeout / wait_timeout: nan, inf, 1e308 -------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", 1e308])
@pytest.mark.parametrize("main, args, option", [
    (haproxy_table.main, {"name": "fe_main", "keys": ["10.9.0.1"]}, "wait_timeout"),
    (haproxy_table.main, {"name": "fe_main"}, "timeout"),
    (haproxy_server.main, {"backend": "be_app", "name": "s1", "state": "drain", "wait": True}, "wait_timeout"),
    (haproxy_server.main, {"backend": "be_app", "name": "s1", "state": "drain"}, "timeout"),
    (haproxy_frontend.main, {"name": "fe_main", "state": "disabled"}, "timeout"),
])
def test_non_finite_seconds_refused_before_connecting(capsys, fakes, main, args, option, value):
    out = run(capsys, main, dict(args, socket="/lb1.sock", **{option: value}))
    assert option in one_line(out)
    assert connections(fakes["/lb1.sock"]) == 0


def test_wait_loop_is_bounded_by_count_and_time():
    sleeps = []
    waiter = Waiter(10, 0.5, clock=lambda: 0.0, sleep=sleeps.append)  # a clock that never moves
    pauses = 0
    while waiter.pause() and pauses < 10000:
        pauses += 1
    assert pauses <= 21
    assert sum(sleeps) <= 10.5


def test_table_in_use_wait_does_not_flood_the_socket(capsys, fakes):
    fake = fakes["/lb1.sock"]
    fake.tables["fe_main"].entries["10.9.0.1"]["use"] = 1
    start = time.monotonic()
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "fe_main", "keys": ["10.9.0.1"],
                                           "wait_timeout": 1.0})
    assert time.monotonic() - start < 3
    assert out.get("failed") is True and "still in use" in out["msg"]
    assert connections(fake) <= 2 + 1.0 / haproxy_table.RETRY_INTERVAL + 1


# -- the truth after a write -----------------------------------------------

def reset_from(session_number):
    """An on_session hook: the connection number ``session_number`` (1-based) and later ones are reset."""
    def hook(haproxy):
        if len(haproxy.sessions) + 1 >= session_number:
            raise ConnectError("connection lost while reading the answer to 'show ...': Connection reset by peer",
                               "/lb1.sock")
    return hook


@pytest.mark.parametrize("main, args", [
    (haproxy_server.main, {"backend": "be_app", "name": "s1", "state": "maint"}),
    (haproxy_frontend.main, {"name": "fe_main", "state": "disabled"}),
    (haproxy_table.main, {"name": "fe_main", "keys": ["10.9.0.1"]}),
    (haproxy_table.main, {"name": "st_string", "state": "present", "keys": ["k"], "data": {"gpc0": 1}}),
])
def test_reread_reset_after_a_write_reports_the_change(capsys, fakes, main, args):
    fake = fakes["/lb1.sock"]
    fake.on_session = reset_from(3)  # 1: reads, 2: the writes, 3: the re-read
    out = run(capsys, main, dict(args, socket="/lb1.sock"))
    msg = one_line(out)
    assert out["changed"] is True
    assert out["results"][0]["changed"] is True
    assert "nothing was sent" not in msg and "nothing was changed" not in msg
    assert fake.writes
    assert out["results"][0]["commands"] == fake.writes


def test_two_targets_one_failing_after_its_write(capsys, fakes):
    fakes["/lb2.sock"].on_session = reset_from(3)
    out = run(capsys, haproxy_server.main, {"socket": ["/lb1.sock", "/lb2.sock"], "backend": "be_app", "name": "s1",
                                            "state": "maint"})
    msg = one_line(out)
    assert [r["changed"] for r in out["results"]] == [True, True]
    assert [r["failed"] for r in out["results"]] == [False, True]
    assert "targets already changed: /lb1.sock, /lb2.sock" in msg


def test_not_found_on_the_reread_does_not_say_nothing_was_sent(capsys, fakes):
    fake = fakes["/lb1.sock"]

    def drop_table(haproxy):
        if len(haproxy.sessions) == 2:  # after the write: HAProxy reloaded without the table
            haproxy.tables.pop("fe_main", None)
    fake.on_session = drop_table
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "fe_main", "keys": ["10.9.0.1"]})
    msg = one_line(out)
    assert out["changed"] is True
    assert "nothing was sent" not in msg


def test_server_gone_on_the_reread_does_not_say_nothing_was_sent(capsys, fakes):
    fake = fakes["/lb1.sock"]

    def drop_server(haproxy):
        if len(haproxy.sessions) == 2:  # after the write: HAProxy reloaded without s1
            haproxy.backends["be_app"][1].pop(0)
    fake.on_session = drop_server
    out = run(capsys, haproxy_server.main, {"socket": "/lb1.sock", "backend": "be_app", "name": "s1", "state": "maint"})
    msg = one_line(out)
    assert out["changed"] is True and "unknown server s1" in msg
    assert "nothing was sent" not in msg
    assert out["results"][0]["commands"] == ["set server be_app/s1 state maint"]


# -- set table with a data type the table does not store --------------------

def test_data_type_not_stored_refused_before_sending(capsys, fakes):
    fake = fakes["/lb1.sock"]
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "state": "present",
                                           "keys": ["newkey"], "data": {"conn_cnt": 1}})
    msg = one_line(out)
    assert "does not store data.conn_cnt" in msg and "nothing was sent" in msg
    assert fake.writes == [] and "newkey" not in fake.tables["st_string"].entries
    assert out["changed"] is False


def test_set_table_refused_after_creating_the_entry_reports_a_change():
    # Should a refusal get past the checks (a type the probe did not see), the entry HAProxy
    # created before refusing is reported: changed, never "nothing was changed".
    fake = table_lab()
    step = Step(FakeClient(fake))
    with pytest.raises(HAProxyError) as err:
        step.write(["set table st_string key newkey data.conn_cnt 1"])
    assert "newkey" in fake.tables["st_string"].entries
    assert err.value.changed is True and step.changed is True
    assert "nothing was changed" not in str(err.value)
    assert "may have created the entries of the refused set table st_string key newkey" in str(err.value)


def test_unknown_data_type_refused_before_sending(capsys, fakes):
    fake = fakes["/lb1.sock"]
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "state": "present",
                                           "keys": ["newkey"], "data": {"gpc9": 1}})
    assert "gpc9" in one_line(out)
    assert fake.writes == []


# -- text that is not ASCII --------------------------------------------------

def test_utf8_string_keys_are_shown_as_text_and_round_trip(capsys, fakes):
    fake = fakes["/lb1.sock"]
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "state": "present",
                                           "keys": ["café"], "data": {"gpc0": 3}})
    assert out["changed"] is True, out
    assert list(fake.tables["st_string"].entries) == ["café"]
    assert out["results"][0]["after"]["entries"][0]["key"] == "café"
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "state": "present",
                                           "keys": ["café"], "data": {"gpc0": 3}})
    assert out["changed"] is False


def test_non_utf8_bytes_are_shown_as_escapes_that_round_trip(capsys, fakes):
    fake = fakes["/lb1.sock"]
    table = fake.tables["st_string"]
    table.add("x\udcffy")  # the bytes b"x\xffy", created by traffic
    table.add("a\\b")
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "state": "absent",
                                           "keys": ["nothing"]}, check_mode=True)
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string"}, check_mode=True)
    shown = [entry["key"] for entry in out["results"][0]["before"]["entries"]]
    assert shown == ["x\\xFFy", "a\\\\b"]
    json.dumps(out, ensure_ascii=False).encode("utf-8")  # no lone surrogate reaches the output
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "keys": shown})
    assert out["changed"] is True and out["results"][0]["removed"] == 2, out
    assert list(table.entries) == []


@pytest.mark.parametrize("raw", [b"caf\xc3\xa9", b"x\xffy", b"a\\b", b"\\x41", b"\xc3", b"\xe2\x82\xac\xff\xfe", b"sp ace;"])
def test_key_text_round_trips_to_the_same_bytes(raw):
    key = raw.decode("utf-8", "surrogateescape")  # as the parser gives it
    shown = validate.key_text(key)
    shown.encode("utf-8")  # printable in JSON
    assert validate.key_from_text(shown) == key
    assert validate.key_from_text(shown).encode("utf-8", "surrogateescape") == raw


def test_parser_reads_haproxys_escapes_as_bytes():
    entry = parse_table_entry("0x1: key=caf\\xC3\\xA9\\ x\\xFF\\= use=0 exp=0 gpc0=1")
    assert entry["key"] == "caf\u00e9 x\udcff="
    assert validate.key_text(entry["key"]) == "caf\u00e9 x\\xFF="


def test_full_clear_next_to_a_utf8_key_clears_the_right_entries(capsys, fakes):
    fake = fakes["/lb1.sock"]
    table = fake.tables["st_string"]
    for key in ("café", "plain", "x\udcffy", "busy"):
        table.add(key)
    table.entries["busy"]["use"] = 1  # 2.6 also skips the entry just before it ('x\xffy')
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "fail_on_in_use": False})
    assert out.get("failed", False) is False, out
    assert list(table.entries) == ["busy"]
    assert out["results"][0]["removed"] == 3


# -- frontends that do not exist ---------------------------------------------

@pytest.mark.parametrize("name", ["-1", "1", "2abc", "+1"])
@pytest.mark.parametrize("state", ["enabled", "disabled"])
def test_frontend_names_that_show_stat_reads_as_ids(capsys, fakes, name, state):
    fake = fakes["/lb1.sock"]
    out = run(capsys, haproxy_frontend.main, {"socket": "/lb1.sock", "name": name, "state": state})
    msg = one_line(out)
    assert name in msg and "nothing was sent" in msg
    assert fake.writes == []
    assert out["changed"] is False


# -- validation gaps -----------------------------------------------------------

@pytest.mark.parametrize("args", [
    {"state": "present", "keys": ["k"], "data": {"gpc0\n": 1}},
    {"filter": [{"data": "gpc0\n", "operator": "gt", "value": 1}]},
])
def test_data_type_with_a_trailing_newline(capsys, fakes, args):
    out = run(capsys, haproxy_table.main, dict(args, socket="/lb1.sock", name="st_string"))
    assert "invalid stick-table data type" in one_line(out)
    assert connections(fakes["/lb1.sock"]) == 0


@pytest.mark.parametrize("name, value, ok", [
    ("gpc0", 2 ** 32, False), ("gpc0", 2 ** 32 - 1, True), ("server_id", 2 ** 31, False),
    ("conn_cnt", 2 ** 32, False), ("gpt0", 2 ** 32, False), ("http_req_rate", 2 ** 32, False),
    ("bytes_in_cnt", 2 ** 32, True), ("bytes_in_cnt", 2 ** 63, False),
])
def test_data_value_ranges(capsys, fakes, name, value, ok):
    fake = fakes["/lb1.sock"]
    fake.tables["st_string"].stored += ["server_id", "conn_cnt", "gpt0", "http_req_rate", "bytes_in_cnt"]
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "state": "present",
                                           "keys": ["k"], "data": {name: value}})
    if ok:
        assert out["changed"] is True and fake.tables["st_string"].entries["k"]["data"][name] == value
    else:
        assert "largest" in one_line(out)
        assert connections(fake) == 0


def test_key_longer_than_the_table_len_is_not_cut_silently(capsys, fakes):
    fake = fakes["/lb1.sock"]
    fake.tables["st_string"].length = 8
    long_key = "abcdefghijkl"
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "state": "present",
                                           "keys": [long_key], "data": {"gpc0": 1}})
    msg = one_line(out)
    assert out["changed"] is True  # HAProxy did store something: 'abcdefgh'
    assert "abcdefgh" in msg and "len" in msg
    writes = list(fake.writes)
    # Now that the cut key exists, the cut is seen before anything is sent.
    for args in ({"state": "present", "data": {"gpc0": 2}}, {"state": "absent"}):
        out = run(capsys, haproxy_table.main, dict(args, socket="/lb1.sock", name="st_string", keys=[long_key]))
        msg = one_line(out)
        assert "nothing was sent" in msg and "abcdefgh" in msg
    assert fake.writes == writes
    assert fake.tables["st_string"].entries["abcdefgh"]["data"]["gpc0"] == 1


@pytest.mark.parametrize("main, args", [
    (haproxy_server.main, {"backend": "be_app", "name": "s1", "address": "fe80::1%eth0"}),
    (haproxy_table.main, {"name": "fe_main", "keys": ["fe80::1%eth0"]}),
])
def test_ipv6_zone_addresses_are_refused_first(capsys, fakes, main, args):
    fake = fakes["/lb1.sock"]
    fake.table("st_ipv6", "ipv6", ("gpc0",))
    if main is haproxy_table.main:
        args = dict(args, name="st_ipv6")
    out = run(capsys, main, dict(args, socket="/lb1.sock"))
    assert "fe80::1%eth0" in one_line(out)
    assert fake.writes == []


def test_one_socket_spelled_twice_is_converged_once(capsys, fakes):
    FAKES["unix@/lb1.sock"] = FAKES["/lb1.sock"]
    FAKES["/./lb1.sock"] = FAKES["/lb1.sock"]
    out = run(capsys, haproxy_server.main, {"socket": ["/lb1.sock", "unix@/lb1.sock", "/./lb1.sock"],
                                            "backend": "be_app", "name": "s1", "state": "drain"})
    assert out["changed"] is True
    assert [r["socket"] for r in out["results"]] == ["/lb1.sock"]
    assert fakes["/lb1.sock"].writes == ["set server be_app/s1 state drain"]


def test_command_longer_than_the_line_limit_refused_before_sending(capsys, fakes):
    fake = fakes["/lb1.sock"]
    key = "k" * 9000
    out = run(capsys, haproxy_table.main, {"socket": "/lb1.sock", "name": "st_string", "state": "present",
                                           "keys": [key], "data": {"gpc0": 1}})
    msg = one_line(out)
    assert "longer than HAProxy reads in one line" in msg and "show table st_string key kkk" in msg
    assert len(msg) < 1000
    assert fake.writes == []


# -- idempotence of addresses ----------------------------------------------------

def test_addresses_are_compared_as_addresses_whatever_python_prints():
    # Python before 3.13 prints ::ffff:1.2.3.4 as ::ffff:102:304; HAProxy (inet_ntop) never does.
    assert validate.check_address("::ffff:102:304") == "::ffff:1.2.3.4"
    assert validate.check_address("::FFFF:1.2.3.4") == "::ffff:1.2.3.4"
    assert validate.same_address("::ffff:102:304", "::ffff:1.2.3.4")
    assert validate.same_address("2001:DB8::1", "2001:db8:0::1")
    assert not validate.same_address("1.2.3.4", "::ffff:1.2.3.4")  # an IPv6 socket is not an IPv4 one


@pytest.mark.parametrize("address", ["::ffff:1.2.3.4", "::FFFF:102:304", "2001:DB8::1"])
def test_address_normalised_by_haproxy_is_a_one_connection_no_op(capsys, fakes, address):
    fake = fakes["/lb1.sock"]
    args = {"socket": "/lb1.sock", "backend": "be_app", "name": "s1", "address": address}
    out = run(capsys, haproxy_server.main, args, check_mode=True, diff=True)
    predicted = out["results"][0]["servers"]
    out = run(capsys, haproxy_server.main, args, diff=True)
    assert out["changed"] is True
    assert out["results"][0]["servers"] == predicted
    before = connections(fake)
    out = run(capsys, haproxy_server.main, args)
    assert out["changed"] is False, out
    assert connections(fake) - before == 1


# -- unbounded output and broken pipes (the real transport) ------------------------

class Listener(object):
    """A Unix-socket listener that runs ``behave(conn)`` for every connection."""

    def __init__(self, path, behave, count=1):
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(64)
        self.behave = behave
        self.thread = threading.Thread(target=self.serve, args=(count,), daemon=True)
        self.thread.start()

    def serve(self, count):
        for _connection in range(count):
            try:
                conn, _address = self.server.accept()
            except OSError:
                return
            try:
                self.behave(conn)
            except OSError:
                pass
            finally:
                conn.close()
        self.server.close()


@pytest.fixture
def sock_path(tmp_path):
    return str(tmp_path / "cli.sock")


def test_huge_one_line_reply_gives_a_bounded_error(sock_path):
    def huge(conn):
        conn.recv(65536)
        conn.sendall(b"\n> \n> " + b"x" * (8 << 20))
    Listener(sock_path, huge)
    with pytest.raises(ProtocolError) as err:
        list(transport.Session(transport.Target(sock_path), 5).run(["show info"]))
    assert len(str(err.value)) < 1000 and "\n" not in str(err.value)


def test_huge_one_line_error_message_is_bounded(sock_path):
    def huge(conn):
        conn.recv(65536)
        conn.sendall(b"\n> \n> [3]: " + b"y" * (500 << 10) + b"\n\n")
    Listener(sock_path, huge)
    replies = list(transport.Session(transport.Target(sock_path), 5).run(["show info"]))
    assert len(replies[0].text) <= transport.MAX_MESSAGE_CHARS + 100


def test_listener_that_closes_at_once_gives_a_typed_error(sock_path):
    def close(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    runs = 30
    Listener(sock_path, close, count=runs)
    payload = ["set server be/s%d state ready" % index for index in range(3000)]  # more than a socket buffer
    for _run in range(runs):
        with pytest.raises(HAProxyError) as err:
            list(transport.Session(transport.Target(sock_path), 2).run(payload))
        assert isinstance(err.value, (ConnectError, ProtocolError)), repr(err.value)
        assert "\n" not in str(err.value) and "BrokenPipe" not in str(err.value)


# -- the one-connection claim of haproxy_table ---------------------------------------

@pytest.mark.parametrize("args", [
    {"state": "present", "keys": ["10.9.0.1"], "data": {"gpc0": 1}},   # already equal
    {"state": "absent", "keys": ["10.9.9.9"]},                           # already missing
    {"state": "absent", "keys": ["10.9.9.9", "10.9.9.8"]},
])
def test_table_no_ops_use_one_connection(capsys, fakes, args):
    fake = fakes["/lb1.sock"]
    out = run(capsys, haproxy_table.main, dict(args, socket="/lb1.sock", name="fe_main"))
    assert out["changed"] is False, out
    assert connections(fake) == 1
    assert fake.writes == []


# -- check mode predicts the real run -------------------------------------------------

@pytest.mark.parametrize("weight", ["5", "200%"])
def test_check_mode_predicts_a_static_algorithm_refusal(capsys, fakes, weight):
    fake = fakes["/lb1.sock"]
    args = {"socket": "/lb1.sock", "backend": "be_static", "name": "a", "weight": weight}
    predicted = run(capsys, haproxy_server.main, args, check_mode=True)
    real = run(capsys, haproxy_server.main, args)
    assert predicted.get("failed") is True and real.get("failed") is True
    assert "static" in one_line(predicted) and "static" in one_line(real)
    assert fake.writes == []


@pytest.mark.parametrize("weight", ["0", "100%", "1", "0%", "50%"])
def test_static_algorithm_accepts_zero_and_the_initial_weight(capsys, fakes, weight):
    out = run(capsys, haproxy_server.main, {"socket": "/lb1.sock", "backend": "be_static", "name": "a", "weight": weight})
    assert out.get("failed", False) is False, out


def test_hash_algorithm_weight_is_left_to_haproxy_with_a_warning_in_check_mode(capsys, fakes):
    args = {"socket": "/lb1.sock", "backend": "be_hash", "name": "a", "weight": "5"}
    predicted = run(capsys, haproxy_server.main, args, check_mode=True)
    assert predicted["changed"] is True
    assert "hash-type consistent" in json.dumps(predicted["warnings"])
    real = run(capsys, haproxy_server.main, args)
    assert "static LB algorithm" in one_line(real)


@pytest.mark.parametrize("args", [
    {"backend": "be_app", "name": ["s1", "s2"], "state": "maint", "weight": "50%"},
    {"backend": "be_app", "name": "s3", "state": "drain", "address": "::ffff:10.0.0.1", "port": 81},
    {"backend": "be_app", "name": "s1", "state": "ready"},
])
def test_check_mode_servers_and_diff_equal_the_real_run(capsys, fakes, args):
    args = dict(args, socket="/lb1.sock")
    predicted = run(capsys, haproxy_server.main, args, check_mode=True, diff=True)
    real = run(capsys, haproxy_server.main, args, diff=True)
    assert predicted["changed"] == real["changed"]
    assert predicted["results"][0]["servers"] == real["results"][0]["servers"]
    assert predicted["diff"] == real["diff"]
    assert predicted["results"][0]["commands"] == real["results"][0]["commands"]


@pytest.mark.parametrize("args", [
    {"name": "st_string", "keys": ["new", "café"], "data": {"gpc0": 4}},
    {"name": "fe_main", "keys": ["10.9.0.1", "10.9.9.9"], "data": {"gpc0": 7}},
    {"name": "fe_main", "keys": ["10.9.9.9"]},
])
def test_check_mode_table_present_equals_the_real_run(capsys, fakes, args):
    args = dict(args, socket="/lb1.sock", state="present")
    predicted = run(capsys, haproxy_table.main, args, check_mode=True, diff=True)
    real = run(capsys, haproxy_table.main, args, diff=True)
    assert not predicted.get("failed") and not real.get("failed"), (predicted, real)
    for field in ("after", "before", "updated", "commands", "changed"):
        assert predicted["results"][0][field] == real["results"][0][field], field
    assert predicted["diff"] == real["diff"]


def test_check_mode_table_present_equals_the_real_run_with_shards(capsys, fakes):
    fakes["/lb1.sock"].version = "3.2.26-1"  # entries show shard=0
    args = {"socket": "/lb1.sock", "state": "present", "name": "st_string", "keys": ["new"], "data": {"gpc0": 4}}
    predicted = run(capsys, haproxy_table.main, args, check_mode=True, diff=True)
    real = run(capsys, haproxy_table.main, args, diff=True)
    assert real["results"][0]["after"]["entries"][0]["shard"] == 0
    assert predicted["results"][0]["after"] == real["results"][0]["after"]
    assert predicted["diff"] == real["diff"]
