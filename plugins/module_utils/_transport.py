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

Every exchange has ONE deadline (``timeout`` seconds from the connect, plus
the time a ``wait`` command is allowed), checked before each wait for the
socket: a peer that trickles its answer byte by byte cannot stretch it. The
reply of every command must end with its empty line: a connection that
closes before is an error (``ProtocolError``), never a shorter answer. Lines
are bounded (``MAX_LINE_BYTES``), and so is the text of any message.

One command per line is what makes this framing the same on every HAProxy
version: 2.6 and 3.0 print the prompt before the reply of each command of a
line of ``;``-chained commands, 3.2 prints it once per line (before the first
reply only), so chained commands would leave 3.2's replies without a prompt to
frame them.

A command may carry a payload (``set ssl cert <file> <<``, ``add map @<ver>
<map> <<``, then the lines of the payload, then an empty line): such a command
is a :class:`Payload`, a ``str`` that IS the command line and carries the
payload apart (``.text``), so that commands, which appear in results and
messages, never hold the payload (a private key), and one batch may hold the
same payload command any number of times (the chunks of a big map). HAProxy
2.6 and 3.0 answer each line of a payload with a ``+ `` prompt, on the line
where the command's reply starts; 3.2 prints none. The reader takes those
away.
"""

import errno
import ipaddress
import posixpath
import re
import selectors
import socket
import time

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    ConnectError,
    ConnectionRefused,
    InvalidInput,
    ProtocolError,
    SocketMissing,
    SocketPermissionDenied,
    SocketTimeout,
)

_PROMPT = "> "
_PROMPT_BYTES = b"> "
# HAProxy reads a command line into one buffer (tune.bufsize, 16 kB by default);
# a longer line resets the connection. Refused before anything is sent.
MAX_COMMAND_BYTES = 8000
# A command with its payload is read into that same buffer: 3.2 refuses a longer one
# ("The command line is too big for the buffer size"), 2.6 closes the connection.
MAX_PAYLOAD_BYTES = 15000
# The mark that ends a command line whose payload follows.
PAYLOAD_MARK = " <<"
_PAYLOAD_PROMPT = "+ "
# No line of any reply is longer than HAProxy's buffer; this bounds what a
# broken peer can make the client hold.
MAX_LINE_BYTES = 1 << 20
# Messages (feedback replies) are cut to this many characters.
MAX_MESSAGE_CHARS = 2000
_RECV = 262144
_SEND = 65536
_SEVERITY = re.compile(r"^\[(\d)\]: ?(.*)$")
_IPV4 = re.compile(r"^ipv4@(?P<host>[^:\[\]\s]+):(?P<port>[0-9]+)\Z")
_IPV6 = re.compile(r"^ipv6@\[(?P<host>[^\]\s]+)\]:(?P<port>[0-9]+)\Z")


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

    @property
    def key(self):
        """What identifies the endpoint: ``/x``, ``unix@/x`` and ``/./x`` are the same socket."""
        if self.family == socket.AF_UNIX:
            return ("unix", posixpath.normpath(self.address))
        host, port = self.address
        try:
            host = str(ipaddress.ip_address(host))  # 127.0.0.1 and ::1 as one spelling each
        except ValueError:
            pass
        return (self.family, (host, port))

    def connect(self, timeout):
        """Open a connection; every failure becomes a one-line typed error."""
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.settimeout(max(0.001, timeout))
        try:
            sock.connect(self.address)
        except socket.timeout:
            sock.close()
            raise _before_sending(SocketTimeout("timed out after %ss connecting to the socket" % _seconds(timeout), self.spec))
        except OSError as exc:
            sock.close()
            raise _before_sending(self._connect_error(exc))
        return sock

    def _connect_error(self, exc):
        code = exc.errno
        if code in (errno.ENOENT, errno.ENOTDIR):
            return SocketMissing("socket %s does not exist (is HAProxy running with this 'stats socket'?)" % self.address, self.spec)
        if code in (errno.EACCES, errno.EPERM):
            return SocketPermissionDenied("permission denied on socket %s (check its mode and group, or use become)"
                                          % self.address, self.spec)
        if code == errno.ECONNREFUSED:
            return ConnectionRefused("connection refused (nothing listens there)", self.spec)
        return ConnectError("cannot connect: %s" % (exc.strerror or exc), self.spec)


def _before_sending(error):
    """Mark an error raised before any byte of a batch went out (nothing can have changed)."""
    error.before_sending = True
    return error


def _seconds(value):
    """A duration as messages show it: ``1.0``, ``0.25``, ``35.0`` (the option's float, rounded)."""
    return "%s" % round(float(value), 3)


def clip(text, limit=MAX_MESSAGE_CHARS):
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    text = text or ""
    if len(text) <= limit:
        return text
    return "%s... (%d more characters)" % (text[:limit], len(text) - limit)


class Payload(str):
    """A command line (ending with `` <<``) and the payload sent after it (``.text``).

    It compares, hashes and prints as the command line alone: results, messages
    and logs show the command, never ``.text``. ``str(payload)`` is the plain
    command line.
    """

    __slots__ = ("text",)

    def __new__(cls, command, text):
        value = str.__new__(cls, command)
        value.text = text
        return value

    def __repr__(self):
        return "Payload(%s, <%d characters>)" % (str.__repr__(self), len(self.text or ""))

    def __reduce__(self):
        return (Payload, (str(self), self.text))


def payload_of(command):
    """The payload text of ``command`` (a :class:`Payload`), or None for a plain command."""
    return command.text if isinstance(command, Payload) else None


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


def _encode_payload(command, data, text):
    """The bytes of a payload (its lines, then the empty line that ends it); refused when it cannot be framed."""
    # Never quote the payload itself: it may be a private key.
    if not data.endswith(PAYLOAD_MARK.encode()):
        raise InvalidInput("a command with a payload must end with '%s': %s; nothing was sent"
                           % (PAYLOAD_MARK.strip(), clip(command, 120)))
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("the payload of '%s' is not text; nothing was sent" % clip(command, 120))
    if b"\r" in body or b"\x00" in body:
        raise InvalidInput("the payload of '%s' contains a carriage return or a NUL character; nothing was sent"
                           % clip(command, 120))
    body = body.rstrip(b"\n")
    if not body or b"\n\n" in body:
        raise InvalidInput("the payload of '%s' is empty or contains an empty line (which would end it); nothing was sent"
                           % clip(command, 120))
    if len(data) + len(body) + 2 > MAX_PAYLOAD_BYTES:
        raise InvalidInput("the payload of '%s' makes %d bytes, more than HAProxy reads in one command (%d, tune.bufsize); "
                           "nothing was sent" % (clip(command, 120), len(data) + len(body) + 2, MAX_PAYLOAD_BYTES))
    return body + b"\n\n"


def payload_lines(text):
    """How many lines a payload takes on the wire, its ending empty line included."""
    return text.rstrip("\n").count("\n") + 2


def encode_commands(commands, opening=True, closing=True):
    """The bytes of a batch; a command too long for HAProxy's line buffer is refused.

    ``opening`` starts the interactive mode, ``closing`` ends the batch with ``quit``.
    A :class:`Payload` command is followed by its payload's lines and the empty line
    that ends it; a plain command ending with `` <<`` is refused (no payload).
    """
    return b"".join(encode_segments(commands, opening, closing))


def encode_segments(commands, opening=True, closing=True):
    """The bytes of a batch in segments, each holding at most one payload command.

    A segment starts at every payload command after the first one.
    :class:`Session` sends a segment once HAProxy answered the payload command
    of the one before: HAProxy 3.2.26 closes the connection when more than
    about 64 kB of pipelined payload commands wait in its input (measured: a
    100,000-entry map in 2 kB to 7 kB chunks failed after 64 kB every time),
    2.6 and 3.0 take them all at once. A batch with one payload, or none, is
    one segment, sent as a whole.
    """
    segments = []
    holds_payload = False
    lines = [b"prompt\nset severity-output number\n"] if opening else []
    for command in commands:
        try:
            data = command.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise InvalidInput("a command holds a character that stands for no bytes (a lone surrogate): %r; "
                               "nothing was sent" % clip(command, 120))
        if len(data) > MAX_COMMAND_BYTES:
            raise InvalidInput("a command of %d bytes is longer than HAProxy reads in one line (%d): %s; nothing was sent"
                               % (len(data), MAX_COMMAND_BYTES, clip(command, 120)))
        if b"\n" in data or b"\r" in data:
            raise InvalidInput("a command contains a line break: %r; nothing was sent" % clip(command, 120))
        if b"\x00" in data:
            # HAProxy reads a command as a C string: it would act on the part before the NUL.
            raise InvalidInput("a command contains a NUL character: %r; nothing was sent" % clip(command, 120))
        if isinstance(command, Payload):
            if holds_payload:
                segments.append(b"".join(lines))
                lines = []
            holds_payload = True
            lines.append(data + b"\n")
            lines.append(_encode_payload(command, data, command.text))
        elif data.endswith(PAYLOAD_MARK.encode()):
            raise InvalidInput("the command '%s' announces a payload but has none; nothing was sent" % clip(command, 120))
        else:
            lines.append(data + b"\n")
    if closing:
        lines.append(b"quit\n")
    segments.append(b"".join(lines))
    return segments


class Session(object):
    """One connection that runs one batch of commands.

    ``run(commands)`` yields, for each command, either a :class:`Feedback` or
    an iterator over the data lines (``str``) of its reply. A reply iterator
    that the caller leaves unfinished is skipped when the next one is asked
    for; either way every reply is read to its end, so a cut answer is always
    detected. ``extra_time`` lengthens the deadline (a ``wait`` command).

    ``follow``, when given, is called once the replies of a batch have all been
    taken; the commands it returns (reads that depend on those replies) go over
    the same connection, within the same deadline, and so on until it returns
    none.

    A :class:`Payload` command's payload is sent after it (see
    :func:`encode_commands`); the ``+ `` prompts it draws are not part of the
    replies.
    """

    def __init__(self, target, timeout, extra_time=0.0, clock=time.monotonic):
        self.target = target
        self.timeout = timeout
        self.extra_time = extra_time
        self.clock = clock

    def run(self, commands, follow=None):
        commands = list(commands)
        if not commands:
            return
        segments = encode_segments(commands, closing=follow is None)
        budget = self.timeout + self.extra_time
        deadline = self.clock() + budget
        sock = self.target.connect(budget)
        try:
            reader = _Reader(sock, segments.pop(0), deadline, budget, str(self.target), self.clock)
            # 'prompt' answers an empty line; 'set severity-output' the prompt and an empty line.
            reader.expect(b"", "prompt")
            reader.expect(_PROMPT_BYTES, "set severity-output")
            while commands:
                for command in commands:
                    first = reader.prompted_line(command)
                    if isinstance(command, Payload):
                        first = _strip_payload_prompts(first, payload_lines(command.text))
                        if segments:
                            # HAProxy has read this payload: the next segment may go.
                            reader.out += segments.pop(0)
                    match = _SEVERITY.match(first)
                    if match:
                        yield Feedback(int(match.group(1)), reader.message([match.group(2)], command))
                    elif first.startswith("Unknown command"):
                        yield Feedback(6, reader.message([first], command))
                    elif first == "":
                        yield iter(())
                    else:
                        body = Body(reader.blocks(first, command))
                        yield body
                        for _dummy in body.blocks():
                            pass
                if follow is None:
                    break
                commands = list(follow() or [])
                if commands:
                    more = encode_segments(commands, opening=False, closing=False)
                    reader.out += more.pop(0)
                    segments.extend(more)
        finally:
            sock.close()


def _strip_payload_prompts(line, count):
    """A reply's first line without the ``+ `` prompts (at most ``count``) of its command's payload (2.6, 3.0)."""
    index = 0
    while count > 0 and line.startswith(_PAYLOAD_PROMPT, index):
        index += len(_PAYLOAD_PROMPT)
        count -= 1
    return line[index:]


class _Reader(object):
    """Reads one exchange: writes the batch as HAProxy takes it, splits replies into lines.

    One thread, one selector: output is sent whenever the socket can take it and
    input is read whenever it is there, so a batch larger than the socket
    buffers never deadlocks, and every wait is bounded by the one deadline.
    """

    def __init__(self, sock, payload, deadline, budget, target, clock):
        self.sock = sock
        self.out = payload
        self.out_pos = 0
        self.deadline = deadline
        self.budget = budget
        self.target = target
        self.clock = clock
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.write_error = None
        sock.setblocking(False)
        self.selector = selectors.DefaultSelector()

    # -- socket ------------------------------------------------------------

    def _fill(self, what):
        """Read more input (sending pending output meanwhile); False at EOF."""
        if self.eof:
            return False
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        while True:
            remaining = self.deadline - self.clock()
            if remaining <= 0:
                raise SocketTimeout("timed out after %ss waiting for HAProxy's answer to %s"
                                    % (_seconds(self.budget), clip(what, 200)), self.target)
            events = selectors.EVENT_READ
            if self.out_pos < len(self.out) and self.write_error is None:
                events |= selectors.EVENT_WRITE
            self.selector.register(self.sock, events)
            try:
                ready = self.selector.select(remaining)
            finally:
                self.selector.unregister(self.sock)
            for key_and_mask in ready:
                mask = key_and_mask[1]
                if mask & selectors.EVENT_WRITE:
                    self._send()
                if mask & selectors.EVENT_READ:
                    try:
                        chunk = self.sock.recv(_RECV)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:
                        raise ConnectError("connection lost while reading the answer to %s: %s"
                                           % (clip(what, 200), exc.strerror or exc), self.target)
                    if not chunk:
                        self.eof = True
                        return False
                    if len(self.buf) + len(chunk) > MAX_LINE_BYTES and self.buf.find(b"\n") < 0:
                        raise ProtocolError("HAProxy's answer to %s has a line longer than %d bytes"
                                            % (clip(what, 200), MAX_LINE_BYTES), self.target)
                    self.buf += chunk
                    return True

    def _send(self):
        try:
            self.out_pos += self.sock.send(self.out[self.out_pos:self.out_pos + _SEND])
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            # The peer closed (or reset) its side: what it answered is still read;
            # the commands it did not answer are reported missing.
            self.write_error = exc

    # -- lines -------------------------------------------------------------

    def _line(self, what):
        """The next line (bytes, without its LF), or None at EOF."""
        while True:
            index = self.buf.find(b"\n", self.pos)
            if index >= 0:
                line = self.buf[self.pos:index]
                self.pos = index + 1
                return line
            if not self._fill(what):
                return None

    def _cut(self, command, detail):
        reason = ""
        if self.write_error is not None:
            reason = " (writing to it failed: %s)" % (getattr(self.write_error, "strerror", None) or self.write_error)
        return ProtocolError("the connection closed %s '%s'%s" % (detail, clip(command, 200), reason), self.target)

    def expect(self, prefix, command):
        line = self._line(command)
        if line is None:
            raise self._cut(command, "before HAProxy answered")
        if line != prefix:
            raise ProtocolError("the answer to '%s' is not HAProxy's CLI protocol: %s" % (command, clip(repr(line), 200)), self.target)

    def prompted_line(self, command):
        line = self._line(command)
        if line is None:
            raise self._cut(command, "before HAProxy answered")
        if not line.startswith(_PROMPT_BYTES):
            raise ProtocolError("expected the prompt, got %s (where the answer to '%s' should start)"
                                % (clip(repr(line.decode("utf-8", "surrogateescape")), 200), clip(command, 200)),
                                self.target)
        return line[2:].decode("utf-8", "surrogateescape")

    def _at_prompt(self, what):
        """Whether the next input is the prompt of the next reply (nothing is consumed)."""
        while len(self.buf) - self.pos < len(_PROMPT_BYTES) and self.buf.find(b"\n", self.pos) < 0:
            if not self._fill(what):
                break
        return self.buf.startswith(_PROMPT_BYTES, self.pos)

    def message(self, lines, command):
        """The rest of a feedback reply, up to its empty line, as one bounded text.

        HAProxy 2.6.12 ends some messages without the empty line (the refusals of
        ``add server``, and ``del server``'s answers): the prompt of the next reply
        comes right after the message's line. That prompt ends the message too; a
        connection that closes before either is still a reply cut short.
        """
        lines = [clip(line, MAX_MESSAGE_CHARS) for line in lines]
        size = sum(len(line) for line in lines)
        while True:
            if self._at_prompt(command):
                return "\n".join(lines).strip()
            line = self._line(command)
            if line is None:
                raise self._cut(command, "in the middle of the answer to")
            if line == b"":
                return "\n".join(lines).strip()
            if size < MAX_MESSAGE_CHARS:
                # One line of a broken peer may be megabytes long: only what is shown is kept.
                lines.append(line[:MAX_MESSAGE_CHARS - size + 1].decode("utf-8", "surrogateescape"))
                size += len(line)

    def blocks(self, first, command):
        """The data lines of a reply (``first`` already read), up to its empty line.

        Yields text blocks of whole lines joined by LF (no trailing LF), split
        and decoded a buffer at a time (one ``find`` and one ``decode`` per
        buffer, not one per line): a dump of a million lines costs about what
        reading it does. :class:`Body` turns them into lines.
        """
        yield first
        while True:
            buf, pos = self.buf, self.pos
            if buf.startswith(b"\n", pos):
                self.pos = pos + 1
                return
            end = buf.find(b"\n\n", pos)
            if end >= 0:
                self.pos = end + 2
                yield buf[pos:end].decode("utf-8", "surrogateescape")
                return
            last = buf.rfind(b"\n", pos)
            if last >= pos:
                self.pos = last + 1
                yield buf[pos:last].decode("utf-8", "surrogateescape")
            if not self._fill(command):
                raise self._cut(command, "in the middle of the answer to")


class Body(object):
    """The data reply of one command: an iterator over its lines (``str``, no LF).

    ``blocks()`` gives the same reply as text blocks of whole lines instead,
    for parsers that can count a block without looking at each line
    (:class:`~._parsers.TableDump`). A reply is read once, by either.
    """

    def __init__(self, blocks):
        self._blocks = blocks
        self._lines = iter(())

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            for line in self._lines:
                return line
            self._lines = iter(next(self._blocks).split("\n"))

    def blocks(self):
        """The rest of the reply as text blocks (the lines already taken are not in them)."""
        rest = list(self._lines)
        if rest:
            yield "\n".join(rest)
        yield from self._blocks
