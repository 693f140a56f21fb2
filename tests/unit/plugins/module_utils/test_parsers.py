# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Parsers of every runtime-API answer the modules read (2.6.12 samples, plus 2.7+ ``shard=``)."""

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as p
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import ProtocolError

STATE_HEADER = ("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
                "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
                "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
                "srv_check_addr srv_agent_addr srv_agent_port")


@pytest.mark.parametrize("bits, state", [(0, "ready"), (0x01, "maint"), (0x02, "maint"), (0x20, "maint"), (0x04, "ready"),
                                         (0x08, "drain"), (0x10, "drain"), (0x09, "maint"), (0x0C, "drain")])
def test_decode_admin_state(bits, state):
    assert p.decode_admin_state(bits) == state


def test_servers_state():
    servers = p.parse_servers_state(["1", STATE_HEADER,
                                     "3 be_app 4 s4 127.0.0.1 2 8 40 40 12 1 0 0 0 22 0 0 - 19104 - 0 0 - - 19997",
                                     "4 be_x 1 x1 10.0.0.1 0 37 0 5 3 15 2 0 6 0 0 0 web.example 80 - 0 0 - - 0", ""])
    s4, x1 = servers
    assert (s4["backend"], s4["name"], s4["id"], s4["port"], s4["fqdn"]) == ("be_app", "s4", 4, 19104, None)
    assert (s4["state"], s4["weight"], s4["initial_weight"], s4["operational_state"]) == ("drain", 40, 40, "up")
    assert (s4["agent"], s4["agent_configured"], s4["health"], s4["health_configured"]) == ("enabled", True, "disabled", False)
    assert x1["state"] == "maint" and x1["fqdn"] == "web.example"
    assert x1["admin_state_sources"] == ["forced maint", "disabled in the configuration", "maint after a DNS resolution failure"]
    assert (x1["health"], x1["operational_state"]) == ("enabled", "down")


def test_servers_state_names_can_be_a_dash():
    # HAProxy accepts '-' as a proxy or server name; elsewhere '-' is an empty field.
    server, = p.parse_servers_state(["1", STATE_HEADER, "3 - 4 - 127.0.0.1 2 0 40 40 12 1 0 0 0 0 0 0 - 80 - 0 0 - - 0"])
    assert (server["backend"], server["name"], server["fqdn"]) == ("-", "-", None)


def test_servers_state_rejects_garbage():
    with pytest.raises(ProtocolError):
        p.parse_servers_state(["Can't find backend."])


def test_stat_csv_maps_by_name_and_quotes():
    rows = p.parse_stat_csv(['# pxname,svname,scur,status,-,extra,', 'be,"s,1",3,UP 1/3,,x,', "", 'fe,FRONTEND,0,OPEN,,y,'])
    assert rows[0] == {"pxname": "be", "svname": "s,1", "scur": "3", "status": "UP 1/3", "-": "", "extra": "x", "": ""}
    assert rows[1]["svname"] == "FRONTEND"
    assert p.parse_stat_csv([]) == []
    with pytest.raises(ProtocolError):
        p.parse_stat_csv(["No such proxy."])


def test_info_splits_on_first_colon_space():
    info = p.parse_info(["Name: HAProxy", "Build info: 2.6.12 x: y", "node:", "Description: ", "garbage"])
    assert info == {"Name": "HAProxy", "Build info": "2.6.12 x: y", "node": "", "Description": ""}


def test_table_list():
    tables = p.parse_table_list(["# table: fe_main, type: ip, size:1024, used:4",
                                 "# table: mypeers/st, type: string, size:100, used:0", ""])
    assert tables == [{"name": "fe_main", "type": "ip", "size": 1024, "used": 4},
                      {"name": "mypeers/st", "type": "string", "size": 100, "used": 0}]
    with pytest.raises(ProtocolError):
        p.parse_table_list(["Unknown command"])


