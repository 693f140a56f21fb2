# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Parsers of the runtime API's answers. Each takes an iterable of lines."""

import csv
import re

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import ProtocolError

# srv_admin_state bits (include/haproxy/server-t.h)
SRV_ADMF_FMAINT = 0x01
SRV_ADMF_IMAINT = 0x02
SRV_ADMF_CMAINT = 0x04
SRV_ADMF_FDRAIN = 0x08
SRV_ADMF_IDRAIN = 0x10
SRV_ADMF_RMAINT = 0x20
_MAINT_MASK = SRV_ADMF_FMAINT | SRV_ADMF_IMAINT | SRV_ADMF_RMAINT
_DRAIN_MASK = SRV_ADMF_FDRAIN | SRV_ADMF_IDRAIN

# srv_check_state / srv_agent_state bits
CHK_ST_CONFIGURED = 0x02
CHK_ST_ENABLED = 0x04
CHK_ST_PAUSED = 0x08

OP_STATES = {0: "down", 1: "starting", 2: "up", 3: "stopping"}

_SERVERS_STATE_FIELDS = (
    "be_id", "be_name", "srv_id", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_uweight",
    "srv_iweight", "srv_time_since_last_change", "srv_check_status", "srv_check_result", "srv_check_health",
    "srv_check_state", "srv_agent_state", "bk_f_forced_id", "srv_f_forced_id", "srv_fqdn", "srv_port",
    "srvrecord", "srv_use_ssl", "srv_check_port", "srv_check_addr", "srv_agent_addr", "srv_agent_port",
)
_INT_FIELDS = frozenset((
    "be_id", "srv_id", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight", "srv_check_state",
    "srv_agent_state", "srv_port", "srv_check_result", "srv_check_health",
))
_TABLE_HEADER = re.compile(r"^# table: (?P<name>.+?), type: (?P<type>\w+), size:(?P<size>\d+), used:(?P<used>\d+)\s*$")
_WEIGHT = re.compile(r"^(\d+) \(initial (\d+)\)$")
_VERSION = re.compile(r"^(\d+)\.(\d+)")


def decode_admin_state(bits):
    """``ready``, ``drain`` or ``maint`` from ``srv_admin_state``.

    CMAINT (a server ``disabled`` in the configuration) alone is not
    maintenance: such a server set ``ready`` keeps the bit and serves.
    """
    if bits & _MAINT_MASK:
        return "maint"
    if bits & _DRAIN_MASK:
        return "drain"
    return "ready"


def admin_state_sources(bits):
    """Human names of the admin-state causes set in ``bits``."""
    names = []
    for bit, name in ((SRV_ADMF_FMAINT, "forced maint"), (SRV_ADMF_IMAINT, "maint inherited from a tracked server"),
                      (SRV_ADMF_CMAINT, "disabled in the configuration"), (SRV_ADMF_FDRAIN, "forced drain"),
                      (SRV_ADMF_IDRAIN, "drain inherited from a tracked server"),
                      (SRV_ADMF_RMAINT, "maint after a DNS resolution failure")):
        if bits & bit:
            names.append(name)
    return names


def check_flags(bits):
    """``(configured, enabled)`` from a check or agent state."""
    return bool(bits & CHK_ST_CONFIGURED), bool(bits & CHK_ST_ENABLED)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def parse_servers_state(lines):
    """``show servers state [<backend>]`` -> list of server dicts."""
    servers = []
    header = None
    for line in lines:
        if not line:
            continue
        if line.startswith("#"):
            header = line.lstrip("# ").split()
            continue
        fields = line.split(" ")
        if header is None:
            if len(fields) == 1 and fields[0].isdigit():
                continue  # the format version line
            raise ProtocolError("malformed 'show servers state' line: %r" % line[:200])
        names = header if len(header) == len(fields) else list(_SERVERS_STATE_FIELDS[:len(fields)])
        raw = dict(zip(names, fields))
        for key in list(raw):
            # '-' is an empty field, but it is also a valid proxy or server name.
            if raw[key] == "-" and key not in ("be_name", "srv_name"):
                raw[key] = None
            elif key in _INT_FIELDS:
                raw[key] = _int(raw[key])
        servers.append(server_from_state(raw))
    return servers


