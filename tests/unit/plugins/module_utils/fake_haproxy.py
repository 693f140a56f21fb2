# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one in-memory HAProxy runtime API of the unit tests.

It answers what the modules send (servers, frontends, stick tables, the
process and its statistics) with HAProxy's replies, version by version where
they differ (2.6: no ``shard=`` in table entries, its ``set server addr``
texts, no ``wait`` command; 3.0 and later: the contrary), and plugs into the
REAL :class:`RuntimeClient` in place of the socket session, so the client's
interpretation of replies and the streaming parsers are exercised too. The
modules get it through the runner's injection point: ``main(client_factory=...)``
(:func:`factory`), or a :class:`FakeClient` handed to ``Runner.run()``.

Stick tables behave like 2.6's, including its quirk: a full or filtered clear
keeps the entries in use AND the entry just before each of them.
"""

import ipaddress
import json
import re
from collections import OrderedDict

import pytest
from ansible.module_utils import _internal as _ansible_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback, encode_commands

HEADER = ("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
          "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
          "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
          "srv_check_addr srv_agent_addr srv_agent_port")
STAT_HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,weight,algo"
UNKNOWN = "Unknown command, but maybe one of the following ones is a better match:"
# Balance algorithms whose weights HAProxy cannot change at runtime (no BE_LB_PROP_DYN).
# 'source' stands for a hash with the default 'hash-type map-based' (static too).
STATIC_ALGOS = ("static-rr", "source")
# The data types a stick table can store, and how 'set table' casts a value into each.
DATA_TYPES = {"server_id": 0x7fffffff, "gpt0": 0xffffffff, "gpc0": 0xffffffff, "gpc1": 0xffffffff,
              "conn_cnt": 0xffffffff, "conn_cur": 0xffffffff, "sess_cnt": 0xffffffff, "http_req_cnt": 0xffffffff,
              "http_err_cnt": 0xffffffff, "http_req_rate": 0xffffffff, "conn_rate": 0xffffffff,
              "bytes_in_cnt": (1 << 64) - 1, "bytes_out_cnt": (1 << 64) - 1}
OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
       "gt": lambda a, b: a > b, "le": lambda a, b: a <= b, "ge": lambda a, b: a >= b}


class Srv(object):
    def __init__(self, name, weight=10, admin=0, check=6, agent=0, addr="127.0.0.1", port=8080, op=2, scur=0):
        self.name, self.uweight, self.iweight, self.admin = name, weight, weight, admin
        self.check, self.agent, self.addr, self.port, self.op, self.scur = check, agent, addr, port, op, scur


def cli_words(command):
    """Split a command line as HAProxy's CLI does: blanks separate words, a backslash escapes the next character."""
    words, current, index, started = [], [], 0, False
    while index < len(command):
        char = command[index]
        if char == "\\" and index + 1 < len(command):
            current.append(command[index + 1])
            index += 2
            started = True
            continue
        if char in " \t":
            if started:
                words.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
        index += 1
    if started:
        words.append("".join(current))
    return words


def dump_text(key):
    """A key as 'show table' prints it (HAProxy's dump_text): bytes, escaped."""
    out = []
    for byte in key.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        if char in " \\=":
            out.append("\\" + char)
        elif char in "\t\n\r\x1b":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\x1b": "\\e"}[char])
        elif 0x20 < byte < 0x7f:
            out.append(char)
        else:
            out.append("\\x%02X" % byte)
    return "".join(out)


class Table(object):
    def __init__(self, name, ttype="ip", stored=("gpc0", "conn_cur"), length=32):
        self.name, self.type, self.stored, self.length = name, ttype, list(stored), length
        self.entries = OrderedDict()  # key -> {"use": n, "data": {}}

    def add(self, key, use=0, **data):
        values = dict((name, 0) for name in self.stored)
        values.update(data)
        self.entries[key] = {"use": use, "data": values}

    def header(self):
        return "# table: %s, type: %s, size:1024, used:%d" % (self.name, self.type, len(self.entries))

    def line(self, key, entry, shard=False):
        data = " ".join("%s=%d" % item for item in entry["data"].items())
        return "0x55d0c0ffee%02d: key=%s use=%d exp=599000%s %s" % (
            len(key), dump_text(key), entry["use"], " shard=0" if shard else "", data)

    def stored_key(self, key):
        """The key HAProxy keeps: a string key is cut to the table's len (in bytes)."""
        if self.type != "string":
            return key
        return key.encode("utf-8", "surrogateescape")[:self.length].decode("utf-8", "surrogateescape")


