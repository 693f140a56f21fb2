# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Dynamic servers for the fake HAProxy: ``add server`` and ``del server``.

Replies as HAProxy 2.6.12, 3.0.11 and 3.2.26 give them (the same texts in the
three): a new server starts in maintenance (forced maint) with its checks
configured but disabled; a static algorithm (``static-rr``, and ``source``, which
stands for a map-based hash in the fake) refuses it before creating it;
``del server`` wants the server in maintenance and without connections, and
deletes servers of the configuration too.

Install with :func:`install` (``FakeHAProxy.extensions``).
"""

import ipaddress

from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import STATIC_ALGOS, Srv, cli_words

ALGORITHM_REFUSAL = "Backend must use a dynamic load balancing to support dynamic servers."
STILL_CONNECTED = "Server still has connections attached to it, cannot remove it."


def _endpoint(text):
    """``(address, port)`` of ``a.b.c.d:p`` or ``[v6]:p``; ``None`` when HAProxy would refuse it."""
    if text.startswith("["):
        address, dummy, port = text[1:].partition("]:")
    else:
        address, dummy, port = text.rpartition(":")
    try:
        ipaddress.ip_address(address)
        port = int(port)
    except ValueError:
        return None
    return address, port


def add_server(haproxy, words):
    backend, dummy, name = words[2].partition("/")
    if backend not in haproxy.backends:
        return Feedback(3, "No such backend.")
    algo, servers = haproxy.backends[backend]
    if any(srv.name == name for srv in servers):
        return Feedback(3, "Already exists a server with the same name in backend.")
    if algo in STATIC_ALGOS:
        return Feedback(3, ALGORITHM_REFUSAL)
    endpoint = _endpoint(words[3]) if len(words) > 3 else None
    if endpoint is None or not 0 <= endpoint[1] <= 65535:
        return Feedback(3, "invalid address: '%s'" % (words[3] if len(words) > 3 else ""))
    weight, check, rest = 1, 0, words[4:]
    while rest:
        keyword = rest.pop(0)
        if keyword == "weight":
            weight = int(rest.pop(0))
            if not 0 <= weight <= 256:
                return Feedback(3, "weight of server %s is not within 0 and 256 (%d).." % (name, weight))
        elif keyword == "check":
            check = 0x02  # configured, not enabled: 'enable health' starts them
        elif keyword in ("port", "inter"):
            rest.pop(0)
        else:
            return Feedback(3, "unknown keyword '%s'." % keyword)
    servers.append(Srv(name, weight, admin=0x01, check=check, addr=endpoint[0], port=endpoint[1], op=0))
    return Feedback(6, "New server registered.")


def del_server(haproxy, words):
    srv, err = haproxy.server(words[2])
    if err:
        return Feedback(3, err)
    if not srv.admin & 0x01:
        return Feedback(3, "Only servers in maintenance mode can be deleted.")
    if words[2] in haproxy.tracked:
        return Feedback(3, "This server is tracked by other servers, cannot remove it.")
    if srv.scur:
        return Feedback(3, STILL_CONNECTED)
    backend = words[2].partition("/")[0]
    haproxy.backends[backend][1].remove(srv)
    return Feedback(6, "Server deleted.")


def dynsrv(haproxy, command, words):
    if words[1:2] != ["server"] or words[0] not in ("add", "del"):
        return None
    refusal = haproxy.write_attempt(command)
    if refusal is not None:
        return refusal
    words = cli_words(command)
    return add_server(haproxy, words) if words[0] == "add" else del_server(haproxy, words)


def install(haproxy):
    """``haproxy`` with the dynamic-server commands; returns it."""
    haproxy.extensions.append(dynsrv)
    return haproxy
