#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_server
short_description: Set the state, weight, checks and address of HAProxy servers at runtime
version_added: 0.1.0
description:
  - Sets the administrative state (ready, drain, maint), weight, health check, agent check, address and
    port of one or more servers of a backend through HAProxy's runtime API (the stats socket).
  - The current values are read from C(show servers state) (administrative state bits and user weight),
    never from status texts or session counters. Only the values that differ are written, in one
    batch per target; a run with nothing to change sends no write at all.
  - Every option is validated before any connection is made, and every requested server is checked
    to exist before anything is written.
  - Changes are lost when HAProxy reloads unless a C(server-state-file) carries them over.
author:
  - lbops maintainers (@lbops)
extends_documentation_fragment:
  - lbops.haproxy.runtime
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode reads the servers and predicts the commands and the resulting values; it sends no write.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff holds, per target, the state, weight, health, agent, address and port of each server.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
    support: full
options:
  backend:
    description:
      - Name of the backend the servers belong to.
    type: str
    required: true
  name:
    description:
      - Name of a server of O(backend), or a list of them. C(#<id>) selects a server by its numeric id.
      - An unknown name fails the task before anything is written.
    type: list
    elements: str
    required: true
    aliases: [host]
  state:
    description:
      - Administrative state of the servers.
      - V(ready) serves traffic, V(drain) accepts no new connection except persistent ones, V(maint) takes
        the server out of rotation.
      - V(enabled) is a synonym of V(ready) and V(disabled) of V(maint).
      - A server in maintenance inherited from a tracked server (C(track)) or after a DNS resolution failure
        cannot be set to V(ready) or V(drain) from here; the task fails before writing anything.
      - A server disabled in the configuration (C(disabled)) counts as V(ready) once it has been set V(ready).
    type: str
    choices: [ready, drain, maint, enabled, disabled]
  weight:
    description:
      - Weight of the servers, an integer from 0 to 256, or a percentage of the initial (configuration)
        weight such as V(50%), rounded down as HAProxy does.
      - Backends using a static algorithm only accept V(0%) and V(100%) (0 and the initial weight). The module
        reads the backend's algorithm (C(show stat)) and refuses another weight for C(balance static-rr) before
        anything is sent, in check mode too. Hash-based algorithms (C(source), C(uri), C(hdr)...) are static unless
        the backend has C(hash-type consistent), which the runtime API does not show. Check mode warns, and
        HAProxy's refusal fails the task with HAProxy's message.
    type: raw
  health:
    description:
      - Enables or disables the health checks. V(enabled) fails when the server has no C(check) configured.
    type: str
    choices: [enabled, disabled]
  agent:
    description:
      - Enables or disables the agent checks. V(enabled) fails when the server has no C(agent-check) configured.
    type: str
    choices: [enabled, disabled]
  address:
    description:
      - IPv4 or IPv6 address the servers must point to. Host names are refused (HAProxy's runtime API does
        not resolve them).
    type: str
  port:
    description:
      - Port the servers must point to, 1 to 65535. Without O(address), the current address is kept.
    type: int
  shutdown_sessions:
    description:
      - With O(state=maint), also kill the sessions still open on a server when this run puts it in maint.
        A server that was already in maint is left alone, so a repeated run changes nothing.
      - To cut the sessions only when a drain takes too long, use O(wait) with
        O(wait_timeout_action=shutdown_sessions) instead.
    type: bool
    default: false
  wait:
    description:
      - Wait for the effect of O(state) on every server of the target.
      - With V(drain) or V(maint), wait until the server has no session left (C(scur) of C(show stat)).
      - With V(ready), wait until every server with an enabled health or agent check is operationally UP.
        Servers without running checks count as up at once.
      - Requires O(state). Nothing is awaited in check mode.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true). The servers are polled every second.
    type: float
    default: 60.0
  wait_timeout_action:
    description:
      - What to do with the servers still busy when O(wait_timeout) expires.
      - V(fail) fails the task; the changes already made stay and are reported as changed.
      - V(maint) puts the servers still busy in maint and succeeds (nothing more to do with O(state=maint)).
      - V(shutdown_sessions) kills their remaining sessions and succeeds.
      - The servers concerned are listed in RV(results[].timed_out).
      - With O(state=ready) a timeout always fails the task.
    type: str
    choices: [fail, maint, shutdown_sessions]
    default: fail
