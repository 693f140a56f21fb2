#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_acl
short_description: Edit an HAProxy ACL pattern file live, through the runtime API, without a reload
version_added: 0.1.0
description:
  - Adds and removes the patterns of an ACL file that HAProxy loaded (C(-f <file>) in an C(acl) or an inline
    condition), through the runtime API, without a reload; optionally writes the result to the file too, so that a
    reload keeps it.
  - V(present) and V(absent) send one-line commands (C(add acl), C(del acl)) in one batch. V(exact) replaces the
    whole pattern list atomically (C(prepare acl), one C(add acl @<ver>) per pattern in one batch, then
    C(commit acl @<ver>)); requests see the old list, then the new one, never a half-filled one. HAProxy 2.6 to 3.2
    take no payload for C(add acl), so V(exact) sends one command per pattern.
  - Idempotent. The patterns are read with C(show acl) (streamed, one connection per target); only what differs is
    written, and a run with nothing to change opens one connection per target.
  - An ACL file that HAProxy did not load (not listed by C(show acl)) is refused before anything is written.
  - Needs a socket of level C(admin) to write; C(operator) is enough to read (check mode, no-ops).
options:
  acl:
    description:
      - The ACL file, as C(show acl) lists it (the file of C(-f <file>)), or C(#<id>).
    type: str
    required: true
  patterns:
    description:
      - The patterns, one string each (numbers are taken as their text).
      - A pattern may hold blanks inside; it holds no control character, does not start or end with a blank and does
        not start with C(#). A refused pattern fails the task before any connection.
    type: list
    elements: raw
    required: true
  state:
    description:
      - V(present) adds the missing patterns (C(add acl)); others are left alone.
      - V(absent) removes the patterns given (C(del acl), which removes every duplicate); a missing one is fine.
      - V(exact) makes the file hold exactly O(patterns), in their order, once each. An empty list empties it.
    type: str
    choices: [present, absent, exact]
    default: present
  persist:
    description:
      - Also write the resulting patterns to the ACL file (as C(show acl) lists it) on the host that runs the module,
        so that a reload loads them. One pattern per line; the comments of the file are not kept.
      - The file is written atomically (a temporary file in the same directory, fsync, rename) with the mode, owner
        and group of the file it replaces (C(0644) for a new file), only when the patterns it holds differ, and only
        once every target took the change and they all hold the same patterns.
    type: bool
    default: false
extends_documentation_fragment:
  - lbops.haproxy.runtime
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Sends only reads, and writes no file.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - Per target, the number of patterns, the removed ones before and the added ones after (at most 200, then
        C(omitted) says how many more).
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
notes:
  - On any failure of V(exact) before the commit took, nothing is committed; the prepared version is dropped
    (C(clear acl @<ver>)), and HAProxy drops any uncommitted version at the next commit anyway.
  - Runtime changes are lost at a reload unless O(persist=true) wrote the file HAProxy loads.
seealso:
  - module: lbops.haproxy.haproxy_map
  - name: HAProxy management guide, ACLs
    description: The C(show acl), C(add acl), C(del acl), C(prepare acl) and C(commit acl) commands.
    link: https://docs.haproxy.org/3.2/management.html#9.3-add%20acl
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Block two paths on both load balancers, and keep it across reloads
  lbops.haproxy.haproxy_acl:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
    acl: /etc/haproxy/acl/blocked.acl
    patterns: [/admin, /debug]
    persist: true

- name: Unblock one
  lbops.haproxy.haproxy_acl:
    acl: /etc/haproxy/acl/blocked.acl
    patterns: [/debug]
    state: absent

- name: Replace the whole list atomically
  lbops.haproxy.haproxy_acl:
    acl: /etc/haproxy/acl/blocked.acl
    patterns: "{{ blocked_paths }}"
    state: exact
"""

RETURN = r"""
changed:
  description: Whether any target's patterns changed, or the file was written.
  returned: always
  type: bool
persisted:
  description: Whether the ACL file was written (or would be, in check mode).
  returned: when O(persist=true)
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
      description: Whether this target's patterns changed.
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
    acl:
      description: The ACL file, as given.
      returned: success
      type: str
    file:
      description: The ACL file, as C(show acl) lists it.
      returned: success
      type: str
    id:
      description: The ACL file's id, as C(show acl) lists it.
      returned: success
      type: int
    count:
      description: The number of patterns after the run (predicted in check mode).
      returned: success
      type: int
    added:
      description: The number of patterns added.
      returned: success
      type: int
    updated:
      description: Always 0 (a pattern has no value).
      returned: success
      type: int
    removed:
      description: The number of patterns removed.
      returned: success
      type: int
    commands:
      description:
        - The write commands sent (or that would be sent, in check mode).
        - In check mode, the version of V(exact) is the one HAProxy would give (C(next_ver) + 1).
      returned: always
      type: list
      elements: str
      sample: ["add acl /etc/haproxy/acl/blocked.acl /admin"]
diff:
  description: Per target (keyed by socket), and for the file (key C(file:<path>)), the patterns removed and added.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: C(count) and the removed C(patterns), per target.
      returned: in diff mode
      type: dict
    after:
      description: C(count) and the added C(patterns), per target.
      returned: in diff mode
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils._maps import ACL, STATES, PatternFile  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import run_module  # noqa: E402

ARGUMENT_SPEC = dict(
    acl=dict(type="str", required=True),
    patterns=dict(type="list", elements="raw", required=True),
    state=dict(type="str", choices=list(STATES), default="present"),
    persist=dict(type="bool", default=False),
)

DEFINITION = PatternFile(ACL)


def main(client_factory=None):
    run_module(AnsibleModule, DEFINITION, ARGUMENT_SPEC, client_factory=client_factory)


if __name__ == "__main__":
    main()