def server_from_state(raw):
    """Decorate a raw ``show servers state`` row with decoded fields."""
    admin = raw.get("srv_admin_state") or 0
    check = raw.get("srv_check_state") or 0
    agent = raw.get("srv_agent_state") or 0
    check_configured, check_enabled = check_flags(check)
    agent_configured, agent_enabled = check_flags(agent)
    return {
        "backend": raw.get("be_name"),
        "backend_id": raw.get("be_id"),
        "name": raw.get("srv_name"),
        "id": raw.get("srv_id"),
        "address": raw.get("srv_addr"),
        "port": raw.get("srv_port"),
        "fqdn": raw.get("srv_fqdn"),
        "state": decode_admin_state(admin),
        "admin_state": admin,
        "admin_state_sources": admin_state_sources(admin),
        "operational_state": OP_STATES.get(raw.get("srv_op_state"), str(raw.get("srv_op_state"))),
        "weight": raw.get("srv_uweight"),
        "initial_weight": raw.get("srv_iweight"),
        "health": "enabled" if check_enabled else "disabled",
        "health_configured": check_configured,
        "agent": "enabled" if agent_enabled else "disabled",
        "agent_configured": agent_configured,
        "check_state": check,
        "agent_state": agent,
    }


def parse_stat_csv(lines):
    """``show stat`` CSV -> list of dicts keyed by column name (never by index)."""
    lines = iter(lines)
    header = None
    for line in lines:
        if line.startswith("# "):
            header = next(csv.reader([line[2:]]))
            break
        if line.strip():
            raise ProtocolError("malformed 'show stat' header: %r" % line[:200])
    if header is None:
        return []
    rows = []
    for row in csv.reader(line for line in lines if line):
        rows.append(dict(zip(header, row)))
    return rows


def parse_info(lines):
    """``show info`` -> dict (split on the first ': ')."""
    info = {}
    for line in lines:
        if ": " in line:
            key, value = line.split(": ", 1)
            info[key] = value
        elif line.endswith(":"):
            info[line[:-1]] = ""
    return info


_HEX_BYTE = re.compile(r"[0-9a-fA-F]{2}")


def parse_table_header(line):
    match = _TABLE_HEADER.match(line)
    if not match:
        return None
    return {"name": match.group("name"), "type": match.group("type"),
            "size": int(match.group("size")), "used": int(match.group("used"))}


def parse_table_list(lines):
    """``show table`` -> list of ``{name, type, size, used}``."""
    tables = []
    for line in lines:
        header = parse_table_header(line)
        if header:
            tables.append(header)
        elif line.strip():
            raise ProtocolError("malformed 'show table' line: %r" % line[:200])
    return tables


def unescape_key(text):
    r"""Undo ``show table``'s escaping of string keys (``\ ``, ``\\``, ``\=``, ``\t``, ``\xNN``).

    HAProxy keys are bytes, and ``show table`` prints every byte that is not
    printable ASCII as ``\xNN``: the bytes are put back together and decoded
    as UTF-8 (``caf\xC3\xA9`` is ``café``), bytes that are not UTF-8 as lone
    surrogates (``surrogateescape``), so that the key, encoded the same way,
    is the same bytes again in a command.
    """
    if "\\" not in text:
        return text
    out, index = bytearray(), 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            if nxt == "x" and _HEX_BYTE.fullmatch(text[index + 2:index + 4]):
                out.append(int(text[index + 2:index + 4], 16))
                index += 4
                continue
            out += {"n": "\n", "r": "\r", "t": "\t", "e": "\x1b"}.get(nxt, nxt).encode("utf-8", "surrogateescape")
            index += 2
            continue
        out += char.encode("utf-8", "surrogateescape")
        index += 1
    return out.decode("utf-8", "surrogateescape")


def _split_escaped(text):
    """Split on spaces not preceded by a backslash escape."""
    if "\\" not in text:
        # The common case, and the hot path of million-entry dumps.
        return [word for word in text.split(" ") if word]
    words, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index:index + 2])
            index += 2
            continue
        if char == " ":
            if current:
                words.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    if current:
        words.append("".join(current))
    return words


