# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: keepalived_resolve
short_description: Derive what one member of a VRRP group uses for each keepalived instance
version_added: 0.1.0
description:
  - For every instance of O(_input), derives what this host writes into C(keepalived.conf) - the
    interface (given, or the only one whose IPv4 network holds the instance's first virtual address),
    the host's own address there (C(unicast_src_ip)), the initial state and the priority (from the host's
    position among O(members), unless set), and the instance's other settings with their defaults.
  - The role C(lbops.haproxy.keepalived) uses it and checks the result (no interface found, several,
    priority out of range) with its own messages.
  - Raises an error naming the instance and the value for input it cannot read (an address that is not IPv4,
    a prefix out of range, a missing key).
positional: facts, members, host, defaults
options:
  _input:
    description: The instances (C(keepalived_instances) of the role), each with at least C(name),
      C(virtual_router_id) and C(virtual_ipaddresses) (C(ADDRESS[/PREFIX] [options])).
    type: list
    elements: dict
    required: true
  facts:
    description: The host's facts (C(ansible_facts)) with the network subset (C(interfaces) and one key per interface).
    type: dict
    required: true
  members:
    description: The members of the VRRP group, in order; the first one is MASTER by default.
    type: list
    elements: str
    required: true
  host:
    description: This host's name among O(members). A host that is not a member counts as the first one.
    type: str
    required: true
  defaults:
    description:
      - The host-level defaults of the instance settings, keyed C(state), C(priority), C(priority_base),
        C(priority_step), C(nopreempt), C(preempt_delay), C(advert_int) and C(unicast) (the role's
        C(keepalived_*) variables of those names).
      - An instance's own value wins, except an empty C(state)/C(interface) and a C(priority) of 0,
        which mean "derive it".
    type: dict
    required: true
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Derive the instances of this member
  ansible.builtin.set_fact:
    resolved: >-
      {{ keepalived_instances | lbops.haproxy.keepalived_resolve(ansible_facts, groups['loadbalancers'],
         inventory_hostname, {'state': '', 'priority': 0, 'priority_base': 150, 'priority_step': 10,
         'nopreempt': false, 'preempt_delay': 0, 'advert_int': 1, 'unicast': false}) }}
