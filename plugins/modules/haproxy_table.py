#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_table
short_description: Set or clear HAProxy stick-table entries through the runtime API
version_added: 0.1.0
description:
  - Clears a stick table, some of its keys, or the entries matching a filter,
    or sets the data of given keys, through HAProxy's runtime API.
  - Reads before it writes and writes only what differs, so a repeated run reports no change.
  - Keys are checked against the table's type, read from HAProxy, before anything is written
    (HAProxy 2.6 silently stores an unparsable key of an C(ip) table as C(0.0.0.0)).
  - A full or filtered clear skips the entries in use by live sessions and, on HAProxy 2.6 to 3.x,
    the entry just before each of them. The module re-reads the table afterwards and removes
    such leftovers by key, retries the entries in use until O(wait_timeout), and reports those left.
  - Tables are read as a stream; a table of millions of entries is counted and cleared in constant memory.
  - Needs a socket of level C(operator) or C(admin). On a C(user)-level socket HAProxy answers a
    clear without removing anything, so the module refuses such a socket.
options:
  name:
    description:
      - The stick table, named after its proxy (frontend or backend).
      - Tables declared in a C(peers) section are named C(<peers>/<table>).
    type: str
    required: true
  state:
    description:
      - V(absent) removes the entries selected by O(keys) or O(filter), or every entry when neither is given.
      - V(present) makes sure every key of O(keys) exists and holds the values of O(data).
    type: str
    choices: [absent, present]
    default: absent
  keys:
    description:
      - Keys to remove (O(state=absent)) or to set (O(state=present), then required).
      - Written as HAProxy shows them, for example V(10.0.0.1) for an C(ip) table.
      - HAProxy 2.6 cannot address keys of C(binary) tables one by one; clear those tables as a whole or with O(filter).
    type: list
    elements: str
  data:
    description:
      - With O(state=present), the stored data to set on every key of O(keys), as a mapping of
        data type (for example C(server_id) or C(gpc0)) to a non-negative integer.
      - Only the data types named here are compared and written; a key missing from the
        table is created with the others at zero.
      - Rates (C(*_rate)) decay over time, so setting them is not idempotent.
    type: dict
  filter:
    description:
      - With O(state=absent) and no O(keys), clear only the entries matching every item (they are ANDed).
      - At most 4 items, the limit of HAProxy (C(STKTABLE_FILTER_LEN)), checked before anything is sent.
    type: list
    elements: dict
    suboptions:
      data:
        description: Stored data type to compare, for example V(gpc0) or V(http_req_rate).
        type: str
        required: true
      operator:
        description: Comparison.
        type: str
        choices: [eq, ne, le, ge, lt, gt]
        required: true
      value:
        description: Integer to compare with.
        type: int
        required: true
  wait_timeout:
    description:
      - Seconds to keep retrying entries that a live session holds (in use) when removing.
      - V(0) removes what can be removed right away.
    type: float
    default: 0
  fail_on_in_use:
    description:
      - Whether entries still in use after O(wait_timeout) fail the task.
      - With V(false) they are reported in RV(results[].in_use) and as a warning.
    type: bool
    default: true
  max_entries:
    description:
      - How many entries (and commands) to report at most in RV(results[].before), RV(results[].after)
        and the diff. Counts are always exact.
    type: int
    default: 100
extends_documentation_fragment:
  - lbops.haproxy.runtime
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Sends only reads. Entries in use are not counted as removable.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
notes:
  - Entries set or cleared through the runtime API are lost when HAProxy reloads unless the table
    belongs to a C(peers) section with a local peer.
seealso:
  - name: HAProxy management guide, stick tables
    description: The C(show table), C(set table) and C(clear table) commands.
    link: https://docs.haproxy.org/2.6/management.html#9.3-clear%20table
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Empty the table of the fail-over backend on both load balancers
  lbops.haproxy.haproxy_table:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
    name: be_failover

- name: Unban two clients, waiting up to 10 s for their connections to end
  lbops.haproxy.haproxy_table:
    name: fe_main
    keys: [192.0.2.10, 192.0.2.11]
    wait_timeout: 10

- name: Forget the clients that made more than 100 requests, keeping those still connected
  lbops.haproxy.haproxy_table:
    name: fe_main
    filter:
      - data: gpc0
        operator: gt
        value: 100
    fail_on_in_use: false

