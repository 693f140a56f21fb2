#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_table
short_description: Set or clear HAProxy stick-table entries through the runtime API
version_added: 0.1.0
description:
  - Clears a stick table, some of its keys, or the entries matching a filter,
    or sets the data of given keys, through HAProxy's runtime API.
  - Reads before it writes and writes only what differs, so a repeated run reports no change.
  - Keys are checked against the table's type, read from HAProxy, before anything is written
    (HAProxy 2.6 silently stores an unparsable key of an C(ip) table as C(0.0.0.0)).
  - A full or filtered clear skips the entries in use by live sessions and, on HAProxy 2.6 to 3.x,
    the entry just before each of them. The module re-reads the table afterwards and removes
    such leftovers by key, retries the entries in use until O(wait_timeout), and reports those left.
  - Tables are read as a stream; a table of millions of entries is counted and cleared in constant memory.
  - A full clear (no O(keys), no O(filter)) of a table of more than 10,000 entries sends C(clear table) without
    reading the entries first (HAProxy takes about a second to print a million of them), then reads what is left.
    Its RV(results[].before) then gives their count only (C(in_use) null, no C(entries)). Check mode reads them,
    to predict what the real run removes and leaves.
  - Needs a socket of level C(operator) or C(admin). On a C(user)-level socket HAProxy answers a
    clear without removing anything, so the module refuses such a socket.
options:
  name:
    description:
      - The stick table, named after its proxy (frontend or backend).
      - Tables declared in a C(peers) section are named C(<peers>/<table>).
    type: str
    required: true
  state:
    description:
      - V(absent) removes the entries selected by O(keys) or O(filter), or every entry when neither is given.
      - V(present) makes sure every key of O(keys) exists and holds the values of O(data).
    type: str
    choices: [absent, present]
    default: absent
  keys:
    description:
      - Keys to remove (O(state=absent)) or to set (O(state=present), then required).
      - Written as HAProxy shows them, for example V(10.0.0.1) for an C(ip) table.
      - Keys of C(string) tables are bytes to HAProxy. The module shows (in RV(results[].before),
        RV(results[].after) and the lists of keys) and reads (here) a key as text whose UTF-8 is
        those bytes (V(café)); a byte that is not part of UTF-8 text, or a control character, as
        C(\\xNN) (upper-case hexadecimal, as C(show table) prints it), and a backslash as C(\\\\).
        A key copied from the module's output therefore names the same entry. Any other backslash
        stands for itself. Control characters cannot be sent to HAProxy.
      - HAProxy 2.6 cannot address keys of C(binary) tables one by one; clear those tables as a whole or with O(filter).
      - HAProxy cuts a key longer than the table's C(len) without a word, and the runtime API does not show
        C(len). A key whose entry shows it cut is refused before anything is sent; one set for the first
        time fails the task after HAProxy stored it cut (reported as changed).
    type: list
    elements: str
  data:
    description:
      - With O(state=present), the stored data to set on every key of O(keys), as a mapping of
        data type (for example C(server_id) or C(gpc0)) to a non-negative integer.
      - Only the data types named here are compared and written; a key missing from the
        table is created with the others at zero.
      - Each data type is checked against those the table stores (HAProxy is asked, without dumping
        the table) and each value against its type's range (most counters are unsigned 32-bit,
        C(server_id) a signed 32-bit number, C(bytes_in_cnt) and C(bytes_out_cnt) 64-bit), before anything
        is sent. HAProxy would refuse a type the table does not store only after creating the entry, and
        would store an out-of-range value wrapped (V(4294967296) as V(0)).
      - Rates (C(*_rate)) decay over time, so setting them is not idempotent.
    type: dict
  filter:
    description:
      - With O(state=absent) and no O(keys), clear only the entries matching every item (they are ANDed).
      - At most 4 items, the limit of HAProxy (C(STKTABLE_FILTER_LEN)), checked before anything is sent.
    type: list
    elements: dict
    suboptions:
      data:
        description: Stored data type to compare, for example V(gpc0) or V(http_req_rate).
        type: str
        required: true
      operator:
        description: Comparison.
        type: str
        choices: [eq, ne, le, ge, lt, gt]
        required: true
      value:
        description: Integer to compare with.
        type: int
        required: true
  wait_timeout:
    description:
      - Seconds to keep retrying entries that a live session holds (in use) when removing.
      - V(0) removes what can be removed right away.
    type: float
    default: 0
  fail_on_in_use:
    description:
      - Whether entries still in use after O(wait_timeout) fail the task.
      - With V(false) they are reported in RV(results[].in_use) and as a warning.
    type: bool
    default: true
  max_entries:
    description:
      - How many entries (and commands) to report at most in RV(results[].before), RV(results[].after)
        and the diff. Counts are always exact.
    type: int
    default: 100
