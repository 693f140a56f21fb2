# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""The runtime-API client: batches of reads and writes over one connection each.

``RuntimeClient.read()`` runs a batch of read commands and turns each reply
into a value with its parser; any error reply raises a typed error.
``RuntimeClient.write()`` runs a batch of write commands and returns one
:class:`Outcome` per command, so a caller knows exactly which commands took.
"""

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    CommandError,
    LevelTooLow,
    NotFound,
    ProtocolError,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback, Session, Target

LEVELS = ("user", "operator", "admin")

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
                           % (command, first), target, command, text)
    if first.startswith(_NOT_FOUND):
        return NotFound("HAProxy: %s (%s)" % (first.rstrip("."), command), target, command, text)
    if first.startswith("Unknown command"):
        return CommandError("HAProxy does not know the command '%s' (%s)" % (command, first), target, command, text)
    return CommandError("HAProxy refused '%s': %s" % (command, " ".join(text.split())), target, command, text)


class Outcome(object):
    """What one write command did."""

    def __init__(self, command, severity, text, error):
        self.command = command
        self.severity = severity
        self.text = text
        self.error = error

    @property
    def ok(self):
        return self.error is None

    def __repr__(self):
        return "Outcome(%r, %r, %r)" % (self.command, self.severity, self.text)


def _collect(lines):
    return list(lines)


class RuntimeClient(object):
    """Client of one runtime-API target (Unix socket or ``ipv4@``/``ipv6@``)."""

    def __init__(self, spec, timeout=5.0):
        self.target = Target(spec)
        self.timeout = timeout
        self.connections = 0

    def __str__(self):
        return str(self.target)

    def _session(self):
        self.connections += 1
        return Session(self.target, self.timeout)

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
            parser = parser or _collect
            if isinstance(reply, Feedback):
                error = classify(command, reply, str(self.target))
                if error is not None:
                    raise error
                results.append(parser(iter(reply.text.splitlines())))
            else:
                results.append(parser(reply))
        if len(results) != len(requests):
            raise ProtocolError("HAProxy answered %d of %d commands" % (len(results), len(requests)), str(self.target))
        return results

    def write(self, commands):
        """Run write commands over one connection; one :class:`Outcome` each."""
        commands = list(commands)
        outcomes = []
        for command, reply in zip(commands, self._session().run(commands)):
            if isinstance(reply, Feedback):
                outcomes.append(Outcome(command, reply.severity, reply.text, classify(command, reply, str(self.target))))
            else:
                text = "\n".join(reply)
                outcomes.append(Outcome(command, None, text, None))
        if len(outcomes) != len(commands):
            raise ProtocolError("HAProxy answered %d of %d commands" % (len(outcomes), len(commands)), str(self.target))
        return outcomes

    # Convenience readers -------------------------------------------------

    @staticmethod
    def level_request():
        return ("show cli level", parsers.parse_cli_level)


def require_level(client, level, needed, command):
    """Raise :class:`LevelTooLow` unless ``level`` allows commands needing ``needed``."""
    if level in LEVELS and LEVELS.index(level) < LEVELS.index(needed):
        raise LevelTooLow("the socket's level is '%s' but '%s' needs level %s; use a socket declared with 'level %s'"
                          % (level, command, needed, needed), str(client.target), command, None)
