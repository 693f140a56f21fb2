# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: keepalived_peers
short_description: Find the unicast peers of each keepalived instance among the other members
version_added: 0.1.0
description:
  - Compares this host's derived instances (the output of P(lbops.haproxy.keepalived_resolve#filter)) with the
    other members' and returns, per instance, its unicast peers (given, or the other members' own address on that
    instance's interface), the members whose instances are not known (not in the play), and the members that
    describe the instance differently (another C(virtual_router_id) or other C(virtual_ipaddresses), or no such
    instance).
  - Raises an error for input it cannot read.
positional: others, members, host
options:
  _input:
    description: This host's derived instances.
    type: list
    elements: dict
    required: true
  others:
    description:
      - Per host name, its variables (C(hostvars)), where O(key) holds that member's derived instances.
      - A member without that key is reported as missing.
    type: dict
    required: true
  members:
    description: The members of the VRRP group.
    type: list
    elements: str
    required: true
  host:
    description: This host's name (left out of its own peers).
    type: str
    required: true
  key:
    description: The variable of each member that holds its derived instances.
    type: str
    default: _keepalived_resolved
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Find the unicast peers, once every member has derived its instances
  ansible.builtin.set_fact:
    peers: "{{ _keepalived_resolved | lbops.haproxy.keepalived_peers(hostvars, groups['loadbalancers'], inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description:
    - One item per instance of O(_input), with C(name), C(peers) (the given C(unicast_peers), else the other
      members' C(src) in inventory order), C(missing) (members whose instances are unknown) and C(mismatch)
      (members that describe the instance differently).
  type: list
  elements: dict
"""

from collections.abc import Mapping  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402


def _fail(msg):
    raise AnsibleFilterError("keepalived_peers: %s" % msg)


def keepalived_peers(resolved, others, members, host, key="_keepalived_resolved"):
    if not isinstance(resolved, list) or not all(isinstance(r, Mapping) and "name" in r for r in resolved):
        _fail("the input must be a list of derived instances (the output of keepalived_resolve)")
    if not isinstance(others, Mapping):
        _fail("others must be a mapping of host names to their variables (hostvars)")
    if not isinstance(members, list):
        _fail("members must be a list of host names")
    theirs = {}
    for member in members:
        if member == host:
            continue
        hv = others[member] if member in others else {}
        value = hv[key] if key in hv else None
        if value is not None and not (isinstance(value, list) and all(isinstance(r, Mapping) for r in value)):
            _fail("%s of %s must be a list of derived instances" % (key, member))
        theirs[member] = value
    out = []
    for r in resolved:
        peers, missing, mismatch = [], [], []
        for member, value in theirs.items():
            if value is None:
                missing.append(member)
                continue
            same = [t for t in value if t.get("name") == r["name"]]
            if not same or same[0].get("virtual_router_id") != r.get("virtual_router_id") or list(same[0].get("virtual_ipaddresses") or []) != list(
                r.get("virtual_ipaddresses") or []
            ):
                mismatch.append(member)
            elif same[0].get("src"):
                peers.append(same[0]["src"])
        given = r.get("unicast_peers")
        out.append({"name": r["name"], "peers": list(given) if given is not None else peers, "missing": missing, "mismatch": mismatch})
    return out


class FilterModule(object):
    def filters(self):
        return {"keepalived_peers": keepalived_peers}