extends_documentation_fragment:
  - lbops.haproxy.runtime
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Sends only reads. Entries in use are not counted as removable.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
notes:
  - Entries set or cleared through the runtime API are lost when HAProxy reloads unless the table
    belongs to a C(peers) section with a local peer.
seealso:
  - name: HAProxy management guide, stick tables
    description: The C(show table), C(set table) and C(clear table) commands.
    link: https://docs.haproxy.org/2.6/management.html#9.3-clear%20table
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Empty the table of the fail-over backend on both load balancers
  lbops.haproxy.haproxy_table:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
    name: be_failover

- name: Unban two clients, waiting up to 10 s for their connections to end
  lbops.haproxy.haproxy_table:
    name: fe_main
    keys: [192.0.2.10, 192.0.2.11]
    wait_timeout: 10

- name: Forget the clients that made more than 100 requests, keeping those still connected
  lbops.haproxy.haproxy_table:
    name: fe_main
    filter:
      - data: gpc0
        operator: gt
        value: 100
    fail_on_in_use: false

- name: Pin a client to server 2
  lbops.haproxy.haproxy_table:
    name: be_app
    state: present
    keys: [198.51.100.7]
    data:
      server_id: 2

- name: Table of a peers section
  lbops.haproxy.haproxy_table:
    name: mypeers/sessions
    keys: [user42]
"""

RETURN = r"""
changed:
  description: Whether any target had an entry removed or altered.
  returned: always
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
      description: Whether an entry was removed or altered on this target.
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
    table:
      description: The table as C(show table) lists it.
      returned: when the table was found
      type: dict
      sample: {"name": "fe_main", "type": "ip", "size": 1024, "used": 4}
    before:
      description:
        - The selected entries before the run. For O(keys), the existing keys among them;
          otherwise the whole table or the entries matching O(filter).
        - C(count) and C(in_use) are exact; C(entries) holds at most O(max_entries) entries
          (C(key), C(use), C(data), and C(shard) on HAProxy 2.7+) and C(truncated) says whether some were left out.
        - For a full clear of a table of more than 10,000 entries, the count only (C(in_use) is null and
          C(entries) empty; see the notes).
      returned: when the table was read
      type: dict
      sample:
        count: 2
        in_use: 1
        truncated: false
        entries:
          - {"key": "10.9.0.1", "use": 0, "data": {"gpc0": 3, "conn_cur": 0, "http_req_rate": 1}}
          - {"key": "10.9.0.2", "use": 1, "data": {"gpc0": 1, "conn_cur": 1, "http_req_rate": 1}}
    after:
      description: The same selection after the run (re-read), or as predicted in check mode.
      returned: when the table was read
      type: dict
      sample: {"count": 1, "in_use": 1, "truncated": false, "entries": [{"key": "10.9.0.2", "use": 1, "data": {"gpc0": 1}}]}
    removed:
      description: How many entries were removed (or would be, in check mode).
      returned: success
      type: int
      sample: 1
    updated:
      description: Keys set (or to set, in check mode), at most O(max_entries) of them.
      returned: when O(state=present)
      type: list
      elements: str
      sample: [198.51.100.7]
    updated_count:
      description: How many keys were set (or would be).
      returned: when O(state=present)
      type: int
    in_use:
      description: Keys still held by live sessions, hence not removed (at most O(max_entries)).
      returned: success
      type: list
      elements: str
      sample: [10.9.0.2]
    in_use_count:
      description: How many entries are still held by live sessions.
      returned: when O(state=absent)
      type: int
      sample: 1
    commands:
      description: The write commands sent (in check mode, those that would be sent), at most O(max_entries).
      returned: when the table was read
      type: list
      elements: str
      sample: ["clear table fe_main", "clear table fe_main key 10.9.0.1"]
    commands_count:
      description: How many write commands were sent (or would be).
      returned: when the table was read
      type: int
    warnings:
      description: Entries left behind when O(fail_on_in_use=false).
      returned: when there is something to warn about
      type: list
      elements: str
