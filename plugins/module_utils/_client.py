# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""The runtime-API client: batches of reads and writes over one connection each.

``RuntimeClient.read_named()`` runs a batch of named reads and returns their
parsed values by name; any error reply raises a typed error.
``RuntimeClient.write()`` runs a batch of write commands and returns one
:class:`Outcome` per command, so a caller knows exactly which commands took.

What a reply means is decided here and nowhere else (:func:`interpret`): which
texts are errors, which are "nothing to do", which mean "entry in use", and
the texts that differ between HAProxy versions. Abilities that only newer
versions have are asked with :meth:`RuntimeClient.has`, which reads the version
once per target (``show version``, usually inside a read batch the caller
makes anyway: :meth:`RuntimeClient.version_request`).
"""

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    CommandError,
    HAProxyError,
    LevelTooLow,
    NotFound,
    ProtocolError,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback, Session, Target, clip

LEVELS = ("user", "operator", "admin")

# Abilities of newer HAProxy versions that the modules use when they are there, with
# the first (major, minor) that has them.
ABILITIES = {
    # 'wait <ms> srv-removable <backend>/<server>': HAProxy waits by itself until a
    # server in maintenance has no connection left ("Done.") or the time is up
    # ("Failed.", also at once when it cannot happen: the server is not in maint, or
    # other servers track it).
    "wait_srv_removable": (3, 0),
}

# 'set server ... addr' answers at warning level whether it changed anything or not,
# in words that depend on the version (2.6.12, 3.0.11, 3.2.26 captured):
#   change: "IP changed from 'a' to 'b'[, port changed from 'p' to 'q'] by 'stats socket command'" (all)
#   no-op:  2.6 "no need to change the addr[, no need to change the port] by 'stats socket command'";
#           3.0+ "nothing changed"
#   refusal: 2.6 "Invalid addr 'x' by 'stats socket command'"; 3.0+ "Invalid addr 'x'"
_ADDR_CHANGED = ("changed from",)
_ADDR_NOOP = ("no need to change", "nothing changed")
# Notices that say a command had nothing to do (2.6 to 3.2).
_NOOP_NOTICES = ("All sockets are already disabled", "All sockets are already enabled",
                 "Frontend was already shut down")
# The data a write command answers is kept up to this many characters.
DATA_TEXT_CHARS = 1 << 18
# 'clear table <t> key <k>' on an entry a session holds (2.6 to 3.2).
IN_USE = "Entry currently in use"

# 'set table <t> key <k> data.<type> <v>...' creates the entry of <k> first, then
# refuses a data argument (2.6 to 3.2): such a refusal may leave a new entry.
_SET_TABLE_LATE_REFUSALS = ("Data type not stored", "Unknown data type", "Require a valid integer",
                            "Filter entry", "Missing data type", "Require a value")

_NOT_FOUND = ("No such server", "No such backend", "No such frontend", "No such proxy", "No such table",
              "Can't find backend")


def classify(command, feedback, target=None):
    """The typed error for an error reply, or ``None`` when it is not one."""
    if not feedback.is_error:
        return None
    text = feedback.text
    first = text.splitlines()[0] if text else text
    if first.startswith("Permission denied"):
        return LevelTooLow("the socket's level is too low for '%s' (HAProxy: %s); use a socket with a higher 'level'"
                           % (clip(command, 200), first), target, command, text)
    if first.startswith(_NOT_FOUND):
        return NotFound("HAProxy: %s (%s)" % (first.rstrip("."), clip(command, 200)), target, command, text)
    if first.startswith("Unknown command"):
        return CommandError("HAProxy does not know the command '%s' (%s)" % (clip(command, 200), clip(first, 200)),
                            target, command, text)
    return CommandError("HAProxy refused '%s': %s" % (clip(command, 200), clip(" ".join(text.split()), 500)),
                        target, command, text)


def is_addr_command(command):
    words = command.split(" ")
    return words[:2] == ["set", "server"] and len(words) > 3 and words[3] == "addr"


def addr_error(command, text, target=None):
    """The error of a ``set server ... addr`` reply (a warning even on success), or ``None``."""
    if any(marker in (text or "") for marker in _ADDR_CHANGED + _ADDR_NOOP):
        return None
    shown = clip(" ".join((text or "").split()), 500) or "no answer"
    return CommandError("HAProxy refused '%s': %s" % (clip(command, 200), shown), target, command, text)


class Outcome(object):
    """What one write command did.

    ``ok``: HAProxy accepted it. ``noop``: accepted, and HAProxy said there was
    nothing to do. ``error``: the typed error of a refusal. ``busy``: the
    refusal says a live session holds the entry (``clear table ... key``); a
    caller that retries such entries treats it as "not yet", not as a failure.
    """

    def __init__(self, command, severity, text, error, busy=False, noop=False):
        self.command = str(command)  # the command line alone, never a payload
        # A refusal that comes after HAProxy changed something (see _SET_TABLE_LATE_REFUSALS).
        self.partial_effect = (error is not None and command.startswith("set table ")
                               and any(marker in (text or "") for marker in _SET_TABLE_LATE_REFUSALS))
        self.severity = severity
        self.text = text
        self.error = error
        self.busy = busy
        self.noop = noop

    @property
    def ok(self):
        return self.error is None

    def __repr__(self):
        return "Outcome(%r, %r, %r)" % (self.command, self.severity, self.text)


def interpret(command, reply, target=None):
    """The :class:`Outcome` of one write command's reply (Feedback or data lines)."""
    if isinstance(reply, Feedback):
        severity, text = reply.severity, reply.text
        error = classify(command, reply, target)
        if text.startswith(IN_USE):
            return Outcome(command, severity, text, error, busy=True)
        noop = text.startswith(_NOOP_NOTICES)
    else:
        severity, text, error, noop = None, clip("\n".join(reply), DATA_TEXT_CHARS), None, False
    if error is None and is_addr_command(command):
        error = addr_error(command, text, target)
        noop = error is None and any(marker in (text or "") for marker in _ADDR_NOOP)
    return Outcome(command, severity, text, error, noop=noop)


