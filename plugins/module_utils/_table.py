# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Logic of ``lbops.haproxy.haproxy_table``: stick-table entries.

Three ways to run, all sharing one result shape:

* ``present``: ``keys`` are read one by one and only the ones whose data
  differ from ``data`` are written (``set table``).
* ``absent`` with ``keys``: the existing keys are cleared one by one.
* ``absent`` without ``keys``: the whole table, or the entries matching
  ``filter``, is cleared with one command, then re-read: HAProxy 2.6 keeps the
  entries in use *and the entry just before each of them*, so the leftovers
  that are not in use are cleared by key.

Table dumps are consumed as a stream (:class:`_Dump`), so the size of a table
never shows in the module's memory: at most ``max_entries`` entries and
``_KEY_BATCH`` keys are held at a time.
"""

import time

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils import _validate as validate
from ansible_collections.lbops.haproxy.plugins.module_utils._client import require_level
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    HAProxyError,
    InvalidInput,
    NotFound,
)

IN_USE_MESSAGE = "Entry currently in use"
# Leftover keys cleared per round after a full or filtered clear.
_KEY_BATCH = 10000
# Rounds of clearing leftovers that are not in use (the skipped neighbours),
# whatever wait_timeout says: one is enough unless traffic refills the table.
_LEFTOVER_ROUNDS = 3
_RETRY_INTERVAL = 0.5


class TableRequest(object):
    """Module parameters, checked before any connection is opened."""

    def __init__(self, params):
        self.name = validate.check_name(params.get("name"), "table name")
        self.state = params.get("state") or "absent"
        self.max_entries = params.get("max_entries")
        if self.max_entries is None:
            self.max_entries = 100
        if self.max_entries < 0:
            raise InvalidInput("max_entries must be 0 or more")
        self.wait_timeout = float(params.get("wait_timeout") or 0)
        if self.wait_timeout < 0:
            raise InvalidInput("wait_timeout must be 0 or more seconds")
        self.fail_on_in_use = params.get("fail_on_in_use", True)
        if self.fail_on_in_use is None:
            self.fail_on_in_use = True
        raw_keys = params.get("keys")
        self.keys = None
        if raw_keys is not None:
            self.keys = []
            for key in raw_keys:
                text = "" if key is None else str(key)
                if text == "":
                    raise InvalidInput("stick-table keys must not be empty")
                validate.escape_arg(text)  # refuses control characters
                if text not in self.keys:
                    self.keys.append(text)
        self.data = []
        for name, value in sorted((params.get("data") or {}).items()):
            self.data.append((validate.check_data_type(name), validate.check_data_value(name, value)))
        self.filter_words = validate.check_filters(params.get("filter"))
        if self.state == "present":
            if not self.keys:
                raise InvalidInput("state=present needs at least one key in 'keys'")
            if self.filter_words:
                raise InvalidInput("'filter' only applies to state=absent")
        elif self.data:
            raise InvalidInput("'data' only applies to state=present")
        if self.keys is not None and self.filter_words:
            raise InvalidInput("'keys' and 'filter' are mutually exclusive")
        if self.keys is not None and not self.keys:
            raise InvalidInput("'keys' must not be an empty list (leave it out to clear the whole table)")

    @property
    def table_word(self):
        return validate.escape_arg(self.name)

    def show_command(self):
        return " ".join(["show table", self.table_word] + self.filter_words)

    def clear_command(self):
        return " ".join(["clear table", self.table_word] + self.filter_words)

    def key_command(self, verb, key):
        return "%s table %s key %s" % (verb, self.table_word, validate.escape_arg(key))

    def set_command(self, key):
        words = [self.key_command("set", key)]
        for name, value in self.data:
            words.append("data.%s %d" % (name, value))
        return " ".join(words)


class _Dump(parsers.TableDump):
    """A :class:`TableDump` that also keeps the in-use entries and some free keys.

    ``in_use_entries`` (at most ``limit``) predict what a clear leaves behind;
    ``free_keys`` (at most ``key_cap``) are what to clear by key after one.
    """

    def __init__(self, limit, key_cap=0):
        super(_Dump, self).__init__(limit)
        self.key_cap = key_cap
        self.in_use_entries = []
        self.free_keys = []

    def add(self, entry):
        super(_Dump, self).add(entry)
        if entry["use"]:
            if len(self.in_use_entries) < self.limit:
                self.in_use_entries.append(entry)
        elif len(self.free_keys) < self.key_cap:
            self.free_keys.append(entry["key"])


def _public_entry(entry):
    """An entry as reported: ``exp`` moves all the time, so it stays out of diffs."""
    result = {"key": entry["key"], "use": entry["use"], "data": dict(entry["data"])}
    if "shard" in entry:
        result["shard"] = entry["shard"]
    return result


def _snapshot(count, in_use, entries, limit):
    entries = [_public_entry(entry) for entry in entries[:limit]]
    return {"count": count, "in_use": in_use, "entries": entries, "truncated": count > len(entries)}


def _dump_snapshot(dump, limit):
    return _snapshot(dump.count, dump.in_use, dump.entries, limit)


def _table_missing(request, tables):
    names = sorted(table["name"] for table in tables)
    hint = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "") if names else "none"
    return NotFound("no stick table named '%s' (tables: %s; tables of a peers section are named <peers>/<table>)"
                    % (request.name, hint), None, "show table %s" % request.name, None)


def _reword_not_found(request, exc):
    if isinstance(exc, NotFound) and "No such table" in (exc.reply or exc.message):
        return NotFound("no stick table named '%s' (HAProxy: No such table; tables of a peers section are named "
                        "<peers>/<table>)" % request.name, exc.target, exc.command, exc.reply)
    return exc


class TableRun(object):
    """One target's run. ``sleep`` and ``clock`` are injectable for the tests."""

    def __init__(self, client, request, check_mode=False, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.request = request
        self.check_mode = check_mode
        self.sleep = sleep
        self.clock = clock
        self.commands = []
        self.commands_count = 0
        self.warnings = []

    # -- helpers ---------------------------------------------------------

    def _note(self, commands):
        self.commands_count += len(commands)
        room = self.request.max_entries - len(self.commands)
        if room > 0:
            self.commands.extend(commands[:room])

    def _write(self, commands, changed_before):
        """Send ``commands``; return the commands refused because their entry is in use.

        Any other refusal raises, flagged ``changed`` when an earlier command
        of this run (``changed_before``) or of this batch took effect.
        """
        self._note(commands)
        in_use = []
        done = 0
        for outcome in self.client.write(commands):
            if outcome.error is None:
                done += 1
                continue
            if outcome.text.startswith(IN_USE_MESSAGE):
                in_use.append(outcome.command)
                continue
            error = outcome.error
            error.changed = bool(changed_before or done)
            error.partial = self._result(None, None, error.changed)
            raise error
        return in_use

    def _result(self, before, after, changed, **extra):
        result = {
            "changed": bool(changed),
            "table": self.table,
            "before": before,
            "after": after,
            "commands": list(self.commands),
            "commands_count": self.commands_count,
        }
        if before is not None or after is not None:
            result["diff"] = {"before": before, "after": after}
        result.update(extra)
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result

    def _read_header(self, extra_requests=()):
        requests = [self.client.level_request(), ("show table", parsers.parse_table_list)] + list(extra_requests)
        try:
            values = self.client.read(requests)
        except NotFound as exc:
            raise _reword_not_found(self.request, exc)
        level, tables = values[0], values[1]
        self.level = level
        self.table = None
        for table in tables:
            if table["name"] == self.request.name:
                self.table = table
        if self.table is None:
            raise _table_missing(self.request, tables)
        # On a user-level socket HAProxy hides the entries and answers every
        # clear with an empty line while removing nothing: refuse outright.
        command = "set table" if self.request.state == "present" else "clear table"
        require_level(self.client, level, "operator", command)
        return values[2:]

    def _in_use_error(self, keys, count, result):
        shown = ", ".join(keys[:10]) + (", ..." if count > 10 else "")
        error = HAProxyError("%d entr%s of table '%s' still in use by live sessions, not removed: %s"
                             % (count, "y" if count == 1 else "ies", self.request.name, shown))
        error.changed = result["changed"]
        error.partial = result
        return error

    # -- entry points ----------------------------------------------------

    def run(self):
        if self.request.keys is not None:
            return self._run_keys()
        return self._run_clear()

    def _read_keys(self, keys):
        """``{key: entry or None}`` for canonical ``keys``, over one connection."""
        requests = [(self.request.key_command("show", key), parsers.parse_table_entries) for key in keys]
        try:
            values = self.client.read(requests)
        except NotFound as exc:
            raise _reword_not_found(self.request, exc)
        found = {}
        for key, entries in zip(keys, values):
            found[key] = entries[0] if entries else None
        return found

    def _keys_snapshot(self, keys, found):
        entries = [found[key] for key in keys if found[key] is not None]
        return _snapshot(len(entries), sum(1 for entry in entries if entry["use"]), entries, self.request.max_entries)

    def _run_keys(self):
        request = self.request
        self._read_header()
        keys = []
        for key in request.keys:
            canonical = validate.normalize_key(key, self.table["type"])
            if canonical not in keys:
                keys.append(canonical)
        found = self._read_keys(keys)
        before = self._keys_snapshot(keys, found)

        if request.state == "present":
            todo = [key for key in keys if not _matches(found[key], request.data)]
            commands = [request.set_command(key) for key in todo]
            if self.check_mode or not commands:
                predicted = dict(found)
                for key in todo:
                    predicted[key] = _predict_set(found[key], request.data, key)
                after = self._keys_snapshot(keys, predicted) if todo else before
                self._note(commands)
                return self._result(before, after, bool(todo), updated=todo[:request.max_entries],
                                    updated_count=len(todo), removed=0, in_use=[])
            self._write(commands, False)
            found_after = self._read_keys(keys)
            after = self._keys_snapshot(keys, found_after)
            return self._result(before, after, True, updated=todo[:request.max_entries], updated_count=len(todo),
                                removed=0, in_use=[])

        # state=absent, keys
        existing = [key for key in keys if found[key] is not None]
        busy = [key for key in existing if found[key]["use"]]
        free = [key for key in existing if not found[key]["use"]]
        if self.check_mode or not existing or (not free and request.wait_timeout <= 0):
            predicted = dict((key, found[key] if key in busy else None) for key in keys)
            after = self._keys_snapshot(keys, predicted)
            self._note([request.key_command("clear", key) for key in free])
            result = self._result(before, after, bool(free), removed=len(free), in_use=busy[:request.max_entries],
                                  in_use_count=len(busy))
            return self._finish_in_use(result, busy, len(busy))

        deadline = self.clock() + request.wait_timeout
        pending = list(existing)
        removed_any = False
        while True:
            commands = [request.key_command("clear", key) for key in pending]
            refused = set(self._write(commands, removed_any))
            pending = [key for key, command in zip(pending, commands) if command in refused]
            removed_any = removed_any or len(pending) < len(commands)
            if not pending or self.clock() >= deadline:
                break
            self.sleep(min(_RETRY_INTERVAL, max(0.0, deadline - self.clock())))
        found_after = self._read_keys(keys)
        after = self._keys_snapshot(keys, found_after)
        still = [key for key in keys if found_after[key] is not None and found_after[key]["use"]]
        removed = sum(1 for key in existing if found_after[key] is None)
        result = self._result(before, after, removed > 0, removed=removed, in_use=still[:request.max_entries],
                              in_use_count=len(still))
        return self._finish_in_use(result, still, len(still))

    def _finish_in_use(self, result, keys, count):
        if count:
            if self.request.fail_on_in_use:
                raise self._in_use_error(keys, count, result)
            self.warnings.append("%d entr%s of table '%s' still in use by live sessions, not removed"
                                 % (count, "y" if count == 1 else "ies", self.request.name))
            result["warnings"] = list(self.warnings)
        return result

    def _dump(self, key_cap=0):
        dump = _Dump(self.request.max_entries, key_cap)
        try:
            self.client.read([(self.request.show_command(), dump.consume)])
        except NotFound as exc:
            raise _reword_not_found(self.request, exc)
        return dump

    def _run_clear(self):
        request = self.request
        limit = request.max_entries
        dump = _Dump(limit)
        self._read_header([(request.show_command(), dump.consume)])
        before = _dump_snapshot(dump, limit)
        removable = dump.count - dump.in_use
        if self.check_mode or dump.count == 0 or (removable == 0 and request.wait_timeout <= 0):
            after = _snapshot(dump.in_use, dump.in_use, dump.in_use_entries, limit)
            if removable:
                self._note([request.clear_command()])
            result = self._result(before, after, removable > 0, removed=removable,
                                  in_use=dump.in_use_keys[:limit], in_use_count=dump.in_use)
            return self._finish_in_use(result, dump.in_use_keys, dump.in_use)

        by_key = self.table["type"] != "binary"  # 2.6 cannot clear binary keys one by one
        deadline = self.clock() + request.wait_timeout
        rounds = 0
        self._write([request.clear_command()], False)
        while True:
            current = self._dump(_KEY_BATCH if by_key else 0)
            if current.count == 0:
                break
            rounds += 1
            retry_leftovers = rounds <= _LEFTOVER_ROUNDS or self.clock() < deadline
            if current.free_keys and retry_leftovers:
                # Skipped neighbours (or entries freed meanwhile): clear them by key.
                self._write([request.key_command("clear", key) for key in current.free_keys], True)
                continue
            if current.in_use and self.clock() < deadline:
                self.sleep(min(_RETRY_INTERVAL, max(0.0, deadline - self.clock())))
                self._write([request.clear_command()], True)
                continue
            if not by_key and current.count > current.in_use and retry_leftovers:
                self._write([request.clear_command()], True)
                continue
            break
        after = _dump_snapshot(current, limit)
        removed = max(0, dump.count - current.count)
        changed = removable > 0 or current.count < dump.count
        result = self._result(before, after, changed, removed=removed, in_use=current.in_use_keys[:limit],
                              in_use_count=current.in_use)
        if current.count > current.in_use:
            self.warnings.append("%d entr%s not in use remained in table '%s' after clearing (new traffic?)"
                                 % (current.count - current.in_use, "y" if current.count - current.in_use == 1
                                    else "ies", request.name))
            result["warnings"] = list(self.warnings)
        return self._finish_in_use(result, current.in_use_keys, current.in_use)


def _matches(entry, data):
    if entry is None:
        return False
    for name, value in data:
        if entry["data"].get(name) != value:
            return False
    return True


def _predict_set(entry, data, key):
    predicted = {"key": key, "use": 0, "exp": None, "data": {}}
    if entry is not None:
        predicted = dict(entry, data=dict(entry["data"]))
    for name, value in data:
        predicted["data"][name] = value
    return predicted


def run(client, request, check_mode=False):
    """One target's run; ``request`` is a :class:`TableRequest`."""
    return TableRun(client, request, check_mode).run()
