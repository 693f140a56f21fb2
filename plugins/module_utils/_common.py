# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""What every module shares: connection options and the per-target fan-out."""

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import HAProxyError, InvalidInput


def runtime_argument_spec():
    """Options of doc fragment ``lbops.haproxy.runtime``."""
    return dict(
        socket=dict(type="list", elements="str", default=["/run/haproxy/admin.sock"], aliases=["sockets"]),
        timeout=dict(type="float", default=5.0),
    )


def make_clients(params):
    """One client per distinct target; invalid targets raise InvalidInput before any connection."""
    specs = []
    for spec in params["socket"] or []:
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise InvalidInput("socket must name at least one target")
    if params["timeout"] is None or params["timeout"] <= 0:
        raise InvalidInput("timeout must be a positive number of seconds")
    clients = []
    for spec in specs:
        try:
            clients.append(RuntimeClient(spec, params["timeout"]))
        except ValueError as exc:
            raise InvalidInput(str(exc))
    return clients


def _run_one(function, client):
    try:
        result = function(client)
        result.setdefault("changed", False)
        result["failed"] = False
    except HAProxyError as exc:
        if exc.target is None:
            exc.target = str(client)
        result = {"changed": bool(getattr(exc, "changed", False)), "failed": True, "msg": str(exc)}
        result.update(getattr(exc, "partial", None) or {})
    except Exception as exc:  # a bug must still not hide the other targets' results
        result = {"changed": False, "failed": True, "msg": "%s: unexpected %s: %s" % (client, type(exc).__name__, exc)}
    result["socket"] = str(client)
    return result


def run_on_targets(module, function, clients=None, finish=None):
    """Run ``function(client) -> dict`` on every target in parallel and exit the module.

    Each per-target dict carries ``changed`` and, for diff mode, ``diff``
    (``{before, after}``). The module's result has ``changed``,
    ``results`` (one per target, in the order given) and a ``diff`` keyed by
    target. A failure fails the task, naming the targets already changed.
    ``finish(output)``, when given, may add keys (``ansible_facts``, say) to
    the module's result just before it exits.
    """
    try:
        clients = clients if clients is not None else make_clients(module.params)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    if len(clients) == 1:
        results = [_run_one(function, clients[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(len(clients), 16)) as pool:
            results = list(pool.map(lambda client: _run_one(function, client), clients))
    changed = any(result["changed"] for result in results)
    output = {"changed": changed, "results": results}
    if module._diff:
        output["diff"] = {
            "before": dict((result["socket"], (result.get("diff") or {}).get("before")) for result in results),
            "after": dict((result["socket"], (result.get("diff") or {}).get("after")) for result in results),
        }
    for result in results:
        result.pop("diff", None)
    if finish is not None:
        finish(output)
    failed = [result for result in results if result["failed"]]
    if failed:
        messages = [result["msg"] for result in failed]
        msg = messages[0] if len(messages) == 1 else "; ".join(messages)
        done = [result["socket"] for result in results if result["changed"]]
        if len(clients) > 1 or done:
            msg += " (targets already changed: %s)" % (", ".join(done) if done else "none")
        module.fail_json(msg=msg, **output)
    module.exit_json(**output)