"""

RETURN = r"""
_value:
  description:
    - One item per instance, in the order of O(_input), with C(name), C(virtual_router_id), C(virtual_ipaddresses),
      C(vip) (the first virtual address, without prefix), C(interface) (empty when it cannot be derived),
      C(interface_given), C(interface_candidates) (the devices whose network holds C(vip)), C(src) (this host's
      address on the interface, preferably in the VIP's network; empty when it has none), C(state) (upper case),
      C(state_given), C(priority), C(nopreempt), C(preempt_delay), C(advert_int), C(unicast), C(unicast_peers)
      (None when not given), C(track_haproxy) and C(extra).
  type: list
  elements: dict
"""

import ipaddress  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible.module_utils.parsing.convert_bool import boolean  # noqa: E402

_DEFAULT_KEYS = ("state", "priority", "priority_base", "priority_step", "nopreempt", "preempt_delay", "advert_int", "unicast")


def _fail(msg):
    raise AnsibleFilterError("keepalived_resolve: %s" % msg)


def _unset(value):
    return value is None or (isinstance(value, str) and value == "")


def _int(value, what):
    if isinstance(value, bool):
        _fail("%s must be an integer, not %r" % (what, value))
    try:
        return int(value)
    except (TypeError, ValueError):
        _fail("%s must be an integer, not %r" % (what, value))


def _bool(value, what):
    try:
        return boolean(value, strict=True)
    except TypeError:
        _fail("%s must be a boolean, not %r" % (what, value))


def host_ipv4(facts):
    """The host's IPv4 addresses outside loopback, from its network facts: [{device, address, prefix}]."""
    if not isinstance(facts, dict):
        _fail("facts must be a dict (ansible_facts), not %s" % type(facts).__name__)
    out = []
    for name in facts.get("interfaces") or []:
        iface = facts.get("".join(c if c.isalnum() or c == "_" else "_" for c in name))
        if not isinstance(iface, dict) or iface.get("type") == "loopback":
            continue
        addrs = ([iface["ipv4"]] if isinstance(iface.get("ipv4"), dict) else []) + list(iface.get("ipv4_secondaries") or [])
        for a in addrs:
            if a.get("address") is None or a.get("prefix") is None:
                continue
            try:
                net = ipaddress.IPv4Interface("%s/%s" % (a["address"], a["prefix"]))
            except ValueError as exc:
                _fail("the facts of interface %s hold an invalid IPv4 address: %s" % (name, exc))
            out.append({"device": iface.get("device", name), "address": str(net.ip), "prefix": net.network.prefixlen, "network": net.network})
    return out


def _vip(text, instance):
    word = str(text).strip().split(" ", 1)[0].split("/", 1)[0]
    try:
        return ipaddress.IPv4Address(word)
    except ValueError:
        _fail("instance %s: virtual address %r is not an IPv4 address" % (instance, str(text)))


def keepalived_resolve(instances, facts, members, host, defaults):
    if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
        _fail("the input must be a list of instances (dicts)")
    if not isinstance(members, list):
        _fail("members must be a list of host names")
    if not isinstance(defaults, dict):
        _fail("defaults must be a dict")
    missing = [k for k in _DEFAULT_KEYS if k not in defaults]
    if missing:
        _fail("defaults lack %s" % ", ".join(missing))
    for inst in instances:
        for key in ("name", "virtual_router_id", "virtual_ipaddresses"):
            if key not in inst:
                _fail("an instance lacks %s: %s" % (key, inst.get("name", "(no name)")))
        if not isinstance(inst["virtual_ipaddresses"], list) or not inst["virtual_ipaddresses"]:
            _fail("instance %s: virtual_ipaddresses must be a non-empty list" % inst["name"])

    addrs = host_ipv4(facts)
    all_vips = set(str(_vip(v, i["name"])) for i in instances for v in i["virtual_ipaddresses"])
    idx = members.index(host) if host in members else 0
    base = _int(defaults["priority_base"], "priority_base")
    step = _int(defaults["priority_step"], "priority_step")
    out = []
    for inst in instances:
        name = inst["name"]
        vip = _vip(inst["virtual_ipaddresses"][0], name)
        own = [a for a in addrs if a["address"] not in all_vips]
        found = [a for a in own if vip in a["network"]]
        given = "" if _unset(inst.get("interface")) else str(inst["interface"])
        candidates = []
        for a in found:
            if a["device"] not in candidates:
                candidates.append(a["device"])
        iface = given or (candidates[0] if len(candidates) == 1 else "")
        src_choices = [a for a in found if a["device"] == iface] + [a for a in own if a["device"] == iface]

        def setting(key, inst=inst):
            value = inst.get(key)
            # A priority of 0 means "derive it", like an unset one.
            return defaults[key] if _unset(value) or (key == "priority" and value == 0) else value

        nopreempt = _bool(setting("nopreempt"), "%s: nopreempt" % name)
        state_set = setting("state")
        state_given = not _unset(state_set)
        state = str(state_set) if state_given else ("MASTER" if idx == 0 and not nopreempt else "BACKUP")
        priority = _int(setting("priority"), "%s: priority" % name) or (base - idx * step)
        track = inst.get("track_haproxy")
        out.append(
            {
                "name": name,
                "virtual_router_id": _int(inst["virtual_router_id"], "%s: virtual_router_id" % name),
                "virtual_ipaddresses": inst["virtual_ipaddresses"],
                "vip": str(vip),
                "interface": iface,
                "interface_given": bool(given),
                "interface_candidates": candidates,
                "src": src_choices[0]["address"] if src_choices else "",
                "state": state.upper(),
                "state_given": state_given,
                "priority": priority,
                "nopreempt": nopreempt,
                "preempt_delay": _int(setting("preempt_delay") or 0, "%s: preempt_delay" % name),
                "advert_int": setting("advert_int"),
                "unicast": _bool(setting("unicast"), "%s: unicast" % name),
                "unicast_peers": inst.get("unicast_peers"),
                "track_haproxy": True if track is None else _bool(track, "%s: track_haproxy" % name),
                "extra": inst.get("extra") or [],
            }
        )
    return out


class FilterModule(object):
    def filters(self):
        return {"keepalived_resolve": keepalived_resolve}
