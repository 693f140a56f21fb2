# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""lbops-haproxy-state (roles/haproxy/files/lbops_haproxy_state.py): the saver the
role's systemd drop-in runs before every reload, at stop and before a start."""

import importlib.util
import json
import os
import socket
import stat
import threading
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "haproxy" / "files" / "lbops_haproxy_state.py"
_spec = importlib.util.spec_from_file_location("lbops_haproxy_state", SCRIPT)
st = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(st)

HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight"
    " srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state"
    " srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl"
    " srv_check_port srv_check_addr srv_agent_addr srv_agent_port"
)
# A reply of HAProxy 2.6.12 (the same layout on 3.0.11), captured live: be.one/s1
# in maint, be.one/s-2 at weight 5 with a runtime address, an IPv6 server in a listen.
REPLY = (
    "1\n" + HEADER + "\n"
    "2 be.one 1 s1 127.0.0.1 0 1 10 10 0 1 0 0 0 0 0 0 - 18081 - 0 0 - - 0\n"
    "2 be.one 2 s-2 127.0.0.2 2 0 5 1 2 1 0 2 0 0 0 0 - 18090 - 0 0 - - 0\n"
    "3 l6 1 v6 ::2 2 0 1 1 2 1 0 2 0 0 0 0 - 18085 - 0 0 - - 0\n"
    "\n"
)
CONFIG = """\
global
    stats socket /nonexistent/lbops-test/admin.sock level admin   # the admin socket
    stats socket ipv4@127.0.0.1:1 level operator
    stats socket abns@x
    server-state-file /var/lib/lbops-haproxy/server-state
defaults
    mode http
    load-server-state-from-file global
frontend fe
    bind 127.0.0.1:80
    default_backend be.one
backend be.one
    default-server check inter 2s
    server s1 127.0.0.1:18081 weight 10
    server s-2 127.0.0.1:18082
    server-template tpl 3 127.0.0.1:19000
listen l6
    bind 127.0.0.1:18099
    server v6 ::1:18085
"""
SNAPSHOT = {"be.one": {"s1": ["127.0.0.1", "18081"], "s-2": ["127.0.0.1", "18082"]}, "l6": {"v6": ["::1", "18085"]}}


def rows_by_name(text):
    columns, rows = st.parse_state(text)
    return {(r[columns.index("be_name")], r[columns.index("srv_name")]): dict(zip(columns, r)) for r in rows}


def reconciled(configured, snapshot="default", reply=REPLY):
    """Reconcile ``reply`` (the module's SNAPSHOT unless given; None: no snapshot)."""
    snapshot = SNAPSHOT if snapshot == "default" else snapshot
    columns, rows = st.parse_state(reply)
    out, changes, dropped = st.reconcile(columns, rows, configured, snapshot)
    return rows_by_name(st.format_state(columns, out)), changes, dropped


# --- the configuration ----------------------------------------------------------


@pytest.mark.parametrize("line, words", [
    ("    server s1 127.0.0.1:80 check", ["server", "s1", "127.0.0.1:80", "check"]),
    ("server s1 10.0.0.1:80 # a comment", ["server", "s1", "10.0.0.1:80"]),
    ("# only a comment", []),
    ("\tserver\t'a b' \"c#d\" e\\ f", ["server", "a b", "c#d", "e f"]),
    ("description it's #1", ["description", "its #1"]),
    ("", []),
])
def test_tokenize(line, words):
    assert st.tokenize(line) == words


@pytest.mark.parametrize("spec, expected", [
    ("127.0.0.1:8081", ("127.0.0.1", "8081")),
    ("127.0.0.1", ("127.0.0.1", "")),
    ("ipv4@10.0.0.1:80", ("10.0.0.1", "80")),
    ("::1:18085", ("::1", "18085")),
    ("2001:db8:0:0::0001:443", ("2001:db8::1", "443")),
    ("[2001:db8::1]:443", ("2001:db8::1", "443")),
    ("[2001:db8::1]", ("2001:db8::1", "")),
    ("ipv6@2001:db8::1:443", ("2001:db8::1", "443")),
    ("2001:db8::", ("2001:db8::", "")),
    ("web-1.example.test:8080", ("web-1.example.test", "8080")),
    ("localhost", ("localhost", "")),
    ("10.0.0.1:+1000", ("10.0.0.1", "+1000")),
])
def test_parse_address(spec, expected):
    assert st.parse_address(spec) == expected


