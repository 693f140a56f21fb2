#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_backend_servers
short_description: Add servers to an HAProxy backend and remove them, at runtime
version_added: 0.1.0
description:
  - Adds servers to a backend (C(add server)) and removes them (drain, maint, wait until no session is left,
    C(del server)) through HAProxy's runtime API, without a reload.
  - O(state=exact) makes the set of the backend's servers whose names start with O(prefix) equal to O(servers),
    the service-discovery case. Servers whose names do not start with O(prefix) are never touched.
  - The servers are read from C(show servers state) and the balance algorithm from C(show stat); only what
    differs is written, and a run with nothing to change opens one connection per target.
  - Servers added at runtime are lost when HAProxy reloads. Declare them in the configuration too (the
    C(haproxy) role's C(haproxy_backends[].servers)); a configured server with the same name, address, port
    and weight counts as present, so the module and the role converge without a fight.
author:
  - lbops maintainers (@lbops)
extends_documentation_fragment:
  - lbops.haproxy.runtime
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode reads the backend and predicts the commands and the resulting servers; it sends no write.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff holds, per target, every server of the backend with its address, port, weight, state and check.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
    support: full
options:
  backend:
    description:
      - Name of the backend.
      - Its balance algorithm must be dynamic. C(static-rr) is refused before anything is sent. Hash-based
        algorithms (C(source), C(uri), C(hdr)...) take dynamic servers only with C(hash-type consistent), which
        the runtime API does not show; HAProxy's refusal is then quoted and nothing was created.
    type: str
    required: true
  servers:
    description:
      - The servers. With O(state=absent) only their names are used.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Server name, unique in the list.
        type: str
        required: true
      address:
        description:
          - Literal IPv4 or IPv6 address. Host names are refused (the module does not resolve them).
          - Required with O(state=present) and O(state=exact).
        type: str
      port:
        description:
          - Port, 1 to 65535. Required with O(state=present) and O(state=exact).
        type: int
      weight:
        description:
          - Weight, 0 to 256. A server added without one gets HAProxy's default, 1.
          - When given, an existing server of another weight is set to it (C(set server ... weight)).
        type: int
      check:
        description:
          - Health checks for a server this module adds (C(check), then C(enable health); HAProxy creates
            dynamic servers with their checks disabled).
          - Checks of an existing server cannot be changed at runtime; a difference is a warning.
        type: bool
        default: false
      check_port:
        description: Port of the health checks (C(port)), with O(servers[].check=true).
        type: int
      check_inter:
        description: Milliseconds between two health checks (C(inter)), with O(servers[].check=true).
        type: int
      admin_state:
        description:
          - The state a server this module adds ends in. HAProxy creates dynamic servers in maintenance; the
            module sets them V(ready) (or V(drain)) after adding them.
          - The state of an existing server is left alone (use M(lbops.haproxy.haproxy_server) for that).
        type: str
        choices: [ready, drain, maint]
        default: ready
  state:
    description:
      - V(present) adds the missing servers and sets the address, port and weight of existing ones that differ.
      - V(absent) removes the servers named, C(set server ... state drain), then C(state maint), then a wait
        until no session is left, then C(del server). A server that does not exist is fine.
      - V(exact) is V(present) for O(servers), and V(absent) for every other server of the backend whose name
        starts with O(prefix).
    type: str
    choices: [present, absent, exact]
    default: present
  prefix:
    description:
      - With O(state=exact), the name prefix of the servers the module manages; required there, and every server of
        O(servers) must start with it.
      - The runtime API shows no difference between a server of the configuration and one added at runtime, and
        HAProxy deletes either. The prefix is what keeps the configuration's servers out of reach.
    type: str
  wait_timeout:
    description:
      - Seconds a removal waits for the sessions of the servers to end. When they have not, the task fails; the
        servers are left in maintenance, not deleted.
      - HAProxy 3.0 and later wait by themselves (C(wait srv-removable)); on 2.6 the module reads C(show stat)
        every second.
    type: float
    default: 60.0
notes:
  - Writes need a socket declared with C(level admin); a lower level fails the task before anything is sent,
    in check mode too.
  - When HAProxy refuses a command the task fails quoting HAProxy's answer and says what was already changed.
seealso:
  - module: lbops.haproxy.haproxy_server
"""

EXAMPLES = r"""
- name: Add two servers to be_app on both members of the pair
  lbops.haproxy.haproxy_backend_servers:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
    backend: be_app
    servers:
      - {name: dyn1, address: 192.0.2.11, port: 8080, weight: 10, check: true, check_inter: 2000}
      - {name: dyn2, address: 192.0.2.12, port: 8080, weight: 10, check: true}

- name: Remove a server once its sessions are over (at most five minutes)
  lbops.haproxy.haproxy_backend_servers:
    backend: be_app
    servers:
      - name: dyn2
    state: absent
    wait_timeout: 300

- name: The servers that service discovery found, and no other dyn* server
  lbops.haproxy.haproxy_backend_servers:
    backend: be_app
    state: exact
    prefix: dyn
    servers: "{{ discovered | map('combine', {'port': 8080}) | list }}"
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
      description: The runtime API commands sent (in check mode, the ones that would be sent), waits excepted.
      returned: success, and on failures after a write
      type: list
      elements: str
      sample: ["add server be_app/dyn1 192.0.2.11:8080 weight 10", "set server be_app/dyn1 state ready"]
    failed_commands:
      description: The commands HAProxy refused.
      returned: when HAProxy refused a command
      type: list
      elements: str
    added:
      description: Servers added.
      returned: success
      type: list
      elements: str
    updated:
      description: Existing servers whose address, port or weight was set.
      returned: success
      type: list
      elements: str
    removed:
      description: Servers removed.
      returned: success
      type: list
      elements: str
    kept:
      description: With O(state=exact), the servers of the backend outside O(prefix), left alone.
      returned: success
      type: list
      elements: str
    servers:
      description: Every server of the backend after the run (in check mode, as predicted).
      returned: success
      type: list
      elements: dict
      contains:
        name:
          description: Server name.
          type: str
          returned: always
        address:
          description: Address.
          type: str
          returned: always
        port:
          description: Port.
          type: int
          returned: always
        weight:
          description: Current (user) weight.
          type: int
          returned: always
        state:
          description: Administrative state (ready, drain, maint).
          type: str
          returned: always
        check:
          description: Whether health checks are configured.
          type: bool
          returned: always
    warnings:
      description: What the module could not predict or change (hash-based algorithms, checks of existing servers).
      returned: when there is something to say
      type: list
      elements: str
diff:
  description: With C(--diff), the backend's servers before and after, keyed by target then by server name.
  returned: when diff mode is enabled
  type: dict
  contains:
    before:
      description: Servers before the run, per target.
      type: dict
      returned: always
      sample: {"/run/haproxy/admin.sock": {"s1": {"address": "192.0.2.10", "port": 80, "weight": 10,
               "state": "ready", "check": true}}}
    after:
      description: Servers after the run (predicted in check mode), per target.
      type: dict
      returned: always
      sample: {"/run/haproxy/admin.sock": {"s1": {"address": "192.0.2.10", "port": 80, "weight": 10,
               "state": "ready", "check": true}, "dyn1": {"address": "192.0.2.11", "port": 8080,
               "weight": 10, "state": "ready", "check": false}}}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._client import require_level  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._diff import Difference  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (  # noqa: E402
    CommandError,
    InvalidInput,
    LevelTooLow,
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
    parse_ip,
    same_address,
)

SERVER_OPTIONS = dict(
    name=dict(type="str", required=True),
    address=dict(type="str"),
    port=dict(type="int"),
    weight=dict(type="int"),
    check=dict(type="bool", default=False),
    check_port=dict(type="int"),
    check_inter=dict(type="int"),
    admin_state=dict(type="str", choices=["ready", "drain", "maint"], default="ready"),
)
ARGUMENT_SPEC = dict(
    backend=dict(type="str", required=True),
    servers=dict(type="list", elements="dict", required=True, options=SERVER_OPTIONS),
    state=dict(type="str", choices=["present", "absent", "exact"], default="present"),
    prefix=dict(type="str"),
    wait_timeout=dict(type="float", default=60.0),
)
MODULE_KWARGS = dict(required_if=[("state", "exact", ["prefix"])])

# Seconds between two readings of 'show stat' while waiting on HAProxy 2.6.
WAIT_INTERVAL = 1.0
# Bounds of check_inter, in milliseconds.
MIN_INTER = 100
MAX_INTER = 3600000
# HAProxy 2.6 to 3.2 refuse 'add server' unless the algorithm is dynamic (BE_LB_PROP_DYN):
# static-rr never is; hash-based ones are with 'hash-type consistent' only, which the
# runtime API does not show ('show stat' prints the algorithm, not the hash type).
STATIC_ALGORITHMS = ("static-rr",)
HASH_ALGORITHMS = ("source", "uri", "url_param", "hdr", "rdp-cookie", "hash")
ALGORITHM_REFUSAL = "Backend must use a dynamic load balancing to support dynamic servers."
# 'del server' of a server that still has connections (2.6 to 3.2).
STILL_CONNECTED = "Server still has connections attached to it"


# ---------------------------------------------------------------------------
# The request


def check_server(entry, state):
    name = check_name(entry.get("name"), "server name")
    server = {"name": name, "address": None, "port": None, "weight": None, "check": bool(entry.get("check")),
              "check_port": None, "check_inter": None, "admin_state": entry.get("admin_state") or "ready"}
    if state == "absent":
        return server
    if entry.get("address") is None or entry.get("port") is None:
        raise InvalidInput("server %s needs address and port (state=%s)" % (name, state))
    server["address"] = check_address(entry["address"])
    server["port"] = check_port(entry["port"])
    weight = entry.get("weight")
    if weight is not None:
        if isinstance(weight, bool) or not 0 <= int(weight) <= 256:
            raise InvalidInput("invalid weight %r of server %s: expected an integer from 0 to 256" % (weight, name))
        server["weight"] = int(weight)
    for option in ("check_port", "check_inter"):
        if entry.get(option) is not None and not server["check"]:
            raise InvalidInput("%s of server %s needs check=true" % (option, name))
    if entry.get("check_port") is not None:
        server["check_port"] = check_port(entry["check_port"])
    if entry.get("check_inter") is not None:
        inter = int(entry["check_inter"])
        if not MIN_INTER <= inter <= MAX_INTER:
            raise InvalidInput("invalid check_inter %d of server %s: expected %d to %d milliseconds"
                               % (inter, name, MIN_INTER, MAX_INTER))
        server["check_inter"] = inter
    return server


def validate_request(params):
    """The normalised request; raises InvalidInput before any connection."""
    backend = check_name(params["backend"], "backend name")
    state = params["state"]
    prefix = params.get("prefix")
    if state == "exact":
        if not prefix:
            raise InvalidInput("state=exact needs a non-empty prefix: the names of the servers it manages")
        prefix = check_name(prefix, "server name prefix")
    elif prefix is not None:
        raise InvalidInput("prefix applies only with state=exact")
    servers, seen = [], set()
    for entry in params["servers"] or []:
        server = check_server(entry, state)
        if server["name"] in seen:
            raise InvalidInput("server %s is listed twice" % server["name"])
        seen.add(server["name"])
        if state == "exact" and not server["name"].startswith(prefix):
            raise InvalidInput("server %s does not start with the prefix %r: state=exact manages only those servers"
                               % (server["name"], prefix))
        servers.append(server)
    if not servers and state != "exact":
        raise InvalidInput("servers must list at least one server")
    wait_timeout = check_seconds(params["wait_timeout"], "wait_timeout")
    return {"backend": backend, "servers": servers, "state": state, "prefix": prefix, "wait_timeout": wait_timeout}


# ---------------------------------------------------------------------------
# Planning (pure)


def view(row):
    """A server as results and the diff show it."""
    return {"address": row.get("address"), "port": row.get("port"), "weight": row.get("weight"),
            "state": row.get("state"), "check": bool(row.get("health_configured"))}


def describe(item):
    return "%s:%s weight %s %s%s" % (item["address"], item["port"], item["weight"], item["state"],
                                     " with checks" if item["check"] else "")


class _Nameless(object):
    """A stand-in client for ``require_level`` in the plan (the runner names the target)."""

    target = ""


_NAMELESS = _Nameless()


def ref(backend, name):
    return "%s/%s" % (escape_arg(backend), escape_arg(name))


def endpoint(address, port):
    if parse_ip(address).version == 6:
        return "[%s]:%d" % (address, port)
    return "%s:%d" % (address, port)


def add_command(backend, server):
    command = "add server %s %s" % (ref(backend, server["name"]), endpoint(server["address"], server["port"]))
    if server["weight"] is not None:
        command += " weight %d" % server["weight"]
    if server["check"]:
        command += " check"
        if server["check_port"] is not None:
            command += " port %d" % server["check_port"]
        if server["check_inter"] is not None:
            command += " inter %d" % server["check_inter"]
    return command


def backend_algorithm(stat_rows, backend):
    for row in stat_rows or []:
        if row.get("svname") == "BACKEND" and row.get("pxname") == backend:
            return (row.get("algo") or "").strip() or None
    return None


def plan_backend(request, rows, algo):
    """``(first, then, removals, after, names, warnings)`` for one target.

    ``first``: the first write batch (addresses and weights of existing
    servers, the new servers, the drain of the leaving ones); ``then``: what the
    new servers need once created (their checks, their state); ``removals``:
    the rows to take out after the drain.
    """
    backend = request["backend"]
    by_name = dict((row["name"], row) for row in rows)
    after = dict((row["name"], view(row)) for row in rows)
    updates, adds, then, drains, warnings = [], [], [], [], []
    names = {"added": [], "updated": [], "removed": [], "kept": []}
    if request["state"] in ("present", "exact"):
        for server in request["servers"]:
            name = server["name"]
            row = by_name.get(name)
            if row is None:
                if algo in STATIC_ALGORITHMS:
                    raise InvalidInput("cannot add %s/%s: the backend balances with %s, a static algorithm, and HAProxy "
                                       "refuses dynamic servers there ('%s'); nothing was sent"
                                       % (backend, name, algo, ALGORITHM_REFUSAL))
                if (algo or "").split("(", 1)[0] in HASH_ALGORITHMS:
                    warnings.append("%s balances by %s: HAProxy refuses dynamic servers unless the backend has "
                                    "'hash-type consistent', which the runtime API does not show" % (backend, algo))
                adds.append(add_command(backend, server))
                if server["check"]:
                    then.append("enable health %s" % ref(backend, name))
                if server["admin_state"] != "maint":
                    then.append("set server %s state %s" % (ref(backend, name), server["admin_state"]))
                after[name] = {"address": server["address"], "port": server["port"],
                               "weight": 1 if server["weight"] is None else server["weight"],
                               "state": server["admin_state"], "check": server["check"]}
                names["added"].append(name)
                continue
            predicted = dict(after[name])
            if not same_address(server["address"], row.get("address")) or server["port"] != row.get("port"):
                updates.append("set server %s addr %s port %d" % (ref(backend, name), escape_arg(server["address"]),
                                                                  server["port"]))
                predicted.update(address=server["address"], port=server["port"])
            if server["weight"] is not None and server["weight"] != row.get("weight"):
                updates.append("set server %s weight %d" % (ref(backend, name), server["weight"]))
                predicted["weight"] = server["weight"]
            if server["check"] != bool(row.get("health_configured")):
                warnings.append("%s/%s %s health checks configured and they cannot be changed at runtime: remove the "
                                "server and add it again" % (backend, name, "has no" if server["check"] else "has"))
            if predicted != after[name]:
                after[name] = predicted
                names["updated"].append(name)
    if request["state"] == "absent":
        leaving = [by_name[server["name"]] for server in request["servers"] if server["name"] in by_name]
    elif request["state"] == "exact":
        listed = set(server["name"] for server in request["servers"])
        leaving = [row for row in rows if row["name"].startswith(request["prefix"]) and row["name"] not in listed]
        names["kept"] = [row["name"] for row in rows if not row["name"].startswith(request["prefix"])]
    else:
        leaving = []
    for row in leaving:
        if row["state"] == "ready":
            drains.append("set server %s state drain" % ref(backend, row["name"]))
        after.pop(row["name"], None)
        names["removed"].append(row["name"])
    return updates + adds + drains, then, leaving, after, names, warnings


# ---------------------------------------------------------------------------
# Reads


def servers_read(backend):
    return Read("servers", "show servers state %s" % escape_arg(backend), parsers.parse_servers_state,
                missing="unknown backend %s" % backend)


def stat_read(backend, kind):
    return Read("stat", "show stat %s %d -1" % (escape_arg(backend), kind), parsers.parse_stat_csv,
                missing="unknown backend %s" % backend)


def sessions(stat_rows, names):
    counts = {}
    for row in stat_rows or []:
        if row.get("svname") in names:
            try:
                counts[row["svname"]] = int(row.get("scur") or 0)
            except ValueError:
                counts[row["svname"]] = 0
    return dict((name, counts[name]) for name in names if counts.get(name))


# ---------------------------------------------------------------------------
# Removal: maint, wait, del (after the drain of the first batch)


def wait_removable(step, request, names):
    """Wait until no server in ``names`` has a session; returns ``{name: sessions}`` of those still busy."""
    client, backend = step.client, request["backend"]
    waiter = step.waiter(request["wait_timeout"], WAIT_INTERVAL)
    read = stat_read(backend, 4)
    server_side = client.has("wait_srv_removable")
    pending = list(names)
    while server_side and pending:
        remaining = waiter.remaining()
        command = "wait %d srv-removable %s" % (max(1, int(remaining * 1000)), ref(backend, pending[0]))
        done, values = client.wait_then_read(command, remaining, [(read.command, read.parser)])
        busy = sessions(values[0], pending)
        if done and pending[0] not in busy:
            pending.pop(0)
            continue
        if waiter.expired():
            return busy or {pending[0]: 0}
        server_side = False  # refused at once (tracked by other servers): poll from now on
    if not pending:
        return {}

    def probe():
        busy = sessions(step.read([read])["stat"], pending)
        return not busy, busy

    done, busy = waiter.until(probe)
    return {} if done else busy


def delete(step, request, names):
    """``del server`` for each; retried while HAProxy still sees connections (idle ones), until the deadline."""
    waiter = step.waiter(request["wait_timeout"], WAIT_INTERVAL)
    pending = list(names)
    while True:
        commands = ["del server %s" % ref(request["backend"], name) for name in pending]
        try:
            step.write(commands)
            return
        except CommandError as exc:
            refused = exc.partial.get("failed_commands") or []
            if not all(STILL_CONNECTED in (outcome.text or "") for outcome in step.last_outcomes
                       if outcome.command in refused) or not waiter.pause():
                raise
            pending = [name for name, command in zip(pending, commands) if command in refused]


# ---------------------------------------------------------------------------
# The definition the runner runs


class BackendServers(Definition):
    def request(self, params):
        return validate_request(params)

    def reads(self, request):
        return [servers_read(request["backend"]), stat_read(request["backend"], 2),
                Read("version", "show version", parsers.parse_version)]

    def plan(self, request, state):
        rows = state["servers"]
        algo = backend_algorithm(state.get("stat"), request["backend"])
        first, then, leaving, after, names, warnings = plan_backend(request, rows, algo)
        before = dict((row["name"], view(row)) for row in rows)
        removals = [row["name"] for row in leaving]
        maint = ["set server %s state maint" % ref(request["backend"], row["name"])
                 for row in leaving if row["state"] != "maint"]
        deletes = ["del server %s" % ref(request["backend"], name) for name in removals]
        commands = first + then + maint + deletes
        result = dict(names, commands=commands, servers=[dict(after[name], name=name) for name in after])
        if warnings:
            result["warnings"] = warnings
        result["changed"] = bool(commands)
        if commands and not first:
            # Only removals of servers already drained: the runner checks the level of
            # plan.commands, which are empty here; check it the same way.
            try:
                require_level(_NAMELESS, state["level"], "admin", commands[0])
            except LevelTooLow as exc:
                exc.target = None  # the runner names the target
                raise
        return Plan(first, Difference.whole(before, after), result=result, level="admin", follow_up=bool(removals),
                    data={"first": first, "then": then, "maint": maint, "removals": removals, "names": names,
                          "after": after})

    def follow_up(self, step, request, plan):
        # The runner sent plan.commands (the first batch) already.
        data = plan.data
        if data["first"] and data["then"]:
            step.write(data["then"])
        if data["removals"]:
            step.write(data["maint"])
            busy = wait_removable(step, request, data["removals"])
            if busy:
                raise WaitTimeout("timed out after %ss waiting for the sessions of %s to end (%s); they are in "
                                  "maintenance, not deleted; already changed on this target: %s"
                                  % ("%g" % request["wait_timeout"],
                                     ", ".join("%s/%s" % (request["backend"], name) for name in busy),
                                     ", ".join("%s: %d" % item for item in sorted(busy.items())),
                                     "; ".join(step.sent)),
                                  changed=True, commands=step.sent, partial={"timed_out": sorted(busy)})
            delete(step, request, data["removals"])

    def reread(self, request, plan):
        return [servers_read(request["backend"])]

    def observe(self, request, state, plan, step):
        rows = state["servers"]
        after = dict((row["name"], view(row)) for row in rows)
        wrong = []
        for name, predicted in plan.data["after"].items():
            if name not in after:
                wrong.append("%s is missing" % name)
            elif name in plan.data["names"]["added"] and after[name] != predicted:
                wrong.append("%s is %s, not %s" % (name, describe(after[name]), describe(predicted)))
            elif name in plan.data["names"]["updated"] and any(
                    after[name][key] != predicted[key] for key in ("address", "port", "weight")):
                wrong.append("%s is %s, not %s" % (name, describe(after[name]), describe(predicted)))
        wrong.extend("%s is still there" % name for name in plan.data["removals"] if name in after)
        if wrong:
            raise StateError("HAProxy accepted the commands but %s" % "; ".join(wrong))
        result = dict(plan.data["names"], commands=list(step.sent),
                      servers=[dict(after[name], name=name) for name in after])
        if plan.result.get("warnings"):
            result["warnings"] = plan.result["warnings"]
        return result, after


DEFINITION = BackendServers()


def main(client_factory=None):
    run_module(AnsibleModule, DEFINITION, ARGUMENT_SPEC, MODULE_KWARGS, client_factory=client_factory)


if __name__ == "__main__":
    main()
