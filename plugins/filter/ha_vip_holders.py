# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: ha_vip_holders
short_description: Say which members of a pair hold each virtual address, and name a split brain
version_added: 0.1.0
description:
  - Joins what M(lbops.haproxy.haproxy_info) found on each member (its RV(lbops.haproxy.haproxy_info#module:virtual_addresses))
    into one verdict per virtual address.
  - C(state) is V(ok) when exactly one member holds the address, V(split_brain) when more than one does (the members
    no longer hear each other's VRRP adverts, and each claims the address), V(none) when none does, and V(unknown)
    when no member answered and none holds it.
  - Raises an error for input it cannot read.
positional: members
options:
  _input:
    description:
      - Per member name, the RV(lbops.haproxy.haproxy_info#module:virtual_addresses) list that member returned.
      - A member that is not there (unreachable, failed) counts as unknown.
    type: dict
    required: true
  members:
    description: Every member of the pair, in order.
    type: list
    elements: str
    required: true
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Read the virtual addresses on each member
  lbops.haproxy.haproxy_info:
    gather: [info]
    virtual_addresses: [10.0.0.100]
  register: ha

- name: Fail unless each virtual address is on exactly one member
  ansible.builtin.assert:
    that: verdict | selectattr('state', 'ne', 'ok') | list | length == 0
    fail_msg: "{{ verdict }}"
  vars:
    verdict: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, ['ha', 'virtual_addresses'])))
         | lbops.haproxy.ha_vip_holders(ansible_play_hosts_all) }}
  run_once: true
"""

RETURN = r"""
_value:
  description:
    - One item per address, in the order the first member that answered gave them, with C(address), C(state)
      (V(ok), V(split_brain), V(none) or V(unknown)), C(holders) (members holding it, in O(members) order) and
      C(unknown) (members that gave no answer).
  type: list
  elements: dict
"""

from collections.abc import Mapping  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402


def _fail(msg):
    raise AnsibleFilterError("ha_vip_holders: %s" % msg)


def _reports(value, member):
    """One member's report as {address: held}; None when it gave none."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, Mapping) and "address" in item and "held" in item for item in value):
        _fail("the report of %s must be a list of {address, held} (haproxy_info's virtual_addresses)" % member)
    return dict((str(item["address"]), bool(item["held"])) for item in value)


def ha_vip_holders(reports, members):
    if not isinstance(reports, Mapping):
        _fail("the input must map each member to its virtual_addresses report")
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        _fail("members must be a list of host names")
    known = {}
    for member in members:
        known[member] = _reports(reports.get(member), member)
    addresses = []
    for member in members:
        for address in known[member] or {}:
            if address not in addresses:
                addresses.append(address)
    out = []
    for address in addresses:
        holders = [m for m in members if (known[m] or {}).get(address)]
        unknown = [m for m in members if known[m] is None]
        if len(holders) > 1:
            state = "split_brain"
        elif len(holders) == 1:
            state = "ok"
        elif unknown:
            state = "unknown"
        else:
            state = "none"
        out.append({"address": address, "state": state, "holders": holders, "unknown": unknown})
    return out


class FilterModule(object):
    def filters(self):
        return {"ha_vip_holders": ha_vip_holders}
