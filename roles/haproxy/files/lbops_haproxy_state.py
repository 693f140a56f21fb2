# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""lbops-haproxy-state: HAProxy's runtime server state across reloads and restarts.

Installed by the role lbops.haproxy.haproxy as /usr/local/sbin/lbops-haproxy-state
and run by its systemd drop-in for the haproxy unit (as root):

  save     (ExecReload, between the configuration check and the USR2 signal, and
           ExecStop) asks the admin socket for `show servers state`, reconciles the
           reply with the configuration on disk and writes the server-state file
           HAProxy loads at start-up (`server-state-file` in global,
           `load-server-state-from-file global` in defaults).
  prepare  (ExecStartPre) reconciles an existing state file with the configuration
           on disk before HAProxy loads it.
  reapply  sets again, through the admin socket, the runtime addresses HAProxy does
           not restore from the file (servers configured with an IP address): with
           --record-worker (ExecReload, before USR2) it notes the running worker's
           PID; then (ExecReload after USR2, and ExecStartPost) it waits for a new
           worker and sends `set server <b>/<s> addr <a> port <p>`, and checks them.

HAProxy applies the saved srv_port over the configured port, and the saved srv_addr
over a configured host name (for a server configured with an IP address it keeps the
configured address; measured on 2.6.12 and 3.0.11). So that a changed
configuration wins over stale saved state, a snapshot of the configured
servers (backend, server -> address, port) of the configuration the saved process
was loaded with is kept next to the state file (<state file>.config.json). A
server whose configured address or port differs between that snapshot and the
configuration now on disk gets the configured values in the state file; its admin
state and weights are kept. A server whose configuration did not change keeps its
runtime address and port (`set server addr` survives a reload: HAProxy restores it for
a server configured by name, `reapply` for one configured with an IP address). The snapshot also lists the runtime sockets of that configuration,
tried when the admin socket given is not there (its path changed on disk).

Python 3.6+, standard library only.
"""

import argparse
import errno
import ipaddress
import json
import os
import socket
import sys
import tempfile
import time

STATE_COMMAND = "show servers state"
STATE_VERSION = "1"
REQUIRED_COLUMNS = ("be_name", "srv_name", "srv_addr", "srv_port")
SNAPSHOT_SUFFIX = ".config.json"
REAPPLY_SUFFIX = ".addresses.json"
SNAPSHOT_VERSION = 1
DEFAULT_TIMEOUT = 10.0
# Section keywords of haproxy.cfg (a line starting with one opens a section).
SECTIONS = frozenset((
    "global", "defaults", "frontend", "backend", "listen", "userlist", "peers", "resolvers",
    "mailers", "program", "http-errors", "ring", "cache", "fcgi-app", "crt-store", "traces",
    "log-forward", "dynamic-update", "acme",
))
SERVER_SECTIONS = frozenset(("backend", "listen"))
ADDRESS_PREFIXES = ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@")


class StateError(Exception):
    """Anything that must stop a save: the reload then fails instead of losing state."""


class NotRunning(StateError):
    """The admin socket is missing or refuses connections: HAProxy is not running."""


# --- the configuration ---------------------------------------------------------


def tokenize(line):
    """The words of one configuration line, as HAProxy splits them: white space
    separates words, `#` outside quotes starts a comment, '...' is literal, "..."
    and a backslash escape the next character."""
    words, word, quote, in_word = [], [], None, False
    i = 0
    while i < len(line):
        c = line[i]
        if quote == "'":
            if c == "'":
                quote = None
            else:
                word.append(c)
        elif c == "\\" and i + 1 < len(line):
            i += 1
            word.append(line[i])
            in_word = True
        elif quote == '"':
            if c == '"':
                quote = None
            else:
                word.append(c)
        elif c in "'\"":
            quote, in_word = c, True
        elif c == "#":
            break
        elif c in " \t\r\n":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            word.append(c)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(word))
    return words


def normalize_addr(addr):
    """An IP literal in the form HAProxy prints it (IPv6 compressed); anything else as it is."""
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr


def parse_address(spec):
    """(address, port) of a `server` line's address: `<addr>[:<port>]`, an optional
    family prefix (ipv4@, ipv6@), IPv6 with the port after the last colon (as
    HAProxy reads it) or in brackets. The port is "" when there is none."""
    for prefix in ADDRESS_PREFIXES:
        if spec.startswith(prefix):
            spec = spec[len(prefix):]
            break
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            return spec, ""
        addr, rest = spec[1:end], spec[end + 1:]
        port = rest[1:] if rest.startswith(":") else ""
        return normalize_addr(addr), port
    if ":" not in spec:
        return normalize_addr(spec), ""
    addr, _sep, port = spec.rpartition(":")
    if ":" in addr and not port:
        # `::` ends the address itself (e.g. `2001:db8::`).
        return normalize_addr(spec), ""
    return normalize_addr(addr), port


def parse_config(text, servers=None):
    """{backend: {server: [address, port]}} of the `server` lines of the backend and
    listen sections of one configuration text (server-template and default-server
    are ignored). ``servers`` is extended when given (several files)."""
    servers = {} if servers is None else servers
    section, proxy = None, None
    for raw in text.splitlines():
        words = tokenize(raw)
        if not words:
            continue
        if words[0] in SECTIONS:
            section = words[0]
            proxy = words[1] if len(words) > 1 and section in SERVER_SECTIONS else None
            continue
        if proxy is None or words[0] != "server" or len(words) < 3:
            continue
        addr, port = parse_address(words[2])
        servers.setdefault(proxy, {})[words[1]] = [addr, port]
    return servers


def parse_sockets(text, sockets=None):
    """The `stats socket` addresses of the global sections of one configuration text
    that this saver can reach (Unix paths, host:port). Any level may read `show
    servers state`. ``sockets`` is extended when given."""
    sockets = [] if sockets is None else sockets
    section = None
    for raw in text.splitlines():
        words = tokenize(raw)
        if not words:
            continue
        if words[0] in SECTIONS:
            section = words[0]
            continue
        if section != "global" or words[:2] != ["stats", "socket"] or len(words) < 3:
            continue
        try:
            _socket_target(words[2])
        except StateError:
            continue
        if words[2] not in sockets:
            sockets.append(words[2])
    return sockets


def config_files(paths):
    """The files HAProxy loads for these -f arguments: a file, or every *.cfg file
    of a directory in lexical order; a missing directory loads nothing."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(os.path.join(path, n) for n in sorted(os.listdir(path))
                         if n.endswith(".cfg") and os.path.isfile(os.path.join(path, n)))
        else:
            files.append(path)
    return files