def test_parse_config_backend_and_listen_only():
    servers = st.parse_config(CONFIG)
    # server-template and default-server are ignored, frontends have no servers.
    assert servers == {"be.one": {"s1": ["127.0.0.1", "18081"], "s-2": ["127.0.0.1", "18082"]},
                       "l6": {"v6": ["::1", "18085"]}}


def test_parse_config_sections_end_at_the_next_section():
    text = "backend b1\n server a 10.0.0.1:80\npeers p\n server a 10.0.0.9:10000\n  peer x 10.0.0.2:10000\n" \
           "  backend b2\n server a 10.0.0.3\n"
    assert st.parse_config(text) == {"b1": {"a": ["10.0.0.1", "80"]}, "b2": {"a": ["10.0.0.3", ""]}}


def test_config_files_directory_in_lexical_order(tmp_path):
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "20-b.cfg").write_text("backend b\n server s 10.0.0.2:80\n")
    (conf / "10-a.cfg").write_text("backend b\n server s 10.0.0.1:80\n server t 10.0.0.3:80\n")
    (conf / "README").write_text("backend x\n server s 10.0.0.9:80\n")
    main = tmp_path / "haproxy.cfg"
    main.write_text("backend m\n server s 10.0.0.4:80\n")
    files = st.config_files([str(main), str(conf), str(tmp_path / "missing.d")])
    assert [os.path.basename(f) for f in files] == ["haproxy.cfg", "10-a.cfg", "20-b.cfg", "missing.d"]
    with pytest.raises(st.StateError, match="cannot read the configuration"):
        st.read_config([str(main), str(conf), str(tmp_path / "missing.cfg")])
    servers = st.read_config([str(main), str(conf)])
    # A later file wins for the same server, as a duplicate would make HAProxy refuse anyway.
    assert servers == {"m": {"s": ["10.0.0.4", "80"]}, "b": {"s": ["10.0.0.2", "80"], "t": ["10.0.0.3", "80"]}}


# --- the state ---------------------------------------------------------------------


def test_parse_state_and_format_round_trip():
    columns, rows = st.parse_state(REPLY)
    assert len(columns) == 25 and len(rows) == 3
    assert st.format_state(columns, rows) == REPLY[:-1]  # the file: no final empty line
    assert st.parse_state(st.format_state(columns, rows)) == (columns, rows)


def test_parse_state_of_no_server():
    assert st.parse_state("1\n" + HEADER + "\n\n")[1] == []


@pytest.mark.parametrize("text, message", [
    ("Permission denied\n\n", "not a server state of version 1"),
    ("Unknown command: 'show'\n\n", "not a server state"),
    ("2\n" + HEADER + "\n\n", "not a server state of version 1"),
    ("", "not a server state"),
    ("1\n2 be 1 s 127.0.0.1\n", "without its column header"),
    ("1\n# be_id be_name srv_id srv_name srv_addr\n", "lacks srv_port"),
    ("1\n" + HEADER + "\n2 be.one 1 s1 127.0.0.1 0 1 10 10 0 1 0 0 0 0 0 0 - 18081\n", "line 3 has 19 fields, the header 25"),
])
def test_malformed_state_is_an_error(text, message):
    with pytest.raises(st.StateError, match=message):
        st.parse_state(text)


def test_reconcile_unchanged_configuration_keeps_the_runtime_addresses():
    rows, changes, dropped = reconciled(st.parse_config(CONFIG))
    assert rows == rows_by_name(REPLY)
    assert changes == [] and dropped == []


def test_reconcile_changed_port_wins_and_keeps_admin_state_and_weights():
    rows, changes, _dropped = reconciled(st.parse_config(CONFIG.replace("127.0.0.1:18082", "127.0.0.1:18083")))
    s2 = rows[("be.one", "s-2")]
    assert (s2["srv_addr"], s2["srv_port"]) == ("127.0.0.1", "18083")
    assert (s2["srv_admin_state"], s2["srv_uweight"], s2["srv_iweight"]) == ("0", "5", "1")
    assert changes == ["be.one/s-2: saved 127.0.0.2:18090 -> configured 127.0.0.1:18083"]
    # The other servers are untouched.
    assert rows[("be.one", "s1")] == rows_by_name(REPLY)[("be.one", "s1")]
    assert rows[("l6", "v6")]["srv_addr"] == "::2"