diff:
  description: Per target (keyed by socket), the selected entries before and after, as in RV(results[].before) and RV(results[].after).
  returned: in diff mode
  type: dict
  contains:
    before:
      description: Entries and counts before, per target.
      returned: in diff mode
      type: dict
    after:
      description: Entries and counts after, per target.
      returned: in diff mode
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils import _validate as validate  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._diff import Difference  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import HAProxyError, InvalidInput, NotFound  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Definition, Plan, Read, run_module  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._table import (  # noqa: E402
    SCALAR_DATA_TYPES,
    Dump,
    StoredProbe,
    TableRequest,
    dump_snapshot,
    matches,
    predict_set,
    probe_command,
    snapshot,
)

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="absent", choices=["absent", "present"]),
    keys=dict(type="list", elements="str", no_log=False),
    data=dict(type="dict"),
    filter=dict(type="list", elements="dict", options=dict(
        data=dict(type="str", required=True),
        operator=dict(type="str", required=True, choices=["eq", "ne", "le", "ge", "lt", "gt"]),
        value=dict(type="int", required=True),
    )),
    wait_timeout=dict(type="float", default=0),
    fail_on_in_use=dict(type="bool", default=True),
    max_entries=dict(type="int", default=100),
)
MODULE_KWARGS = dict(mutually_exclusive=[("keys", "filter")], required_if=[("state", "present", ("keys",))])

# Leftover keys cleared per round after a full or filtered clear.
KEY_BATCH = 10000
# Rounds of clearing leftovers that are not in use (the skipped neighbours),
# whatever wait_timeout says: one is enough unless traffic refills the table.
LEFTOVER_ROUNDS = 3
RETRY_INTERVAL = 0.5
# A full clear of a table with more entries than this goes out without a dump first.
COUNT_ONLY_ABOVE = 10000


def table_missing(request, tables):
    names = sorted(table["name"] for table in tables)
    hint = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "") if names else "none"
    return NotFound("no stick table named '%s' (tables: %s; tables of a peers section are named <peers>/<table>)"
                    % (request.name, hint), None, "show table %s" % request.name, None)


def check_not_cut(request, table, key, entry, what_happened):
    """Refuse a key that HAProxy keeps cut (longer than the table's len): its entry shows another key."""
    if entry is None or entry["key"] == key:
        return
    if table["type"] == "binary" and entry["key"].startswith(key) and not entry["key"][len(key):].strip("0"):
        return  # a shorter binary key is padded with zeros
    raise InvalidInput("key '%s' is longer than table '%s' keeps (its len): HAProxy cuts it to '%s'; %s"
                       % (validate.key_text(key), request.name, validate.key_text(entry["key"]), what_happened))


def check_stored(request, state, stored):
    """Refuse data types the table does not store (HAProxy would refuse them, and create the entry anyway)."""
    for name, _value in request.data:
        base = name.split("(", 1)[0]
        answer = state.get("stores %s" % base)
        if answer is None:
            raise InvalidInput("HAProxy does not know the data type %s (table '%s' stores: %s); nothing was sent"
                               % (name, request.name, ", ".join(stored) or "no counter"))
        if answer is False:
            raise InvalidInput("table '%s' does not store data.%s (it stores: %s); nothing was sent"
                               % (request.name, name, ", ".join(stored) or "no counter"))


def _missing(request):
    return ("no stick table named '%s' (tables of a peers section are named <peers>/<table>)" % request.name)


def in_use_error(request, keys, count, result):
    shown = ", ".join(keys[:10]) + (", ..." if count > 10 else "")
    return HAProxyError("%d entr%s of table '%s' still in use by live sessions, not removed: %s"
                        % (count, "y" if count == 1 else "ies", request.name, shown),
                        changed=result["changed"], partial=result)