def _collect(lines):
    return list(lines)


class RuntimeClient(object):
    """Client of one runtime-API target (Unix socket or ``ipv4@``/``ipv6@``)."""

    def __init__(self, spec, timeout=5.0):
        self.target = Target(spec)
        self.timeout = timeout
        self.connections = 0
        # Whether a write batch was ever sent through this client.
        self.written = False
        # (major, minor) and the full text of the target's version, once read.
        self.version = None
        self.version_text = None

    def __str__(self):
        return str(self.target)

    def _session(self, extra_time=0.0):
        self.connections += 1
        return Session(self.target, self.timeout, extra_time)

    def _value(self, command, parser, reply):
        parser = parser or _collect
        if isinstance(reply, Feedback) and getattr(parser, "takes_feedback", False):
            return parser(reply)  # a probe: HAProxy's refusal is the answer it reads
        if isinstance(reply, Feedback):
            error = classify(command, reply, str(self.target))
            if error is not None:
                raise error
            return parser(iter(reply.text.splitlines()))
        return parser(reply)

    def read(self, requests):
        """Run ``[(command, parser)]`` over one connection; return the parsed values.

        ``parser`` receives an iterator over the reply's lines (``None`` means
        "a list of the lines"). Feedback replies that are not errors (the
        answer of ``show cli level``, say) reach the parser as their text.
        """
        requests = list(requests)
        results = []
        replies = self._session().run([command for command, dummy in requests])
        for (command, parser), reply in zip(requests, replies):
            results.append(self._value(command, parser, reply))
        if len(results) != len(requests):
            raise ProtocolError("HAProxy answered %d of %d commands" % (len(results), len(requests)), str(self.target))
        return results

    def read_named(self, reads, more=None):
        """Run named reads (objects with ``name``, ``command``, ``parser``) over one connection.

        Returns ``{name: value}``. ``more(values)``, when given, is called with
        the values read so far once a batch is answered, and the reads it
        returns go over the same connection (reads that depend on earlier
        answers cost no connection of their own). A ``NotFound`` for a read that
        carries a ``missing`` message is re-worded with it (and says that
        nothing was sent, unless this client has written before).
        """
        queue = list(reads)
        values = {}

        def follow():
            extra = list(more(values) or [])
            queue.extend(extra)
            return [read.command for read in extra]

        answered = 0
        try:
            for reply in self._session().run([read.command for read in queue], follow if more else None):
                read = queue[answered]
                values[read.name] = self._value(read.command, read.parser, reply)
                answered += 1
        except NotFound as exc:
            for read in queue:
                if read.command == exc.command and getattr(read, "missing", None):
                    raise NotFound("%s (HAProxy: %s)%s"
                                   % (read.missing, (exc.reply or "").strip().rstrip("."),
                                      "" if self.written else "; nothing was sent"),
                                   exc.target, exc.command, exc.reply)
            raise
        if answered != len(queue):
            raise ProtocolError("HAProxy answered %d of %d commands" % (answered, len(queue)), str(self.target))
        return values

    def write(self, commands):
        """Run write commands over one connection; one :class:`Outcome` each.

        A :class:`~._transport.Payload` command's payload goes after it (see
        ``encode_commands``); it never appears in an outcome or an error (they
        hold the plain command line).

        When the exchange breaks after the batch started to go out, the error
        says so: ``changed`` is set (the commands may have taken effect) and
        ``commands`` lists those accepted or left unanswered.
        """
        commands = list(commands)
        outcomes = []
        self.written = True
        session = self._session()
        try:
            replies = session.run(commands)
            for command, reply in zip(commands, replies):
                outcomes.append(interpret(command, reply, str(self.target)))
        except HAProxyError as exc:
            if exc.target is None:
                exc.target = str(self.target)
            if not exc.before_sending:
                unanswered = commands[len(outcomes):]
                exc.changed = True
                exc.commands = [outcome.command for outcome in outcomes if outcome.ok] + [str(command) for command in unanswered]
                exc.message += " (%d of %d write commands were answered; the others may have taken effect)" % (
                    len(outcomes), len(commands))
            raise
        if len(outcomes) != len(commands):
            raise ProtocolError("HAProxy answered %d of %d commands" % (len(outcomes), len(commands)), str(self.target),
                                changed=True, commands=[str(command) for command in commands[len(outcomes):]])
        return outcomes

    def wait_then_read(self, wait_command, seconds, requests):
        """Run ``wait <ms> <condition> ...`` then ``requests``, over one connection.

        Returns ``(done, values)``: ``done`` is true when HAProxy answered
        ``Done.`` (the condition was met in time), false for ``Failed.`` (it cannot
        be met) and ``Wait delay expired.`` (not met in time: 3.0.11 and 3.2.26
        answer that, at error level); any other error raises. ``seconds`` is the
        longest the wait may take: the exchange's deadline is extended by it.
        """
        requests = list(requests)
        replies = self._session(extra_time=seconds).run([wait_command] + [command for command, dummy in requests])
        done = None
        values = []
        for index, reply in enumerate(replies):
            if index == 0:
                if not isinstance(reply, Feedback):
                    raise ProtocolError("the answer to '%s' is not what HAProxy answers: %s" % (wait_command, clip(repr(list(reply)[:3]), 200)),
                                        str(self.target))
                if reply.text.startswith("Done"):
                    done = True
                elif reply.text.startswith(("Failed", "Wait delay expired")):
                    done = False
                else:
                    raise classify(wait_command, reply, str(self.target)) or ProtocolError(
                        "the answer to '%s' is not what HAProxy answers: %s" % (wait_command, clip(reply.text, 200)), str(self.target))
                continue
            command, parser = requests[index - 1]
            values.append(self._value(command, parser, reply))
        if done is None or len(values) != len(requests):
            raise ProtocolError("HAProxy answered %d of %d commands" % (len(values) + (done is not None), len(requests) + 1),
                                str(self.target))
        return done, values

    # Convenience readers -------------------------------------------------

    @staticmethod
    def level_request():
        return ("show cli level", parsers.parse_cli_level)

    def version_request(self):
        """``show version`` for a read batch; the answer is recorded on this client."""
        return ("show version", self._record_version)

    def _record_version(self, lines):
        return self.note_version(parsers.parse_version(lines))

    def note_version(self, text):
        """Record the target's version (the answer of ``show version``); returns it."""
        self.version_text = text
        self.version = parsers.version_tuple(text)
        return text

    def has(self, ability):
        """Whether the target's HAProxy has ``ability`` (see ABILITIES); reads the version if not known yet."""
        if self.version is None:
            self.read([self.version_request()])
        return self.version >= ABILITIES[ability]


def require_level(client, level, needed, command):
    """Raise :class:`LevelTooLow` unless ``level`` allows commands needing ``needed``."""
    if level in LEVELS and LEVELS.index(level) < LEVELS.index(needed):
        raise LevelTooLow("the socket's level is '%s' but '%s' needs level %s; use a socket declared with 'level %s'"
                          % (level, clip(command, 200), needed, needed), str(client.target), command, None)