def read_config(paths, sockets=None):
    """The configured servers of the whole configuration (all its files); its
    runtime sockets are added to ``sockets`` when given."""
    servers = {}
    for path in config_files(paths):
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                text = fh.read()
        except OSError as exc:
            raise StateError("cannot read the configuration %s: %s" % (path, exc.strerror or exc))
        parse_config(text, servers)
        if sockets is not None:
            parse_sockets(text, sockets)
    return servers


# --- the runtime API -------------------------------------------------------------


def _socket_target(address):
    """(family, address) of a runtime socket: a Unix path (optionally unix@), or
    ipv4@host:port / ipv6@host:port / host:port."""
    if address.startswith("unix@"):
        return socket.AF_UNIX, address[len("unix@"):]
    if address.startswith("/"):
        return socket.AF_UNIX, address
    family = socket.AF_INET6 if address.startswith("ipv6@") else socket.AF_INET
    host, port = parse_address(address)
    if not port.isdigit():
        raise StateError("runtime socket %r: not a Unix path nor host:port" % address)
    if ":" in host:
        family = socket.AF_INET6
    return family, (host, int(port))


def query(address, command=STATE_COMMAND, timeout=DEFAULT_TIMEOUT):
    """The whole reply of one command on the runtime socket. The reply must end
    with the empty line HAProxy closes every answer with: a reply cut short (no
    final empty line, timeout, reset) is an error, never a smaller answer."""
    family, target = _socket_target(address)
    deadline = time.monotonic() + timeout
    sock = socket.socket(family, socket.SOCK_STREAM)
    chunks = []
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(target)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
                raise NotRunning("%s: %s (HAProxy is not running)" % (address, os.strerror(exc.errno)))
            raise StateError("cannot connect to %s: %s" % (address, exc))
        try:
            sock.sendall(command.encode("ascii") + b"\n")
            sock.shutdown(socket.SHUT_WR)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout()
                sock.settimeout(left)
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except socket.timeout:
            raise StateError("%s: no complete reply to %r within %.1f s" % (address, command, timeout))
        except OSError as exc:
            raise StateError("%s: reply to %r cut short: %s" % (address, command, exc))
    finally:
        sock.close()
    reply = b"".join(chunks).decode("utf-8", "surrogateescape")
    if not reply.endswith("\n\n"):
        raise StateError("%s: reply to %r cut short (%d bytes, no final empty line)" % (address, command, len(reply)))
    return reply


# --- the state file ----------------------------------------------------------------


