# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Typed errors of the runtime-API client and the runner.

Every error carries a one-line ``str()`` meant to end up as a module's ``msg``,
and three declared fields that say what a failure left behind on its target:

``changed``
    True when a write may have taken effect before the failure (the runner
    sets it for every failure after it started writing).
``commands``
    The write commands sent to the target before the failure, in order.
``partial``
    Result fields known at the time of the failure (what was read, what is
    still in use...), merged into the target's result.

and ``before_sending``, true when the error happened before any byte of a
batch went out (bad input, a socket that cannot be reached).
"""


class HAProxyError(Exception):
    """Base class of every error the client and the runner raise."""

    def __init__(self, message, target=None, changed=False, commands=None, partial=None):
        super(HAProxyError, self).__init__(message)
        self.message = message
        self.target = target
        self.changed = bool(changed)
        self.commands = list(commands or [])
        self.partial = dict(partial or {})
        self.before_sending = type(self).before_sending

    before_sending = False

    def __str__(self):
        if self.target:
            return "%s: %s" % (self.target, self.message)
        return self.message


class InvalidInput(HAProxyError):
    """Input refused before anything was sent."""

    before_sending = True


class ConnectError(HAProxyError):
    """The socket could not be reached (missing, permission, refused) or the connection broke."""


class SocketMissing(ConnectError):
    pass


class SocketPermissionDenied(ConnectError):
    pass


class ConnectionRefused(ConnectError):
    pass


class SocketTimeout(HAProxyError):
    pass


class ProtocolError(HAProxyError):
    """HAProxy answered something the client cannot make sense of (or the answer was cut short)."""


class CommandError(HAProxyError):
    """HAProxy refused a command; the message quotes HAProxy's own words."""

    def __init__(self, message, target=None, command=None, reply=None, **kwargs):
        super(CommandError, self).__init__(message, target, **kwargs)
        self.command = command
        self.reply = reply


class LevelTooLow(CommandError):
    """The socket's level does not allow the command."""


class NotFound(CommandError):
    """Unknown backend, server, frontend, proxy or table."""


class StateError(HAProxyError):
    """The object is in a state this module cannot change (or did not reach the one asked for)."""


class WaitTimeout(HAProxyError):
    """A wait ran out of time."""