def parse_table_entry(line):
    """One entry line of ``show table <t>``.

    2.6: ``0x..: key=K use=N exp=MS name=V name(period)=V ...``; 2.7+ adds
    ``shard=N`` after ``exp``. Returns ``{key, use, exp, data}`` (``shard``
    when present); ``data`` maps ``name`` or ``name(period)`` to its value.
    """
    head, sep, rest = line.partition(": ")
    if not sep or not head.startswith("0x"):
        return None
    entry = {"key": None, "use": 0, "exp": None, "data": {}}
    for word in _split_escaped(rest):
        name, eq, value = word.partition("=")
        if not eq:
            continue
        if name == "key":
            entry["key"] = unescape_key(value)
        elif name in ("use", "exp", "shard"):
            entry[name] = _int(value)
        else:
            base = name.split("(", 1)[0]
            entry["data"][base] = _int(value)
    return entry


class TableDump(object):
    """Streaming consumer of ``show table <t> [...]``.

    Counts every entry and the ones in use while keeping at most ``limit``
    of them, so a table of millions of entries costs constant memory.

    Speed: a line is parsed whole only when something of it is kept
    (:meth:`wants`); the others cost a ``find`` and a ``startswith``. Once
    nothing more can be kept, a reply read in blocks (the transport's
    ``Body.blocks()``) is counted a block at a time: entries are the lines
    that start with ``0x``, the free ones those with `` use=0 ``, and a block
    with an entry in use that is still wanted is parsed line by line. The
    ``use`` field is found by its unescaped leading space: a key cannot
    contain one (``show table`` escapes spaces in keys as ``\\ ``).
    """

    def __init__(self, limit=100):
        self.limit = limit
        self.header = None
        self.count = 0
        self.in_use = 0
        self.entries = []
        self.in_use_keys = []

    def consume(self, lines):
        blocks = getattr(lines, "blocks", None)
        if blocks is None:
            return self._consume_lines(lines)
        for block in blocks():
            if not self._count_block(block):
                self._consume_lines(block.split("\n"))
        return self

    def _count_block(self, block):
        """Count a block of whole lines at once when nothing of it can be kept; False if it must be parsed."""
        if self.wants(False) or "# table:" in block:
            return False
        entries = block.count("\n0x") + block.startswith("0x")
        busy = entries - block.count(" use=0 ")
        if busy and self.wants(True):
            return False
        self.count += entries
        self.in_use += busy
        return True

    def _consume_lines(self, lines):
        for line in lines:
            if not line.startswith("0x"):
                if line.startswith("# table:"):
                    self.header = parse_table_header(line)
                continue
            position = line.find(" use=")
            if position < 0:
                continue  # not an entry line
            busy = not line.startswith("0 ", position + 5)
            self.count += 1
            if busy:
                self.in_use += 1
            if self.wants(busy):
                entry = parse_table_entry(line)
                if entry is not None:
                    self.keep(entry)
        return self

    def wants(self, busy):
        """Whether an entry (in use or not) would be kept: only then is its line parsed."""
        return len(self.entries) < self.limit or (busy and len(self.in_use_keys) < self.limit)

    def keep(self, entry):
        """Keep what is wanted of an entry already counted; subclasses keep more."""
        if entry["use"] and len(self.in_use_keys) < self.limit:
            self.in_use_keys.append(entry["key"])
        if len(self.entries) < self.limit:
            self.entries.append(entry)

    def add(self, entry):
        """Count and keep one parsed entry."""
        self.count += 1
        if entry["use"]:
            self.in_use += 1
        self.keep(entry)


def parse_table_entries(lines):
    """Every entry of a (small) ``show table <t> ...`` answer."""
    entries = []
    for line in lines:
        entry = parse_table_entry(line)
        if entry is not None:
            entries.append(entry)
    return entries


def parse_weight(lines):
    """``get weight`` -> ``(current, initial)``."""
    for line in lines:
        match = _WEIGHT.match(line.strip())
        if match:
            return int(match.group(1)), int(match.group(2))
    raise ProtocolError("malformed 'get weight' answer")


def parse_cli_level(lines):
    for line in lines:
        if line.strip():
            return line.strip()
    return None


def parse_version(lines):
    """``show version`` -> the version text (``2.6.12-1+deb12u3``, ``3.2.26-1``, ``3.3-dev5``)."""
    for line in lines:
        if line.strip():
            return line.strip()
    raise ProtocolError("empty 'show version' answer")


def version_tuple(text):
    """``(major, minor)`` of a version text; ``(0, 0)`` when it is not one (no ability assumed)."""
    match = _VERSION.match(text or "")
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)
