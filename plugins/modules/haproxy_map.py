#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_map
short_description: Edit an HAProxy map live, through the runtime API, without a reload
version_added: 0.1.0
description:
  - Sets, adds and removes the entries of a map that HAProxy loaded (C(map(<file>)) in the configuration),
    through the runtime API, without a reload; optionally writes the result to the map file too, so that a
    reload keeps it.
  - V(present) and V(absent) send one-line commands (C(set map), C(add map), C(del map)) in one batch.
    V(exact) replaces the whole map atomically (C(prepare map), the entries into the new version as payloads of
    C(add map @<ver>), then C(commit map @<ver>)); requests see the old map, then the new one, never a half-filled one.
  - Idempotent. The map is read with C(show map) (streamed, one connection per target); only what differs is
    written, and a run with nothing to change opens one connection per target.
  - A map that HAProxy did not load (not listed by C(show map)) is refused before anything is written.
  - Needs a socket of level C(admin) to write; C(operator) is enough to read (check mode, no-ops).
options:
  map:
    description:
      - The map, as C(show map) lists it, the file name of the configuration's C(map(<file>)), or C(#<id>).
    type: str
    required: true
  entries:
    description:
      - The entries, a dict of key to value, or a list of C({key, value}) (the list keeps its order).
      - With O(state=absent), a list of keys is enough (values are ignored).
      - Keys hold no blank (C(show map) and the map file split a line at its first blank, so such a key could never be
        read back), no control character, and do not start with C(#). Values hold no control character and do not
        start or end with a blank. Numbers are taken as their text. A refused key or value fails the task before any
        connection.
    type: raw
    required: true
  state:
    description:
      - V(present) gives every key of O(entries) its value (C(set map) for a key of another value, which sets every
        duplicate of the key, C(add map) for a missing key); other keys are left alone.
      - V(absent) removes the keys of O(entries) (C(del map), which removes every duplicate of a key); a missing key is fine.
      - V(exact) makes the map hold exactly O(entries), in their order, one entry per key (duplicates are rewritten).
        Order matters to C(map_beg), C(map_reg) and the like (the first match wins). An empty O(entries) empties the map.
    type: str
    choices: [present, absent, exact]
    default: present
  persist:
    description:
      - Also write the resulting map to its file (as C(show map) lists it) on the host that runs the module, so that a
        reload loads it. One C(key value) line per entry; the comments of the file are not kept.
      - The file is written atomically (a temporary file in the same directory, fsync, rename) with the mode, owner
        and group of the file it replaces (C(0644) for a new file), only when the entries it holds differ, and only
        once every target took the change and they all hold the same map.
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
      - Per target, the number of entries and the changed keys with their values before and after (at most 200 keys,
        then C(omitted) says how many more).
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
notes:
  - On any failure of V(exact) before the commit took, nothing is committed; the prepared version is dropped
    (C(clear map @<ver>)), and HAProxy drops any uncommitted version at the next commit of the map anyway.
  - HAProxy reads a command and its payload into one buffer (C(tune.bufsize), 16 kB by default); the module cuts the
    entries of V(exact) into payloads of less than 15,000 bytes, and sends each once HAProxy answered the one before
    (HAProxy 3.2 closes the connection behind about 64 kB of waiting payload commands).
  - Runtime changes are lost at a reload unless O(persist=true) wrote the file HAProxy loads.
seealso:
  - module: lbops.haproxy.haproxy_acl
  - name: HAProxy management guide, maps
    description: The C(show map), C(set map), C(add map), C(del map), C(prepare map) and C(commit map) commands.
    link: https://docs.haproxy.org/3.2/management.html#9.3-add%20map
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Route two more host names, on both load balancers, and keep it across reloads
  lbops.haproxy.haproxy_map:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
    map: /etc/haproxy/maps/hosts.map
    entries:
      shop.example.com: be_shop
      api.example.com: be_api
    persist: true

- name: Remove a host name
  lbops.haproxy.haproxy_map:
    map: /etc/haproxy/maps/hosts.map
    entries: [old.example.com]
    state: absent

- name: Replace the whole map atomically (requests never see a half-filled map)
  lbops.haproxy.haproxy_map:
    map: /etc/haproxy/maps/hosts.map
    entries: "{{ routes }}"
    state: exact
"""

RETURN = r"""
changed:
  description: Whether any target's map changed, or the file was written.
  returned: always
  type: bool
persisted:
  description: Whether the map file was written (or would be, in check mode).
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
      description: Whether this target's map changed.
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
    map:
      description: The map, as given.
      returned: success
      type: str
    file:
      description: The map's file, as C(show map) lists it.
      returned: success
      type: str
    id:
      description: The map's id, as C(show map) lists it.
      returned: success
      type: int
    count:
      description: The number of entries after the run (predicted in check mode).
      returned: success
      type: int
    added:
      description: The number of keys added.
      returned: success
      type: int
    updated:
      description: The number of keys whose value changed.
      returned: success
      type: int
    removed:
      description: The number of keys removed.
      returned: success
      type: int
    commands:
      description:
        - The write commands sent (or that would be sent, in check mode); a payload command is shown without its payload.
        - In check mode, the version of V(exact) is the one HAProxy would give (C(next_ver) + 1).
      returned: always
      type: list
      elements: str
      sample: ["set map /etc/haproxy/maps/hosts.map shop.example.com be_shop"]
diff:
  description: Per target (keyed by socket), and for the file (key C(file:<path>)), the changed entries before and after.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: C(count) and the C(entries) (changed keys only) before, per target.
      returned: in diff mode
      type: dict
    after:
      description: The same after.
      returned: in diff mode
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils._maps import MAP, STATES, PatternFile  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import run_module  # noqa: E402

ARGUMENT_SPEC = dict(
    map=dict(type="str", required=True),
    entries=dict(type="raw", required=True),
    state=dict(type="str", choices=list(STATES), default="present"),
    persist=dict(type="bool", default=False),
)

DEFINITION = PatternFile(MAP)


def main(client_factory=None):
    run_module(AnsibleModule, DEFINITION, ARGUMENT_SPEC, client_factory=client_factory)


if __name__ == "__main__":
    main()