def test_reconcile_changed_address_wins():
    rows, changes, _dropped = reconciled(st.parse_config(CONFIG.replace("s1 127.0.0.1:18081", "s1 10.1.2.3:18081")))
    s1 = rows[("be.one", "s1")]
    assert (s1["srv_addr"], s1["srv_port"], s1["srv_admin_state"], s1["srv_uweight"]) == ("10.1.2.3", "18081", "1", "10")
    assert changes == ["be.one/s1: saved 127.0.0.1:18081 -> configured 10.1.2.3:18081"]


def test_reconcile_ipv6_in_a_listen():
    rows, changes, _dropped = reconciled(st.parse_config(CONFIG.replace("server v6 ::1:18085", "server v6 [2001:db8::0:7]:18086")))
    assert (rows[("l6", "v6")]["srv_addr"], rows[("l6", "v6")]["srv_port"]) == ("2001:db8::7", "18086")
    assert changes == ["l6/v6: saved ::2:18085 -> configured 2001:db8::7:18086"]


def test_reconcile_same_ipv6_written_differently_is_unchanged():
    rows, changes, _dropped = reconciled(st.parse_config(CONFIG.replace("server v6 ::1:18085", "server v6 ipv6@0:0::1:18085")))
    assert rows[("l6", "v6")]["srv_addr"] == "::2" and changes == []


def test_reconcile_removed_server_keeps_its_line():
    configured = st.parse_config(CONFIG.replace("    server s-2 127.0.0.1:18082\n", ""))
    rows, changes, dropped = reconciled(configured)
    assert rows == rows_by_name(REPLY) and changes == [] and dropped == []


def test_reconcile_new_server_adds_no_line_and_a_server_new_to_the_snapshot_takes_the_config():
    configured = st.parse_config(CONFIG + "    server s3 127.0.0.1:18087\n")
    rows, _changes, _dropped = reconciled(configured)
    assert ("l6", "s3") not in rows and len(rows) == 3
    snapshot = {"be.one": {"s1": ["127.0.0.1", "18081"]}, "l6": {"v6": ["::1", "18085"]}}
    rows, changes, _dropped = reconciled(st.parse_config(CONFIG), snapshot)
    assert (rows[("be.one", "s-2")]["srv_addr"], rows[("be.one", "s-2")]["srv_port"]) == ("127.0.0.1", "18082")
    assert changes == ["be.one/s-2: saved 127.0.0.2:18090 -> configured 127.0.0.1:18082"]


def test_reconcile_without_snapshot_the_configuration_wins_everywhere():
    rows, changes, _dropped = reconciled(st.parse_config(CONFIG), None)
    assert [(r["srv_addr"], r["srv_port"]) for r in rows.values()] == [
        ("127.0.0.1", "18081"), ("127.0.0.1", "18082"), ("::1", "18085")]
    assert rows[("be.one", "s1")]["srv_admin_state"] == "1"
    assert len(changes) == 2  # s1 had its configured address already


def test_reconcile_host_name_and_port_rules():
    config = CONFIG.replace("s1 127.0.0.1:18081", "s1 web-1.example.test:8080").replace("s-2 127.0.0.1:18082", "s-2 10.0.0.2")
    rows, changes, dropped = reconciled(st.parse_config(config))
    # A host name cannot go into srv_addr: `-` makes HAProxy resolve the configured name.
    assert (rows[("be.one", "s1")]["srv_addr"], rows[("be.one", "s1")]["srv_port"]) == ("-", "8080")
    # No port: 0, as HAProxy writes it.
    assert (rows[("be.one", "s-2")]["srv_addr"], rows[("be.one", "s-2")]["srv_port"]) == ("10.0.0.2", "0")
    assert len(changes) == 2 and dropped == []
    rows, _changes, dropped = reconciled(st.parse_config(CONFIG.replace("127.0.0.1:18082", "127.0.0.1:+1000")))
    assert ("be.one", "s-2") not in rows
    assert dropped == ["be.one/s-2: the configured port +1000 cannot go into the state file, the server starts from its configuration"]


