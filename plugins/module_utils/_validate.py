# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Input validation and runtime-API escaping.

Everything here runs before a socket is opened: a bad value raises
:class:`InvalidInput` and nothing is sent.
"""

import ipaddress
import re
import socket

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput

# Characters the CLI parser treats specially (command and word separators, the
# escape character) plus every control character.
_FORBIDDEN_IN_NAMES = re.compile(r"[;\\\s\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Every pattern ends with \Z, not $: '$' also matches before a trailing newline, and
# "gpc0\n" would pass for a data type name (then reach the socket, or break a command).
_WEIGHT = re.compile(r"^(\d{1,3})(%?)\Z")
_DATA_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\(\d+\))?\Z")
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+\Z")
_INT64 = re.compile(r"^-?\d{1,19}\Z")
_INTEGER_KEY = re.compile(r"^\d{1,10}\Z")
_DATA_VALUE = re.compile(r"^\d{1,20}\Z")
# The largest value HAProxy stores for a data type: 64-bit counters, the signed
# server id, and 32-bit unsigned integers for every other one (counters, gpt, rates).
_DATA_MAX = {"bytes_in_cnt": (1 << 64) - 1, "bytes_out_cnt": (1 << 64) - 1, "server_id": (1 << 31) - 1}
_DATA_MAX_DEFAULT = (1 << 32) - 1

FILTER_OPERATORS = ("eq", "ne", "le", "ge", "lt", "gt")
# HAProxy's STKTABLE_FILTER_LEN: the same in every version from 2.6 to 3.5-dev.
MAX_TABLE_FILTERS = 4
TABLE_TYPES = ("ip", "ipv6", "integer", "string", "binary")


def escape_arg(value):
    """Escape one word for the CLI: backslash, ';' and blanks get a backslash."""
    value = str(value)
    if _CONTROL.search(value):
        raise InvalidInput("control characters cannot be sent to HAProxy: %r" % value)
    out = []
    for char in value:
        if char in "\\; \t":
            out.append("\\")
        out.append(char)
    return "".join(out)


def check_name(value, what):
    """Backend, server, frontend or table name: one plain CLI word.

    ``#<id>`` forms are accepted. A ``/`` is accepted only in table names
    (tables of a ``peers`` section are called ``<peers>/<table>``).
    """
    if value is None or str(value) == "":
        raise InvalidInput("%s must not be empty" % what)
    value = str(value)
    if _FORBIDDEN_IN_NAMES.search(value):
        raise InvalidInput("invalid %s %r: names cannot contain ';', '\\', whitespace or control characters" % (what, value))
    if what != "table name" and "/" in value:
        raise InvalidInput("invalid %s %r: names cannot contain '/'" % (what, value))
    return value


def parse_weight(value):
    """Return ``(number, is_percent)`` for ``0``-``256`` or ``N%``."""
    text = str(value).strip()
    match = _WEIGHT.match(text)
    if not match:
        raise InvalidInput("invalid weight %r: expected an integer from 0 to 256, or a percentage such as '50%%'" % (value,))
    number, percent = int(match.group(1)), bool(match.group(2))
    if not percent and number > 256:
        raise InvalidInput("invalid weight %r: an absolute weight must be between 0 and 256" % (value,))
    return number, percent


def resolve_weight(value, initial_weight):
    """The absolute weight HAProxy will apply for ``value``.

    A percentage is relative to the server's initial (configuration) weight,
    rounded down, as HAProxy computes it.
    """
    number, percent = parse_weight(value)
    if not percent:
        return number
    result = initial_weight * number // 100
    if result > 256:
        raise InvalidInput("weight %s of the initial weight %d gives %d, above the maximum of 256" % (value, initial_weight, result))
    return result


def canonical_address(address):
    """An address as HAProxy shows it: ``inet_ntop``'s text.

    Python's own text of an IPv4-mapped IPv6 address differs by version
    (``::ffff:7f00:1`` up to 3.12, ``::ffff:127.0.0.1`` from 3.13) and from
    HAProxy's, which would make such an address "changed" on every run.
    """
    if address.version == 6:
        return socket.inet_ntop(socket.AF_INET6, address.packed)
    return str(address)


def check_address(value):
    """A literal IPv4 or IPv6 address (HAProxy refuses host names and IPv6 zones here)."""
    if "%" in str(value):
        raise InvalidInput("invalid address %r: HAProxy's runtime API refuses IPv6 zone (scope) addresses" % (value,))
    try:
        return canonical_address(ipaddress.ip_address(str(value)))
    except ValueError:
        raise InvalidInput("invalid address %r: expected a literal IPv4 or IPv6 address (HAProxy's runtime API refuses host names)" % (value,))


def check_port(value):
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 1 <= port <= 65535:
        raise InvalidInput("invalid port %r: expected 1-65535" % (value,))
    return port


def normalize_key(key, table_type):
    """Check a stick-table key against the table's type; return its canonical text.

    HAProxy 2.6 silently stores an unparsable key of an ``ip`` table as
    ``0.0.0.0``, so keys are checked here, strictly.
    """
    text = str(key)
    if text == "":
        raise InvalidInput("stick-table keys must not be empty")
    if table_type == "ip":
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise InvalidInput("invalid key %r for a table of type ip: expected an IPv4 address" % text)
    if table_type == "ipv6":
        if "%" in text:
            raise InvalidInput("invalid key %r for a table of type ipv6: IPv6 zone (scope) addresses are not keys" % text)
        try:
            return canonical_address(ipaddress.IPv6Address(text))
        except ValueError:
            raise InvalidInput("invalid key %r for a table of type ipv6: expected an IPv6 address" % text)
    if table_type == "integer":
        if not _INTEGER_KEY.match(text) or int(text) > 4294967295:
            raise InvalidInput("invalid key %r for a table of type integer: expected an integer from 0 to 4294967295" % text)
        return str(int(text))
    if table_type == "binary":
        if not _HEX.match(text):
            raise InvalidInput("invalid key %r for a table of type binary: expected an even number of hexadecimal digits" % text)
        return text.lower()
    if table_type == "string":
        if _CONTROL.search(text):
            raise InvalidInput("invalid key %r: control characters cannot be sent to HAProxy" % text)
        return text
    raise InvalidInput("unsupported stick-table type %r" % (table_type,))


# The stick-table data types of HAProxy 2.6 to 3.2 (stktable_data_types in src/stick_table.c).
# HAProxy refuses any other name, but 'set table' creates the entry before it does.
DATA_TYPES = frozenset((
    "server_id", "server_key", "gpt0", "gpt", "gpc0", "gpc0_rate", "gpc1", "gpc1_rate", "gpc", "gpc_rate",
    "conn_cnt", "conn_rate", "conn_cur", "sess_cnt", "sess_rate", "http_req_cnt", "http_req_rate",
    "http_err_cnt", "http_err_rate", "http_fail_cnt", "http_fail_rate", "bytes_in_cnt", "bytes_in_rate",
    "bytes_out_cnt", "bytes_out_rate", "glitch_cnt", "glitch_rate",
))


def check_data_type(name):
    if not name or not _DATA_TYPE.match(str(name)):
        raise InvalidInput("invalid stick-table data type %r" % (name,))
    if str(name).split("(", maxsplit=1)[0] not in DATA_TYPES:
        raise InvalidInput("unknown stick-table data type %r (HAProxy knows %s)" % (name, ", ".join(sorted(DATA_TYPES))))
    return str(name)


def check_data_value(name, value):
    text = str(value).strip()
    if isinstance(value, bool) or not _DATA_VALUE.match(text):
        raise InvalidInput("invalid value %r for data.%s: expected a non-negative integer" % (value, name))
    number = int(text)
    # Beyond its size, HAProxy stores a value modulo 2^32 (2^32 into gpc0 is 0).
    largest = _DATA_MAX.get(str(name).split("(", maxsplit=1)[0], _DATA_MAX_DEFAULT)
    if number > largest:
        raise InvalidInput("invalid value %d for data.%s: HAProxy stores at most %d there" % (number, name, largest))
    return number


def check_filters(filters):
    """Validate ``[{data, operator, value}]``; return CLI words per filter."""
    filters = filters or []
    if len(filters) > MAX_TABLE_FILTERS:
        raise InvalidInput("at most %d filters are allowed (HAProxy's limit), got %d" % (MAX_TABLE_FILTERS, len(filters)))
    words = []
    for item in filters:
        data = check_data_type(item.get("data"))
        operator = str(item.get("operator", "")).lower()
        if operator not in FILTER_OPERATORS:
            raise InvalidInput("invalid filter operator %r: expected one of %s" % (item.get("operator"), ", ".join(FILTER_OPERATORS)))
        value = str(item.get("value", "")).strip()
        if isinstance(item.get("value"), bool) or not _INT64.match(value):
            raise InvalidInput("invalid filter value %r for data.%s: expected an integer" % (item.get("value"), data))
        words.append("data.%s %s %s" % (data, operator, int(value)))
    return words
