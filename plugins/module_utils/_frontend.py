# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Logic of the ``haproxy_frontend`` module.

A frontend's state comes from ``show stat <name> 3 -1`` (the FRONTEND row's
``status``, first word): ``OPEN`` (or ``FULL``) is enabled, ``PAUSED`` is
disabled, ``STOP`` is stopped. HAProxy (2.6, 3.0 and 3.2 alike) lists no row
at all for a frontend disabled in the configuration, while it answers ``No such proxy``
for a name it does not know: an existing proxy without rows is therefore
reported as stopped.
"""

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils._client import require_level
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    HAProxyError,
    InvalidInput,
    NotFound,
    ProtocolError,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._validate import check_name, escape_arg

STATES = ("enabled", "disabled")
_STATUS = {"OPEN": "enabled", "FULL": "enabled", "PAUSED": "disabled", "STOP": "stopped"}


class FrontendStateError(HAProxyError):
    """The frontend is in a state the runtime API cannot leave."""


def validate_request(params):
    name = check_name(params.get("name"), "frontend name")
    state = params.get("state")
    if state not in STATES:
        raise InvalidInput("invalid state %r: expected enabled or disabled" % (state,))
    return {"name": name, "state": state}


def stat_request(name):
    return ("show stat %s 3 -1" % escape_arg(name), parsers.parse_stat_csv)


def decode(name, rows):
    """``(state, status)`` of frontend ``name`` from its ``show stat`` rows."""
    frontend = [row for row in rows if row.get("svname") == "FRONTEND"]
    if not frontend:
        if any(row.get("svname") == "BACKEND" for row in rows):
            raise NotFound("%s is a backend, not a frontend; nothing was sent" % name)
        # Known to HAProxy (no 'No such proxy') but not listed: disabled in the configuration.
        return "stopped", "STOP"
    status = (frontend[0].get("status") or "").strip()
    word = status.split(" ", 1)[0] if status else ""
    if word not in _STATUS:
        raise ProtocolError("unexpected status %r for frontend %s" % (status, name))
    return _STATUS[word], status


def read_state(client, name, with_level=False):
    requests = [stat_request(name)]
    if with_level:
        requests.append(client.level_request())
    try:
        values = client.read(requests)
    except NotFound as exc:
        raise NotFound("unknown frontend %s (HAProxy: %s); nothing was sent"
                       % (name, (exc.reply or "").strip().rstrip(".")), None, exc.command, exc.reply)
    state, status = decode(name, values[0])
    return state, status, (values[1] if with_level else None)


def plan(request, state):
    """The commands that bring a frontend in ``state`` to the requested state."""
    wanted = request["state"]
    if state == "stopped":
        if wanted == "enabled":
            raise FrontendStateError(
                "frontend %s is stopped (shut down at runtime, or disabled in the configuration) and HAProxy cannot "
                "enable it again: only a reload (or restart) brings it back; nothing was sent" % request["name"])
        return []  # a stopped frontend accepts no connection: that is more than disabled
    if state == wanted:
        return []
    return ["%s frontend %s" % ("enable" if wanted == "enabled" else "disable", escape_arg(request["name"]))]


def converge(client, request, check_mode=False):
    name = request["name"]
    state, status, level = read_state(client, name, with_level=True)
    commands = plan(request, state)
    before = {"state": state, "status": status}
    result = {"changed": bool(commands), "commands": commands}
    if commands:
        require_level(client, level, "admin", commands[0])
    if check_mode or not commands:
        after_state = request["state"] if commands else state
        after_status = {"enabled": "OPEN", "disabled": "PAUSED"}.get(after_state, status) if commands else status
        result["frontend"] = {"name": name, "state": after_state, "status": after_status}
        result["diff"] = {"before": {name: before}, "after": {name: {"state": after_state, "status": after_status}}}
        return result
    outcomes = client.write(commands)
    for outcome in outcomes:
        if outcome.error is not None:
            exc = outcome.error
            exc.message += "; nothing was changed on this target"
            exc.target = None
            raise exc
    state, status, dummy = read_state(client, name)
    if state != request["state"]:
        exc = FrontendStateError("HAProxy accepted '%s' but frontend %s is still %s (status %s)"
                                 % (commands[0], name, state, status))
        exc.changed = True
        raise exc
    result["frontend"] = {"name": name, "state": state, "status": status}
    result["diff"] = {"before": {name: before}, "after": {name: {"state": state, "status": status}}}
    return result