- name: Pin a client to server 2
  lbops.haproxy.haproxy_table:
    name: be_app
    state: present
    keys: [198.51.100.7]
    data:
      server_id: 2

- name: Table of a peers section
  lbops.haproxy.haproxy_table:
    name: mypeers/sessions
    keys: [user42]
"""

RETURN = r"""
changed:
  description: Whether any target had an entry removed or altered.
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
      description: Whether an entry was removed or altered on this target.
      returned: always
      type: bool
    failed:
      description: Whether this target failed.
      returned: always
      type: bool
    msg:
      description: Why this target failed.
      returned: when failed
      type: str
    table:
      description: The table as C(show table) lists it.
      returned: when the table was found
      type: dict
      sample: {"name": "fe_main", "type": "ip", "size": 1024, "used": 4}
    before:
      description:
        - The selected entries before the run. For O(keys), the existing keys among them;
          otherwise the whole table or the entries matching O(filter).
        - C(count) and C(in_use) are exact; C(entries) holds at most O(max_entries) entries
          (C(key), C(use), C(data), and C(shard) on HAProxy 2.7+) and C(truncated) says whether some were left out.
      returned: when the table was read
      type: dict
      sample:
        count: 2
        in_use: 1
        truncated: false
        entries:
          - {"key": "10.9.0.1", "use": 0, "data": {"gpc0": 3, "conn_cur": 0, "http_req_rate": 1}}
          - {"key": "10.9.0.2", "use": 1, "data": {"gpc0": 1, "conn_cur": 1, "http_req_rate": 1}}
    after:
      description: The same selection after the run (re-read), or as predicted in check mode.
      returned: when the table was read
      type: dict
      sample: {"count": 1, "in_use": 1, "truncated": false, "entries": [{"key": "10.9.0.2", "use": 1, "data": {"gpc0": 1}}]}
    removed:
      description: How many entries were removed (or would be, in check mode).
      returned: success
      type: int
      sample: 1
    updated:
      description: Keys set (or to set, in check mode), at most O(max_entries) of them.
      returned: when O(state=present)
      type: list
      elements: str
      sample: [198.51.100.7]
    updated_count:
      description: How many keys were set (or would be).
      returned: when O(state=present)
      type: int
    in_use:
      description: Keys still held by live sessions, hence not removed (at most O(max_entries)).
      returned: success
      type: list
      elements: str
      sample: [10.9.0.2]
    in_use_count:
      description: How many entries are still held by live sessions.
      returned: when O(state=absent)
      type: int
      sample: 1
    commands:
      description: The write commands sent (in check mode, those that would be sent), at most O(max_entries).
      returned: when the table was read
      type: list
      elements: str
      sample: ["clear table fe_main", "clear table fe_main key 10.9.0.1"]
    commands_count:
      description: How many write commands were sent (or would be).
      returned: when the table was read
      type: int
    warnings:
      description: Entries left behind when O(fail_on_in_use=false).
      returned: when there is something to warn about
      type: list
      elements: str
diff:
  description: Per target (keyed by socket), the selected entries before and after, as in RV(results[].before) and RV(results[].after).
  returned: in diff mode
  type: dict
  contains:
    before:
      description: Entries and counts before, per target.
      returned: in diff mode
      type: dict
    after:
      description: Entries and counts after, per target.
      returned: in diff mode
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils._common import run_on_targets, runtime_argument_spec  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._table import TableRequest, run  # noqa: E402


def main():
    argument_spec = runtime_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="absent", choices=["absent", "present"]),
        keys=dict(type="list", elements="str", no_log=False),
        data=dict(type="dict"),
        filter=dict(type="list", elements="dict", options=dict(
            data=dict(type="str", required=True),
            operator=dict(type="str", required=True, choices=["eq", "ne", "le", "ge", "lt", "gt"]),
            value=dict(type="int", required=True),
        )),
        wait_timeout=dict(type="float", default=0),
        fail_on_in_use=dict(type="bool", default=True),
        max_entries=dict(type="int", default=100),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("keys", "filter")],
        required_if=[("state", "present", ("keys",))],
    )
    try:
        request = TableRequest(module.params)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))

    def finish(output):
        for result in output["results"]:
            for warning in result.get("warnings") or []:
                module.warn("%s: %s" % (result["socket"], warning))

    run_on_targets(module, lambda client: run(client, request, module.check_mode), finish=finish)


if __name__ == "__main__":
    main()
