#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_info
short_description: Read the state of running HAProxy processes through the runtime API
version_added: 0.1.0
description:
  - Reads process information, servers with their decoded state, frontends and stick tables
    from HAProxy's runtime API, over one connection per target.
  - Read-only; works on a socket of any level, C(user) included.
  - Also sets the fact C(haproxy_runtime), keyed by socket, so it can serve as a fact source.
options:
  gather:
    description:
      - What to read. V(all) reads everything.
      - V(info) is C(show info); V(servers) is C(show servers state) joined with C(show stat)
        (status and sessions), plus a summary per backend; V(frontends) is C(show stat) frontends;
        V(tables) is the list of stick tables (C(show table)), without their entries.
    type: list
    elements: str
    choices: [all, info, servers, frontends, tables]
    default: [all]
  virtual_addresses:
    description:
      - Addresses (IPv4 or IPv6, a C(/prefix) is ignored) to look for on the host the module runs on,
        typically the keepalived virtual addresses of a pair. RV(virtual_addresses) says, for each one,
        whether this host holds it and on which interface.
      - Read from C(ip -o addr show) on that host, once per task, whatever the number of sockets.
      - Run on every member of a pair, it shows a split brain (more than one member holding a virtual
        address) or a pair where none holds it; C(playbooks/ha_check.yml) fails on either.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - lbops.haproxy.runtime
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module only reads, so it runs the same way in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - Read-only; it never reports a change.
seealso:
  - module: lbops.haproxy.haproxy_table
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Read both load balancers of the pair
  lbops.haproxy.haproxy_info:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
  register: lb

- name: Fail when a server of be_app is in maintenance on any of them
  ansible.builtin.assert:
    that: >-
      haproxy_runtime | dict2items | map(attribute='value.servers.be_app')
      | map('dict2items') | flatten | map(attribute='value.state')
      | select('eq', 'maint') | list | length == 0

- name: Only the stick tables, through a user-level socket
  lbops.haproxy.haproxy_info:
    socket: /run/haproxy/user.sock
    gather: [tables]
"""

RETURN = r"""
changed:
  description: Always V(false).
  returned: always
  type: bool
results:
  description: One item per target, in the order of O(socket).
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
      description: Always V(false).
      returned: always
      type: bool
    failed:
      description: Whether reading this target failed.
      returned: always
      type: bool
    msg:
      description: Why reading this target failed.
      returned: when failed
      type: str
    level:
      description: The level of the socket (C(show cli level)).
      returned: success
      type: str
      sample: admin
    gathered:
      description: The subsets read.
      returned: success
      type: list
      elements: str
      sample: [info, servers, frontends, tables]
    version:
      description: HAProxy's version.
      returned: when info is gathered
      type: str
      sample: 2.6.12-1+deb12u1
    pid:
      description: Process id of the worker that answered.
      returned: when info is gathered
      type: int
    uptime_seconds:
      description: Uptime of that process.
      returned: when info is gathered
      type: int
    started_at:
      description:
        - When that process started, in seconds since the epoch by the clock of the host the module runs on
          (the time of the read minus RV(results[].uptime_seconds)), so it compares with that host's file times,
          for example to check that the running worker is newer than its configuration file.
        - Exact to about a second (HAProxy counts its uptime in whole seconds).
      returned: when info is gathered
      type: float
      sample: 1764633600.4
    info:
      description: Every field of C(show info), as strings.
      returned: when info is gathered
      type: dict
      sample: {"Name": "HAProxy", "Version": "2.6.12-1+deb12u1", "Maxconn": "2000"}
    servers:
      description:
        - Per backend, per server, the decoded state.
        - C(state) is V(ready), V(drain) or V(maint) (from C(srv_admin_state); a server disabled
          in the configuration but set ready counts as ready), C(admin_state_sources) says why,
          C(operational_state) is V(down), V(starting), V(up) or V(stopping).
        - C(status) is the status column of C(show stat) (for example C(UP), C(DOWN 1/2), C(MAINT (via be/s))),
          C(status_word) its first word, C(current_sessions) and C(total_sessions) its C(scur) and C(stot).
        - Also C(id), C(address), C(port), C(fqdn), C(weight), C(initial_weight), C(health),
          C(health_configured), C(agent), C(agent_configured), C(admin_state), C(check_state),
          C(agent_state) and C(check_status).
      returned: when servers are gathered
      type: dict
      sample:
        be_app:
          s1:
            id: 1
            address: 127.0.0.1
            port: 19101
            state: ready
            admin_state: 0
            admin_state_sources: []
            operational_state: up
            weight: 10
            initial_weight: 10
            health: enabled
            agent: disabled
            status: UP
            status_word: UP
            current_sessions: 0
    backends:
      description: Per backend, C(status), C(current_sessions), C(total_sessions), C(active_servers) and C(backup_servers).
      returned: when servers are gathered
      type: dict
      sample: {"be_app": {"status": "UP", "current_sessions": 0, "total_sessions": 12, "active_servers": 4, "backup_servers": 0}}
    frontends:
      description:
        - Per frontend, C(status) (C(OPEN), C(PAUSED) after a runtime disable, C(STOP) after a shutdown
          or when disabled in the configuration), C(current_sessions), C(total_sessions), C(session_limit).
      returned: when frontends are gathered
      type: dict
      sample: {"fe_main": {"status": "OPEN", "current_sessions": 1, "total_sessions": 40, "session_limit": 2000}}
    tables:
      description: Per stick table (tables of a peers section as C(<peers>/<table>)), its C(type), C(size) and C(used).
      returned: when tables are gathered
      type: dict
      sample: {"fe_main": {"type": "ip", "size": 1024, "used": 4}}
