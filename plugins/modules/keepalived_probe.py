#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: keepalived_probe
short_description: Ask the kernel whether keepalived can track processes on this host
version_added: 0.1.0
description:
  - Asks the kernel's process-event connector (C(NETLINK_CONNECTOR), C(CN_IDX_PROC)), which keepalived's
    C(vrrp_track_process) listens to, for process events, then stops listening at once.
  - The kernel delivers process events only in the host's own network namespace. In a container with its
    own network namespace the request is refused, and keepalived would then keep every instance that tracks a
    process in FAULT, so that no member ever holds the virtual address. The role C(lbops.haproxy.keepalived)
    uses this module to choose between C(vrrp_track_process) and a script check.
  - Linux only; needs the privileges keepalived has (C(CAP_NET_ADMIN)), so run it as root.
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module only asks; it runs the same way in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - It never changes anything.
notes:
  - The probe subscribes to process events and unsubscribes right away; it leaves nothing behind.
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Ask the kernel whether vrrp_track_process can work here
  lbops.haproxy.keepalived_probe:
  register: probe

- name: Choose the tracking
  ansible.builtin.set_fact:
    track: "{{ 'process' if probe.process_events else 'script' }}"
"""

RETURN = r"""
changed:
  description: Always V(false).
  returned: always
  type: bool
process_events:
  description: Whether the kernel accepted the subscription to process events.
  returned: always
  type: bool
  sample: false
msg:
  description: What the kernel answered, in words.
  returned: always
  type: str
  sample: "process events unavailable: Connection refused"
"""

import errno  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
NLMSG_DONE = 3
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2


def message(op):
    """One netlink message carrying a connector message with the operation op (struct cn_msg + u32)."""
    body = struct.pack("=I", op)
    cn_msg = struct.pack("=IIIIHH", CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(body), 0) + body
    return struct.pack("=IHHII", 16 + len(cn_msg), NLMSG_DONE, 0, 0, 0) + cn_msg


def probe(socket_factory=socket.socket):
    """(available, words): subscribe to process events, then unsubscribe."""
    family = getattr(socket, "AF_NETLINK", None)
    if family is None:
        return False, "process events unavailable: this platform has no netlink sockets"
    sock = None
    try:
        sock = socket_factory(family, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        sock.bind((0, CN_IDX_PROC))
        sock.send(message(PROC_CN_MCAST_LISTEN))
        sock.send(message(PROC_CN_MCAST_IGNORE))
    except OSError as exc:
        code = exc.errno if exc.errno is not None else errno.EIO
        return False, "process events unavailable: %s" % os.strerror(code)
    finally:
        if sock is not None:
            sock.close()
    return True, "process events available"


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    available, words = probe()
    module.exit_json(changed=False, process_events=available, msg=words)


if __name__ == "__main__":
    main()