class FakeHAProxy(object):
    def __init__(self, level="admin", version="2.6.12-1+deb12u3"):
        self.level = level
        self.version = version
        self.backends = {}       # name -> (algo, [Srv])
        self.frontends = {}      # name -> status ("OPEN", "PAUSED", "STOP", or None = config-disabled)
        self.tables = OrderedDict()
        self.tracked = set()     # "backend/server" that other servers track
        self.replies = {}        # command -> fixed reply lines (or a Feedback), answered as is
        self.sessions = []       # commands of each connection
        self.writes = []         # every command that is not a read
        self.on_read = None      # hook(haproxy) on every 'show stat' (to simulate time passing)
        self.on_session = None   # hook(haproxy) at the start of every connection
        self.on_wait = None      # hook(srv, ms) called by 'wait <ms> srv-removable' while srv is busy
        # Each extension is a callable (haproxy, command, words) -> reply, or None when the command is not
        # its own. A module's fake commands (maps, ACLs, certificates...) live in their own file and are
        # added here, so that this file stays the shared core. An extension records its writes itself
        # (haproxy.write_attempt).
        self.extensions = []

    @property
    def major_minor(self):
        major, minor = self.version.split(".")[:2]
        return int(major), int("".join(c for c in minor if c.isdigit()) or 0)

    # -- the model -------------------------------------------------------

    def add_backend(self, name, servers, algo="roundrobin"):
        self.backends[name] = (algo, servers)

    def table(self, name, ttype="ip", stored=("gpc0", "conn_cur"), length=32):
        self.tables[name] = Table(name, ttype, stored, length)
        return self.tables[name]

    def server(self, ref):
        backend, dummy, name = ref.partition("/")
        if backend not in self.backends:
            return None, "No such backend."
        for srv in self.backends[backend][1]:
            if srv.name == name:
                return srv, None
        return None, "No such server."

    # -- the CLI ---------------------------------------------------------

    def run(self, commands, follow=None):
        if self.on_session:
            self.on_session(self)
        record = list(commands)
        self.sessions.append(record)
        while commands:
            for command in commands:
                yield self.answer(command)
            if follow is None:
                break
            commands = list(follow() or [])
            encode_commands(commands)
            record.extend(commands)

    def answer(self, command):
        if command in self.replies:
            reply = self.replies[command]
            return reply if isinstance(reply, Feedback) else iter(reply)
        words = command.split(" ")
        for extension in self.extensions:
            reply = extension(self, command, words)
            if reply is not None:
                return reply
        if command == "show cli level":
            return iter([self.level])
        if command == "show version":
            return iter([self.version])
        if words[0] == "wait":
            return self.wait(words)
        if words[1:2] == ["table"]:
            return self.table_command(command)
        if command.startswith("show servers state "):
            return self.servers_state(words[3])
        if command.startswith("show stat "):
            return self.stat(words)
        self.writes.append(command)
        if self.level != "admin":
            return Feedback(3, "Permission denied")
        if words[:2] == ["set", "server"]:
            return self.set_server(words)
        if words[0] in ("enable", "disable") and words[1] in ("health", "agent"):
            return self.toggle_check(words)
        if words[:3] == ["shutdown", "sessions", "server"]:
            srv, err = self.server(words[3])
            if err:
                return Feedback(3, err)
            srv.scur = 0
            return iter([])
        if words[1] == "frontend":
            return self.frontend_command(words)
        return Feedback(6, UNKNOWN)

    def write_attempt(self, command):
        """Record a write; return the refusal of a socket below admin level, or None."""
        self.writes.append(command)
        if self.level != "admin":
            return Feedback(3, "Permission denied")
        return None

    # servers --------------------------------------------------------------

    def servers_state(self, backend):
        if backend not in self.backends:
            return Feedback(3, "Can't find backend.")
        be_id = sorted(self.backends).index(backend) + 1
        lines = ["1", HEADER]
        for index, s in enumerate(self.backends[backend][1], 1):
            lines.append("%d %s %d %s %s %d %d %d %d 5 6 3 4 %d %d 0 0 - %d - 0 0 - - 0" % (
                be_id, backend, index, s.name, s.addr, s.op, s.admin, s.uweight, s.iweight, s.check, s.agent, s.port))
        return iter(lines)

    def _proxy_by_id(self, number):
        """'show stat' falls back to atoi() of a name it does not know: a proxy id (-1: all)."""
        names = sorted(set(self.frontends) | set(self.backends))
        if number == -1:
            return names
        return names[number - 1:number] if 0 < number <= len(names) else []

    def stat(self, words):
        if self.on_read:
            self.on_read(self)
        name = words[2]
        if name not in self.frontends and name not in self.backends:
            match = re.match(r"\s*[-+]?\d+", name)
            if not match or int(match.group()) == 0:
                return Feedback(3, "No such proxy.")
            rows = [STAT_HEADER]
            for proxy in self._proxy_by_id(int(match.group())):
                rows += list(self.stat(words[:2] + [proxy] + words[3:]))[1:]
            return iter(rows)
        if name in self.frontends and words[3] in ("1", "3", "-1"):
            status = self.frontends[name]
            return iter([STAT_HEADER] + ([] if status is None else ["%s,FRONTEND,0,0,0,0,0,0,%s,," % (name, status)]))
        rows = [STAT_HEADER]
        if name in self.backends:
            algo = self.backends[name][0]
            if words[3] in ("3", "2", "-1"):
                rows.append("%s,BACKEND,0,0,0,0,0,0,UP,1,%s" % (name, algo))
            if words[3] in ("4", "-1"):
                rows += ["%s,%s,0,0,%d,0,0,0,UP,%d," % (name, s.name, s.scur, s.uweight) for s in self.backends[name][1]]
        return iter(rows)

    def set_server(self, words):
        srv, err = self.server(words[2])
        if err:
            return Feedback(3, err)
        if words[3] == "state":
            if words[4] == "ready":
                srv.admin &= ~0x09
                srv.op = 2
            elif words[4] == "drain":
                srv.admin = (srv.admin | 0x08) & ~0x01
                srv.op = 2
            else:
                srv.admin = (srv.admin | 0x01) & ~0x08
                srv.op = 0
            return iter([])
        if words[3] == "weight":
            algo = self.backends[words[2].split("/")[0]][0]
            value = words[4]
            weight = srv.iweight * int(value[:-1]) // 100 if value.endswith("%") else int(value)
            if algo in STATIC_ALGOS and weight not in (0, srv.iweight):
                return Feedback(3, "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.")
            srv.uweight = weight
            return iter([])
        if words[3] == "addr":
            addr = words[4]
            new = self.major_minor >= (3, 0)
            try:
                parsed = ipaddress.ip_address(addr)
            except ValueError:
                return Feedback(4, "Invalid addr '%s'" % addr if new else "Invalid addr '%s' by 'stats socket command'" % addr)
            if parsed.version == 6 and parsed.ipv4_mapped is not None:
                addr = "::ffff:%s" % parsed.ipv4_mapped  # inet_ntop, as HAProxy prints it
            else:
                addr = str(parsed)
            old = srv.addr
            port = int(words[6]) if len(words) > 6 else srv.port
            if (old, port) == (addr, srv.port):
                return Feedback(4, "nothing changed" if new else "no need to change the addr by 'stats socket command'")
            srv.addr, srv.port = addr, port
            return Feedback(4, "IP changed from '%s' to '%s' by 'stats socket command'" % (old, addr))
        return Feedback(3, "'set server <srv>' only supports 'agent', 'health', 'state', 'weight', 'addr', 'check-port'")

    def toggle_check(self, words):
        srv, err = self.server(words[2])
        if err:
            return Feedback(3, err)
        attr = "check" if words[1] == "health" else "agent"
        bits = getattr(srv, attr)
        if words[0] == "enable":
            if not bits & 0x02:
                return Feedback(3, "Health check was not configured on this server, cannot enable.")
            bits |= 0x04
        else:
            bits &= ~0x04
        setattr(srv, attr, bits)
        return iter([])

    def wait(self, words):
        """'wait <ms> srv-removable <b>/<s>' as 3.0 answers it (2.6 does not know it)."""
        if self.major_minor < (3, 0):
            return Feedback(6, "Unknown command: 'wait', but maybe one of the following ones is a better match:")
        srv, err = self.server(words[3])
        if err or not srv.admin & 0x01 or words[3] in self.tracked:
            return Feedback(3, "Failed.")
        if srv.scur and self.on_wait:
            self.on_wait(srv, int(words[1]))
        # 3.0.11 and 3.2.26: 'Failed.' at once when it cannot happen, 'Wait delay expired.' when time is up.
        return Feedback(6, "Done.") if srv.scur == 0 else Feedback(3, "Wait delay expired.")

    # frontends ------------------------------------------------------------

    def frontend_command(self, words):
        name = words[2]
        if name not in self.frontends:
            return Feedback(3, "No such frontend.")
        status = self.frontends[name]
        if status in (None, "STOP"):
            return Feedback(3, "Frontend was previously shut down, cannot enable.")
        wanted = "OPEN" if words[0] == "enable" else "PAUSED"
        if status == wanted:
            return Feedback(5, "All sockets are already %s." % ("enabled" if words[0] == "enable" else "disabled"))
        self.frontends[name] = wanted
        return iter([])

    # stick tables -----------------------------------------------------------

    @staticmethod
    def _filters(words):
        filters = []
        while words:
            filters.append((words[0][5:], words[1], int(words[2])))
            words = words[3:]
        return filters

    @staticmethod
    def _match(entry, filters):
        return all(OPS[op](entry["data"].get(name, 0), value) for name, op, value in filters)

    def table_command(self, command):  # noqa: PLR0911, PLR0912
        words = cli_words(command)
        shard = self.major_minor >= (2, 7)
        if command == "show table":
            return iter([t.header() for t in self.tables.values()])
        verb = words[0]
        if verb in ("set", "clear"):
            self.writes.append(command)
        table = self.tables.get(words[2])
        if table is None:
            return Feedback(3, "No such table")
        rest = words[3:]
        if rest[:1] == ["key"]:
            rest = rest[:1] + [table.stored_key(rest[1])] + rest[2:]
        if verb == "show":
            if rest[:1] == ["key"]:
                entry = table.entries.get(rest[1])
                return iter([] if entry is None else [table.header(), table.line(rest[1], entry, shard)])
            if self.level == "user":
                return iter([table.header(), "# contents not dumped due to insufficient privileges"])
            for index in range(0, len(rest), 3):
                name = rest[index][5:] if rest[index].startswith("data.") else None
                if name not in DATA_TYPES:
                    return Feedback(3, "Filter entry #%d: Unknown data type" % (index // 3 + 1))
                if name not in table.stored:
                    return Feedback(3, "Filter entry #%d: Data type not stored in this table" % (index // 3 + 1))
                if not re.match(r"^-?\d+$", rest[index + 2] if index + 2 < len(rest) else ""):
                    return Feedback(3, "Filter entry #%d: Require a valid integer value to compare against" % (index // 3 + 1))
            filters = self._filters(rest)
            lines = [table.line(k, e, shard) for k, e in table.entries.items() if self._match(e, filters)]
            return iter([table.header()] + lines)
        if self.level == "user":
            return Feedback(3, "Permission denied") if verb == "set" or rest[:1] == ["key"] else iter([])
        if verb == "set":
            key = rest[1]
            if table.type == "ip" and key.count(".") != 3:
                key = "0.0.0.0"  # the 2.6 bug the module must never trigger
            if key not in table.entries:
                table.add(key)
            # As HAProxy: the entry is created first, then the data are checked one by one.
            pairs = rest[2:]
            for index in range(0, len(pairs), 2):
                name = pairs[index][5:]
                if name not in DATA_TYPES:
                    return Feedback(3, "Unknown data type")
                if name not in table.stored:
                    return Feedback(3, "Data type not stored in this table")
                table.entries[key]["data"][name] = int(pairs[index + 1]) & DATA_TYPES[name]
            return iter([])
        if rest[:1] == ["key"]:
            entry = table.entries.get(rest[1])
            if entry is not None:
                if entry["use"]:
                    return Feedback(3, "Entry currently in use, cannot remove")
                del table.entries[rest[1]]
            return iter([])
        # Full or filtered clear, with the skipped-neighbour quirk.
        filters = self._filters(rest)
        keys = list(table.entries)
        doomed = []
        for index, key in enumerate(keys):
            entry = table.entries[key]
            nxt = table.entries[keys[index + 1]] if index + 1 < len(keys) else None
            if entry["use"] or (nxt is not None and nxt["use"]):
                continue
            if self._match(entry, filters):
                doomed.append(key)
        for key in doomed:
            del table.entries[key]
        return iter([])


class _FakeSession(object):
    def __init__(self, haproxy):
        self.haproxy = haproxy

    def run(self, commands, follow=None):
        encode_commands(commands)  # what the real session refuses before connecting
        return self.haproxy.run(commands, follow)


class FakeClient(RuntimeClient):
    """The real client, with the socket session replaced by :class:`FakeHAProxy`."""

    def __init__(self, haproxy, spec="/run/haproxy/admin.sock", timeout=1.0):
        super(FakeClient, self).__init__(spec, timeout)
        self.haproxy = haproxy

    def _session(self, extra_time=0.0):
        self.connections += 1
        return _FakeSession(self.haproxy)


def factory(fakes):
    """A ``client_factory`` for a module's ``main()``: one fake per socket spec."""
    return lambda spec, timeout: FakeClient(fakes[spec], spec, timeout)


def lab(level="admin", version="2.6.12-1+deb12u3"):
    """The integration harness's backends and frontends, in memory."""
    haproxy = FakeHAProxy(level, version)
    haproxy.add_backend("be_app", [
        Srv("s1", 10), Srv("s2", 20), Srv("s3", 30, check=0), Srv("s4", 40, check=0, agent=22)])
    haproxy.add_backend("be_static", [Srv("a", 1, check=0), Srv("b", 1, check=0)], algo="static-rr")
    haproxy.add_backend("be_hash", [Srv("a", 1, check=0), Srv("b", 1, check=0)], algo="source")
    haproxy.add_backend("be_track", [Srv("t1", 1, check=0)])
    haproxy.add_backend("be_cfgdisabled", [Srv("d1", 1, admin=0x05, check=0, op=0)])
    haproxy.frontends.update({"fe_main": "OPEN", "fe_aux": "OPEN", "fe_stop": "STOP", "fe_off": None})
    haproxy.tracked.add("be_app/s1")  # be_track/t1
    return haproxy


def table_lab(level="admin", version="2.6.12-1+deb12u3"):
    """Stick tables of every type, fe_main holding six clients."""
    haproxy = FakeHAProxy(level, version)
    table = haproxy.table("fe_main")
    for index in range(1, 7):
        table.add("10.9.0.%d" % index, gpc0=index)
    haproxy.table("st_string", "string", ("gpc0", "server_id"))
    haproxy.table("st_bin", "binary", ("gpc0",))
    haproxy.table("mypeers/sessions", "integer", ("server_id",))
    return haproxy


def run_module(capsys, main, args, check_mode=False, diff=False, fakes=None):
    """Run a module's ``main()`` with ``args`` (against ``fakes`` by socket); return its JSON."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    # A module runs in a process of its own, never in the controller's. Once a test of
    # a controller-side plugin (a filter) has imported the controller in this process,
    # ansible-core would print a module's warnings instead of returning them.
    saved = _ansible_internal.is_controller
    _ansible_internal.is_controller = False
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                if fakes is None:
                    main()
                else:
                    main(client_factory=factory(fakes))
    finally:
        _ansible_internal.is_controller = saved
    return json.loads(capsys.readouterr().out)


class Instances(dict):
    """Fake instances by socket spec, and one module's ``main()`` run against them.

    A test module keeps one at module level: its fixture calls :meth:`reset`
    with the instances of a test, its tests call :meth:`run`.
    """

    def __init__(self, main):
        dict.__init__(self)
        self.main = main

    def reset(self, **by_name):
        """Start over with ``by_name`` (``lb1=lab()`` is reached as ``/lb1.sock``); return self."""
        self.clear()
        self.update(("/%s.sock" % name, fake) for name, fake in by_name.items())
        return self

    def run(self, capsys, args, check_mode=False, diff=False):
        return run_module(capsys, self.main, args, check_mode, diff, fakes=self)
