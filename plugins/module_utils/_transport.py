# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Socket targets and the wire protocol of HAProxy's CLI.

One :class:`Session` is one connection. It speaks the interactive mode
(``prompt``) so that a batch of any size travels over that one connection, one
command per line: every command's reply is then preceded by the prompt ``"> "``
and ends with an empty line. The batch is written in full, ending with
``quit``, and the replies are read to EOF as a stream of lines, so a reply of a
million lines is never held in memory.

One command per line is what makes this framing the same on every HAProxy
version: 2.6 and 3.0 print the prompt before the reply of each command of a
line of ``;``-chained commands, 3.2 prints it once per line (before the first
reply only), so chained commands would leave 3.2's replies without a prompt to
frame them.
"""

import errno
import re
import socket
import threading

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    ConnectError,
    ConnectionRefused,
    ProtocolError,
    SocketMissing,
    SocketPermissionDenied,
    SocketTimeout,
)

_PROMPT = "> "
_SEVERITY = re.compile(r"^\[(\d)\]: ?(.*)$")
_IPV4 = re.compile(r"^ipv4@(?P<host>[^:\[\]]+):(?P<port>\d+)$")
_IPV6 = re.compile(r"^ipv6@\[(?P<host>[^\]]+)\]:(?P<port>\d+)$")


class Target(object):
    """Where a runtime API listens: a Unix socket path, ``ipv4@HOST:PORT`` or ``ipv6@[HOST]:PORT``."""

    def __init__(self, spec):
        self.spec = str(spec)
        ipv4, ipv6 = _IPV4.match(self.spec), _IPV6.match(self.spec)
        if ipv4 or ipv6:
            match = ipv4 or ipv6
            self.family = socket.AF_INET if ipv4 else socket.AF_INET6
            port = int(match.group("port"))
            if not 1 <= port <= 65535:
                raise ValueError("invalid port in socket %r" % self.spec)
            self.address = (match.group("host"), port)
        elif self.spec.startswith(("ipv4@", "ipv6@", "unix@", "abns@", "fd@", "sockpair@")) and not self.spec.startswith("unix@"):
            raise ValueError("invalid socket %r: expected a Unix socket path, ipv4@HOST:PORT or ipv6@[HOST]:PORT" % self.spec)
        else:
            path = self.spec[5:] if self.spec.startswith("unix@") else self.spec
            if not path.startswith("/"):
                raise ValueError("invalid socket %r: a Unix socket path must be absolute" % self.spec)
            self.family = socket.AF_UNIX
            self.address = path

    def __str__(self):
        return self.spec

    def connect(self, timeout):
        """Open a connection; every failure becomes a one-line typed error."""
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.address)
        except socket.timeout:
            sock.close()
            raise SocketTimeout("timed out after %ss connecting to the socket" % timeout, self.spec)
        except OSError as exc:
            sock.close()
            code = exc.errno
            if code in (errno.ENOENT, errno.ENOTDIR):
                raise SocketMissing("socket %s does not exist (is HAProxy running with this 'stats socket'?)" % self.address, self.spec)
            if code in (errno.EACCES, errno.EPERM):
                raise SocketPermissionDenied("permission denied on socket %s (check its mode and group, or use become)" % self.address,
                                             self.spec)
            if code == errno.ECONNREFUSED:
                raise ConnectionRefused("connection refused (nothing listens there)", self.spec)
            raise ConnectError("cannot connect: %s" % (exc.strerror or exc), self.spec)
        return sock


class Feedback(object):
    """A reply that is a message rather than data (``[N]: text``)."""

    def __init__(self, severity, text):
        self.severity = severity
        self.text = text

    @property
    def is_error(self):
        return self.severity <= 3 or self.text.startswith("Unknown command")

    def __repr__(self):
        return "Feedback(%d, %r)" % (self.severity, self.text)


class Session(object):
    """One connection that runs one batch of commands.

    ``run(commands)`` yields, for each command, either a :class:`Feedback` or
    an iterator over the data lines of its reply. The caller must consume (or
    skip) each iterator before advancing; ``skip()`` is implicit.
    """

    def __init__(self, target, timeout):
        self.target = target
        self.timeout = timeout

    def run(self, commands):
        commands = list(commands)
        if not commands:
            return
        payload = "prompt\nset severity-output number\n" + "".join(command + "\n" for command in commands) + "quit\n"
        data = payload.encode("utf-8")
        sock = self.target.connect(self.timeout)
        writer = None
        try:
            # No half-close: the batch ends with 'quit', and HAProxy 2.6 resets a
            # connection whose write side is shut while it still holds unprocessed
            # commands (seen on batches of about 1,500 'set table' and more).
            if len(data) <= 65536:
                sock.sendall(data)
            else:
                # Large batches: HAProxy stops reading when its output buffer is
                # full, so write from a thread while the replies are read here.
                writer = _Writer(sock, data)
                writer.start()
            reader = _LineReader(sock, self.target, self.timeout)
            # 'prompt' answers an empty line; 'set severity-output' answers "> \n".
            reader.expect_empty()
            first = reader.next_reply_first_line()
            if first != "":
                raise ProtocolError("unexpected answer to 'set severity-output': %r" % first, str(self.target))
            for command in commands:
                first = reader.next_reply_first_line()
                if first is None:
                    raise ProtocolError("the connection closed before HAProxy answered %r" % command, str(self.target))
                match = _SEVERITY.match(first)
                if match:
                    lines = [match.group(2)] + list(reader.reply_lines())
                    yield Feedback(int(match.group(1)), "\n".join(lines).strip())
                elif first.startswith("Unknown command"):
                    lines = [first] + list(reader.reply_lines())
                    yield Feedback(6, "\n".join(lines).strip())
                else:
                    body = reader.data_reply(first)
                    yield body
                    for _dummy in body:
                        pass
            if writer is not None:
                writer.join(self.timeout)
                if writer.error is not None:
                    raise writer.error
        finally:
            sock.close()


class _Writer(threading.Thread):
    def __init__(self, sock, data):
        super(_Writer, self).__init__()
        self.daemon = True
        self.sock = sock
        self.data = data
        self.error = None

    def run(self):
        try:
            self.sock.sendall(self.data)
        except Exception as exc:  # reported by the reader's thread
            self.error = exc


class _LineReader(object):
    """Splits the byte stream into reply lines."""

    def __init__(self, sock, target, timeout):
        self.sock = sock
        self.target = target
        self.timeout = timeout
        self.buffer = b""
        self.eof = False

    def _readline(self):
        while True:
            index = self.buffer.find(b"\n")
            if index >= 0:
                line = self.buffer[:index]
                self.buffer = self.buffer[index + 1:]
                return line.decode("utf-8", "backslashreplace")
            if self.eof:
                if self.buffer:
                    line, self.buffer = self.buffer, b""
                    return line.decode("utf-8", "backslashreplace")
                return None
            try:
                chunk = self.sock.recv(262144)
            except socket.timeout:
                raise SocketTimeout("timed out after %ss waiting for HAProxy's answer" % self.timeout, str(self.target))
            except OSError as exc:
                raise ConnectError("connection lost: %s" % (exc.strerror or exc), str(self.target))
            if not chunk:
                self.eof = True
            else:
                self.buffer += chunk

    def expect_empty(self):
        line = self._readline()
        if line is None:
            raise ProtocolError("the connection closed before HAProxy answered", str(self.target))
        if line != "":
            raise ProtocolError("unexpected answer to 'prompt': %r" % line, str(self.target))

    def next_reply_first_line(self):
        line = self._readline()
        if line is None:
            return None
        if not line.startswith(_PROMPT):
            raise ProtocolError("expected the prompt, got %r" % line[:200], str(self.target))
        return line[len(_PROMPT):]

    def reply_lines(self):
        """The remaining lines of the current reply, up to its empty line."""
        while True:
            line = self._readline()
            if line is None or line == "":
                return
            yield line

    def data_reply(self, first):
        def generate():
            if first == "":
                return
            yield first
            yield from self.reply_lines()
        return generate()
