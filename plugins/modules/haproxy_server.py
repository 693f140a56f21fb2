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
      - Backends using a static algorithm (for example C(static-rr)) only accept V(0%) and V(100%); HAProxy's
        refusal fails the task with HAProxy's message.
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

from ansible_collections.lbops.haproxy.plugins.module_utils._common import run_on_targets, runtime_argument_spec  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._server import converge, validate_request  # noqa: E402


def argument_spec():
    spec = runtime_argument_spec()
    spec.update(
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
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("wait", True, ["state"])])
    try:
        request = validate_request(module.params)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    run_on_targets(module, lambda client: converge(client, request, module.check_mode))


if __name__ == "__main__":
    main()
