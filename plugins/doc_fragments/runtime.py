# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment(object):
    # Connection options shared by every module that talks to HAProxy's runtime API.
    DOCUMENTATION = r"""
options:
  socket:
    description:
      - The runtime API (stats socket) to talk to.
      - A Unix socket path, C(ipv4@HOST:PORT) or C(ipv6@[HOST]:PORT).
      - A list of targets, for example both members of an HA pair. Each target
        converges on its own, in parallel, and is reported under RV(results).
        If any target fails the task fails and names the targets that were already changed.
      - TCP sockets have no authentication; bind them to loopback only.
    type: list
    elements: str
    default: [/run/haproxy/admin.sock]
    aliases: [sockets]
  timeout:
    description:
      - Seconds to wait for a connection and for each answer from HAProxy.
    type: float
    default: 5.0
notes:
  - One connection is opened per target for the reads and, when something must change,
    one more for the writes; commands are batched in each.
  - Changes made through the runtime API last until HAProxy reloads, unless a
    C(server-state-file) (servers) or a C(peers) section (stick tables) carries them over.
"""