def test_reconcile_names_with_dots_and_dashes():
    reply = "1\n" + HEADER + "\n3 be.app-v2.example 1 web-01.dc-1 10.9.9.9 2 0 1 1 0 1 0 0 0 0 0 0 - 80 - 0 0 - - 0\n\n"
    config = "backend be.app-v2.example\n    server web-01.dc-1 10.0.0.1:81\n"
    snapshot = {"be.app-v2.example": {"web-01.dc-1": ["10.0.0.1", "80"]}}
    rows, _changes, _dropped = reconciled(st.parse_config(config), snapshot, reply)
    assert rows[("be.app-v2.example", "web-01.dc-1")]["srv_port"] == "81"
    assert rows[("be.app-v2.example", "web-01.dc-1")]["srv_addr"] == "10.0.0.1"


# --- files -------------------------------------------------------------------------


def test_write_atomic(tmp_path):
    target = tmp_path / "server-state"
    target.write_text("old\n")
    st.write_atomic(str(target), "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["server-state"]


def test_write_atomic_failure_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "server-state"
    target.write_text("old\n")

    def broken_rename(_src, _dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(st.os, "rename", broken_rename)
    with pytest.raises(OSError):
        st.write_atomic(str(target), "new\n")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["server-state"]


def test_snapshot_round_trip_and_bad_snapshots(tmp_path):
    path = tmp_path / "s.config.json"
    path.write_text(st.snapshot_text(SNAPSHOT))
    assert st.load_snapshot(str(path)) == SNAPSHOT
    for bad in ("not json", json.dumps({"version": 99, "servers": {}}), json.dumps([1])):
        path.write_text(bad)
        assert st.load_snapshot(str(path)) is None
    assert st.load_snapshot(str(tmp_path / "missing")) is None


# --- the admin socket ------------------------------------------------------------------


class FakeSocket:
    """A Unix socket that answers one connection with ``reply`` (then closes, unless hang)."""

    def __init__(self, path, reply, hang=False):
        self.path, self.reply, self.hang, self.received = path, reply, hang, b""
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _addr = self.srv.accept()
        with conn:
            while not self.received.endswith(b"\n"):
                data = conn.recv(4096)
                if not data:
                    break
                self.received += data
            conn.sendall(self.reply.encode())
            if self.hang:
                self.done.wait(5)

    def close(self):
        self.done.set()
        self.thread.join(5)
        self.srv.close()


@pytest.fixture
def sock_path(tmp_path):
    return str(tmp_path / "admin.sock")


def test_query_reads_the_whole_reply(sock_path):
    fake = FakeSocket(sock_path, REPLY)
    try:
        assert st.query(sock_path, timeout=5) == REPLY
    finally:
        fake.close()
    assert fake.received == b"show servers state\n"


def test_query_cut_short_is_an_error(sock_path):
    fake = FakeSocket(sock_path, REPLY[:-60])
    try:
        with pytest.raises(st.StateError, match="cut short"):
            st.query(sock_path, timeout=5)
    finally:
        fake.close()


def test_query_timeout_is_an_error(sock_path):
    fake = FakeSocket(sock_path, REPLY[:100], hang=True)
    try:
        with pytest.raises(st.StateError, match="no complete reply"):
            st.query(sock_path, timeout=0.3)
    finally:
        fake.close()


def test_query_missing_and_refused_socket_is_not_running(sock_path):
    with pytest.raises(st.NotRunning, match="No such file"):
        st.query(sock_path, timeout=1)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(sock_path)
    stale.close()  # the file stays, nobody listens: what a crashed HAProxy leaves
    with pytest.raises(st.NotRunning, match="refused"):
        st.query("unix@" + sock_path, timeout=1)


def test_socket_targets():
    assert st._socket_target("/run/haproxy/admin.sock") == (socket.AF_UNIX, "/run/haproxy/admin.sock")
    assert st._socket_target("ipv4@127.0.0.1:9999") == (socket.AF_INET, ("127.0.0.1", 9999))
    assert st._socket_target("ipv6@::1:9999") == (socket.AF_INET6, ("::1", 9999))
    with pytest.raises(st.StateError):
        st._socket_target("relative.sock")


# --- save and prepare ---------------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(CONFIG)
    state = tmp_path / "state" / "server-state"
    state.parent.mkdir()
    return cfg, state


def test_save_writes_the_state_and_the_snapshot(sock_path, files):
    cfg, state = files
    Path(str(state) + st.SNAPSHOT_SUFFIX).write_text(st.snapshot_text(SNAPSHOT))
    cfg.write_text(CONFIG.replace("127.0.0.1:18082", "127.0.0.1:18083"))
    fake = FakeSocket(sock_path, REPLY)
    try:
        assert st.save(sock_path, str(state), [str(cfg)], timeout=5) == 3
    finally:
        fake.close()
    rows = rows_by_name(state.read_text())
    assert rows[("be.one", "s-2")]["srv_port"] == "18083"
    assert rows[("be.one", "s1")]["srv_admin_state"] == "1"
    assert st.load_snapshot(str(state) + st.SNAPSHOT_SUFFIX)["be.one"]["s-2"] == ["127.0.0.1", "18083"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


def test_save_failures_keep_the_previous_file(sock_path, files):
    cfg, state = files
    state.write_text("previous\n")
    Path(str(state) + st.SNAPSHOT_SUFFIX).write_text(st.snapshot_text(SNAPSHOT))
    fake = FakeSocket(sock_path, "Permission denied\n\n")
    try:
        with pytest.raises(st.StateError, match="not a server state"):
            st.save(sock_path, str(state), [str(cfg)], timeout=5)
    finally:
        fake.close()
    with pytest.raises(st.NotRunning):
        st.save(sock_path + ".missing", str(state), [str(cfg)], timeout=1)
    assert state.read_text() == "previous\n"


def test_save_at_stop_without_haproxy_is_fine(sock_path, files):
    cfg, state = files
    state.write_text("previous\n")
    assert st.save(sock_path, str(state), [str(cfg)], timeout=1, at_stop=True) is None
    assert state.read_text() == "previous\n"


def test_prepare_reconciles_and_snapshots(files):
    cfg, state = files
    state.write_text(REPLY[:-1])
    Path(str(state) + st.SNAPSHOT_SUFFIX).write_text(st.snapshot_text(SNAPSHOT))
    cfg.write_text(CONFIG.replace("::1:18085", "::1:18089"))
    assert st.prepare(str(state), [str(cfg)]) == 3
    assert rows_by_name(state.read_text())[("l6", "v6")]["srv_port"] == "18089"
    assert rows_by_name(state.read_text())[("l6", "v6")]["srv_addr"] == "::1"
    assert st.load_snapshot(str(state) + st.SNAPSHOT_SUFFIX)["l6"]["v6"] == ["::1", "18089"]


def test_prepare_without_a_state_file_writes_the_snapshot(files):
    cfg, state = files
    assert st.prepare(str(state), [str(cfg)]) == 0
    assert not state.exists()
    assert st.load_snapshot(str(state) + st.SNAPSHOT_SUFFIX) == SNAPSHOT


def test_prepare_sets_an_invalid_state_file_aside(files, capsys):
    cfg, state = files
    state.write_text("garbage\n")
    assert st.prepare(str(state), [str(cfg)]) == 0
    assert not state.exists()
    assert Path(str(state) + ".invalid").read_text() == "garbage\n"
    assert "set aside" in capsys.readouterr().err


def test_main_exit_codes_and_messages(sock_path, files, capsys):
    cfg, state = files
    Path(str(state) + st.SNAPSHOT_SUFFIX).write_text(st.snapshot_text(SNAPSHOT))
    rc = st.main(["save", "--socket", sock_path, "--state-file", str(state), "--config", str(cfg), "--timeout", "1"])
    assert rc == 1
    assert "lbops-haproxy-state: FAILED (save)" in capsys.readouterr().err
    rc = st.main(["save", "--at-stop", "--socket", sock_path, "--state-file", str(state), "--config", str(cfg)])
    assert rc == 0
    assert "nothing to save" in capsys.readouterr().err
    fake = FakeSocket(sock_path, REPLY)
    try:
        rc = st.main(["save", "--socket", sock_path, "--state-file", str(state), "--config", str(cfg)])
    finally:
        fake.close()
    assert rc == 0
    assert "saved the state of 3 servers" in capsys.readouterr().err
    assert st.main(["prepare", "--state-file", str(state), "--config", str(cfg)]) == 0
    assert st.main([]) == 2


def test_parse_sockets_of_global_only():
    text = CONFIG + "backend x\n    stats socket /tmp/not-global.sock\n"
    assert st.parse_sockets(text) == ["/nonexistent/lbops-test/admin.sock", "ipv4@127.0.0.1:1"]


def test_first_reload_without_snapshot_nor_socket_saves_nothing_loudly(sock_path, files, capsys):
    """HAProxy started before the saver ever ran, without this admin socket: the
    reload goes on (nothing was saved before either), the snapshot is written."""
    cfg, state = files
    assert st.save(sock_path, str(state), [str(cfg)], timeout=1) is None
    assert "WARNING: nothing saved" in capsys.readouterr().err
    assert not state.exists()
    data = st.load_snapshot_data(str(state) + st.SNAPSHOT_SUFFIX)
    assert data["servers"] == SNAPSHOT
    assert data["sockets"] == ["/nonexistent/lbops-test/admin.sock", "ipv4@127.0.0.1:1"]


def test_save_falls_back_to_the_socket_of_the_running_configuration(tmp_path, files):
    """The socket path changed in the configuration on disk: the running process
    still listens on the one of its snapshot."""
    cfg, state = files
    old = str(tmp_path / "old.sock")
    Path(str(state) + st.SNAPSHOT_SUFFIX).write_text(st.snapshot_text(SNAPSHOT, [old]))
    fake = FakeSocket(old, REPLY)
    try:
        assert st.save(str(tmp_path / "new.sock"), str(state), [str(cfg)], timeout=5) == 3
    finally:
        fake.close()
    assert fake.received == b"show servers state\n"


# --- runtime addresses of servers configured with an IP address ------------------------------------


class FakeCLI:
    """A Unix socket answering every connection: ``answer(command)`` gives the reply."""

    def __init__(self, path, answer):
        self.path, self.answer, self.commands = path, answer, []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _addr = self.srv.accept()
            except OSError:
                continue
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                command = data.decode().strip()
                self.commands.append(command)
                conn.sendall(self.answer(command).encode())

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.srv.close()
        os.unlink(self.path)


def test_runtime_addresses_of_ip_servers_whose_configuration_did_not_change():
    columns, rows = st.parse_state(REPLY)
    configured = st.parse_config(CONFIG)
    # be.one/s-2 runs at 127.0.0.2:18090, configured 127.0.0.1:18082, l6/v6 at ::2, configured ::1
    # (IP addresses): to set again. be.one/s1 runs at its configured address: nothing to do.
    assert st.runtime_addresses(columns, rows, configured) == [
        {"backend": "be.one", "server": "s-2", "address": "127.0.0.2", "port": "18090"},
        {"backend": "l6", "server": "v6", "address": "::2", "port": "18085"},
    ]
    # After a reconcile where the configuration of s-2 changed, its line has the configured address.
    changed = st.parse_config(CONFIG.replace("127.0.0.1:18082", "127.0.0.1:18083"))
    rows2, _changes, _dropped = st.reconcile(columns, rows, changed, SNAPSHOT)
    assert [e["server"] for e in st.runtime_addresses(columns, rows2, changed)] == ["v6"]
    # A server configured with a host name is HAProxy's business (it restores those itself).
    by_name = st.parse_config(CONFIG.replace("127.0.0.1:18082", "app.internal:18082"))
    assert [e["server"] for e in st.runtime_addresses(columns, rows, by_name)] == ["v6"]


def test_save_and_prepare_write_the_addresses_file(sock_path, files):
    cfg, state = files
    Path(str(state) + st.SNAPSHOT_SUFFIX).write_text(st.snapshot_text(SNAPSHOT))
    fake = FakeSocket(sock_path, REPLY)
    try:
        st.save(sock_path, str(state), [str(cfg)], timeout=5)
    finally:
        fake.close()
    data = st.load_addresses(str(state))
    assert [(e["server"], e["address"], e["port"]) for e in data["servers"]] == [("s-2", "127.0.0.2", "18090"), ("v6", "::2", "18085")]
    assert stat.S_IMODE(Path(str(state) + st.REAPPLY_SUFFIX).stat().st_mode) == 0o600
    # The configuration of both changes while HAProxy is stopped: the start sets neither again.
    cfg.write_text(CONFIG.replace("127.0.0.1:18082", "127.0.0.1:18083").replace("::1:18085", "::1:18086"))
    st.prepare(str(state), [str(cfg)])
    assert st.load_addresses(str(state)) is None


def _state_reply(addr, port):
    return REPLY.replace("127.0.0.2 2 0 5 1 2 1 0 2 0 0 0 0 - 18090", "%s 2 0 5 1 2 1 0 2 0 0 0 0 - %s" % (addr, port))


def test_reapply_waits_for_the_new_worker_then_sets_and_checks(sock_path, files):
    _cfg, state = files
    st.write_addresses(str(state), [{"backend": "be.one", "server": "s-2", "address": "127.0.0.2", "port": "18090"}])
    worker = {"pid": "100", "infos": 0, "addr": ("127.0.0.1", "18090")}

    def answer(command):
        if command == "show info":
            worker["infos"] += 1
            if worker["infos"] == 3:
                worker["pid"] = "200"  # the new worker answers from the third ask on
            return "Name: HAProxy\nPid: %s\n\n" % worker["pid"]
        if command.startswith("set server be.one/s-2 addr "):
            assert worker["pid"] == "200", "set before the new worker ran"
            worker["addr"] = ("127.0.0.2", "18090")
            return "IP changed from '127.0.0.1' to '127.0.0.2', no need to change the port by 'stats socket command'\n\n"
        if command == "show servers state":
            return _state_reply(*worker["addr"])
        return "Unknown command.\n\n"

    fake = FakeCLI(sock_path, answer)
    try:
        assert st.reapply(sock_path, str(state), timeout=5, record_worker=True) == 0
        assert st.load_addresses(str(state))["worker"] == "100"
        assert st.reapply(sock_path, str(state), timeout=5, poll=0.01) == 1
    finally:
        fake.close()
    assert fake.commands == ["show info", "show info", "show info", "set server be.one/s-2 addr 127.0.0.2 port 18090", "show servers state"]


def test_reapply_fails_loudly(sock_path, files):
    _cfg, state = files
    assert st.reapply(sock_path, str(state), timeout=1) == 0  # nothing recorded: nothing to do, no connection
    st.write_addresses(str(state), [{"backend": "be.one", "server": "s-2", "address": "127.0.0.2", "port": "18090"}])
    data = st.load_addresses(str(state))
    data["worker"] = "100"
    Path(str(state) + st.REAPPLY_SUFFIX).write_text(json.dumps(data))

    def old_worker(command):
        return "Pid: 100\n\n" if command == "show info" else "\n"

    fake = FakeCLI(sock_path, old_worker)
    try:
        with pytest.raises(st.StateError, match="no new worker within 0.5 s .the worker 100 that ran before the reload still answers"):
            st.reapply(sock_path, str(state), timeout=0.5, poll=0.05)
    finally:
        fake.close()

    def refuses(command):
        if command == "show info":
            return "Pid: 200\n\n"
        return "No such server.\n\n"

    fake = FakeCLI(sock_path, refuses)
    try:
        with pytest.raises(st.StateError, match="set server be.one/s-2 addr 127.0.0.2 port 18090: No such server."):
            st.reapply(sock_path, str(state), timeout=2)
    finally:
        fake.close()

    def ignores(command):
        if command == "show info":
            return "Pid: 200\n\n"
        if command.startswith("set server"):
            return "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n\n"
        return _state_reply("127.0.0.1", "18090")

    fake = FakeCLI(sock_path, ignores)
    try:
        with pytest.raises(st.StateError, match="be.one/s-2 is at"):
            st.reapply(sock_path, str(state), timeout=2)
    finally:
        fake.close()
    Path(str(state) + st.REAPPLY_SUFFIX).write_text("{broken")
    with pytest.raises(st.StateError, match="cannot read"):
        st.reapply(sock_path, str(state), timeout=1)
