# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The real replies of HAProxy 2.6, 3.0 and 3.2, through the real transport, client and parsers.

The bytes under fixtures/replies/<version>/ were captured from live instances by
tests/unit/fixtures/capture_replies.py (one interactive session per scenario, the
commands sent one per line as the transport sends them). Each test replays a
scenario's bytes on a Unix socket, checks that the client sends exactly what was
captured, and asserts what the client makes of the answer. Where versions differ,
the test says how, and the assertion is exact for each version.
"""

import json
import os
import socket
import threading

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils import _table as table
from ansible_collections.lbops.haproxy.plugins.module_utils._client import IN_USE, RuntimeClient
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    CommandError,
    LevelTooLow,
    NotFound,
    ProtocolError,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback, Session, Target
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_frontend as frontend

REPLIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "replies")
VERSIONS = ("2.6", "3.0", "3.2")
PREAMBLE = b"prompt\nset severity-output number\n"


def index(version):
    with open(os.path.join(REPLIES, version, "index.json")) as handle:
        return json.load(handle)


def commands(version, scenario):
    return index(version)["scenarios"][scenario]["commands"]


class Replay(object):
    """A Unix socket that answers one connection with a captured reply and records what it got."""

    def __init__(self, path, version, scenario):
        with open(os.path.join(REPLIES, version, scenario + ".reply"), "rb") as handle:
            self.reply = handle.read()
        self.received = b""
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.thread = threading.Thread(target=self.serve)
        self.thread.daemon = True
        self.thread.start()

    def serve(self):
        conn, dummy = self.server.accept()
        while not self.received.endswith(b"quit\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            self.received += chunk
        conn.sendall(self.reply)
        conn.close()
        self.server.close()


def sent(version, scenario):
    return PREAMBLE + "".join(command + "\n" for command in commands(version, scenario)).encode() + b"quit\n"


@pytest.fixture
def replay(tmp_path):
    """``replay(version, scenario)`` -> a RuntimeClient whose next connection gets that reply.

    When the test ends, the bytes the client sent must be the ones the capture sent.
    """
    path = str(tmp_path / "cli.sock")
    started = []

    def start(version, scenario):
        started.append((Replay(path, version, scenario), version, scenario))
        return RuntimeClient(path, 5.0)
    yield start
    for cli, version, scenario in started:
        cli.thread.join(2)
        assert cli.received == sent(version, scenario)


def outcomes(replay, version, scenario):
    return replay(version, scenario).write(commands(version, scenario))


@pytest.mark.parametrize("version", VERSIONS)
def test_framing_of_a_batch(replay, version):
    client = replay(version, "framing")
    level, weight, ready = client.read([client.level_request(), ("get weight be_app/s1", parsers.parse_weight),
                                        ("set server be_app/s1 state ready", None)])
    assert (level, weight, ready) == ("admin", (10, 10), [])


@pytest.mark.parametrize("version, prompts", [("2.6", 6), ("3.0", 6), ("3.2", 4)])
def test_chained_commands_lose_their_prompts_on_3_2(tmp_path, version, prompts):
    """Why the transport never chains commands with ';'.

    2.6 and 3.0 print the prompt before the reply of each command of a chained line;
    3.2 prints it once per line, so the replies after the first have no prompt.
    """
    path = str(tmp_path / "cli.sock")
    with open(os.path.join(REPLIES, version, "framing_chained.reply"), "rb") as handle:
        raw = handle.read()
    # prompts before: 'set severity-output', each reply of the chained line (3 on 2.6 and
    # 3.0, the first only on 3.2), the last plain line, and the end of the session
    assert raw.count(b"\n> ") == prompts
    cli = Replay(path, version, "framing_chained")
    session = Session(Target(path), 5.0)
    if version == "3.2":
        with pytest.raises(ProtocolError) as err:
            list(session.run(commands(version, "framing_chained")))
        assert "expected the prompt, got '10 (initial 10)'" in str(err.value)
    else:
        replies = [reply if isinstance(reply, Feedback) else list(reply)
                   for reply in session.run(commands(version, "framing_chained"))]
        # 2.6/3.0 frame each chained reply, so one "command" gets the first reply only
        assert replies[0].text == "admin" and replies[1] == ["10 (initial 10)"]
    cli.thread.join(2)


@pytest.mark.parametrize("version, text", [("2.6", "2.6.12-1+deb12u3"), ("3.0", "3.0.11-1+deb13u4"), ("3.2", "3.2.26-1")])
def test_version_is_read_once_and_abilities_follow(replay, version, text):
    client = replay(version, "show_version")
    assert client.read([client.version_request()]) == [text]
    assert client.version == tuple(int(part) for part in version.split("."))
    # no second connection: the version is known now
    assert client.has("wait_srv_removable") is (version != "2.6")
    assert client.connections == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_show_info(replay, version):
    client = replay(version, "show_info")
    info = client.read([("show info", parsers.parse_info)])[0]
    assert info["Name"] == "HAProxy"
    assert info["Version"].startswith(version + ".")
    assert int(info["Pid"]) > 0
    # 3.0 added fields; the parser takes whatever is there
    assert ("CumStreams" in info) is (version != "2.6")


@pytest.mark.parametrize("version, columns", [("2.6", 128), ("3.0", 205), ("3.2", 207)])
def test_show_stat_columns_are_mapped_by_name(replay, version, columns):
    client = replay(version, "show_stat")
    rows = client.read([("show stat", parsers.parse_stat_csv)])[0]
    assert len([name for name in rows[0] if name]) == columns  # the header ends with a comma
    by_name = dict(((row["pxname"], row["svname"]), row) for row in rows)
    assert by_name[("fe_main", "FRONTEND")]["status"] == "OPEN"
    assert by_name[("be_app", "s1")]["status"] == "UP"
    assert by_name[("be_app", "s3")]["status"] == "no check"
    assert by_name[("be_cfgdisabled", "d1")]["status"] == "MAINT"
    assert by_name[("be_app", "s4")]["agent_status"] != ""
    # a frontend disabled in the configuration has no row in any version
    assert ("fe_off", "FRONTEND") not in by_name


def stat_request(name):
    read = frontend.DEFINITION.reads({"name": name, "state": "enabled"})[0]
    return read.command, read.parser


@pytest.mark.parametrize("version", VERSIONS)
def test_frontend_rows(replay, version):
    client = replay(version, "show_stat_frontends")
    fe_main, fe_off, be_app = client.read([stat_request("fe_main"), stat_request("fe_off"), stat_request("be_app")])
    assert frontend.decode("fe_main", fe_main) == ("enabled", "OPEN")
    assert frontend.decode("fe_off", fe_off) == ("stopped", "STOP")
    with pytest.raises(NotFound):
        frontend.decode("be_app", be_app)


@pytest.mark.parametrize("version", VERSIONS)
def test_show_servers_state(replay, version):
    client = replay(version, "show_servers_state")
    be_app, cfgdisabled = client.read([("show servers state be_app", parsers.parse_servers_state),
                                       ("show servers state be_cfgdisabled", parsers.parse_servers_state)])
    assert [server["name"] for server in be_app] == ["s1", "s2", "s3", "s4"]
    s1, s3, s4 = be_app[0], be_app[2], be_app[3]
    assert (s1["state"], s1["weight"], s1["health"], s1["port"]) == ("ready", 10, "enabled", 30001)
    assert (s3["health_configured"], s4["agent"], s4["agent_configured"]) == (False, "enabled", True)
    assert cfgdisabled[0]["admin_state"] == 5 and cfgdisabled[0]["state"] == "maint"


@pytest.mark.parametrize("version", VERSIONS)
def test_table_list_and_entries(replay, version):
    client = replay(version, "show_table_entries")
    dump = parsers.TableDump(limit=100)
    values = client.read([("show table fe_main", dump.consume), ("show table st_string", parsers.parse_table_entries),
                          ("show table st_ipv6", parsers.parse_table_entries),
                          ("show table st_int", parsers.parse_table_entries),
                          ("show table fe_main key 10.9.0.99", parsers.parse_table_entries)])
    assert dump.header == {"name": "fe_main", "type": "ip", "size": 1024, "used": 6}
    assert sorted(entry["key"] for entry in dump.entries) == ["10.8.0.1", "10.8.0.2", "10.9.0.1", "10.9.0.2",
                                                              "10.9.0.3", "10.9.0.4"]
    by_key = dict((entry["key"], entry) for entry in dump.entries)
    assert by_key["10.8.0.1"]["data"] == {"gpc0": 50, "conn_cur": 0, "http_req_rate": 0}
    # 2.7+ adds shard=N after exp=
    assert all(("shard" in entry) is (version != "2.6") for entry in dump.entries)
    # 2.6 dumps in key order; 3.0 and 3.2 do not (the tables are split over several trees)
    keys_in_order = [entry["key"] for entry in dump.entries]
    assert (keys_in_order == sorted(keys_in_order)) is (version == "2.6")
    assert values[1][0]["key"] == "a b;c" and values[1][0]["data"] == {"server_id": 2, "gpc0": 1}
    assert values[2][0]["key"] == "2001:db8::1"
    assert values[3][0]["key"] == "42"
    assert values[4] == []  # an absent key answers an empty line, no header


@pytest.mark.parametrize("version", VERSIONS)
def test_table_list(replay, version):
    client = replay(version, "show_table_list")
    tables = client.read([("show table", parsers.parse_table_list)])[0]
    # The integration harness's configuration (instance lb1), tables in HAProxy's order.
    assert [(t["name"], t["type"]) for t in tables] == [
        ("st_bin", "binary"), ("st_int", "integer"), ("st_ipv6", "ipv6"), ("st_string", "string"),
        ("be_failover", "ip"), ("fe_main", "ip")]


@pytest.mark.parametrize("version", VERSIONS)
def test_error_replies_are_typed(replay, version):
    results = outcomes(replay, version, "errors")
    by_command = dict((outcome.command, outcome) for outcome in results)

    def error(command):
        return by_command[command].error

    for command, kind in (("set server be_app/zz state ready", NotFound), ("set server be_nope/s1 state ready", NotFound),
                          ("show servers state be_nope", NotFound), ("show stat be_nope 3 -1", NotFound),
                          ("disable frontend fe_nope", NotFound), ("show table nosuch", NotFound),
                          ("set server be_app state ready", CommandError), ("bogus command", CommandError)):
        assert error(command).__class__ is kind, command  # exactly: NotFound is a CommandError too
    assert "Can't find backend" in str(error("show servers state be_nope"))
    assert "does not know the command 'bogus command'" in str(error("bogus command"))
    # 2.7+ names the unknown word
    unknown = by_command["bogus command"].text.splitlines()[0]
    assert unknown == ("Unknown command, but maybe one of the following ones is a better match:" if version == "2.6"
                       else "Unknown command: 'bogus', but maybe one of the following ones is a better match:")
    assert "only accepts weights '0%' and '100%'" in str(error("set server be_static/a weight 50"))
    assert "Absolute weight can only be between 0 and 256 inclusive." in str(error("set server be_app/s1 weight 300"))
    assert "Health check was not configured" in str(error("enable health be_app/s3"))
    assert "agent checks are not enabled" in str(error("set server be_app/s3 agent up"))
    five = "show table fe_main data.gpc0 ge 0 data.gpc0 ge 0 data.gpc0 ge 0 data.gpc0 ge 0 data.gpc0 ge 0"
    assert "Detected extra data in filter, 16th word of input" in str(error(five))
    assert "Filter entry #1: Unknown data type" in str(error("show table fe_main data.nope ge 0"))
    assert "Unknown data type" in str(error("set table st_string key x data.nope 1"))
    assert "Require a valid integer value to store" in str(error("set table st_string key x data.server_id abc"))
    assert "Data type not stored in this table" in str(error("set table st_ipv6 key ::1 data.server_id 1"))
    assert "Invalid key" in str(error("set table st_ipv6 key notanip"))
    # 2.6 refuses a non-numeric key in an integer table; 3.0 and 3.2 store it (validate refuses it first)
    if version == "2.6":
        assert "Invalid key" in str(error("set table st_int key abc"))
    else:
        assert by_command["set table st_int key abc"].ok and by_command["set table st_int key abc"].text == ""


@pytest.mark.parametrize("version", VERSIONS)
def test_bad_keys_in_an_ip_table(replay, version):
    """2.6 stores 'notanip' as 0.0.0.0; 3.0 and 3.2 refuse it. All three take '::1' (validate refuses both)."""
    results = outcomes(replay, version, "bad_ip_keys")
    notanip, ipv6, shown = results
    assert ipv6.ok and ipv6.text == ""
    if version == "2.6":
        assert notanip.ok and "key=0.0.0.0 " in shown.text
    else:
        assert "Invalid key" in str(notanip.error) and shown.text == ""


@pytest.mark.parametrize("version", VERSIONS)
def test_operator_level(replay, version):
    level, maint, disable, set_entry, clear_entry = outcomes(replay, version, "operator_level")
    assert level.text == "operator"
    assert isinstance(maint.error, LevelTooLow) and isinstance(disable.error, LevelTooLow)
    assert set_entry.ok and clear_entry.ok


@pytest.mark.parametrize("version", VERSIONS)
def test_user_level(replay, version):
    """A user-level 'clear table' answers an empty line and removes nothing on 2.6 and 3.0; 3.2 refuses it."""
    level, show, set_entry, clear, listing = outcomes(replay, version, "user_level")
    assert level.text == "user"
    assert show.text.splitlines()[1] == "# contents not dumped due to insufficient privileges"
    assert isinstance(set_entry.error, LevelTooLow)
    if version == "3.2":
        assert isinstance(clear.error, LevelTooLow)
    else:
        assert clear.ok and clear.text == ""
    assert listing.ok


@pytest.mark.parametrize("version", VERSIONS)
def test_server_writes_succeed_silently(replay, version):
    results = outcomes(replay, version, "server_states")
    assert all(outcome.ok for outcome in results)
    texts = dict((outcome.command, outcome.text) for outcome in results)
    assert texts["get weight be_app/s2"] == "10 (initial 20)"
    assert texts["set server be_app/s2 state drain"] == "" and texts["shutdown sessions server be_app/s1"] == ""
    # CMAINT alone (a server 'disabled' in the configuration, set ready) is 4
    state = parsers.parse_servers_state(texts["show servers state be_cfgdisabled"].splitlines())
    assert state[0]["admin_state"] == 4 and state[0]["state"] == "ready"


@pytest.mark.parametrize("version", VERSIONS)
def test_set_server_addr_texts(replay, version):
    """Warnings even on success, worded differently before and after 3.0; the client tells them apart."""
    change, repeat, same, change2, invalid, back = outcomes(replay, version, "server_addr")
    assert [outcome.severity for outcome in (change, repeat, same, change2, invalid, back)] == [4] * 6
    assert change.ok and change2.ok and back.ok and same.ok and repeat.ok
    assert change.text == ("IP changed from '127.0.0.1' to '127.0.0.2', port changed from '30003' to '30004' "
                           "by 'stats socket command'")
    assert isinstance(invalid.error, CommandError)
    if version == "2.6":
        assert repeat.text == "no need to change the addr, no need to change the port by 'stats socket command'"
        assert same.text == "no need to change the addr by 'stats socket command'"
        assert invalid.text == "Invalid addr 'foo.example' by 'stats socket command'"
    else:
        # 3.0+ applies the change a little later: the same command right after still reports it
        assert repeat.text == change.text
        assert same.text == "nothing changed"
        assert invalid.text == "Invalid addr 'foo.example'"


@pytest.mark.parametrize("version", VERSIONS)
def test_frontend_state_changes(replay, version):
    results = outcomes(replay, version, "frontend_states")
    texts = [(outcome.severity, outcome.text) for outcome in results if not outcome.command.startswith("show stat")]
    assert texts == [
        (None, ""), (5, "All sockets are already disabled."),
        (None, ""), (5, "All sockets are already enabled."),
        (None, ""), (5, "Frontend was already shut down."), (3, "Frontend was previously shut down, cannot enable."),
        (3, "Frontend was previously shut down, cannot enable."), (5, "Frontend was previously shut down, cannot disable."),
    ]
    statuses = [frontend.decode("fe_aux", parsers.parse_stat_csv(outcome.text.splitlines()))
                for outcome in results if outcome.command.startswith("show stat")]
    assert statuses == [("disabled", "PAUSED"), ("enabled", "OPEN"), ("stopped", "STOP")]


@pytest.mark.parametrize("version, left", [
    # 2.6: one tree in key order: the entry before the one in use survives too
    ("2.6", ["10.9.0.2"]),
    # 3.0: the entries before the two in use in the dump (10.1.1.1 was left in use by a
    # refused user-level 'set table', a 3.0 bug that 3.2 does not have)
    ("3.0", ["10.8.0.1", "0.0.0.1"]),
    ("3.2", []),
])
def test_full_clear_leaves_entries_in_use_and_some_neighbours(replay, version, left):
    before, key_clear, clear, after = outcomes(replay, version, "table_in_use")
    assert key_clear.text.startswith(IN_USE) and isinstance(key_clear.error, CommandError)
    assert clear.ok and clear.text == ""
    dump = table.Dump(100, key_cap=100).consume(after.text.splitlines())
    assert dump.free_keys == left  # what the module then clears by key
    assert "10.9.0.3" in dump.in_use_keys


@pytest.mark.parametrize("version", VERSIONS)
def test_filters(replay, version):
    results = outcomes(replay, version, "table_filters")
    matching = parsers.parse_table_entries(results[2].text.splitlines())
    assert {"10.7.0.1", "10.9.0.3"} <= set(entry["key"] for entry in matching)
    assert all(entry["data"]["gpc0"] >= 2 for entry in matching)
    left = parsers.parse_table_entries(results[4].text.splitlines())
    assert "10.7.0.2" in [entry["key"] for entry in left]
    assert all(entry["data"]["gpc0"] < 2 for entry in left)  # nothing matching was in use


@pytest.mark.parametrize("version", VERSIONS)
def test_wait_srv_removable(replay, version):
    """3.0+: 'Failed.' at once for a server that is not in maint, 'Done.' once it is idle in maint; 2.6 lacks it."""
    client = replay(version, "newer_commands")
    sequence = commands(version, "newer_commands")
    if version == "2.6":
        with pytest.raises(CommandError) as err:
            client.wait_then_read(sequence[0], 0.1, [(command, None) for command in sequence[1:]])
        assert "does not know the command" in str(err.value)
        return
    done, values = client.wait_then_read(sequence[0], 0.1, [(command, None) for command in sequence[1:]])
    assert done is False
    assert values[1] == ["Done."]  # the second wait, after 'set server ... state maint'
    typed = values[3]
    assert typed[1].startswith("1.Version.1:POS:str:" + version + ".")  # 3-letter tags up to 3.2
