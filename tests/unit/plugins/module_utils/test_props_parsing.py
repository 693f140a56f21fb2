# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Properties of parsing: generated replies, rendered as HAProxy renders them, parse back to their data.

The replies are rendered in the format of each HAProxy version (2.6, 3.0,
3.2), taken from the real samples in fixtures/replies/<version>/: the fields
of ``show info``, the columns of ``show stat``, the header of ``show servers
state``, the entry lines of ``show table`` (``shard=`` from 2.7 on) and its
escaping of string keys (space, ``\\``, ``=``, TAB, CR, LF and ESC get a
``\\``, every other byte that is not printable ASCII is ``\\xNN``).

Each reply goes through the real transport (a socket pair that answers the
rendered bytes), the real client and the parsers of _parsers.py, and must
give the generated data back. The same bytes cut anywhere before the end of
the last reply must raise a ProtocolError: a cut answer is never taken for a
shorter one.
"""

import os
import re
import socket

from hypothesis import example, given
from hypothesis import strategies as st

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils import _table as table
from ansible_collections.lbops.haproxy.plugins.module_utils import _validate as validate
from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput, ProtocolError
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import build_request
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Body, Target, encode_commands
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_table
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.test_props_escaping import cli_words

REPLIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "replies")
VERSIONS = ("2.6", "3.0", "3.2")


def sample_lines(version, scenario):
    with open(os.path.join(REPLIES, version, scenario + ".reply"), "rb") as handle:
        return [line[2:] if line.startswith(b"> ") else line for line in handle.read().split(b"\n")]


def info_fields(version):
    """The field names of ``show info``, in order, as the version prints them."""
    names = []
    for line in sample_lines(version, "show_info"):
        match = re.match(rb"^([A-Za-z0-9_-]+):", line)
        if match:
            names.append(match.group(1).decode())
    return names


def stat_columns(version):
    for line in sample_lines(version, "show_stat"):
        if line.startswith(b"# pxname,"):
            return line[2:].decode().split(",")
    raise AssertionError("no show stat header in the %s sample" % version)


def servers_state_header(version):
    for line in sample_lines(version, "show_servers_state"):
        if line.startswith(b"# be_id "):
            return line.decode()
    raise AssertionError("no show servers state header in the %s sample" % version)


FORMATS = dict((version, {"info": info_fields(version), "stat": stat_columns(version),
                          "servers_state": servers_state_header(version), "shard": version != "2.6"})
               for version in VERSIONS)


def test_the_samples_give_the_formats():
    for version in VERSIONS:
        assert FORMATS[version]["info"][:2] == ["Name", "Version"] and len(FORMATS[version]["info"]) > 40
        assert FORMATS[version]["stat"][:3] == ["pxname", "svname", "qcur"] and FORMATS[version]["stat"][-1] == ""
    # the columns differ between versions (3.2 has h3_*, srid...)
    assert len(set(len(FORMATS[version]["stat"]) for version in VERSIONS)) > 1


# -- the wire ----------------------------------------------------------------


class Answering(Target):
    """A target whose connection answers ``data`` and then closes its side."""

    def __init__(self, data):
        super(Answering, self).__init__("/answering")
        self.data = data
        self.peers = []

    def connect(self, timeout):
        ours, theirs = socket.socketpair()
        theirs.sendall(self.data)
        theirs.shutdown(socket.SHUT_WR)
        self.peers.append(theirs)
        return ours

    def close(self):
        for peer in self.peers:
            peer.close()


def frame(bodies):
    """The bytes of a session in prompt mode whose commands answer ``bodies`` (lists of lines)."""
    out = [b"\n", b"> \n"]
    for lines in bodies:
        out.append(b"> " + b"".join(line + b"\n" for line in lines) + b"\n")
    return b"".join(out), sum(len(part) for part in out)


def read_through_the_client(data, requests):
    client = RuntimeClient("/answering", 2.0)
    client.target = Answering(data)
    try:
        return client.read(requests)
    finally:
        client.target.close()


def check_wire(bodies, requests, expected, cut):
    """Whole, the replies parse to ``expected``; cut at ``cut`` (a fraction), they raise."""
    data, end = frame(bodies)
    data += b"> "  # the prompt after the last reply, before 'quit' closes
    assert read_through_the_client(data, requests) == expected
    position = int(cut * end)
    if position >= end:
        return
    try:
        values = read_through_the_client(data[:position], requests)
    except ProtocolError as exc:
        assert "\n" not in str(exc)
    else:
        raise AssertionError("a reply cut at byte %d of %d gave %r" % (position, end, values))


cuts = st.floats(0, 1, allow_nan=False)
versions = st.sampled_from(VERSIONS)
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("éß€"), max_size=20)


# -- show info -----------------------------------------------------------------


@st.composite
def infos(draw):
    version = draw(versions)
    fields = FORMATS[version]["info"]
    values, start = draw(st.lists(printable.map(str.strip), min_size=1, max_size=8)), draw(st.integers(0, 7))
    return version, [(field, values[(start + index) % len(values)]) for index, field in enumerate(fields)]


@given(infos(), cuts)
def test_show_info(info, cut):
    version, fields = info
    lines = [("%s: %s" % item).encode() for item in fields]
    check_wire([lines], [("show info", parsers.parse_info)], [dict(fields)], cut)


# -- show stat -----------------------------------------------------------------


def csv_field(text):
    """A CSV field as HAProxy writes it: quoted (quotes doubled) only when it must be."""
    if any(char in text for char in ',"') or text != text.strip():
        return '"%s"' % text.replace('"', '""')
    return text


stat_values = st.one_of(st.just(""), st.integers(0, 2 ** 63).map(str), printable, st.sampled_from(
    ["UP", "DOWN 1/2", "MAINT (via be_app/s1)", "no check", "L4CON", "Layer4 connection problem, info: \"refused\""]))


@st.composite
def stats(draw):
    version = draw(versions)
    columns = FORMATS[version]["stat"]
    rows = []
    for _dummy in range(draw(st.integers(0, 4))):
        # A few values drawn, spread over the ~100-200 columns (drawing each is slow).
        values, start = draw(st.lists(stat_values, min_size=1, max_size=8)), draw(st.integers(0, 7))
        row = dict((column, values[(start + index) % len(values)]) for index, column in enumerate(columns[:-1]))
        row["pxname"] = draw(st.from_regex(r"[A-Za-z0-9_.:-]{1,12}", fullmatch=True))
        row["svname"] = draw(st.sampled_from(["FRONTEND", "BACKEND", "s1", "web-1.x:y"]))
        row[""] = ""
        rows.append(row)
    return version, columns, rows


@given(stats(), cuts)
def test_show_stat(stat, cut):
    version, columns, rows = stat
    lines = [("# " + ",".join(columns)).encode()]
    for row in rows:
        lines.append(",".join(csv_field(row[column]) for column in columns).encode())
    check_wire([lines], [("show stat", parsers.parse_stat_csv)], [rows], cut)


# -- show servers state ----------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9_.:-]{1,16}", fullmatch=True)
addresses = st.ip_addresses().map(str)


@st.composite
def server_rows(draw):
    return {
        "be_id": draw(st.integers(1, 99999)), "be_name": draw(names), "srv_id": draw(st.integers(1, 99999)),
        "srv_name": draw(names), "srv_addr": draw(addresses), "srv_op_state": draw(st.integers(0, 3)),
        "srv_admin_state": draw(st.integers(0, 0x3F)), "srv_uweight": draw(st.integers(0, 256)),
        "srv_iweight": draw(st.integers(0, 256)), "srv_check_state": draw(st.integers(0, 0x0F)),
        "srv_agent_state": draw(st.integers(0, 0x0F)), "srv_port": draw(st.integers(0, 65535)),
        "srv_fqdn": draw(st.none() | st.from_regex(r"[a-z][a-z0-9.-]{0,19}", fullmatch=True)),
    }


def servers_state_line(row):
    return ("%d %s %d %s %s %d %d %d %d 7 6 3 4 %d %d 0 0 %s %d - 0 0 - - 0" % (
        row["be_id"], row["be_name"], row["srv_id"], row["srv_name"], row["srv_addr"], row["srv_op_state"],
        row["srv_admin_state"], row["srv_uweight"], row["srv_iweight"], row["srv_check_state"], row["srv_agent_state"],
        row["srv_fqdn"] or "-", row["srv_port"])).encode()


def expected_server(row):
    admin = row["srv_admin_state"]
    return {
        "backend": row["be_name"], "backend_id": row["be_id"], "name": row["srv_name"], "id": row["srv_id"],
        "address": row["srv_addr"], "port": row["srv_port"], "fqdn": row["srv_fqdn"],
        "state": "maint" if admin & 0x23 else "drain" if admin & 0x18 else "ready",
        "admin_state": admin, "operational_state": ("down", "starting", "up", "stopping")[row["srv_op_state"]],
        "weight": row["srv_uweight"], "initial_weight": row["srv_iweight"],
        "health": "enabled" if row["srv_check_state"] & 4 else "disabled",
        "health_configured": bool(row["srv_check_state"] & 2),
        "agent": "enabled" if row["srv_agent_state"] & 4 else "disabled",
        "agent_configured": bool(row["srv_agent_state"] & 2),
        "check_state": row["srv_check_state"], "agent_state": row["srv_agent_state"],
    }


def public(server):
    server = dict(server)
    server.pop("admin_state_sources")
    return server


@given(versions, st.lists(st.lists(server_rows(), max_size=4), min_size=1, max_size=3), cuts)
def test_show_servers_state(version, backends, cut):
    """One ``show servers state <backend>`` per backend, in one batch."""
    bodies = [[b"1", FORMATS[version]["servers_state"].encode()] + [servers_state_line(row) for row in rows]
              for rows in backends]

    def parse(lines):
        return [public(server) for server in parsers.parse_servers_state(lines)]
    expected = [[expected_server(row) for row in rows] for rows in backends]
    check_wire(bodies, [("show servers state b%d" % index, parse) for index in range(len(backends))], expected, cut)


# -- show table ------------------------------------------------------------------


def dump_text(data):
    """``show table``'s rendering of a string key's bytes (up to the first NUL)."""
    out = bytearray()
    for value in data.split(b"\x00", 1)[0]:
        char = bytes([value])
        if char in b"\t\n\r\x1b\\ =":
            out += b"\\" + {b"\t": b"t", b"\n": b"n", b"\r": b"r", b"\x1b": b"e"}.get(char, char)
        elif 0x20 < value < 0x7F:
            out += char
        else:
            out += b"\\x%02x" % value
    return bytes(out)


TYPED_KEYS = {
    "ip": st.ip_addresses(v=4).map(lambda address: (str(address).encode(), str(address))),
    "ipv6": st.ip_addresses(v=6).map(lambda address: (str(address).encode(), str(address))),
    "integer": st.integers(0, 2 ** 32 - 1).map(lambda number: (str(number).encode(), str(number))),
    "binary": st.binary(min_size=1, max_size=8).map(lambda data: (data.hex().upper().encode(), data.hex().upper())),
}
string_bytes = st.binary(max_size=40) | st.text(st.sampled_from(list("ab é€😀;\\#=\"' \t\n/x")), max_size=32).map(
    lambda text: text.encode())
DATA_NAMES = ("server_id", "gpc0", "gpc1", "conn_cnt", "conn_cur", "http_req_cnt", "bytes_in_cnt", "gpt0")
RATE_NAMES = ("http_req_rate", "conn_rate", "sess_rate", "http_err_rate", "gpc0_rate", "bytes_out_rate")


@st.composite
def tables(draw):
    version = draw(versions)
    table_type = draw(st.sampled_from(("ip", "ipv6", "integer", "binary", "string")))
    name = draw(st.from_regex(r"([a-z0-9_.-]{1,10}/)?[A-Za-z0-9_.:-]{1,12}", fullmatch=True))
    stored = draw(st.lists(st.sampled_from(DATA_NAMES) | st.tuples(st.sampled_from(RATE_NAMES), st.integers(1, 86400000)),
                           unique_by=lambda item: item if isinstance(item, str) else item[0], max_size=4))
    entries, seen = [], set()
    for _dummy in range(draw(st.integers(0, 8))):
        if table_type == "string":
            raw = draw(string_bytes).split(b"\x00", 1)[0][:32] or b"k"
            shown, key = dump_text(raw), None
        else:
            shown, key = draw(TYPED_KEYS[table_type])
            raw = shown
        if raw in seen:
            continue
        seen.add(raw)
        data = [(item if isinstance(item, str) else item[0], None if isinstance(item, str) else item[1],
                 draw(st.integers(0, 2 ** 64 - 1))) for item in stored]
        entries.append({"shown": shown, "raw": raw, "key": key, "use": draw(st.sampled_from([0, 0, 1, 3])),
                        "exp": draw(st.integers(0, 86400000)), "shard": draw(st.integers(0, 63)), "data": data})
    return version, name, table_type, entries


def string_table(version, *raws):
    """An example table of string keys (the awkward ones every run must try, whatever is drawn)."""
    return version, "st_string", "string", [
        {"shown": dump_text(raw), "raw": raw, "key": None, "use": index % 2, "exp": 1000, "shard": 0,
         "data": [("gpc0", None, index), ("http_req_rate", 10000, 2 ** 64 - 1)]} for index, raw in enumerate(raws)]


AWKWARD = ("caf\u00e9".encode(), b"a b", b"a\\b", b"\\\\", b"\\x41", b"<<", b"k=v", b"#x", b"'\"", b"x\xffy", b"\xc3", b"tab\there", b"\x1b[0m",
           b"x" * 32, "\u20ac\U0001f600".encode())


def table_lines(version, name, table_type, entries):
    lines = [("# table: %s, type: %s, size:1024, used:%d" % (name, table_type, len(entries))).encode()]
    for index, entry in enumerate(entries):
        words = [b"0x7f56c5ac%04x: key=%s use=%d exp=%d" % (index, entry["shown"], entry["use"], entry["exp"])]
        if FORMATS[version]["shard"]:
            words.append(b"shard=%d" % entry["shard"])
        for data_name, period, value in entry["data"]:
            words.append(("%s=%d" % (data_name, value) if period is None else
                          "%s(%d)=%d" % (data_name, period, value)).encode())
        lines.append(b" ".join(words))
    return lines


def key_bytes(key, table_type):
    """The bytes of the key that haproxy_table sends for the key text ``key`` (its whole path:
    the request, the plan's normalisation against the table's type, the command, the batch)."""
    request = build_request(haproxy_table.DEFINITION, haproxy_table.ARGUMENT_SPEC,
                            {"name": "t", "keys": [key]}, haproxy_table.MODULE_KWARGS)
    canonical = haproxy_table.DEFINITION._canonical(request, {"type": table_type})[0]
    payload = encode_commands([request.key_command("clear", canonical)])
    words = cli_words(payload.split(b"\n")[2])
    assert len(words) == 1 and words[0][:4] == [b"clear", b"table", b"t", b"key"] and len(words[0]) == 5
    return words[0][4]


def same_key(parsed, entry, table_type):
    """A parsed key is right when it is shown as HAProxy shows it (typed keys) or, for a string
    key, when giving it back to haproxy_table addresses exactly the key's bytes."""
    if table_type == "string":
        # The modules show keys (and take them back) as validate.key_text makes them.
        shown = validate.key_text(parsed) if hasattr(validate, "key_text") else parsed
        if b"\n" in entry["raw"] or b"\r" in entry["raw"]:
            # No command can carry a line break: such a key (made by traffic) is refused
            # with a one-line error before anything is sent.
            try:
                key_bytes(shown, table_type)
            except InvalidInput as exc:
                return "\n" not in str(exc)
            return False
        return key_bytes(shown, table_type) == entry["raw"]
    return parsed == entry["key"]