def parse_state(text):
    """(columns, rows) of a `show servers state` reply or state file (version 1).
    Every row must have one field per column. Raises StateError otherwise."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != STATE_VERSION:
        first = lines[0][:80] if lines else ""
        raise StateError("not a server state of version %s (first line %r)" % (STATE_VERSION, first))
    if len(lines) < 2 or not lines[1].startswith("# "):
        raise StateError("server state without its column header")
    columns = lines[1][2:].split()
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise StateError("server state header lacks %s" % ", ".join(missing))
    rows = []
    for number, line in enumerate(lines[2:], start=3):
        if not line.strip():
            continue
        if line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != len(columns):
            raise StateError("server state line %d has %d fields, the header %d" % (number, len(fields), len(columns)))
        rows.append(fields)
    return columns, rows


def format_state(columns, rows):
    """The state file's text: version, header, one line per server, a newline after each."""
    lines = [STATE_VERSION, "# " + " ".join(columns)] + [" ".join(r) for r in rows]
    return "\n".join(lines) + "\n"


def _port_field(port):
    """srv_port of a configured port: the number, 0 without one, None when the port
    cannot be written there (a port offset such as +1000)."""
    if port == "":
        return "0"
    if port.isdigit() and 0 < int(port) <= 65535:
        return str(int(port))
    return None


def _is_ip(addr):
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return False
    return True


def reconcile(columns, rows, configured, snapshot):
    """The rows with the configuration's address and port for every server whose
    configured address or port differs from the snapshot (the configuration the
    saved process was loaded with). ``snapshot`` None (unknown) makes the
    configuration win for every configured server. Admin state, weights and every
    other field are kept. Servers absent from the configuration (removed, or from a
    server-template) keep their line: HAProxy skips lines of unknown servers.

    A configured address that is a host name is written as `-`: HAProxy then
    resolves the configured name at start-up (measured on 2.6.12 and 3.0.11). A
    port HAProxy cannot read from the file (an offset such as +1000) drops the line:
    the server then starts from its configuration alone.

    Returns (rows, changes, dropped): the new rows and human-readable notes."""
    i_be, i_srv = columns.index("be_name"), columns.index("srv_name")
    i_addr, i_port = columns.index("srv_addr"), columns.index("srv_port")
    out, changes, dropped = [], [], []
    for row in rows:
        be, srv = row[i_be], row[i_srv]
        new = configured.get(be, {}).get(srv)
        if new is None:
            out.append(row)
            continue
        old = None if snapshot is None else snapshot.get(be, {}).get(srv)
        if old is not None and list(old) == list(new):
            out.append(row)
            continue
        addr, port = new
        port_field = _port_field(port)
        if port_field is None:
            dropped.append("%s/%s: the configured port %s cannot go into the state file, the server starts from its configuration"
                           % (be, srv, port))
            continue
        addr_field = addr if _is_ip(addr) else "-"
        if row[i_addr] != addr_field or row[i_port] != port_field:
            changes.append("%s/%s: saved %s:%s -> configured %s%s" % (be, srv, row[i_addr], row[i_port], addr, (":" + port) if port else ""))
            row = list(row)
            row[i_addr], row[i_port] = addr_field, port_field
        out.append(row)
    return out, changes, dropped


def runtime_addresses(columns, rows, configured):
    """The servers configured with an IP address whose saved address differs from it:
    HAProxy restores their saved port from the state file but not their address, so
    ``reapply`` sets it again once the new worker runs. Run on reconciled rows: a server
    whose configured address changed already carries the configured one and is left out.
    Returns [{backend, server, address, port}] (port None when the state has none)."""
    i_be, i_srv = columns.index("be_name"), columns.index("srv_name")
    i_addr, i_port = columns.index("srv_addr"), columns.index("srv_port")
    out = []
    for row in rows:
        be, srv = row[i_be], row[i_srv]
        new = configured.get(be, {}).get(srv)
        if new is None or not _is_ip(new[0]) or not _is_ip(row[i_addr]):
            continue
        if normalize_addr(row[i_addr]) == normalize_addr(new[0]):
            continue
        port = row[i_port] if row[i_port].isdigit() and row[i_port] != "0" else None
        out.append({"backend": be, "server": srv, "address": row[i_addr], "port": port})
    return out