@pytest.mark.parametrize("line, key, data, extra", [
    ("0x5643fe4f34f0: key=10.1.1.1 use=0 exp=575943 gpc0=7 conn_rate(30000)=0", "10.1.1.1", {"gpc0": 7, "conn_rate": 0}, {}),
    ("0x1: key=2001:db8::1 use=2 exp=10 gpc0=1", "2001:db8::1", {"gpc0": 1}, {"use": 2}),
    ("0x1: key=42 use=0 exp=0 server_id=3", "42", {"server_id": 3}, {}),
    ("0x1: key=0a0b0c0d00000000 use=0 exp=0 gpc0=0", "0a0b0c0d00000000", {"gpc0": 0}, {}),
    ("0x1: key=a\\ b\\\\c\\=d use=0 exp=0 server_id=3 gpc0=0", "a b\\c=d", {"server_id": 3, "gpc0": 0}, {}),
    ("0x1: key=tab\\there\\x01 use=0 exp=0 gpc0=0", "tab\there\x01", {"gpc0": 0}, {}),
    ("0x1: key=10.1.1.1 use=1 exp=599000 shard=3 gpc0=2 http_req_rate(10000)=5", "10.1.1.1",
     {"gpc0": 2, "http_req_rate": 5}, {"shard": 3, "use": 1}),
    ("0x1: key=x use=0 exp=0 server_key=abc gpt0=1 bytes_in_cnt=123456789012", "x",
     {"server_key": "abc", "gpt0": 1, "bytes_in_cnt": 123456789012}, {}),
])
def test_table_entry(line, key, data, extra):
    entry = p.parse_table_entry(line)
    assert entry["key"] == key
    assert entry["data"] == data
    for name, value in extra.items():
        assert entry[name] == value
    if "shard" not in extra:
        assert "shard" not in entry


def test_table_entry_ignores_other_lines():
    assert p.parse_table_entry("# table: fe_main, type: ip, size:1024, used:4") is None
    assert p.parse_table_entry("# contents not dumped due to insufficient privileges") is None


def test_table_dump_streams():
    consumed = []

    def lines():
        yield "# table: fe_main, type: ip, size:1024, used:5"
        for index in range(5):
            consumed.append(index)
            yield "0x1: key=10.0.0.%d use=%d exp=1 gpc0=1" % (index, index % 2)
    dump = p.TableDump(limit=2).consume(lines())
    assert (dump.count, dump.in_use, dump.in_use_keys) == (5, 2, ["10.0.0.1", "10.0.0.3"])
    assert [e["key"] for e in dump.entries] == ["10.0.0.0", "10.0.0.1"]
    assert dump.header["used"] == 5
    assert consumed == [0, 1, 2, 3, 4]


def _dump_lines(uses, key="10.0.{0}.{1}"):
    lines = ["# table: t, type: ip, size:2048, used:%d" % len(uses)]
    for index, use in enumerate(uses):
        entry_key = key.format(index >> 8, index & 255)
        lines.append("0x%x: key=%s use=%d exp=100 shard=0 gpc0=%d" % (0x1000 + index, entry_key, use, index))
    return lines


class _Blocks(object):
    """A reply as the transport gives it: lines, or blocks of whole lines (here of ``size`` lines)."""

    def __init__(self, lines, size):
        self.lines, self.size = lines, size

    def __iter__(self):
        return iter(self.lines)

    def blocks(self):
        for start in range(0, len(self.lines), self.size):
            yield "\n".join(self.lines[start:start + self.size])


def _summary(dump):
    return dump.count, dump.in_use, dump.in_use_keys, [e["key"] for e in dump.entries], dump.header["used"]


@pytest.mark.parametrize("uses", [
    [0] * 700,                               # nothing in use: counted a block at a time once 5 are kept
    [0] * 300 + [1] + [0] * 300 + [3, 0],     # in use, past the kept entries
    [1, 0, 2] + [0] * 500 + [1] * 9,          # more in use than the limit keeps
    [2] * 40,
])
@pytest.mark.parametrize("size", [1, 7, 64, 1000])
def test_table_dump_counts_blocks_as_lines(uses, size):
    lines = _dump_lines(uses)
    by_line = p.TableDump(limit=5).consume(iter(lines))
    by_block = p.TableDump(limit=5).consume(_Blocks(lines, size))
    assert _summary(by_block) == _summary(by_line)
    assert by_block.count == len(uses) and by_block.in_use == sum(1 for use in uses if use)


def test_table_dump_blocks_keys_that_look_like_fields():
    # Spaces in keys are escaped ('\ '), so a string key that spells " use=0 " is not a free entry.
    lines = ["# table: s, type: string, size:64, used:3",
             "0x1: key=a\\ use=0\\ b use=1 exp=0 gpc0=1",
             "0x2: key=0x3\\ use=0\\  use=2 exp=0 gpc0=1",
             "0x3: key=c use=0 exp=0 gpc0=1"]
    dump = p.TableDump(limit=0).consume(_Blocks(lines, 10))
    assert (dump.count, dump.in_use) == (3, 2)


def test_table_dump_of_user_level_socket_is_empty():
    dump = p.TableDump().consume(["# table: fe_main, type: ip, size:1024, used:4",
                                  "# contents not dumped due to insufficient privileges"])
    assert dump.count == 0 and dump.header["used"] == 4


def test_weight_and_level():
    assert p.parse_weight(["50 (initial 50)"]) == (50, 50)
    with pytest.raises(ProtocolError):
        p.parse_weight(["No such server."])
    assert p.parse_cli_level(["", "operator"]) == "operator"
    assert p.parse_cli_level([]) is None
