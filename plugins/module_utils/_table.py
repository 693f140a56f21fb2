# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Helpers of ``lbops.haproxy.haproxy_table``: the request, streamed dumps, snapshots.

Table dumps are consumed as a stream (:class:`Dump`), so the size of a table
never shows in the module's memory: at most ``max_entries`` entries and
``key_cap`` keys are held at a time.
"""

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils import _validate as validate
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput, ProtocolError
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import check_seconds

# The data types a table may store that hold one number (HAProxy 2.6 to 3.2; glitch_* are 3.0+).
# Arrays (gpt, gpc, gpc_rate) and the server_key/server_name dictionary entries are not probed.
SCALAR_DATA_TYPES = ("server_id", "gpt0", "gpc0", "gpc0_rate", "gpc1", "gpc1_rate", "conn_cnt", "conn_rate",
                     "conn_cur", "sess_cnt", "sess_rate", "http_req_cnt", "http_req_rate", "http_err_cnt",
                     "http_err_rate", "bytes_in_cnt", "bytes_in_rate", "bytes_out_cnt", "bytes_out_rate",
                     "http_fail_cnt", "http_fail_rate", "glitch_cnt", "glitch_rate")


class StoredProbe(object):
    """Parser of ``show table <t> data.<type> eq x``: whether the table stores ``<type>``.

    HAProxy checks a filter's data type before its value, and refuses the value
    ``x`` before it reads a single entry, so the answer costs nothing, whatever
    the size of the table: "Require a valid integer value..." (stored), "Data
    type not stored in this table" (not stored: ``False``), "Unknown data
    type" (not a type of this version: ``None``).
    """

    takes_feedback = True

    def __init__(self, name):
        self.name = name

    def __call__(self, reply):
        text = getattr(reply, "text", None)
        if text is None:
            text = "\n".join(reply)
        if "Require a valid integer" in text:
            return True
        if "not stored" in text:
            return False
        if "Unknown data type" in text:
            return None
        raise ProtocolError("unexpected answer to the probe of data type %s: %r" % (self.name, text[:200]))


def probe_command(table_word, name):
    return "show table %s data.%s eq x" % (table_word, name)


class TableRequest(object):
    """Module parameters (defaulted and checked by the argument spec), checked further."""

    def __init__(self, params):
        self.name = validate.check_name(params["name"], "table name")
        self.state = params["state"]
        self.max_entries = params["max_entries"]
        if self.max_entries < 0:
            raise InvalidInput("max_entries must be 0 or more")
        self.wait_timeout = check_seconds(params["wait_timeout"], "wait_timeout")
        self.fail_on_in_use = params["fail_on_in_use"]
        raw_keys = params["keys"]
        self.keys = None
        if raw_keys is not None:
            self.keys = []
            for key in raw_keys:
                text = "" if key is None else str(key)
                if text == "":
                    raise InvalidInput("stick-table keys must not be empty")
                # Keys are given as the module shows them (validate.key_text): '\xNN' is a byte.
                text = validate.key_from_text(text)
                validate.escape_arg(text)  # refuses line breaks and NUL
                if text not in self.keys:
                    self.keys.append(text)
        self.data = []
        for name, value in sorted((params["data"] or {}).items()):
            self.data.append((validate.check_data_type(name), validate.check_data_value(name, value)))
        self.filter_words = validate.check_filters(params["filter"])
        if self.state == "present":
            if self.filter_words:
                raise InvalidInput("'filter' only applies to state=absent")
        elif self.data:
            raise InvalidInput("'data' only applies to state=present")
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


class Dump(parsers.TableDump):
    """A :class:`TableDump` that also keeps the in-use entries and some free keys.

    ``in_use_entries`` (at most ``limit``) predict what a clear leaves behind;
    ``free_keys`` (at most ``key_cap``) are what to clear by key after one.
    """

    def __init__(self, limit, key_cap=0):
        super(Dump, self).__init__(limit)
        self.key_cap = key_cap
        self.in_use_entries = []
        self.free_keys = []

    def wants(self, busy):
        if super(Dump, self).wants(busy):
            return True
        if busy:
            return len(self.in_use_entries) < self.limit
        return len(self.free_keys) < self.key_cap

    def keep(self, entry):
        super(Dump, self).keep(entry)
        if entry["use"]:
            if len(self.in_use_entries) < self.limit:
                self.in_use_entries.append(entry)
        elif len(self.free_keys) < self.key_cap:
            self.free_keys.append(entry["key"])


def public_entry(entry):
    """An entry as reported: ``exp`` moves all the time, so it stays out of diffs."""
    result = {"key": validate.key_text(entry["key"]), "use": entry["use"], "data": dict(entry["data"])}
    if "shard" in entry:
        result["shard"] = entry["shard"]
    return result


def snapshot(count, in_use, entries, limit):
    entries = [public_entry(entry) for entry in entries[:limit]]
    return {"count": count, "in_use": in_use, "entries": entries, "truncated": count > len(entries)}


def dump_snapshot(dump, limit):
    return snapshot(dump.count, dump.in_use, dump.entries, limit)


def matches(entry, data):
    if entry is None:
        return False
    for name, value in data:
        if entry["data"].get(name) != value:
            return False
    return True


def predict_set(entry, data, key, stored=(), shard=None):
    """The entry after ``set table``: a new one holds every stored type at 0 (and ``shard``, if given)."""
    predicted = {"key": key, "use": 0, "exp": None, "data": dict((name, 0) for name in stored)}
    if shard is not None:
        predicted["shard"] = shard
    if entry is not None:
        predicted = dict(entry, data=dict(entry["data"]))
    for name, value in data:
        predicted["data"][name] = value
    return predicted
