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
ansible_facts:
  description: Facts set by the module.
  returned: always
  type: dict
  contains:
    haproxy_runtime:
      description: Per socket that answered, the same data as its item of RV(results), without C(socket), C(changed) and C(failed).
      returned: always
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils._common import run_on_targets, runtime_argument_spec  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._info import check_gather, facts, gather_facts  # noqa: E402


def main():
    argument_spec = runtime_argument_spec()
    argument_spec.update(
        gather=dict(type="list", elements="str", default=["all"], choices=["all", "info", "servers", "frontends", "tables"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        gather = check_gather(module.params["gather"])
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))

    def finish(output):
        output["ansible_facts"] = facts(output)

    run_on_targets(module, lambda client: gather_facts(client, gather), finish=finish)


if __name__ == "__main__":
    main()