def write_addresses(state_file, entries):
    """The runtime addresses ``reapply`` will set (the file is removed when there are none)."""
    path = state_file + REAPPLY_SUFFIX
    if entries:
        write_atomic(path, json.dumps({"version": 1, "servers": entries, "worker": None}, indent=1, sort_keys=True) + "\n")
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def load_addresses(state_file):
    """The data of the addresses file, or None when there is none. A file that cannot
    be read is an error: it holds an operator's runtime addresses."""
    path = state_file + REAPPLY_SUFFIX
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError("cannot read %s: %s" % (path, exc))
    if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
        raise StateError("%s is not a list of runtime addresses" % path)
    return data


def _worker_pid(text):
    for line in text.splitlines():
        if line.startswith("Pid:"):
            return line.split(":", 1)[1].strip()
    raise StateError("no Pid in the reply to 'show info'")


def _set_server_command(entry):
    command = "set server %s/%s addr %s" % (entry["backend"], entry["server"], entry["address"])
    if entry.get("port"):
        command += " port %s" % entry["port"]
    return command


def reapply(socket_address, state_file, timeout=DEFAULT_TIMEOUT, record_worker=False, poll=0.1):
    """Record the running worker (``record_worker``), or wait for a worker other than
    the recorded one, set the runtime addresses and check them. Returns the number
    of servers set (0 when there is nothing to do)."""
    data = load_addresses(state_file)
    if not data or not data["servers"]:
        return 0
    if record_worker:
        data["worker"] = _worker_pid(query(socket_address, "show info", timeout))
        write_atomic(state_file + REAPPLY_SUFFIX, json.dumps(data, indent=1, sort_keys=True) + "\n")
        return 0
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            pid = _worker_pid(query(socket_address, "show info", max(0.5, deadline - time.monotonic())))
            if data.get("worker") is None or pid != data["worker"]:
                break
            last = "the worker %s that ran before the reload still answers" % pid
        except StateError as exc:
            last = str(exc)
        if time.monotonic() + poll > deadline:
            raise StateError("no new worker within %.1f s (%s): runtime addresses not set again" % (timeout, last))
        time.sleep(poll)
    for entry in data["servers"]:
        reply = query(socket_address, _set_server_command(entry), max(0.5, deadline - time.monotonic())).strip()
        if reply and not reply.startswith(("IP changed", "no need to change")):
            raise StateError("%s: %s" % (_set_server_command(entry), reply.splitlines()[0]))
    columns, rows = parse_state(query(socket_address, STATE_COMMAND, max(0.5, deadline - time.monotonic())))
    i_be, i_srv = columns.index("be_name"), columns.index("srv_name")
    i_addr, i_port = columns.index("srv_addr"), columns.index("srv_port")
    now = dict(((r[i_be], r[i_srv]), (r[i_addr], r[i_port])) for r in rows)
    for entry in data["servers"]:
        got = now.get((entry["backend"], entry["server"]))
        want_port = entry.get("port") or (got[1] if got else None)
        if got is None or normalize_addr(got[0]) != normalize_addr(entry["address"]) or got[1] != want_port:
            raise StateError("%s/%s is at %s after setting %s:%s" % (entry["backend"], entry["server"], got, entry["address"], want_port))
        where = entry["address"] + ((":" + entry["port"]) if entry.get("port") else "")
        log("runtime address of %s/%s set again: %s" % (entry["backend"], entry["server"], where))
    return len(data["servers"])


def write_atomic(path, text, mode=0o600):
    """Replace ``path`` with ``text``: a temporary file in the same directory,
    fsync, rename, fsync of the directory. ``mode`` root-only by default."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def load_snapshot_data(path):
    """The snapshot saved next to the state file ({version, servers, sockets}), or
    None (no snapshot, or one that cannot be read)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION or not isinstance(data.get("servers"), dict):
        return None
    if not isinstance(data.get("sockets", []), list):
        return None
    return data


def load_snapshot(path):
    """The configured servers of the snapshot, or None (the configuration then wins
    for every server)."""
    data = load_snapshot_data(path)
    return None if data is None else data["servers"]


def snapshot_text(configured, sockets=()):
    """The snapshot: the configured servers and the runtime sockets of a configuration."""
    return json.dumps({"version": SNAPSHOT_VERSION, "servers": configured, "sockets": list(sockets)},
                      indent=1, sort_keys=True) + "\n"


# --- the commands ------------------------------------------------------------------


def log(message):
    """One line on stderr: systemd puts it in the journal of haproxy.service."""
    sys.stderr.write("lbops-haproxy-state: %s\n" % message)
    sys.stderr.flush()


def _report(changes, dropped):
    for note in changes:
        log("the configuration wins: " + note)
    for note in dropped:
        log("WARNING: " + note)


