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

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils._common import run_on_targets, runtime_argument_spec  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._frontend import converge, validate_request  # noqa: E402


def argument_spec():
    spec = runtime_argument_spec()
    spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", required=True, choices=["enabled", "disabled"]),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        request = validate_request(module.params)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    run_on_targets(module, lambda client: converge(client, request, module.check_mode))


if __name__ == "__main__":
    main()
