# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Wire protocol against a fake HAProxy listening on a real Unix socket."""

import os
import socket
import threading

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _transport as t
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    ConnectionRefused,
    InvalidInput,
    ProtocolError,
    SocketMissing,
    SocketTimeout,
)


class FakeCli(object):
    """Accepts one connection per ``reply``, reads the payload up to ``quit``, answers, closes."""

    def __init__(self, path, replies, wait_for_quit=True, chunk=None):
        self.path = path
        self.replies = list(replies)
        self.received = []
        self.wait_for_quit = wait_for_quit
        self.chunk = chunk
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(5)
        self.thread = threading.Thread(target=self.serve)
        self.thread.daemon = True
        self.thread.start()

    def serve(self):
        for reply in self.replies:
            conn, dummy = self.server.accept()
            data = b""
            while self.wait_for_quit and not data.endswith(b"quit\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.received.append(data)
            if reply is not None:
                if self.chunk:
                    for index in range(0, len(reply), self.chunk):
                        conn.sendall(reply[index:index + self.chunk])
                else:
                    conn.sendall(reply)
                conn.close()
            else:
                self.held = conn  # never answers
        self.server.close()


def interactive(*replies):
    """What HAProxy sends in interactive mode: prompt's empty line, then '> ' + each reply."""
    return b"\n> \n" + b"".join(b"> " + reply for reply in replies)


@pytest.fixture
def sock_path(tmp_path):
    return str(tmp_path / "cli.sock")


def collect(session, commands):
    out = []
    for reply in session.run(commands):
        out.append(reply if isinstance(reply, t.Feedback) else list(reply))
    return out


def test_target_parsing():
    assert t.Target("/run/haproxy/admin.sock").address == "/run/haproxy/admin.sock"
    assert t.Target("unix@/run/a.sock").address == "/run/a.sock"
    assert t.Target("ipv4@127.0.0.1:9999").address == ("127.0.0.1", 9999)
    target = t.Target("ipv6@[::1]:9999")
    assert (target.family, target.address) == (socket.AF_INET6, ("::1", 9999))
    for bad in ("relative.sock", "ipv4@127.0.0.1", "ipv4@127.0.0.1:0", "abns@x", "fd@3", "ipv6@::1:9"):
        with pytest.raises(ValueError):
            t.Target(bad)


def test_session_framing_and_replies(sock_path):
    reply = interactive(b"1 (initial 1)\n\n", b"\n", b"[3]: No such server.\n\n",
                        b"Unknown command, but maybe one of the following ones is a better match:\n  help\n\n",
                        b"[4]: IP changed from 'a' to 'b'\n\n", b"line1\nline2\n\n")
    cli = FakeCli(sock_path, [reply])
    commands = ["get weight be/s1", "set server be/s1 state ready", "set server be/zz state ready", "bogus",
                "set server be/s1 addr b", "show x"]
    out = collect(t.Session(t.Target(sock_path), 2), commands)
    cli.thread.join(2)
    assert cli.received == [b"prompt\nset severity-output number\nget weight be/s1\nset server be/s1 state ready\n"
                            b"set server be/zz state ready\nbogus\nset server be/s1 addr b\nshow x\nquit\n"]
    assert out[0] == ["1 (initial 1)"]
    assert out[1] == []
    assert (out[2].severity, out[2].text, out[2].is_error) == (3, "No such server.", True)
    assert out[3].severity == 6 and out[3].is_error and out[3].text.startswith("Unknown command")
    assert (out[4].severity, out[4].is_error) == (4, False)
    assert out[5] == ["line1", "line2"]


def test_session_streams_large_replies_in_small_chunks(sock_path):
    body = b"".join(b"0x1: key=10.0.%d.%d use=0 exp=1 gpc0=1\n" % (i >> 8, i & 255) for i in range(20000))
    cli = FakeCli(sock_path, [interactive(body + b"\n")], chunk=4093)
    replies = t.Session(t.Target(sock_path), 2).run(["show table fe"])
    lines = next(replies)
    count = sum(1 for dummy in lines)
    assert count == 20000
    assert list(replies) == []
    cli.thread.join(2)


@pytest.mark.parametrize("taken", [0, 1, 3])
def test_reply_blocks_hold_whole_lines(sock_path, taken):
    # Blocks (for parsers that count them whole) give the same lines as iterating,
    # after any lines already taken, whatever the chunks the socket delivers; the
    # reply after it is intact.
    expected = ["0x%x: key=10.0.%d.%d use=%d exp=1 gpc0=1" % (i, i >> 8, i & 255, i % 3) for i in range(5000)]
    body = "".join(line + "\n" for line in expected).encode()
    cli = FakeCli(sock_path, [interactive(body + b"\n", b"tail\n\n")], chunk=1021)
    replies = t.Session(t.Target(sock_path), 2).run(["show table fe", "show x"])
    reply = next(replies)
    head = [next(reply) for dummy in range(taken)]
    blocks = list(reply.blocks())
    assert len(blocks) > 1 and all(block and not block.endswith("\n") for block in blocks)
    assert head + "\n".join(blocks).split("\n") == expected
    assert list(next(replies)) == ["tail"]
    cli.thread.join(2)


def test_large_batch_is_written_while_reading(sock_path, monkeypatch):
    commands = ["set table fe key 10.0.%d.%d" % (i >> 8, i & 255) for i in range(5000)]
    cli = FakeCli(sock_path, [interactive(*[b"\n"] * 5000)])
    out = collect(t.Session(t.Target(sock_path), 5), commands)
    cli.thread.join(2)
    assert out == [[]] * 5000
    payload = cli.received[0].decode()
    lines = payload.split("\n")
    assert lines[:2] == ["prompt", "set severity-output number"] and lines[-2:] == ["quit", ""]
    assert lines[2:-2] == commands  # one command per line


def test_session_without_commands_connects_nowhere():
    assert list(t.Session(t.Target("/nonexistent/x.sock"), 1).run([])) == []


def test_missing_and_refused_sockets(tmp_path):
    with pytest.raises(SocketMissing) as err:
        list(t.Session(t.Target(str(tmp_path / "missing.sock")), 1).run(["show info"]))
    assert "does not exist" in str(err.value) and "\n" not in str(err.value)
    stale = str(tmp_path / "stale.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(stale)
    server.close()  # the file stays, nobody listens
    assert os.path.exists(stale)
    with pytest.raises(ConnectionRefused):
        list(t.Session(t.Target(stale), 1).run(["show info"]))


def test_timeout(sock_path):
    cli = FakeCli(sock_path, [None])  # keeps the connection open and silent
    with pytest.raises(SocketTimeout) as err:
        list(t.Session(t.Target(sock_path), 0.3).run(["show info"]))
    assert "timed out after 0.3s" in str(err.value)
    assert cli.received[0].endswith(b"show info\nquit\n")


@pytest.mark.parametrize("reply, message", [
    (b"", "closed before HAProxy answered"),
    (b"garbage\n", "the answer to 'prompt' is not HAProxy's CLI protocol"),
    (b"\n> oops\n\n", "the answer to 'set severity-output' is not HAProxy's CLI protocol"),
    (b"\n> \nno prompt\n", "expected the prompt"),
    (b"\n> \n", "closed before HAProxy answered 'show info'"),
    # A peer that is not HAProxy (the fault-injection suite's garbage listener).
    (b"\x00\xff\xfeHTTP/1.1 400 Bad Request\r\n\x1b[31m\xc3\x28 garbage\r\n", "is not HAProxy's CLI protocol"),
])
def test_protocol_errors(sock_path, reply, message):
    FakeCli(sock_path, [reply])
    with pytest.raises(ProtocolError) as err:
        collect(t.Session(t.Target(sock_path), 1), ["show info"])
    assert message in str(err.value)
    # One line, and never the catch-all's word: a typed error is not an "unexpected" one.
    assert len(str(err.value).splitlines()) == 1
    assert "unexpected" not in str(err.value).lower()


@pytest.mark.parametrize("command", ["clear table t key a\x00b", "\x00", "show table t\x00"])
def test_a_nul_is_refused_before_sending(command):
    # HAProxy would act on the part before the NUL ('clear table t key a'): another key.
    with pytest.raises(InvalidInput) as err:
        t.encode_commands(["show info", command])
    assert "NUL" in str(err.value) and "nothing was sent" in str(err.value) and "\n" not in str(err.value)
    assert err.value.before_sending


def test_a_command_that_stands_for_no_bytes_is_refused_before_sending():
    with pytest.raises(InvalidInput) as err:
        t.encode_commands(["show table t key a\ud800"])
    assert "nothing was sent" in str(err.value) and err.value.before_sending


@pytest.mark.parametrize("spec", ["ipv4@127.0.0.1:9999\n", "ipv6@[::1]:9999\n", "ipv4@127.0.0.1 :9999", "ipv4@127.0.0.1:\u0669"])
def test_target_patterns_match_the_whole_spec(spec):
    with pytest.raises(ValueError):
        t.Target(spec)


def test_follow_up_reads_go_over_the_same_connection(sock_path):
    """Reads that depend on the first answers are sent once those are read, without a new connection."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    received = []

    def serve():
        conn, dummy = server.accept()
        data = b""
        conn.sendall(b"\n> \n")  # 'prompt', then 'set severity-output'
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            while b"\n" in data:
                line, data = data.split(b"\n", 1)
                received.append(line)
                if line.startswith(b"show "):
                    conn.sendall(b"> " + line[5:] + b"\n\n")
        conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    asked = []

    def follow():
        asked.append(len(asked))
        return ["show b", "show c"] if len(asked) == 1 else []

    out = [list(reply) for reply in t.Session(t.Target(sock_path), 2).run(["show a"], follow)]
    thread.join(2)
    assert out == [["a"], ["b"], ["c"]]
    assert received == [b"prompt", b"set severity-output number", b"show a", b"show b", b"show c"]
    assert len(asked) == 2


def test_a_message_without_its_empty_line_ends_at_the_next_prompt(sock_path):
    """HAProxy 2.6.12's 'add server' refusals and 'del server' answers (captured): no empty line, the prompt follows."""
    reply = interactive(b"[3]: Backend must use a dynamic load balancing to support dynamic servers.\n",
                        b"2.6.12-1+deb12u3\n\n", b"[6]: Server deleted.\n") + b"> "
    FakeCli(sock_path, [reply])
    out = collect(t.Session(t.Target(sock_path), 2), ["add server be/x 127.0.0.1:80", "show version", "del server be/y"])
    assert (out[0].severity, out[0].text) == (3, "Backend must use a dynamic load balancing to support dynamic servers.")
    assert out[1] == ["2.6.12-1+deb12u3"]
    assert (out[2].severity, out[2].text) == (6, "Server deleted.")


def test_a_message_that_neither_ends_nor_meets_a_prompt_is_cut_short(sock_path):
    FakeCli(sock_path, [interactive(b"[3]: No such server.\n")])
    with pytest.raises(ProtocolError) as err:
        collect(t.Session(t.Target(sock_path), 1), ["del server be/y"])
    assert "closed in the middle of the answer to 'del server be/y'" in str(err.value)


class PayloadCli(object):
    """A CLI that reads as HAProxy does: a command line, its payload up to the empty line, answers, next.

    With ``plus`` it draws a ``+ `` prompt per payload line (2.6, 3.0). It records how many
    bytes of input had arrived beyond the payload it was answering (``ahead``): the transport
    must not pipeline a payload command behind another (3.2 closes past ~64 kB).
    """

    def __init__(self, path, plus):
        self.plus = plus
        self.payloads = []
        self.ahead = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.thread = threading.Thread(target=self.serve)
        self.thread.daemon = True
        self.thread.start()

    def serve(self):
        conn, dummy = self.server.accept()
        conn.settimeout(5)
        buf = b""

        def line():
            nonlocal buf
            while b"\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            first, buf = buf.split(b"\n", 1)
            return first

        try:
            while True:
                command = line()
                if command is None or command == b"quit":
                    break
                if command == b"prompt":
                    conn.sendall(b"\n")
                    continue
                if command.endswith(b" <<"):
                    body = []
                    while True:
                        item = line()
                        if not item:
                            break
                        body.append(item)
                    self.payloads.append((command, body))
                    self.ahead.append(len(buf))
                    conn.sendall(b"> " + (b"+ " * (len(body) + 1) if self.plus else b"") + b"\n")
                else:
                    conn.sendall(b"> \n")
        finally:
            conn.close()
            self.server.close()


@pytest.mark.parametrize("plus", (True, False), ids=("2.6-prompts", "3.2-no-prompts"))
def test_repeated_payload_commands_over_one_connection(sock_path, plus):
    """Many identical payload commands (the chunks of a map), each its own payload, one after the other."""
    cli = PayloadCli(sock_path, plus)
    chunks = ["".join("key%05d value%05d\n" % (index, index) for index in range(start, start + 500))
              for start in range(0, 5000, 500)]
    commands = [t.Payload("add map @3 #0 <<", chunk) for chunk in chunks] + ["commit map @3 #0"]
    out = collect(t.Session(t.Target(sock_path), 5.0), commands)
    cli.thread.join(5)
    assert out == [[]] * len(commands)  # every '+ ' prompt is taken away: each reply is HAProxy's empty success
    assert [command for command, dummy in cli.payloads] == [b"add map @3 #0 <<"] * len(chunks)
    assert [b"\n".join(body).decode() + "\n" for dummy, body in cli.payloads] == chunks
    # The next payload command is sent only once the previous one is answered: when HAProxy
    # reads a payload, nothing of the next payload command is waiting behind it.
    assert cli.ahead[:-1] == [0] * (len(chunks) - 1)


def test_segments_hold_one_payload_each():
    one, two = t.Payload("add map @1 m <<", "a 1\n"), t.Payload("add map @1 m <<", "b 2\n")
    assert t.encode_segments(["show map", one, "show map m", two, "commit map @1 m"]) == [
        b"prompt\nset severity-output number\nshow map\nadd map @1 m <<\na 1\n\nshow map m\n",
        b"add map @1 m <<\nb 2\n\ncommit map @1 m\nquit\n"]
    assert t.encode_segments(["show map"]) == [b"prompt\nset severity-output number\nshow map\nquit\n"]
