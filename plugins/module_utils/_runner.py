# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""The runner: the one owner of every runtime module's flow.

A module supplies a :class:`Definition`: its named reads, a pure
``plan(request, state)`` and, when it needs them, a step after the write
(waiting for a drain, retrying entries in use) and the reading of the result.
The runner does the rest, the same way for every module and every target:

1. one read batch (one connection): the module's reads plus ``show cli level``;
2. the plan (pure: it sends nothing; it may ask for one more read round);
3. the level check: a socket whose level cannot run the planned writes fails
   before anything is sent, in check mode too;
4. check mode stops here and reports the prediction; so does a plan with
   nothing to write and nothing to wait for (a no-op: one connection in all);
5. the write batch (one connection); outcomes become typed errors;
6. the module's follow-up step, if any (it writes and reads through
   :class:`Step`, which keeps the record of what was sent);
7. the re-read (one batch), the observed result and the diff.

A failure at any point after the first write is reported with the declared
fields of the error (``changed``, ``commands``, ``partial``): ``changed`` is
true as soon as a write may have taken effect.

:func:`run_module` builds the AnsibleModule from the argument spec (defaults
and choices live there, once), checks the connection options and fans the
runner out over the targets (:func:`run_on_targets`).
"""

import math
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient, require_level
from ansible_collections.lbops.haproxy.plugins.module_utils._diff import Difference
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import CommandError, HAProxyError, InvalidInput
from ansible_collections.lbops.haproxy.plugins.module_utils._waiter import Waiter

# The longest a module waits for any one exchange (the 'timeout' option).
MAX_TIMEOUT = 3600.0


class Read(object):
    """A named read: ``command``'s reply goes through ``parser``; the value is ``state[name]``.

    ``missing`` rewords a "not found" reply (``unknown backend be_x``), and the
    message then says that nothing was sent.
    """

    __slots__ = ("name", "command", "parser", "missing")

    def __init__(self, name, command, parser=None, missing=None):
        self.name = name
        self.command = command
        self.parser = parser
        self.missing = missing

    def __repr__(self):
        return "Read(%r, %r)" % (self.name, self.command)


LEVEL_READ = Read("level", "show cli level", parsers.parse_cli_level)


class Plan(object):
    """What a module's ``plan()`` decides for one target.

    ``commands``: the writes, in order. ``difference``: the state before and
    the predicted state after (a :class:`Difference`). ``result``: the fields
    of the target's result as predicted (check mode and no-ops report them as
    they are). ``level``: the level the writes need. ``follow_up``: run the
    module's follow-up step even when there is nothing to write (a wait).
    ``more_reads``: reads needed before a plan can be made; the runner runs
    them (one more connection) and calls ``plan()`` again. ``data``: anything
    the module's later steps need. ``tolerate_busy``: writes refused because a
    session holds the entry are not errors (the follow-up retries them).
    ``check_reads``: reads that only check mode makes (then plans again), where
    a real run can act without them and learns the outcome from its re-read
    (a big table's full clear). A command that carries a payload (``set ssl
    cert <file> <<``, ``add map @<ver> <map> <<``) is a
    :class:`~._transport.Payload`: its text goes to HAProxy and nowhere else
    (not in results, messages or the diff).
    """

    def __init__(self, commands=(), difference=None, result=None, level="admin", follow_up=False,
                 more_reads=None, data=None, tolerate_busy=False, check_reads=None):
        self.commands = list(commands)
        self.tolerate_busy = tolerate_busy
        self.difference = difference
        self.result = dict(result or {})
        self.level = level
        self.follow_up = follow_up
        self.more_reads = list(more_reads or [])
        self.check_reads = list(check_reads or [])
        self.data = data


class Step(object):
    """What a module's follow-up step and its observation work with.

    Every write goes through :meth:`write`, which records what HAProxy
    accepted (``sent``) and raises the first refusal as a typed error whose
    ``changed`` and ``commands`` say what this target already took.
    """

    def __init__(self, client, check_mode=False, clock=None, sleep=None, describe=None):
        self.client = client
        self.check_mode = check_mode
        self.sent = []
        # Refused writes that may still have changed something (Outcome.partial_effect).
        self.touched = []
        self.clock = clock
        self.sleep = sleep
        self.describe = describe
        self.written = False
        # The outcomes of the last write batch (the follow-up of a plan reads them).
        self.last_outcomes = []

    @property
    def changed(self):
        return bool(self.sent or self.touched)

    def waiter(self, timeout, interval=1.0):
        kwargs = {}
        if self.clock is not None:
            kwargs["clock"] = self.clock
        if self.sleep is not None:
            kwargs["sleep"] = self.sleep
        return Waiter(timeout, interval, **kwargs)

    def read(self, reads):
        return self.client.read_named(reads)

    def write(self, commands, tolerate_busy=False):
        """Send ``commands`` (one connection); return their outcomes.

        Every refusal of the batch is reported in one error (the type of the
        refusal when there is one, else :class:`CommandError`), whose message
        quotes HAProxy and says what this target already took. With
        ``tolerate_busy``, commands refused because a live session holds the
        entry come back as outcomes (``busy``) instead of an error.
        Payload commands: see :class:`Plan`.
        """
        if not commands:
            return []
        self.written = True
        try:
            outcomes = self.client.write(commands)
        except HAProxyError as exc:
            exc.commands = self.sent + exc.commands
            exc.changed = exc.changed or self.changed
            raise
        self.last_outcomes = outcomes
        for outcome in outcomes:
            if outcome.ok and not outcome.noop:
                self.sent.append(outcome.command)
        self.touched.extend(outcome.command for outcome in outcomes if outcome.partial_effect)
        failed = [outcome for outcome in outcomes if outcome.error is not None and not (outcome.busy and tolerate_busy)]
        if failed:
            errors = [outcome.error for outcome in failed]
            error = errors[0] if len(errors) == 1 else CommandError("", None)
            error.message = "%s; %s" % ("; ".join(item.message.rstrip(".") for item in errors), self.changed_text())
            error.target = None
            error.changed = self.changed
            error.commands = list(self.sent)
            error.partial.update({"failed_commands": [outcome.command for outcome in failed]})
            raise error
        return outcomes

    def changed_text(self):
        describe = self.describe or "; ".join
        touched = ""
        if self.touched:
            touched = "HAProxy may have created the entries of the refused %s" % describe(self.touched)
        if not self.sent:
            return touched or "nothing was changed on this target"
        return "already changed on this target: %s%s" % (describe(self.sent), "; " + touched if touched else "")


class Definition(object):
    """What a runtime module supplies to the runner. Subclass it.

    ``reads(request)`` and ``plan(request, state)`` are required; the others
    have defaults that suit a module whose writes either take or fail.
    """

    def reads(self, request):
        raise NotImplementedError

    def plan(self, request, state):
        raise NotImplementedError

    def minimum_level(self, request):
        """``(level, command)`` the socket needs even when nothing is written, or None.

        For modules whose reads are not trustworthy below a level (HAProxy hides
        stick-table entries from a user-level socket and answers its clears
        without removing anything).
        """
        return None

    def follow_up(self, step, request, plan):
        """After the write (or instead of it, with ``plan.follow_up``): wait, retry... Optional."""

    def recover(self, step, request, plan, error):
        """After a failure that came once writing began: undo what can be undone. Optional.

        Called with the error about to be raised (its ``changed`` and
        ``commands`` already set); it may write through ``step`` (an abort) and
        amend the error's message and ``changed``. It must not raise: the
        first failure is the one to report.
        """

    def reread(self, request, plan):
        """What to read after the writes: by default the same reads as before."""
        return self.reads(request)

    def observe(self, request, state, plan, step):
        """The target's result and its after-state, from the re-read: ``(result, after)``.

        ``after`` is the view compared with ``plan.difference.before``. It may
        raise when the target did not end where it was asked to be; the runner
        marks the error with what was sent.
        """
        raise NotImplementedError

    def changed(self, request, plan, step, result):
        """Whether the target changed: by default, whether HAProxy accepted a write."""
        return step.changed

    def describe(self, commands):
        """How a failure message names the writes already taken (default: the commands)."""
        return "; ".join(commands)

    def conclude(self, request, result):
        """The last word on a result, predicted or observed: may add warnings, or raise."""
        return result

    def finish(self, request, output, check_mode):
        """Once every target ran: work of the module outside HAProxy (a file on this host). Optional.

        ``output`` is the module's result (``changed``, ``results``, ``diff``);
        it may add to it. Raising :class:`HAProxyError` fails the task with its
        message and the output so far.
        """


class Runner(object):
    """Runs one :class:`Definition` with one request, on any number of targets."""

    # Rounds of ``more_reads`` a plan may ask for.
    MAX_READ_ROUNDS = 3

    def __init__(self, definition, request, check_mode=False, clock=None, sleep=None):
        self.definition = definition
        self.request = request
        self.check_mode = check_mode
        self.clock = clock
        self.sleep = sleep

    def run(self, client):
        """The result dict of one target (``changed``, ``diff``, the module's fields)."""
        definition, request = self.definition, self.request
        step = Step(client, self.check_mode, self.clock, self.sleep, definition.describe)
        plans = []

        def more(state):
            # Once a read batch is answered: the plan, or the reads it still needs
            # (check mode's own, too), which go over the same connection (a no-op is
            # one connection in all).
            if not plans:
                if state.get("version"):
                    client.note_version(state["version"])
                minimum = definition.minimum_level(request)
                if minimum is not None:
                    require_level(client, state["level"], minimum[0], minimum[1])
            plan = definition.plan(request, state)
            plans.append(plan)
            reads = plan.more_reads or (plan.check_reads if self.check_mode else [])
            if reads and len(plans) > self.MAX_READ_ROUNDS:
                raise HAProxyError("the plan kept asking for more reads (a bug of the module)")
            return reads

        state = client.read_named([LEVEL_READ] + list(definition.reads(request)), more=more)
        plan = plans[-1]
        if plan.commands:
            require_level(client, state["level"], plan.level, plan.commands[0])
        if self.check_mode or not (plan.commands or plan.follow_up):
            return self._predicted(plan)
        try:
            if plan.commands:
                step.write(plan.commands, tolerate_busy=plan.tolerate_busy)
            definition.follow_up(step, request, plan)
            reread = definition.reread(request, plan)
            after_state = client.read_named(reread) if reread else {}
            result, after = definition.observe(request, after_state, plan, step)
        except HAProxyError as exc:
            # A write HAProxy accepted, or one whose answer was lost (the client
            # marks those), may have taken effect: the target counts as changed.
            exc.changed = exc.changed or step.changed
            if step.written:
                exc.commands = exc.commands or list(step.sent)
                # What a module's check says before any write ("...; nothing was sent")
                # is no longer true once a batch went out.
                exc.message = exc.message.replace("; nothing was sent", "")
                definition.recover(step, request, plan, exc)
            raise
        result = dict(result)
        result["changed"] = bool(definition.changed(request, plan, step, result))
        if plan.difference is not None:
            result["diff"] = plan.difference.with_after(after).as_dict()
        return definition.conclude(request, result)

    def _predicted(self, plan):
        result = dict(plan.result)
        result.setdefault("changed", bool(plan.commands))
        if plan.difference is not None:
            result["diff"] = plan.difference.as_dict()
        return self.definition.conclude(self.request, result)


# ---------------------------------------------------------------------------
# The module side: argument spec, targets, fan-out.


def runtime_argument_spec():
    """Options of doc fragment ``lbops.haproxy.runtime``."""
    return dict(
        socket=dict(type="list", elements="str", default=["/run/haproxy/admin.sock"], aliases=["sockets"]),
        timeout=dict(type="float", default=5.0),
    )


def check_seconds(value, name, minimum=0.0, maximum=MAX_TIMEOUT, allow_zero=True):
    """A finite number of seconds within bounds (``nan``, ``inf``, ``1e308`` are refused)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput("%s must be a number of seconds, got %r" % (name, value))
    if math.isnan(number) or math.isinf(number):
        raise InvalidInput("%s must be a finite number of seconds, got %r" % (name, value))
    if number < minimum or (number == 0 and not allow_zero) or number > maximum:
        low = "more than %g" % minimum if not allow_zero and minimum == 0 else "at least %g" % minimum
        raise InvalidInput("%s must be %s and at most %g seconds, got %g" % (name, low, maximum, number))
    return number


def make_clients(params, factory=None):
    """One client per distinct target; invalid targets raise InvalidInput before any connection.

    Two spellings of one endpoint (``/x`` and ``unix@/x``) are one target.
    """
    factory = factory or RuntimeClient
    timeout = check_seconds(params["timeout"], "timeout", allow_zero=False)
    clients, seen = [], {}
    for spec in params["socket"] or []:
        try:
            client = factory(spec, timeout)
        except ValueError as exc:
            raise InvalidInput(str(exc))
        key = client.target.key
        if key in seen:
            continue
        seen[key] = client
        clients.append(client)
    if not clients:
        raise InvalidInput("socket must name at least one target")
    return clients


def _run_one(function, client):
    try:
        result = function(client)
        result.setdefault("changed", False)
        result["failed"] = False
    except HAProxyError as exc:
        if exc.target is None:
            exc.target = str(client)
        result = dict(exc.partial)
        result.update({"changed": exc.changed, "failed": True, "msg": str(exc)})
        if exc.commands:
            result["commands"] = list(exc.commands)
    except Exception as exc:  # a bug must still not hide the other targets' results
        result = {"changed": True, "failed": True,
                  "msg": "%s: unexpected %s: %s (the target may have been changed)" % (client, type(exc).__name__, exc)}
    result["socket"] = str(client)
    return result


def printable(value):
    """``value`` with every lone surrogate (a byte of a key that is not UTF-8) shown as ``\\xNN``.

    Keys read from HAProxy are decoded with ``surrogateescape`` so that they
    are the same bytes again in a command; no such character may reach the
    module's JSON output.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return dict((printable(key), printable(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [printable(item) for item in value]
    return value


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
    output = printable(output)
    results = output["results"]
    if finish is not None:
        try:
            finish(output)
        except HAProxyError as exc:
            module.fail_json(msg=str(exc), **output)
    failed = [result for result in results if result["failed"]]
    if failed:
        messages = [result["msg"] for result in failed]
        msg = messages[0] if len(messages) == 1 else "; ".join(messages)
        done = [result["socket"] for result in results if result["changed"]]
        if len(clients) > 1 or done:
            msg += " (targets already changed: %s)" % (", ".join(done) if done else "none")
        module.fail_json(msg=msg, **output)
    module.exit_json(**output)


def full_spec(argument_spec):
    spec = runtime_argument_spec()
    spec.update(argument_spec)
    return spec


def build_request(definition, argument_spec, params, module_kwargs=None):
    """The request a module would build from ``params``, outside a module run (tests, tools).

    The parameters go through the same argument spec as in :func:`run_module`
    (defaults, types, choices, mutually exclusive options...); a refusal is an
    :class:`InvalidInput` with the argument spec's message.
    """
    validator = ArgumentSpecValidator(full_spec(argument_spec), **(module_kwargs or {}))
    checked = validator.validate(dict(params))
    if checked.error_messages:
        raise InvalidInput("; ".join(checked.error_messages))
    return definition.request(checked.validated_parameters)


def run_module(module_class, definition, argument_spec, module_kwargs=None, finish=None, client_factory=None):
    """The whole of a runtime module's ``main()``.

    ``module_class`` is ``AnsibleModule``. ``definition.request(params)`` turns
    the parameters (already checked and defaulted by the argument spec) into
    the request; an ``InvalidInput`` there fails the task before any
    connection. ``finish(output, module)``, when given, may add keys to the
    module's result (``ansible_facts``, or what the module reads on its host).
    ``client_factory(spec, timeout)`` replaces the real client (unit tests).
    """
    module = module_class(argument_spec=full_spec(argument_spec), supports_check_mode=True, **(module_kwargs or {}))
    try:
        request = definition.request(module.params)
        clients = make_clients(module.params, client_factory)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    runner = Runner(definition, request, module.check_mode)

    def done(output):
        for result in output["results"]:
            for warning in result.get("warnings") or []:
                module.warn("%s: %s" % (result["socket"], warning))
        definition.finish(request, output, module.check_mode)
        if finish is not None:
            finish(output, module)

    run_on_targets(module, runner.run, clients=clients, finish=done)


__all__ = ["Definition", "Difference", "LEVEL_READ", "Plan", "Read", "Runner", "Step", "run_module", "run_on_targets"]