virtual_addresses:
  description:
    - One item per address of O(virtual_addresses), in that order, as seen on the host the module runs on.
  returned: when O(virtual_addresses) is not empty
  type: list
  elements: dict
  contains:
    address:
      description: The address, as given without its prefix.
      type: str
      returned: always
      sample: 10.0.0.100
    held:
      description: Whether an interface of this host carries the address.
      type: bool
      returned: always
      sample: true
    interface:
      description: The interface that carries it, or V(null).
      type: str
      returned: always
      sample: eth0
ansible_facts:
  description: Facts set by the module.
  returned: always
  type: dict
  contains:
    haproxy_virtual_addresses:
      description:
        - Address to V(true) when the host the module runs on holds it, V(false) otherwise.
      returned: when O(virtual_addresses) is not empty
      type: dict
      sample: {"10.0.0.100": true}
    haproxy_runtime:
      description: Per socket that answered, the same data as its item of RV(results), without C(socket), C(changed) and C(failed).
      returned: always
      type: dict
"""

import ipaddress  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Definition, Plan, Read, Runner, run_module  # noqa: E402

ARGUMENT_SPEC = dict(
    gather=dict(type="list", elements="str", default=["all"], choices=["all", "info", "servers", "frontends", "tables"]),
    virtual_addresses=dict(type="list", elements="str", default=[]),
)

# The subsets, in the order they are read (the choices of the gather option, but "all").
GATHER_CHOICES = tuple(choice for choice in ARGUMENT_SPEC["gather"]["choices"] if choice != "all")
FACTS_NAME = "haproxy_runtime"


def check_gather(gather):
    """The subsets to gather, in a stable order; ``all`` or nothing means every one."""
    gather = list(gather or ["all"])
    if "all" in gather:
        return list(GATHER_CHOICES)
    unknown = [item for item in gather if item not in GATHER_CHOICES]
    if unknown:
        raise InvalidInput("unknown gather subset(s) %s: expected all, %s" % (", ".join(unknown), ", ".join(GATHER_CHOICES)))
    return [item for item in GATHER_CHOICES if item in gather]


def check_virtual_addresses(addresses):
    """The addresses to look for, without prefixes, checked; InvalidInput names the first bad one."""
    checked = []
    for raw in addresses or []:
        text = (raw or "").strip()
        try:
            address = ipaddress.ip_interface(text).ip if "/" in text else ipaddress.ip_address(text)
        except ValueError:
            raise InvalidInput("virtual_addresses: %r is not an IPv4 or IPv6 address" % (raw,))
        if str(address) not in checked:
            checked.append(str(address))
    return checked


def parse_ip_addr(text):
    """``ip -o addr show`` -> {address: interface}, every IPv4 and IPv6 address of the host.

    A line is ``<index>: <interface>    inet[6] <address>/<prefix> ...``; an
    interface name may carry ``@<link>`` (veth pairs), which is not part of it.
    """
    held = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4 or not words[0].endswith(":"):
            continue
        for i, word in enumerate(words[2:-1], start=2):
            if word in ("inet", "inet6"):
                try:
                    address = ipaddress.ip_interface(words[i + 1]).ip
                except ValueError:
                    continue
                held.setdefault(str(address), words[1].split("@", 1)[0])
                break
    return held


def virtual_address_report(wanted, held):
    """One item per wanted address: {address, held, interface}."""
    return [{"address": address, "held": address in held, "interface": held.get(address)} for address in wanted]


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _status_word(status):
    """``UP 1/3`` -> ``UP``, ``MAINT (via be/s)`` -> ``MAINT``; ``no check`` stays whole."""
    if status == "no check":
        return status
    return (status or "").split(" ", 1)[0] or None


def build_reads(gather):
    """The named reads of one batch (every one allowed on a ``user``-level socket)."""
    reads = []
    if "info" in gather:
        reads.append(Read("info", "show info", parsers.parse_info))
    if "servers" in gather:
        reads.append(Read("servers_state", "show servers state", parsers.parse_servers_state))
    if "servers" in gather or "frontends" in gather:
        reads.append(Read("stat", "show stat", parsers.parse_stat_csv))
    if "tables" in gather:
        reads.append(Read("tables", "show table", parsers.parse_table_list))
    return reads


def _server(state, row):
    server = dict(state)
    server.pop("backend", None)
    server.pop("backend_id", None)
    row = row or {}
    server["status"] = row.get("status") or None
    server["status_word"] = _status_word(row.get("status"))
    server["current_sessions"] = _int_or_none(row.get("scur"))
    server["total_sessions"] = _int_or_none(row.get("stot"))
    server["check_status"] = row.get("check_status") or None
    return server


def assemble(gather, raw, now=None):
    """Turn the parsed replies into the per-target result.

    ``now`` is the time of the read on this host (the managed node), so that
    ``started_at`` compares with the host's file times (the role checks that the
    worker started after the configuration was written).
    """
    result = {"changed": False, "level": raw["level"], "gathered": list(gather)}
    if "info" in gather:
        info = raw["info"]
        result["info"] = info
        result["version"] = info.get("Version")
        result["pid"] = _int_or_none(info.get("Pid"))
        result["uptime_seconds"] = _int_or_none(info.get("Uptime_sec"))
        if result["uptime_seconds"] is not None:
            result["started_at"] = (time.time() if now is None else now) - result["uptime_seconds"]
    stat = raw.get("stat") or []
    rows = {}
    for row in stat:
        rows[(row.get("pxname"), row.get("svname"))] = row
    if "servers" in gather:
        servers, backends = {}, {}
        for state in raw["servers_state"]:
            servers.setdefault(state["backend"], {})[state["name"]] = _server(state, rows.get((state["backend"], state["name"])))
        for row in stat:
            if row.get("svname") == "BACKEND":
                backends[row["pxname"]] = {
                    "status": row.get("status") or None,
                    "current_sessions": _int_or_none(row.get("scur")),
                    "total_sessions": _int_or_none(row.get("stot")),
                    "active_servers": _int_or_none(row.get("act")),
                    "backup_servers": _int_or_none(row.get("bck")),
                }
                servers.setdefault(row["pxname"], {})
        result["servers"] = servers
        result["backends"] = backends
    if "frontends" in gather:
        frontends = {}
        for row in stat:
            if row.get("svname") == "FRONTEND":
                frontends[row["pxname"]] = {
                    "status": row.get("status") or None,
                    "current_sessions": _int_or_none(row.get("scur")),
                    "total_sessions": _int_or_none(row.get("stot")),
                    "session_limit": _int_or_none(row.get("slim")),
                }
        result["frontends"] = frontends
    if "tables" in gather:
        result["tables"] = dict((table["name"], {"type": table["type"], "size": table["size"], "used": table["used"]})
                                for table in raw["tables"])
    return result


class Info(Definition):
    def request(self, params):
        check_virtual_addresses(params.get("virtual_addresses"))
        return check_gather(params["gather"])

    def reads(self, request):
        return build_reads(request)

    def plan(self, request, state):
        return Plan(result=assemble(request, state))


DEFINITION = Info()


def gather_facts(client, gather):
    """One read connection to ``client``; the per-target result."""
    return Runner(DEFINITION, gather).run(client)


def facts(output):
    """``ansible_facts`` from the module's output: ``{haproxy_runtime: {<socket>: {...}}}``."""
    per_target = {}
    for result in output.get("results") or []:
        if result.get("failed"):
            continue
        item = dict(result)
        for key in ("changed", "failed", "socket"):
            item.pop(key, None)
        per_target[result["socket"]] = item
    return {FACTS_NAME: per_target}


def read_virtual_addresses(module, wanted):
    """The report of the wanted addresses on this host; fails the task in one line if ``ip`` does."""
    rc, out, err = module.run_command(["ip", "-o", "addr", "show"], environ_update={"LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg="virtual_addresses: `ip -o addr show` failed (rc %d): %s" % (rc, (err or out).strip().splitlines()[:1]))
    return virtual_address_report(wanted, parse_ip_addr(out))


def main(client_factory=None):
    def finish(output, module):
        output["ansible_facts"] = facts(output)
        wanted = check_virtual_addresses(module.params.get("virtual_addresses"))
        if wanted:
            report = read_virtual_addresses(module, wanted)
            output["virtual_addresses"] = report
            output["ansible_facts"]["haproxy_virtual_addresses"] = dict((item["address"], item["held"]) for item in report)

    run_module(AnsibleModule, DEFINITION, ARGUMENT_SPEC, finish=finish, client_factory=client_factory)


if __name__ == "__main__":
    main()
