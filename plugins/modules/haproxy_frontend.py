#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_frontend
short_description: Enable or disable an HAProxy frontend at runtime
version_added: 0.1.0
description:
  - Enables or disables (pauses) a frontend through HAProxy's runtime API (the stats socket). A disabled
    frontend stops accepting new connections; the open ones continue.
  - The current state is read from the C(status) of the frontend's C(show stat) row (C(OPEN), C(PAUSED),
    C(STOP)); a run with nothing to change sends no write at all.
  - A stopped frontend (shut down at runtime, or C(disabled) in the configuration) cannot be enabled
    again without a reload; asking for V(enabled) then fails before anything is sent. Asking for
    V(disabled) succeeds without change, since it accepts no connection either.
  - The change is lost when HAProxy reloads.
author:
  - lbops maintainers (@lbops)
extends_documentation_fragment:
  - lbops.haproxy.runtime
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode reads the frontend and predicts the command and the resulting state; it sends no write.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff holds, per target, the frontend's state and status.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
    support: full
options:
  name:
    description:
      - Name of the frontend (or of a C(listen) section).
    type: str
    required: true
  state:
    description:
      - V(enabled) accepts connections, V(disabled) pauses the frontend's listeners.
    type: str
    required: true
    choices: [enabled, disabled]
notes:
  - Writes need a socket declared with C(level admin); the level is read first, and a lower level fails the
    task before anything is sent. Check mode fails the same way, so that it predicts the real run.
  - HAProxy 2.6 releases before 2.6.12 show a disabled frontend as C(OPEN); this module relies on
    the C(PAUSED) status of 2.6.12 and later.
seealso:
  - module: lbops.haproxy.haproxy_server
"""

EXAMPLES = r"""
- name: Stop accepting new connections on both members of the HA pair
  lbops.haproxy.haproxy_frontend:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
    name: fe_main
    state: disabled

- name: Accept connections again
  lbops.haproxy.haproxy_frontend:
    name: fe_main
    state: enabled
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
      description: The command sent (in check mode, that would be sent).
      returned: success
      type: list
      elements: str
      sample: ["disable frontend fe_main"]
    frontend:
      description: The frontend as read after the change (in check mode, as predicted).
      returned: success
      type: dict
      contains:
        name:
          description: Frontend name.
          type: str
          returned: always
          sample: fe_main
        state:
          description: V(enabled), V(disabled) or V(stopped).
          type: str
          returned: always
          sample: disabled
        status:
          description: The C(status) column of C(show stat).
          type: str
          returned: always
          sample: PAUSED
diff:
  description: With C(--diff), the state before and after, keyed by target then by frontend name.
  returned: when diff mode is enabled
  type: dict
  contains:
    before:
      description: State before the run, per target.
      type: dict
      returned: always
      sample: {"/run/haproxy/admin.sock": {"fe_main": {"state": "enabled", "status": "OPEN"}}}
    after:
      description: State after the run (predicted in check mode), per target.
      type: dict
      returned: always
      sample: {"/run/haproxy/admin.sock": {"fe_main": {"state": "disabled", "status": "PAUSED"}}}
"""

import re  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._diff import Difference  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import NotFound, ProtocolError, StateError  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Definition, Plan, Read, run_module  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._validate import check_name, escape_arg  # noqa: E402

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", required=True, choices=["enabled", "disabled"]),
)

# A frontend's state is the first word of the 'status' of its FRONTEND row in
# 'show stat <name> 3 -1'. HAProxy (2.6, 3.0 and 3.2 alike) lists no row at all
# for a frontend disabled in the configuration, while it answers 'No such proxy'
# for a name it does not know: an existing proxy without rows is stopped.
_STATUS = {"OPEN": "enabled", "FULL": "enabled", "PAUSED": "disabled", "STOP": "stopped"}
# The status a runtime enable or disable leads to.
_AFTER_STATUS = {"enabled": "OPEN", "disabled": "PAUSED"}


# 'show stat <name>' looks a name up and, when no proxy has it, reads it as a proxy
# id with atoi(): '-1' lists every proxy, '2abc' proxy #2 (2.6 to 3.2).
_READ_AS_ID = re.compile(r"\s*[-+]?\d")


def decode(name, rows):
    """``(state, status)`` of frontend ``name`` from its ``show stat`` rows.

    Only rows of the proxy named ``name`` count: an unknown name that HAProxy
    read as a proxy id answers another proxy's rows (or none).
    """
    by_id = name.startswith("#")
    own = [row for row in rows if by_id or row.get("pxname") == name]
    if len(own) != len(rows) or (by_id and len(set(row.get("pxname") for row in own)) > 1):
        raise NotFound("no frontend named %s (HAProxy's 'show stat' read the name as a proxy id and answered for %s); "
                       "nothing was sent" % (name, ", ".join(sorted(set(str(row.get("pxname")) for row in rows)))))
    frontend = [row for row in own if row.get("svname") == "FRONTEND"]
    if not frontend:
        if any(row.get("svname") == "BACKEND" for row in own):
            raise NotFound("%s is a backend, not a frontend; nothing was sent" % name)
        if not by_id and _READ_AS_ID.match(name):
            raise NotFound("cannot tell whether frontend %s exists: HAProxy lists no row for it, and 'show stat' reads "
                           "a name that starts with a number as a proxy id when no proxy has that name; nothing was sent"
                           % name)
        return "stopped", "STOP"
    status = (frontend[0].get("status") or "").strip()
    word = status.split(" ", 1)[0] if status else ""
    if word not in _STATUS:
        raise ProtocolError("unknown status %r for frontend %s" % (status, name))
    return _STATUS[word], status


class Frontend(Definition):
    def request(self, params):
        return {"name": check_name(params["name"], "frontend name"), "state": params["state"]}

    def reads(self, request):
        return [Read("stat", "show stat %s 3 -1" % escape_arg(request["name"]), parsers.parse_stat_csv,
                     missing="unknown frontend %s" % request["name"])]

    def plan(self, request, state):
        name, wanted = request["name"], request["state"]
        current, status = decode(name, state["stat"])
        before = {"state": current, "status": status}
        if current == "stopped" and wanted == "enabled":
            raise StateError(
                "frontend %s is stopped (shut down at runtime, or disabled in the configuration) and HAProxy cannot "
                "enable it again: only a reload (or restart) brings it back; nothing was sent" % name)
        commands = []
        after = before
        # A stopped frontend accepts no connection: that is more than disabled.
        if current not in ("stopped", wanted):
            commands = ["%s frontend %s" % ("enable" if wanted == "enabled" else "disable", escape_arg(name))]
            after = {"state": wanted, "status": _AFTER_STATUS[wanted]}
        return Plan(commands, Difference().add(name, before, after),
                    result={"commands": commands, "frontend": dict(after, name=name)})

    def observe(self, request, state, plan, step):
        name = request["name"]
        current, status = decode(name, state["stat"])
        if current != request["state"]:
            raise StateError("HAProxy accepted '%s' but frontend %s is still %s (status %s)"
                             % (plan.commands[0], name, current, status))
        after = {"state": current, "status": status}
        return {"commands": list(step.sent), "frontend": dict(after, name=name)}, {name: after}


DEFINITION = Frontend()


def main(client_factory=None):
    run_module(AnsibleModule, DEFINITION, ARGUMENT_SPEC, client_factory=client_factory)


if __name__ == "__main__":
    main()