def expected_entry(version, entry, parsed_key=None):
    parsed = {"key": entry["key"] if parsed_key is None else parsed_key, "use": entry["use"], "exp": entry["exp"],
              "data": dict((data_name, value) for data_name, dummy, value in entry["data"])}
    if FORMATS[version]["shard"]:
        parsed["shard"] = entry["shard"]
    return parsed


def check_entries(version, table_type, parsed, entries):
    """``parsed`` entries are the generated ``entries``: the same keys (see same_key), data, use..."""
    assert len(parsed) == len(entries)
    for got, entry in zip(parsed, entries):
        assert same_key(got["key"], entry, table_type), (got["key"], entry["raw"])
        assert got == expected_entry(version, entry, got["key"])


@example(string_table("2.6", *AWKWARD), 0.97)
@example(string_table("3.2", *AWKWARD), 0.5)
@given(tables(), cuts)
def test_show_table(generated, cut):
    version, name, table_type, entries = generated
    lines = table_lines(version, name, table_type, entries)
    header = {"name": name, "type": table_type, "size": 1024, "used": len(entries)}
    requests = [("show table", parsers.parse_table_list), ("show table %s" % name, parsers.parse_table_entries)]
    data, end = frame([[lines[0]], lines])
    tables_listed, parsed = read_through_the_client(data + b"> ", requests)
    assert tables_listed == [header]
    check_entries(version, table_type, parsed, entries)
    check_wire([[lines[0]], lines], requests, [tables_listed, parsed], cut)


