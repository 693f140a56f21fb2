# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Logic of the ``haproxy_server`` module.

The flow for one target is: validate (``validate_request``, before any
connection), read (``show cli level`` + ``show servers state <backend>``),
plan (``plan_server``, a pure function of the request and the parsed row),
write (one batch), optionally wait, re-read. Everything that decides a state
works on the parsed ``show servers state`` rows, never on status texts.
"""

import time

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils._client import require_level
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    CommandError,
    HAProxyError,
    InvalidInput,
    NotFound,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._validate import (
    check_address,
    check_name,
    check_port,
    escape_arg,
    parse_weight,
    resolve_weight,
)

STATES = ("ready", "drain", "maint")
STATE_ALIASES = {"enabled": "ready", "disabled": "maint"}
TOGGLES = ("enabled", "disabled")
TIMEOUT_ACTIONS = ("fail", "maint", "shutdown_sessions")
WAIT_INTERVAL = 1.0

# The fields compared and shown in --diff, in display order.
DIFF_FIELDS = ("state", "weight", "health", "agent", "address", "port")

_FORCED = parsers.SRV_ADMF_FMAINT | parsers.SRV_ADMF_FDRAIN
_NOT_CLEARABLE = parsers.SRV_ADMF_IMAINT | parsers.SRV_ADMF_IDRAIN | parsers.SRV_ADMF_RMAINT


class ServerStateError(HAProxyError):
    """The server is in a state this module cannot change (inherited or DNS maintenance...)."""


class WaitTimeout(HAProxyError):
    """``wait`` ran out of time and ``wait_timeout_action`` is ``fail``."""


# ---------------------------------------------------------------------------
# Validation (no connection yet)


def normalize_state(value):
    if value is None:
        return None
    value = STATE_ALIASES.get(value, value)
    if value not in STATES:
        raise InvalidInput("invalid state %r: expected one of ready, drain, maint (or enabled, disabled)" % (value,))
    return value


def validate_request(params):
    """Check every option; return the normalised request. Raises InvalidInput."""
    backend = check_name(params.get("backend"), "backend name")
    names = []
    for name in params.get("name") or []:
        name = check_name(name, "server name")
        if name not in names:
            names.append(name)
    if not names:
        raise InvalidInput("name must list at least one server")
    state = normalize_state(params.get("state"))
    weight = params.get("weight")
    if weight is not None:
        number, percent = parse_weight(weight)
        weight = "%d%%" % number if percent else str(number)
    for option in ("health", "agent"):
        if params.get(option) not in (None,) + TOGGLES:
            raise InvalidInput("invalid %s %r: expected enabled or disabled" % (option, params.get(option)))
    address = params.get("address")
    if address is not None:
        address = check_address(address)
    port = params.get("port")
    if port is not None:
        port = check_port(port)
    wait = bool(params.get("wait"))
    wait_timeout = params.get("wait_timeout")
    if wait_timeout is None:
        wait_timeout = 60.0
    try:
        wait_timeout = float(wait_timeout)
    except (TypeError, ValueError):
        raise InvalidInput("invalid wait_timeout %r: expected a number of seconds" % (wait_timeout,))
    if wait and wait_timeout <= 0:
        raise InvalidInput("wait_timeout must be a positive number of seconds")
    if wait and state is None:
        raise InvalidInput("wait needs state: it waits for the effect of a state")
    action = params.get("wait_timeout_action") or "fail"
    if action not in TIMEOUT_ACTIONS:
        raise InvalidInput("invalid wait_timeout_action %r: expected one of %s" % (action, ", ".join(TIMEOUT_ACTIONS)))
    shutdown = bool(params.get("shutdown_sessions"))
    if shutdown and state != "maint":
        raise InvalidInput("shutdown_sessions applies only with state=maint (or disabled)")
    return {
        "backend": backend, "names": names, "state": state, "weight": weight,
        "health": params.get("health"), "agent": params.get("agent"),
        "address": address, "port": port, "shutdown_sessions": shutdown,
        "wait": wait, "wait_timeout": wait_timeout, "wait_timeout_action": action,
    }


# ---------------------------------------------------------------------------
# Planning (pure functions of the request and the parsed rows)


def view(row):
    """The public description of a server (``servers`` in the results)."""
    return {
        "backend": row["backend"],
        "name": row["name"],
        "state": row["state"],
        "admin_state_sources": list(row.get("admin_state_sources") or []),
        "operational_state": row.get("operational_state"),
        "weight": row["weight"],
        "initial_weight": row.get("initial_weight"),
        "health": row["health"],
        "agent": row["agent"],
        "address": row.get("address"),
        "port": row.get("port"),
    }


def diff_view(row):
    return dict((field, row.get(field)) for field in DIFF_FIELDS)


def predict_admin_state(bits, state):
    """``srv_admin_state`` after ``set server ... state <state>`` (HAProxy 2.6 semantics).

    ``ready`` clears the forced maint and drain; ``drain`` sets the forced drain
    and clears the forced maint; ``maint`` sets the forced maint and clears the
    forced drain. Inherited and DNS bits are never touched.
    """
    if state == "ready":
        return bits & ~_FORCED
    if state == "drain":
        return (bits | parsers.SRV_ADMF_FDRAIN) & ~parsers.SRV_ADMF_FMAINT
    return (bits | parsers.SRV_ADMF_FMAINT) & ~parsers.SRV_ADMF_FDRAIN


def find_servers(rows, backend, names):
    """Map each requested name to its row; unknown names raise NotFound (nothing is sent)."""
    by_name = dict((row["name"], row) for row in rows)
    by_id = dict(("#%s" % row["id"], row) for row in rows)
    found, missing = [], []
    for name in names:
        row = by_name.get(name) or by_id.get(name)
        if row is None:
            missing.append(name)
        else:
            found.append(row)
    if missing:
        known = ", ".join(sorted(by_name)) or "none"
        raise NotFound("unknown server%s %s in backend %s (its servers: %s); nothing was sent"
                       % ("s" if len(missing) > 1 else "", ", ".join(missing), backend, known))
    return found


def server_ref(row):
    return "%s/%s" % (escape_arg(row["backend"]), escape_arg(row["name"]))


def plan_server(request, row):
    """``(commands, predicted_row)`` for one server.

    Commands that take a server out of rotation (``maint``, ``drain``) come
    first, ``ready`` comes last, so a server never serves with half-applied
    settings. Raises :class:`ServerStateError` or :class:`InvalidInput` when
    the request cannot be met; callers run this for every server before
    sending anything.
    """
    ref = server_ref(row)
    label = "%s/%s" % (row["backend"], row["name"])
    after = dict(row)
    first, middle, last = [], [], []

    state = request["state"]
    if state is not None:
        bits = row["admin_state"] or 0
        new_bits = predict_admin_state(bits, state)
        if parsers.decode_admin_state(new_bits) != state:
            sources = parsers.admin_state_sources(bits & _NOT_CLEARABLE)
            raise ServerStateError(
                "cannot set %s to %s: it is in %s because of %s, which cannot be cleared from the runtime API "
                "(clear it at its source: the tracked server, or DNS resolution); nothing was sent"
                % (label, state, row["state"], " and ".join(sources) or "an inherited state"))
        if parsers.decode_admin_state(bits) != state:
            command = "set server %s state %s" % (ref, state)
            (last if state == "ready" else first).append(command)
            after["admin_state"] = new_bits
            after["admin_state_sources"] = parsers.admin_state_sources(new_bits)
            after["state"] = state
            if request["shutdown_sessions"] and state == "maint":
                first.append("shutdown sessions server %s" % ref)

    if request["weight"] is not None:
        initial = row.get("initial_weight")
        if not isinstance(initial, int):
            initial = row["weight"]
        wanted = resolve_weight(request["weight"], initial)
        if wanted != row["weight"]:
            middle.append("set server %s weight %s" % (ref, request["weight"]))
            after["weight"] = wanted

    for option, word in (("health", "health"), ("agent", "agent")):
        wanted = request[option]
        if wanted is None or wanted == row[option]:
            continue
        if wanted == "enabled" and not row.get(option + "_configured"):
            if option == "health":
                hint = "health checks are not configured on %s (its server line has no 'check')" % label
            else:
                hint = "no agent is configured on %s (its server line has no 'agent-check')" % label
            raise InvalidInput("cannot set %s=enabled: %s; nothing was sent" % (option, hint))
        middle.append("%s %s %s" % ("enable" if wanted == "enabled" else "disable", word, ref))
        after[option] = wanted

    if request["address"] is not None or request["port"] is not None:
        address = request["address"] if request["address"] is not None else row.get("address")
        port = request["port"] if request["port"] is not None else row.get("port")
        if address is None:
            raise InvalidInput("%s has no address to keep; give address together with port" % label)
        if address != row.get("address") or port != row.get("port"):
            command = "set server %s addr %s" % (ref, escape_arg(address))
            if request["port"] is not None:
                command += " port %d" % port
            middle.append(command)
            after["address"] = address
            after["port"] = port

    return first + middle + last, after


def plan(request, rows):
    """Plan every requested server: ``[(row, commands, predicted_row)]``."""
    return [(row,) + plan_server(request, row) for row in find_servers(rows, request["backend"], request["names"])]


# ---------------------------------------------------------------------------
# Write outcomes


def outcome_error(outcome):
    """The error of one write :class:`Outcome` (the client reads ``set server addr``'s warnings)."""
    return outcome.error


def command_server(command):
    """``backend/server`` named by a write command (the last word)."""
    words = command.split(" ")
    for word in words[2:]:
        if "/" in word:
            return word
    return words[-1]


def failure_from_outcomes(outcomes):
    """``None``, or an error naming what failed and what was already changed on this target."""
    failed, done = [], []
    for outcome in outcomes:
        error = outcome_error(outcome)
        if error is None:
            done.append(outcome.command)
        else:
            failed.append(error)
    if not failed:
        return None
    messages = [getattr(error, "message", str(error)).rstrip(".") for error in failed]
    if done:
        servers = []
        for command in done:
            server = command_server(command)
            if server not in servers:
                servers.append(server)
        tail = "already changed on this target: %s (%s)" % (", ".join(servers), "; ".join(done))
    else:
        tail = "nothing was changed on this target"
    error = type(failed[0]) if len(failed) == 1 else CommandError
    exc = error("%s; %s" % ("; ".join(messages), tail))
    exc.changed = bool(done)
    exc.partial = {"commands": [outcome.command for outcome in outcomes], "failed_commands":
                   [outcome.command for outcome in outcomes if outcome_error(outcome) is not None]}
    return exc


# ---------------------------------------------------------------------------
# Reads


def read_servers(client, backend, extra=()):
    """``show servers state <backend>`` (plus ``extra`` requests) in one batch."""
    requests = [("show servers state %s" % escape_arg(backend), parsers.parse_servers_state)] + list(extra)
    try:
        return client.read(requests)
    except NotFound as exc:
        if (exc.command or "").startswith(("show servers state", "show stat")):
            raise NotFound("unknown backend %s (HAProxy: %s); nothing was sent"
                           % (backend, (exc.reply or "").strip().rstrip(".")), None, exc.command, exc.reply)
        raise


def stat_request(backend):
    return ("show stat %s 4 -1" % escape_arg(backend), parsers.parse_stat_csv)


def sessions_by_server(stat_rows):
    counts = {}
    for row in stat_rows:
        try:
            counts[row.get("svname")] = int(row.get("scur") or 0)
        except ValueError:
            counts[row.get("svname")] = 0
    return counts


# ---------------------------------------------------------------------------
# Waiting


def _pending(request, rows, stats, names):
    """Servers (by name) that have not reached what ``wait`` waits for."""
    if request["state"] == "ready":
        by_name = dict((row["name"], row) for row in rows)
        pending = []
        for name in names:
            row = by_name.get(name)
            checked = row is not None and (row["health"] == "enabled" or row["agent"] == "enabled")
            if checked and row.get("operational_state") != "up":
                pending.append(name)
        return pending, {}
    sessions = sessions_by_server(stats or [])
    pending = [name for name in names if sessions.get(name, 0) > 0]
    return pending, dict((name, sessions.get(name, 0)) for name in pending)


def _progress_requests(request):
    extra = [] if request["state"] == "ready" else [stat_request(request["backend"])]
    return [("show servers state %s" % escape_arg(request["backend"]), parsers.parse_servers_state)] + extra


def wait_for(client, request, names, *, rows=None, stats=None, sleep=time.sleep, clock=time.monotonic):
    """Poll until every server in ``names`` is UP (ready) or idle (drain, maint).

    ``rows``/``stats`` are a first reading when one is at hand (no extra
    connection then). Returns ``(pending_names, detail)`` after the timeout,
    ``([], {})`` on success.

    For servers put in maint, HAProxy 3.0 and later wait by themselves
    (``wait <ms> srv-removable``): the wait ends as soon as the server's last
    connection does, over one connection, instead of a reading every
    ``WAIT_INTERVAL``. It answers ``Failed.`` at once for a server it would
    never call removable (one that other servers track): polling takes over.
    """
    deadline = clock() + request["wait_timeout"]
    server_side = request["state"] == "maint" and client.has("wait_srv_removable")
    while True:
        if rows is None and (not server_side or clock() >= deadline):
            values = read_servers(client, request["backend"], _progress_requests(request)[1:])
            rows, stats = values[0], (values[1] if len(values) > 1 else None)
        if rows is None:
            pending = list(names)  # HAProxy's wait tells, with the reading that follows it
        else:
            pending, detail = _pending(request, rows, stats, names)
            if not pending or clock() >= deadline:
                return pending, detail
        if server_side:
            remaining = max(0.001, deadline - clock())
            command = "wait %d srv-removable %s/%s" % (
                max(1, int(remaining * 1000)), escape_arg(request["backend"]), escape_arg(pending[0]))
            done, values = client.wait_then_read(command, remaining, _progress_requests(request))
            rows, stats = values[0], values[1]
            idle = done and pending[0] not in _pending(request, rows, stats, names)[0]
            if idle or (not done and clock() >= deadline):
                continue  # that one is idle (wait for the next, if any), or the time is up
            # Refused at once (other servers track it), or idle for HAProxy but not yet
            # for 'show stat': poll from now on.
            server_side = False
            continue
        sleep(min(WAIT_INTERVAL, max(0.0, deadline - clock())))
        rows = stats = None


# ---------------------------------------------------------------------------
# One target


def converge(client, request, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """Bring the requested servers of one target to the requested settings."""
    extra = [client.level_request()]
    waits_for_sessions = request["wait"] and request["state"] in ("drain", "maint")
    if waits_for_sessions:
        extra.append(stat_request(request["backend"]))
    if request["wait"] and request["state"] == "maint":
        extra.append(client.version_request())  # wait_for() asks client.has(): no extra connection
    values = read_servers(client, request["backend"], extra)
    rows, level = values[0], values[1]
    stats = values[2] if waits_for_sessions else None

    planned = plan(request, rows)
    commands = [command for dummy, server_commands, dummy2 in planned for command in server_commands]
    names = [row["name"] for row, dummy, dummy2 in planned]
    before = dict((row["name"], diff_view(row)) for row, dummy, dummy2 in planned)
    result = {"commands": commands, "changed": bool(commands)}

    if commands:
        require_level(client, level, "admin", commands[0])

    def predicted():
        afters = [after for dummy, dummy2, after in planned]
        result["servers"] = [view(after) for after in afters]
        result["diff"] = {"before": before, "after": dict((after["name"], diff_view(after)) for after in afters)}
        return result

    if check_mode:
        return predicted()
    if not commands:
        # Nothing to change: when there is nothing to wait for either, the run
        # used the one read connection only.
        if not request["wait"] or not _pending(request, rows, stats, names)[0]:
            return predicted()
    else:
        error = failure_from_outcomes(client.write(commands))
        if error is not None:
            raise error

    timed_out, actions = [], []
    if request["wait"]:
        first_rows, first_stats = (rows, stats) if not commands else (None, None)
        pending, detail = wait_for(client, request, names, rows=first_rows, stats=first_stats, sleep=sleep, clock=clock)
        if pending:
            timed_out = pending
            actions = _on_timeout(client, request, (pending, detail), commands, result)

    rows = read_servers(client, request["backend"])[0]
    current = find_servers(rows, request["backend"], names)
    if request["state"] is not None:
        wrong = [row["name"] for row in current if row["state"] != request["state"] and
                 not (timed_out and request["wait_timeout_action"] == "maint")]
        if wrong:
            exc = ServerStateError("HAProxy accepted the commands but %s still %s not in state %s"
                                   % (", ".join(wrong), "is" if len(wrong) == 1 else "are", request["state"]))
            exc.changed = bool(commands)
            exc.partial = {"commands": commands}
            raise exc
    result["commands"] = commands + actions
    result["changed"] = bool(commands or actions)
    result["servers"] = [view(row) for row in current]
    if timed_out:
        result["timed_out"] = timed_out
    result["diff"] = {"before": before, "after": dict((row["name"], diff_view(row)) for row in current)}
    return result


def _on_timeout(client, request, waited, commands, result):
    """Apply ``wait_timeout_action``; return the commands it sent (raises for ``fail``)."""
    pending, detail = waited
    backend = request["backend"]
    if request["state"] == "ready":
        what = "to come UP"
    else:
        what = "to have no sessions left (%s)" % ", ".join("%s: %d" % (name, detail.get(name, 0)) for name in pending)
    message = "timed out after %ss waiting for %s %s" % (
        "%g" % request["wait_timeout"], ", ".join("%s/%s" % (backend, name) for name in pending), what)
    action = request["wait_timeout_action"]
    if action == "fail" or request["state"] == "ready":
        exc = WaitTimeout(message + ("; the changes were made: %s" % "; ".join(commands) if commands
                                     else "; nothing was changed"))
        exc.changed = bool(commands)
        exc.partial = {"commands": commands, "timed_out": pending}
        raise exc
    refs = ["%s/%s" % (escape_arg(backend), escape_arg(name)) for name in pending]
    if action == "maint":
        actions = ["set server %s state maint" % ref for ref in refs if request["state"] != "maint"]
    else:
        actions = ["shutdown sessions server %s" % ref for ref in refs]
    if actions:
        error = failure_from_outcomes(client.write(actions))
        if error is not None:
            error.changed = True
            raise error
    result["wait_timeout_action_taken"] = action
    return actions