class Notes(object):
    """The write commands of a run as reported: the first ``limit`` and the count."""

    def __init__(self, limit):
        self.limit = limit
        self.commands = []
        self.count = 0

    def note(self, commands):
        self.count += len(commands)
        room = self.limit - len(self.commands)
        if room > 0:
            self.commands.extend(commands[:room])


def result_fields(table, notes, before, after, changed, **extra):
    result = {"changed": bool(changed), "table": table, "before": before, "after": after,
              "commands": list(notes.commands), "commands_count": notes.count}
    for name in ("updated", "in_use"):
        if name in extra:  # keys as they are shown (and given back): validate.key_text
            extra[name] = [validate.key_text(key) for key in extra[name]]
    result.update(extra)
    return result


class Table(Definition):
    """Stick-table entries: set keys, clear keys, or clear the table (or a filtered part of it)."""

    def request(self, params):
        return TableRequest(params)

    def minimum_level(self, request):
        # On a user-level socket HAProxy hides the entries and answers every
        # clear with an empty line while removing nothing: refuse outright.
        return "operator", "set table" if request.state == "present" else "clear table"

    # -- reads -----------------------------------------------------------

    def reads(self, request):
        reads = [Read("tables", "show table", parsers.parse_table_list)]
        if request.state == "present":  # 2.7+ shows the shard of an entry: a new one's is predicted
            reads.append(Read("version", "show version", parsers.parse_version))
        # The dump of a clear comes once the size of the table is known (plan).
        return reads

    @staticmethod
    def _dump_read(request):
        return Read("dump", request.show_command(), Dump(request.max_entries).consume, missing=_missing(request))

    @staticmethod
    def _key_reads(request, keys):
        return [Read("key %s" % key, request.key_command("show", key), parsers.parse_table_entries, missing=_missing(request))
                for key in keys]

    @staticmethod
    def _probe_reads(request):
        """Which data types the table stores (to refuse others, and predict a new entry): nothing is dumped."""
        names = list(SCALAR_DATA_TYPES)
        for name, _value in request.data:
            base = name.split("(", 1)[0]
            if base not in names:
                names.append(base)
        return [Read("stores %s" % name, probe_command(request.table_word, name), StoredProbe(name), missing=_missing(request))
                for name in names]

    # -- plan ------------------------------------------------------------

    def plan(self, request, state):
        table = None
        for item in state["tables"]:
            if item["name"] == request.name:
                table = item
        if table is None:
            raise table_missing(request, state["tables"])
        if request.keys is not None:
            return self._plan_keys(request, state, table)
        return self._plan_clear(request, state, table)

    def _canonical(self, request, table):
        keys = []
        for key in request.keys:
            canonical = validate.normalize_key(key, table["type"])
            if canonical not in keys:
                keys.append(canonical)
        return keys

    def _plan_keys(self, request, state, table):
        # The keys are checked against the table's type (known from the first read)
        # before any of them is sent, even in a read.
        keys = self._canonical(request, table)
        missing = [key for key in keys if "key %s" % key not in state]
        if missing:
            probes = self._probe_reads(request) if request.state == "present" else []
            return Plan(more_reads=self._key_reads(request, missing) + probes)
        found = dict((key, (state["key %s" % key] or [None])[0]) for key in keys)
        for key in keys:
            check_not_cut(request, table, key, found[key], "nothing was sent")
        stored = []
        before = self._keys_snapshot(request, keys, found)
        data = {"table": table, "keys": keys, "found": found, "notes": Notes(request.max_entries)}
        if request.state == "present":
            stored = [name for name in SCALAR_DATA_TYPES if state.get("stores %s" % name)]
            check_stored(request, state, stored)
            # The shard of a new entry: 0 unless the table is sharded among peers (2.7+ shows it).
            shard = None
            if parsers.version_tuple(state.get("version") or "0.0") >= (2, 7):
                shard = 0
            todo = [key for key in keys if not matches(found[key], request.data)]
            commands = [request.set_command(key) for key in todo]
            predicted = dict(found)
            for key in todo:
                predicted[key] = predict_set(found[key], request.data, key, stored, shard)
            after = self._keys_snapshot(request, keys, predicted) if todo else before
            prediction = Notes(request.max_entries)
            prediction.note(commands)
            data["todo"] = todo
            result = result_fields(table, prediction, before, after, bool(todo), updated=todo[:request.max_entries],
                                   updated_count=len(todo), removed=0, in_use=[])
            return Plan(commands, Difference.whole(before, after), result, level="operator", data=data)
        existing = [key for key in keys if found[key] is not None]
        busy = [key for key in existing if found[key]["use"]]
        free = [key for key in existing if not found[key]["use"]]
        data["existing"] = existing
        predicted = dict((key, found[key] if key in busy else None) for key in keys)
        after = self._keys_snapshot(request, keys, predicted)
        # Every existing key is cleared (a session may have let go of one since the read);
        # those in use are retried until wait_timeout. Check mode predicts the same commands.
        commands = []
        if existing and (free or request.wait_timeout > 0):
            commands = [request.key_command("clear", key) for key in existing]
        prediction = Notes(request.max_entries)
        prediction.note(commands)
        result = result_fields(table, prediction, before, after, bool(free), removed=len(free),
                               in_use=busy[:request.max_entries], in_use_count=len(busy))
        return Plan(commands, Difference.whole(before, after), result, level="operator", data=data,
                    tolerate_busy=bool(commands))

    def _keys_snapshot(self, request, keys, found):
        entries = [found[key] for key in keys if found[key] is not None]
        return snapshot(len(entries), sum(1 for entry in entries if entry["use"]), entries, request.max_entries)

    def _plan_clear(self, request, state, table):
        limit = request.max_entries
        count_only = not request.filter_words and table["used"] > COUNT_ONLY_ABOVE
        if "dump" not in state:
            if not count_only:
                return Plan(more_reads=[self._dump_read(request)])
            # A big table is cleared unread: its count stands for the state before, and
            # what the clear removed is what the count lost (removable: none known yet).
            # Check mode reads the entries to predict the real run.
            before = snapshot(table["used"], None, [], limit)
            data = {"table": table, "dump": None, "count": table["used"], "removable": 0, "notes": Notes(limit)}
            return Plan([request.clear_command()], Difference.whole(before, before), {}, level="operator", data=data,
                        check_reads=[self._dump_read(request)])
        dump = state["dump"]
        before = snapshot(table["used"], None, [], limit) if count_only else dump_snapshot(dump, limit)
        removable = max(0, (table["used"] if count_only else dump.count) - dump.in_use)
        after = snapshot(dump.in_use, dump.in_use, dump.in_use_entries, limit)
        prediction = Notes(limit)
        if removable or count_only:  # a big table's clear goes out whatever it will remove
            prediction.note([request.clear_command()])
        result = result_fields(table, prediction, before, after, removable > 0, removed=removable,
                               in_use=dump.in_use_keys[:limit], in_use_count=dump.in_use)
        data = {"table": table, "dump": dump, "count": before["count"], "removable": removable, "notes": Notes(limit)}
        if not count_only and (dump.count == 0 or (removable == 0 and request.wait_timeout <= 0)):
            return Plan((), Difference.whole(before, after), result, level="operator", data=data)
        return Plan([request.clear_command()], Difference.whole(before, after), result, level="operator", data=data)

    # -- after the write -------------------------------------------------

    def follow_up(self, step, request, plan):
        plan.data["notes"].note(plan.commands)
        if request.keys is not None:
            if request.state == "absent":
                self._retry_keys(step, request, plan)
            return
        self._clear_leftovers(step, request, plan)

    def _write(self, step, plan, commands):
        """Send commands through the runner's step (entries in use are not errors); return those refused as in use."""
        plan.data["notes"].note(commands)
        return [outcome.command for outcome in step.write(commands, tolerate_busy=True) if outcome.busy]

    def _retry_keys(self, step, request, plan):
        # The runner sent a clear for every existing key; retry those a session holds.
        waiter = step.waiter(request.wait_timeout, RETRY_INTERVAL)
        busy = set(outcome.command for outcome in step.last_outcomes if outcome.busy)
        pending = [key for key in plan.data["existing"] if request.key_command("clear", key) in busy]
        while pending and waiter.pause():
            commands = [request.key_command("clear", key) for key in pending]
            refused = set(self._write(step, plan, commands))
            pending = [key for key, command in zip(pending, commands) if command in refused]

    def _clear_leftovers(self, step, request, plan):
        # HAProxy skips the entries in use and (2.6) the entry just before each of
        # them: re-read, clear what is not in use by key, retry what is.
        by_key = plan.data["table"]["type"] != "binary"  # 2.6 cannot clear binary keys one by one
        waiter = step.waiter(request.wait_timeout, RETRY_INTERVAL)
        rounds = 0
        while True:
            current = self._dump(step, request, KEY_BATCH if by_key else 0)
            if current.count == 0:
                break
            rounds += 1
            retry_leftovers = rounds <= LEFTOVER_ROUNDS or not waiter.expired()
            if current.free_keys and retry_leftovers:
                # Past the first rounds, new traffic refills the table: retry at the
                # waiter's pace, never in a loop as fast as the socket answers.
                if rounds > LEFTOVER_ROUNDS and not waiter.pause():
                    break
                self._write(step, plan, [request.key_command("clear", key) for key in current.free_keys])
                continue
            if current.in_use and not waiter.expired():
                waiter.pause()
                self._write(step, plan, [request.clear_command()])
                continue
            if not by_key and current.count > current.in_use and retry_leftovers:
                self._write(step, plan, [request.clear_command()])
                continue
            break
        plan.data["current"] = current

    @staticmethod
    def _dump(step, request, key_cap):
        return step.read([Read("dump", request.show_command(), Dump(request.max_entries, key_cap).consume,
                               missing=_missing(request))])["dump"]

    # -- the re-read and the result --------------------------------------

    def reread(self, request, plan):
        if request.keys is not None:
            return self._key_reads(request, plan.data["keys"])
        return []  # the last dump of the leftovers loop is the re-read

    def observe(self, request, state, plan, step):
        data, limit = plan.data, request.max_entries
        before = plan.difference.before
        if request.keys is not None:
            keys = data["keys"]
            found = dict((key, (state["key %s" % key] or [None])[0]) for key in keys)
            for key in keys:
                check_not_cut(request, data["table"], key, found[key], "already changed on this target: %s"
                              % "; ".join(validate.key_text(command) for command in step.sent))
            after = self._keys_snapshot(request, keys, found)
            if request.state == "present":
                todo = data["todo"]
                return result_fields(data["table"], data["notes"], before, after, True, updated=todo[:limit],
                                     updated_count=len(todo), removed=0, in_use=[]), after
            still = [key for key in keys if found[key] is not None and found[key]["use"]]
            removed = sum(1 for key in data["existing"] if found[key] is None)
            return result_fields(data["table"], data["notes"], before, after, removed > 0, removed=removed,
                                 in_use=still[:limit], in_use_count=len(still)), after
        count, current = data["count"], data["current"]
        after = dump_snapshot(current, limit)
        changed = data["removable"] > 0 or current.count < count
        result = result_fields(data["table"], data["notes"], before, after, changed,
                               removed=max(0, count - current.count), in_use=current.in_use_keys[:limit],
                               in_use_count=current.in_use)
        left = current.count - current.in_use
        if left > 0:
            result["warnings"] = ["%d entr%s not in use remained in table '%s' after clearing (new traffic?)"
                                  % (left, "y" if left == 1 else "ies", request.name)]
        return result, after

    def changed(self, request, plan, step, result):
        return result["changed"]

    def conclude(self, request, result):
        """Entries still in use: a failure (``fail_on_in_use``) or a warning."""
        count = result.get("in_use_count") or 0
        if not count:
            return result
        keys = result.get("in_use") or []
        if request.fail_on_in_use:
            raise in_use_error(request, keys, count, result)
        warnings = list(result.get("warnings") or [])
        warnings.append("%d entr%s of table '%s' still in use by live sessions, not removed"
                        % (count, "y" if count == 1 else "ies", request.name))
        result["warnings"] = warnings
        return result


DEFINITION = Table()


def main(client_factory=None):
    run_module(AnsibleModule, DEFINITION, ARGUMENT_SPEC, MODULE_KWARGS, client_factory=client_factory)


if __name__ == "__main__":
    main()