def split_in_blocks(lines, cuts_at):
    """The text blocks of whole lines the transport yields, split at ``cuts_at``."""
    bounds = sorted(set(min(len(lines), point) for point in cuts_at)) + [len(lines)]
    blocks, start = [], 0
    for bound in bounds:
        if bound > start:
            blocks.append("\n".join(lines[start:bound]))
            start = bound
    return blocks


@example(string_table("3.0", *AWKWARD), 2, 3, [4])
@given(tables(), st.integers(0, 4), st.integers(0, 4), st.lists(st.integers(1, 9), max_size=4))
def test_a_streamed_dump_counts_and_keeps_the_same_whatever_the_blocks(generated, limit, key_cap, cuts_at):
    """The fast path (whole blocks counted) and the slow one (line by line) agree with the data."""
    version, name, table_type, entries = generated
    lines = [line.decode("utf-8", "surrogateescape") for line in table_lines(version, name, table_type, entries)]
    dump = table.Dump(limit, key_cap).consume(Body(iter(split_in_blocks(lines, cuts_at))))
    parsed = parsers.parse_table_entries(lines)
    check_entries(version, table_type, parsed, entries)
    busy = [entry for entry in parsed if entry["use"]]
    assert (dump.count, dump.in_use) == (len(parsed), len(busy))
    assert dump.header == {"name": name, "type": table_type, "size": 1024, "used": len(entries)}
    assert dump.entries == parsed[:limit]
    assert dump.in_use_keys == [entry["key"] for entry in busy][:limit]
    assert dump.in_use_entries == busy[:limit]
    assert dump.free_keys == [entry["key"] for entry in parsed if not entry["use"]][:key_cap]
