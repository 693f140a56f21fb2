# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Logic of ``lbops.haproxy.haproxy_info``: one read batch per target.

Every command used here is allowed on a ``user``-level socket.
"""

import time

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput

GATHER_CHOICES = ("info", "servers", "frontends", "tables")
FACTS_NAME = "haproxy_runtime"


def check_gather(gather):
    """The subsets to gather, in a stable order; ``all`` or nothing means every one."""
    gather = list(gather or ["all"])
    if "all" in gather:
        return list(GATHER_CHOICES)
    unknown = [item for item in gather if item not in GATHER_CHOICES]
    if unknown:
        raise InvalidInput("unknown gather subset(s) %s: expected all, %s" % (", ".join(unknown), ", ".join(GATHER_CHOICES)))
    return [item for item in GATHER_CHOICES if item in gather]


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _status_word(status):
    """``UP 1/3`` -> ``UP``, ``MAINT (via be/s)`` -> ``MAINT``; ``no check`` stays whole."""
    if status == "no check":
        return status
    return (status or "").split(" ", 1)[0] or None


def build_requests(gather):
    """``[(command, parser)]`` for one read batch, and the names they fill."""
    requests = [("show cli level", parsers.parse_cli_level)]
    names = ["level"]
    if "info" in gather:
        requests.append(("show info", parsers.parse_info))
        names.append("info")
    if "servers" in gather:
        requests.append(("show servers state", parsers.parse_servers_state))
        names.append("servers_state")
    if "servers" in gather or "frontends" in gather:
        requests.append(("show stat", parsers.parse_stat_csv))
        names.append("stat")
    if "tables" in gather:
        requests.append(("show table", parsers.parse_table_list))
        names.append("tables")
    return requests, names


def _server(state, row):
    server = dict(state)
    server.pop("backend", None)
    server.pop("backend_id", None)
    row = row or {}
    server["status"] = row.get("status") or None
    server["status_word"] = _status_word(row.get("status"))
    server["current_sessions"] = _int_or_none(row.get("scur"))
    server["total_sessions"] = _int_or_none(row.get("stot"))
    server["check_status"] = row.get("check_status") or None
    return server


def assemble(gather, raw, now=None):
    """Turn the parsed replies into the per-target result.

    ``now`` is the time of the read on this host (the managed node), so that
    ``started_at`` compares with the host's file times (the role checks that the
    worker started after the configuration was written).
    """
    result = {"changed": False, "level": raw["level"], "gathered": list(gather)}
    if "info" in gather:
        info = raw["info"]
        result["info"] = info
        result["version"] = info.get("Version")
        result["pid"] = _int_or_none(info.get("Pid"))
        result["uptime_seconds"] = _int_or_none(info.get("Uptime_sec"))
        if result["uptime_seconds"] is not None:
            result["started_at"] = (time.time() if now is None else now) - result["uptime_seconds"]
    stat = raw.get("stat") or []
    rows = {}
    for row in stat:
        rows[(row.get("pxname"), row.get("svname"))] = row
    if "servers" in gather:
        servers, backends = {}, {}
        for state in raw["servers_state"]:
            servers.setdefault(state["backend"], {})[state["name"]] = _server(state, rows.get((state["backend"], state["name"])))
        for row in stat:
            if row.get("svname") == "BACKEND":
                backends[row["pxname"]] = {
                    "status": row.get("status") or None,
                    "current_sessions": _int_or_none(row.get("scur")),
                    "total_sessions": _int_or_none(row.get("stot")),
                    "active_servers": _int_or_none(row.get("act")),
                    "backup_servers": _int_or_none(row.get("bck")),
                }
                servers.setdefault(row["pxname"], {})
        result["servers"] = servers
        result["backends"] = backends
    if "frontends" in gather:
        frontends = {}
        for row in stat:
            if row.get("svname") == "FRONTEND":
                frontends[row["pxname"]] = {
                    "status": row.get("status") or None,
                    "current_sessions": _int_or_none(row.get("scur")),
                    "total_sessions": _int_or_none(row.get("stot")),
                    "session_limit": _int_or_none(row.get("slim")),
                }
        result["frontends"] = frontends
    if "tables" in gather:
        result["tables"] = dict((table["name"], {"type": table["type"], "size": table["size"], "used": table["used"]})
                                for table in raw["tables"])
    return result


def gather_facts(client, gather):
    """One read connection to ``client``; the per-target result."""
    requests, names = build_requests(gather)
    values = client.read(requests)
    return assemble(gather, dict(zip(names, values)))


def facts(output):
    """``ansible_facts`` from the module's output: ``{haproxy_runtime: {<socket>: {...}}}``."""
    per_target = {}
    for result in output.get("results") or []:
        if result.get("failed"):
            continue
        item = dict(result)
        for key in ("changed", "failed", "socket"):
            item.pop(key, None)
        per_target[result["socket"]] = item
    return {FACTS_NAME: per_target}
