# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Typed errors of the runtime-API client.

Every error carries a one-line ``str()`` meant to end up as a module's ``msg``.
"""


class HAProxyError(Exception):
    """Base class of every error the client raises."""

    def __init__(self, message, target=None):
        super(HAProxyError, self).__init__(message)
        self.message = message
        self.target = target

    def __str__(self):
        if self.target:
            return "%s: %s" % (self.target, self.message)
        return self.message


class InvalidInput(HAProxyError):
    """Input refused before anything was sent."""


class ConnectError(HAProxyError):
    """The socket could not be reached (missing, permission, refused)."""


class SocketMissing(ConnectError):
    pass


class SocketPermissionDenied(ConnectError):
    pass


class ConnectionRefused(ConnectError):
    pass


class SocketTimeout(HAProxyError):
    pass


class ProtocolError(HAProxyError):
    """HAProxy answered something the client cannot make sense of."""


class CommandError(HAProxyError):
    """HAProxy refused a command; the message quotes HAProxy's own words."""

    def __init__(self, message, target=None, command=None, reply=None):
        super(CommandError, self).__init__(message, target)
        self.command = command
        self.reply = reply


class LevelTooLow(CommandError):
    """The socket's level does not allow the command."""


class NotFound(CommandError):
    """Unknown backend, server, frontend, proxy or table."""