notes:
  - Writes need a socket declared with C(level admin); the level is read first, and a lower level fails the
    task before anything is sent. Check mode fails the same way, so that it predicts the real run.
  - When HAProxy refuses a command the task fails quoting HAProxy's answer and names the servers and
    targets that were already changed.
seealso:
  - module: lbops.haproxy.haproxy_frontend
"""

EXAMPLES = r"""
- name: Drain a server on both members of the HA pair and wait for its sessions to end
  lbops.haproxy.haproxy_server:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
    backend: be_app
    name: web1
    state: drain
    wait: true
    wait_timeout: 300
    wait_timeout_action: maint

- name: Put two servers in maintenance and cut their sessions
  lbops.haproxy.haproxy_server:
    backend: be_app
    name: [web1, web2]
    state: maint
    shutdown_sessions: true

- name: Bring a server back at half its configured weight once its checks pass
  lbops.haproxy.haproxy_server:
    backend: be_app
    name: web1
    state: ready
    weight: 50%
    wait: true

- name: Point a server at a new address and port
  lbops.haproxy.haproxy_server:
    backend: be_app
    name: web3
    address: 192.0.2.17
    port: 8080

- name: Pause the health checks of a server
  lbops.haproxy.haproxy_server:
    backend: be_app
    name: web1
    health: disabled
"""

RETURN = r"""
changed:
  description: Whether any target was changed.
  returned: always
  type: bool
results:
  description: One entry per target, in the order of O(socket).
  returned: always
  type: list
  elements: dict
  contains:
    socket:
      description: The target.
      returned: always
      type: str
      sample: /run/haproxy/admin.sock
    changed:
      description: Whether this target was changed (in check mode, would be).
      returned: always
      type: bool
    failed:
      description: Whether this target failed.
      returned: always
      type: bool
    msg:
      description: Why this target failed.
      returned: when this target failed
      type: str
    commands:
      description:
        - The runtime API commands sent to this target (in check mode, the ones that would be sent),
          including those of O(wait_timeout_action).
      returned: success, and on failures after a write
      type: list
      elements: str
      sample: ["set server be_app/web1 state drain", "set server be_app/web1 weight 50%"]
    failed_commands:
      description: The commands HAProxy refused.
      returned: when HAProxy refused a command
      type: list
      elements: str
    servers:
      description: The requested servers as read after the change (in check mode, as predicted).
      returned: success
      type: list
      elements: dict
      contains:
        backend:
          description: Backend name.
          type: str
          returned: always
        name:
          description: Server name.
          type: str
          returned: always
        state:
          description: Administrative state decoded from C(srv_admin_state).
          type: str
          returned: always
          sample: drain
        admin_state_sources:
          description: What holds the administrative state (forced maint, inherited maint, configuration...).
          type: list
          elements: str
          returned: always
          sample: [forced drain]
        operational_state:
          description: Operational state (down, starting, up, stopping).
          type: str
          returned: always
          sample: up
        weight:
          description: Current (user) weight.
          type: int
          returned: always
          sample: 10
        initial_weight:
          description: Weight from the configuration.
          type: int
          returned: always
          sample: 20
        health:
          description: Whether health checks are enabled.
          type: str
          returned: always
          sample: enabled
        agent:
          description: Whether agent checks are enabled.
          type: str
          returned: always
          sample: disabled
        address:
          description: Address the server points to.
          type: str
          returned: always
          sample: 192.0.2.17
        port:
          description: Port the server points to.
          type: int
          returned: always
          sample: 8080
    timed_out:
      description: Servers that did not reach the awaited condition within O(wait_timeout).
      returned: when O(wait=true) timed out
      type: list
      elements: str
    wait_timeout_action_taken:
      description: The O(wait_timeout_action) applied after a timeout.
      returned: when O(wait=true) timed out and the action was not V(fail)
      type: str