def save(socket_address, state_file, configs, timeout=DEFAULT_TIMEOUT, at_stop=False):
    """Dump, reconcile and write the state file and the snapshot. Returns the number
    of servers written, or None when nothing was saved.

    The running process may have been loaded with other runtime sockets than the
    configuration on disk (a changed socket path): the sockets of the snapshot are
    tried after ``socket_address``. When none answers (no socket file, connection
    refused): at stop, nothing to save (the previous files stay); without a
    snapshot, the running HAProxy was started before this saver ever ran (the first
    reload once the state file is enabled): nothing to save, a warning, and the
    snapshot of the configuration the reload loads; otherwise an error."""
    snapshot_file = state_file + SNAPSHOT_SUFFIX
    data = load_snapshot_data(snapshot_file)
    candidates = [socket_address] + [s for s in (data or {}).get("sockets", []) if s != socket_address]
    reply, not_running = None, None
    for candidate in candidates:
        try:
            reply = query(candidate, STATE_COMMAND, timeout)
            break
        except NotRunning as exc:
            not_running = not_running or exc
    sockets = []
    configured = read_config(configs, sockets)
    if reply is None:
        if at_stop:
            log("nothing to save: %s" % not_running)
            return None
        if data is None:
            log("WARNING: nothing saved, %s; no snapshot either: the running HAProxy predates the saver" % not_running)
            write_atomic(snapshot_file, snapshot_text(configured, sockets))
            return None
        raise not_running
    columns, rows = parse_state(reply)
    snapshot = None if data is None else data["servers"]
    rows, changes, dropped = reconcile(columns, rows, configured, snapshot)
    _report(changes, dropped)
    write_atomic(state_file, format_state(columns, rows))
    write_addresses(state_file, runtime_addresses(columns, rows, configured))
    write_atomic(snapshot_file, snapshot_text(configured, sockets))
    return len(rows)


def prepare(state_file, configs):
    """Before HAProxy starts: reconcile an existing state file with the configuration
    on disk and write the snapshot of that configuration. A state file that cannot be
    parsed is set aside (<file>.invalid) with a message, so that HAProxy starts
    from its configuration. Returns the number of servers kept."""
    sockets = []
    configured = read_config(configs, sockets)
    kept = 0
    try:
        with open(state_file, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = None
    except OSError as exc:
        raise StateError("cannot read %s: %s" % (state_file, exc.strerror or exc))
    if text is not None:
        try:
            columns, rows = parse_state(text)
        except StateError as exc:
            log("WARNING: %s: %s; set aside as %s.invalid, HAProxy starts from its configuration" % (state_file, exc, state_file))
            os.rename(state_file, state_file + ".invalid")
        else:
            snapshot = load_snapshot(state_file + SNAPSHOT_SUFFIX)
            rows, changes, dropped = reconcile(columns, rows, configured, snapshot)
            _report(changes, dropped)
            if changes or dropped:
                write_atomic(state_file, format_state(columns, rows))
            write_addresses(state_file, runtime_addresses(columns, rows, configured))
            kept = len(rows)
    write_atomic(state_file + SNAPSHOT_SUFFIX, snapshot_text(configured, sockets))
    return kept


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lbops-haproxy-state",
        description="Save HAProxy's runtime server state before a reload or stop; reconcile it before a start.")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("reapply")
    p.add_argument("--state-file", required=True, help="the file of server-state-file")
    p.add_argument("--socket", required=True, help="the admin socket (Unix path, or host:port)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for the new worker and its answers")
    p.add_argument("--record-worker", action="store_true", help="note the running worker (before the reload signal)")
    for name in ("save", "prepare"):
        p = sub.add_parser(name)
        p.add_argument("--state-file", required=True, help="the file of server-state-file")
        p.add_argument("--config", action="append", required=True,
                       help="a configuration file or directory HAProxy loads (-f), repeatable")
        if name == "save":
            p.add_argument("--socket", required=True, help="the admin socket (Unix path, or host:port)")
            p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds for the whole reply")
            p.add_argument("--at-stop", action="store_true",
                           help="HAProxy not running (no socket, refused) is not an error")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_usage(sys.stderr)
        return 2
    try:
        if args.command == "reapply":
            reapply(args.socket, args.state_file, args.timeout, args.record_worker)
        elif args.command == "save":
            n = save(args.socket, args.state_file, args.config, args.timeout, args.at_stop)
            if n is not None:
                log("saved the state of %d servers to %s" % (n, args.state_file))
        else:
            n = prepare(args.state_file, args.config)
            log("state file %s ready (%d servers)" % (args.state_file, n))
    except (StateError, OSError) as exc:
        log("FAILED (%s): %s" % (args.command, exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