diff:
  description:
    - With C(--diff), the values before and after, keyed by target then by server name, each with
      C(state), C(weight), C(health), C(agent), C(address) and C(port).
  returned: when diff mode is enabled
  type: dict
  contains:
    before:
      description: Values before the run, per target and server.
      type: dict
      returned: always
      sample: {"/run/haproxy/admin.sock": {"web1": {"state": "ready", "weight": 10, "health": "enabled",
               "agent": "disabled", "address": "192.0.2.10", "port": 80}}}
    after:
      description: Values after the run (predicted in check mode), per target and server.
      type: dict
      returned: always
      sample: {"/run/haproxy/admin.sock": {"web1": {"state": "drain", "weight": 10, "health": "enabled",
               "agent": "disabled", "address": "192.0.2.10", "port": 80}}}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._diff import Difference  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (  # noqa: E402
    InvalidInput,
    NotFound,
    StateError,
    WaitTimeout,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import (  # noqa: E402
    Definition,
    Plan,
    Read,
    check_seconds,
    run_module,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._validate import (  # noqa: E402
    check_address,
    check_name,
    check_port,
    escape_arg,
    parse_weight,
    resolve_weight,
    same_address,
)

ARGUMENT_SPEC = dict(
    backend=dict(type="str", required=True),
    name=dict(type="list", elements="str", required=True, aliases=["host"]),
    state=dict(type="str", choices=["ready", "drain", "maint", "enabled", "disabled"]),
    weight=dict(type="raw"),
    health=dict(type="str", choices=["enabled", "disabled"]),
    agent=dict(type="str", choices=["enabled", "disabled"]),
    address=dict(type="str"),
    port=dict(type="int"),
    shutdown_sessions=dict(type="bool", default=False),
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="float", default=60.0),
    wait_timeout_action=dict(type="str", choices=["fail", "maint", "shutdown_sessions"], default="fail"),
)
MODULE_KWARGS = dict(required_if=[("wait", True, ["state"])])

STATE_ALIASES = {"enabled": "ready", "disabled": "maint"}
# Seconds between two readings while waiting (HAProxy 3.0+ waits by itself for maint).
WAIT_INTERVAL = 1.0

# The fields compared and shown in --diff, in display order.
DIFF_FIELDS = ("state", "weight", "health", "agent", "address", "port")

# Balance algorithms that cannot change a weight at runtime (no BE_LB_PROP_DYN in
# HAProxy 2.6 to 3.2): they accept only 0 and the initial weight ('0%' and '100%').
STATIC_ALGORITHMS = ("static-rr",)
# Hash-based algorithms are static too with the default 'hash-type map-based', dynamic
# with 'hash-type consistent'; 'show stat' shows the algorithm, not the hash type.
HASH_ALGORITHMS = ("source", "uri", "url_param", "hdr", "rdp-cookie", "hash")

_FORCED = parsers.SRV_ADMF_FMAINT | parsers.SRV_ADMF_FDRAIN
_NOT_CLEARABLE = parsers.SRV_ADMF_IMAINT | parsers.SRV_ADMF_IDRAIN | parsers.SRV_ADMF_RMAINT


# ---------------------------------------------------------------------------
# The request (the argument spec has already checked types, choices and defaults)


def validate_request(params):
    """The normalised request; raises InvalidInput before any connection."""
    backend = check_name(params["backend"], "backend name")
    names = []
    for name in params["name"] or []:
        name = check_name(name, "server name")
        if name not in names:
            names.append(name)
    if not names:
        raise InvalidInput("name must list at least one server")
    state = STATE_ALIASES.get(params["state"], params["state"])
    weight = params["weight"]
    if weight is not None:
        number, percent = parse_weight(weight)
        weight = "%d%%" % number if percent else str(number)
    address = check_address(params["address"]) if params["address"] is not None else None
    port = check_port(params["port"]) if params["port"] is not None else None
    wait = bool(params["wait"])
    wait_timeout = check_seconds(params["wait_timeout"], "wait_timeout")
    if wait and wait_timeout <= 0:
        raise InvalidInput("wait_timeout must be a positive number of seconds")
    if wait and state is None:
        raise InvalidInput("wait needs state: it waits for the effect of a state")
    shutdown = bool(params["shutdown_sessions"])
    if shutdown and state != "maint":
        raise InvalidInput("shutdown_sessions applies only with state=maint (or disabled)")
    return {
        "backend": backend, "names": names, "state": state, "weight": weight,
        "health": params["health"], "agent": params["agent"],
        "address": address, "port": port, "shutdown_sessions": shutdown,
        "wait": wait, "wait_timeout": wait_timeout, "wait_timeout_action": params["wait_timeout_action"],
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
    """``srv_admin_state`` after ``set server ... state <state>``.

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
    """Map each requested name to its row; unknown names raise NotFound (nothing is sent).

    A server named twice (``s1`` and its ``#1``) is one server, planned once.
    """
    by_name = dict((row["name"], row) for row in rows)
    by_id = dict(("#%s" % row["id"], row) for row in rows)
    found, missing = [], []
    for name in names:
        row = by_name.get(name) or by_id.get(name)
        if row is None:
            missing.append(name)
        elif all(row["name"] != other["name"] for other in found):
            found.append(row)
    if missing:
        known = ", ".join(sorted(by_name)) or "none"
        raise NotFound("unknown server%s %s in backend %s (its servers: %s); nothing was sent"
                       % ("s" if len(missing) > 1 else "", ", ".join(missing), backend, known))
    return found


def server_ref(row):
    return "%s/%s" % (escape_arg(row["backend"]), escape_arg(row["name"]))


def check_weight(label, algo, wanted, initial, current):
    """Refuse a weight the backend's algorithm cannot take (HAProxy would refuse it); warnings for a maybe."""
    if wanted in (0, initial) or wanted == current:
        return []
    if algo in STATIC_ALGORITHMS:
        raise InvalidInput("cannot set the weight of %s to %d: its backend balances with %s, a static algorithm, "
                           "which takes only the weights 0 and %d (0%% and 100%% of the initial weight); nothing was sent"
                           % (label, wanted, algo, initial))
    if (algo or "").split("(", 1)[0] in HASH_ALGORITHMS:
        return ["%s balances by %s: HAProxy refuses weights other than 0 and the initial one (%d) unless the backend "
                "has 'hash-type consistent', which the runtime API does not show" % (label, algo, initial)]
    return []


def plan_server(request, row, algo=None, warnings=None):
    """``(commands, predicted_row)`` for one server.

    Commands that take a server out of rotation (``maint``, ``drain``) come
    first, ``ready`` comes last, so a server never serves with half-applied
    settings. Raises :class:`StateError` or :class:`InvalidInput` when the
    request cannot be met; the plan covers every server before anything is sent.
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
            raise StateError(
                "cannot set %s to %s: it is in %s because of %s, which cannot be cleared from the runtime API "
                "(clear it at its source: the tracked server, or DNS resolution); nothing was sent"
                % (label, state, row["state"], " and ".join(sources) or "an inherited state"))
        if parsers.decode_admin_state(bits) != state:
            command = "set server %s state %s" % (ref, state)
            (last if state == "ready" else first).append(command)
            after["admin_state"] = new_bits
            after["admin_state_sources"] = parsers.admin_state_sources(new_bits)
            after["state"] = state
            # What HAProxy does to the operational state: maint stops the server, leaving
            # maint starts it (its checks, if any, start from 'up').
            if state == "maint":
                after["operational_state"] = "down"
            elif row["state"] == "maint":
                after["operational_state"] = "up"
            if request["shutdown_sessions"] and state == "maint":
                first.append("shutdown sessions server %s" % ref)

    if request["weight"] is not None:
        initial = row.get("initial_weight")
        if not isinstance(initial, int):
            initial = row["weight"]
        wanted = resolve_weight(request["weight"], initial)
        if wanted != row["weight"]:
            found = check_weight(label, algo, wanted, initial, row["weight"])
            if warnings is not None:
                warnings.extend(found)
            middle.append("set server %s weight %s" % (ref, request["weight"]))
            after["weight"] = wanted

    for option in ("health", "agent"):
        wanted = request[option]
        if wanted is None or wanted == row[option]:
            continue
        if wanted == "enabled" and not row.get(option + "_configured"):
            if option == "health":
                hint = "health checks are not configured on %s (its server line has no 'check')" % label
            else:
                hint = "no agent is configured on %s (its server line has no 'agent-check')" % label
            raise InvalidInput("cannot set %s=enabled: %s; nothing was sent" % (option, hint))
        middle.append("%s %s %s" % ("enable" if wanted == "enabled" else "disable", option, ref))
        after[option] = wanted

    if request["address"] is not None or request["port"] is not None:
        address = request["address"] if request["address"] is not None else row.get("address")
        port = request["port"] if request["port"] is not None else row.get("port")
        if address is None:
            raise InvalidInput("%s has no address to keep; give address together with port" % label)
        # HAProxy prints addresses its own way (inet_ntop): compare addresses, not texts.
        if not same_address(address, row.get("address")) or port != row.get("port"):
            command = "set server %s addr %s" % (ref, escape_arg(address))
            if request["port"] is not None:
                command += " port %d" % port
            middle.append(command)
            after["address"] = address
            after["port"] = port

    return first + middle + last, after


def backend_algorithm(stat_rows, backend):
    """The balance algorithm of ``backend`` from its 'show stat ... 2 -1' row (None if not shown)."""
    for row in stat_rows or []:
        if row.get("svname") == "BACKEND" and row.get("pxname") == backend:
            return (row.get("algo") or "").strip() or None
    return None


def plan_servers(request, rows, algo=None, warnings=None):
    """Plan every requested server: ``[(row, commands, predicted_row)]``."""
    return [(row,) + plan_server(request, row, algo, warnings)
            for row in find_servers(rows, request["backend"], request["names"])]


def command_server(command):
    """``backend/server`` named by a write command."""
    words = command.split(" ")
    for word in words[2:]:
        if "/" in word:
            return word
    return words[-1]


# ---------------------------------------------------------------------------
# Reads


def servers_read(backend):
    return Read("servers", "show servers state %s" % escape_arg(backend), parsers.parse_servers_state,
                missing="unknown backend %s" % backend)


def stat_read(backend):
    return Read("stat", "show stat %s 4 -1" % escape_arg(backend), parsers.parse_stat_csv,
                missing="unknown backend %s" % backend)


def waits_for_sessions(request):
    return request["wait"] and request["state"] in ("drain", "maint")


def sessions_by_server(stat_rows):
    counts = {}
    for row in stat_rows:
        try:
            counts[row.get("svname")] = int(row.get("scur") or 0)
        except ValueError:
            counts[row.get("svname")] = 0
    return counts


def pending_servers(request, rows, stats, names):
    """Servers (by name) that have not reached what ``wait`` waits for, with their sessions."""
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


# ---------------------------------------------------------------------------
# Waiting (after the writes)


def progress_reads(request):
    reads = [servers_read(request["backend"])]
    if request["state"] != "ready":
        reads.append(stat_read(request["backend"]))
    return reads


def wait_for(step, request, names, first=None):
    """Wait until every server in ``names`` is UP (ready) or idle (drain, maint).

    ``first`` is a reading ``(rows, stats)`` at hand (no extra connection
    then). Returns ``(pending_names, detail)`` after the timeout, ``([], {})``
    on success.

    For servers put in maint, HAProxy 3.0 and later wait by themselves
    (``wait <ms> srv-removable``): the wait ends as soon as the server's last
    connection does, over one connection, instead of a reading every
    ``WAIT_INTERVAL``. HAProxy answers ``Failed.`` at once for a server it would
    never call removable (one that other servers track): polling takes over.
    """
    client = step.client
    waiter = step.waiter(request["wait_timeout"], WAIT_INTERVAL)
    server_side = request["state"] == "maint" and client.has("wait_srv_removable")
    reading = first
    while True:
        if reading is None and (not server_side or waiter.expired()):
            state = step.read(progress_reads(request))
            reading = (state["servers"], state.get("stat"))
        if reading is not None:
            pending, detail = pending_servers(request, reading[0], reading[1], names)
            if not pending or waiter.expired():
                return pending, detail
        else:
            pending = list(names)  # HAProxy's wait tells, with the reading that follows it
        if server_side:
            remaining = max(0.001, waiter.remaining())
            command = "wait %d srv-removable %s/%s" % (
                max(1, int(remaining * 1000)), escape_arg(request["backend"]), escape_arg(pending[0]))
            reads = progress_reads(request)
            done, values = client.wait_then_read(command, remaining, [(read.command, read.parser) for read in reads])
            reading = (values[0], values[1])
            idle = done and pending[0] not in pending_servers(request, reading[0], reading[1], names)[0]
            if idle or (not done and waiter.expired()):
                continue  # that one is idle (wait for the next, if any), or the time is up
            # Refused at once (other servers track it), or idle for HAProxy but not yet
            # for 'show stat': poll from now on.
            server_side = False
            continue
        waiter.pause()
        reading = None


def on_timeout(step, request, pending, detail):
    """Apply ``wait_timeout_action`` to the servers still pending (raises for ``fail``)."""
    backend = request["backend"]
    if request["state"] == "ready":
        what = "to come UP"
    else:
        what = "to have no sessions left (%s)" % ", ".join("%s: %d" % (name, detail.get(name, 0)) for name in pending)
    message = "timed out after %ss waiting for %s %s" % (
        "%g" % request["wait_timeout"], ", ".join("%s/%s" % (backend, name) for name in pending), what)
    action = request["wait_timeout_action"]
    if action == "fail" or request["state"] == "ready":
        raise WaitTimeout(message + ("; the changes were made: %s" % "; ".join(step.sent) if step.sent
                                     else "; nothing was changed"),
                          changed=step.changed, commands=step.sent, partial={"timed_out": pending})
    refs = ["%s/%s" % (escape_arg(backend), escape_arg(name)) for name in pending]
    if action == "maint":
        actions = ["set server %s state maint" % ref for ref in refs if request["state"] != "maint"]
    else:
        actions = ["shutdown sessions server %s" % ref for ref in refs]
    step.write(actions)
    return action


# ---------------------------------------------------------------------------
# The definition the runner runs


class Server(Definition):
    def request(self, params):
        return validate_request(params)

    def reads(self, request):
        reads = [servers_read(request["backend"])]
        if request["weight"] is not None:  # the balance algorithm: static ones refuse most weights
            reads.append(Read("backend", "show stat %s 2 -1" % escape_arg(request["backend"]), parsers.parse_stat_csv,
                              missing="unknown backend %s" % request["backend"]))
        if waits_for_sessions(request):
            reads.append(stat_read(request["backend"]))
        if request["wait"] and request["state"] == "maint":
            reads.append(Read("version", "show version", parsers.parse_version))  # for wait srv-removable
        return reads

    def plan(self, request, state):
        warnings = []
        planned = plan_servers(request, state["servers"], backend_algorithm(state.get("backend"), request["backend"]),
                               warnings)
        commands = [command for dummy, server_commands, dummy2 in planned for command in server_commands]
        names = [row["name"] for row, dummy, dummy2 in planned]
        difference = Difference()
        for planned_server in planned:
            difference.add(planned_server[0]["name"], diff_view(planned_server[0]), diff_view(planned_server[2]))
        first = (state["servers"], state.get("stat"))
        # Nothing to change: when there is nothing to wait for either, the run
        # uses the one read connection only.
        follow_up = request["wait"] and bool(commands or pending_servers(request, first[0], first[1], names)[0])
        return Plan(commands, difference, level="admin", follow_up=follow_up,
                    result=dict({"commands": commands, "servers": [view(after) for dummy, dummy2, after in planned]},
                                **({"warnings": warnings} if warnings else {})),
                    data={"names": names, "first": None if commands else first, "timed_out": [], "action": None})

    def follow_up(self, step, request, plan):
        if not request["wait"]:
            return
        pending, detail = wait_for(step, request, plan.data["names"], plan.data["first"])
        if pending:
            plan.data["timed_out"] = pending
            plan.data["action"] = on_timeout(step, request, pending, detail)

    def reread(self, request, plan):
        return [servers_read(request["backend"])]

    def observe(self, request, state, plan, step):
        current = find_servers(state["servers"], request["backend"], plan.data["names"])
        if request["state"] is not None:
            timed_out_to_maint = plan.data["timed_out"] and request["wait_timeout_action"] == "maint"
            wrong = [row["name"] for row in current if row["state"] != request["state"] and not timed_out_to_maint]
            if wrong:
                raise StateError("HAProxy accepted the commands but %s still %s not in state %s"
                                 % (", ".join(wrong), "is" if len(wrong) == 1 else "are", request["state"]))
        result = {"commands": list(step.sent), "servers": [view(row) for row in current]}
        if plan.data["timed_out"]:
            result["timed_out"] = plan.data["timed_out"]
            result["wait_timeout_action_taken"] = plan.data["action"]
        return result, dict((row["name"], diff_view(row)) for row in current)

    def describe(self, commands):
        servers = []
        for command in commands:
            server = command_server(command)
            if server not in servers:
                servers.append(server)
        return "%s (%s)" % (", ".join(servers), "; ".join(commands))


DEFINITION = Server()


def main(client_factory=None):
    run_module(AnsibleModule, DEFINITION, ARGUMENT_SPEC, MODULE_KWARGS, client_factory=client_factory)


if __name__ == "__main__":
    main()
