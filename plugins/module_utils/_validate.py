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

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput

# Characters the CLI parser treats specially (command and word separators, the
# escape character) plus every control character.
_FORBIDDEN_IN_NAMES = re.compile(r"[;\\\s\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What no word can carry: HAProxy reads one command per line, as a C string.
# Other control characters go through (verified on 2.6.12 and 3.2.26: a key
# with ESC, DEL or \x01 is set and cleared by key; TAB is escaped).
_LINE_BREAK_OR_NUL = re.compile(r"[\r\n\x00]")
# Every pattern is matched whole (``fullmatch``): ``$`` would also match before a
# trailing newline, which would then reach the socket.
_WEIGHT = re.compile(r"(\d{1,3})(%?)")
_DATA_TYPE = re.compile(r"[a-z][a-z0-9_]*(\(\d+\))?")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_INT = re.compile(r"-?\d{1,20}")
_UINT = re.compile(r"\d{1,20}")
_INT_KEY = re.compile(r"\d{1,10}")

INT64_MAX = (1 << 63) - 1
UINT32_MAX = (1 << 32) - 1
# The value range of each stored data type that 'set table' writes (HAProxy's
# stktable_data_types, 2.6 to 3.2): 'set table' parses a signed 64-bit value and
# casts it to the type's C type, so a value out of range would be stored
# wrapped (2**32 into gpc0 is stored as 0). Counters and the rates' counts are
# unsigned 32-bit, server_id a signed 32-bit id, the byte counters 64-bit.
DATA_TYPE_MAX = {"server_id": (1 << 31) - 1, "bytes_in_cnt": INT64_MAX, "bytes_out_cnt": INT64_MAX}
_UINT32_TYPES = ("gpt0", "gpt", "gpc0", "gpc1", "gpc", "conn_cnt", "conn_cur", "sess_cnt", "http_req_cnt",
                 "http_err_cnt", "http_fail_cnt", "glitch_cnt")
DATA_TYPE_MAX.update((name, UINT32_MAX) for name in _UINT32_TYPES)

FILTER_OPERATORS = ("eq", "ne", "le", "ge", "lt", "gt")
# HAProxy's STKTABLE_FILTER_LEN: the same in every version from 2.6 to 3.5-dev.
MAX_TABLE_FILTERS = 4
TABLE_TYPES = ("ip", "ipv6", "integer", "string", "binary")


def check_bytes(value, what="text"):
    """``value`` if it stands for bytes (UTF-8, ``surrogateescape`` for bytes that are not UTF-8).

    A lone surrogate outside U+DC80-U+DCFF stands for no byte at all: it could
    not be sent, so it is refused here, before anything is.
    """
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise InvalidInput("invalid %s %r: it holds a character that stands for no bytes (a lone surrogate)" % (what, value))
    return value


def escape_arg(value):
    r"""Escape one word for the CLI: backslash, ';', blanks and '<' get a backslash.

    '<' because a line that ends with ``<<`` (2.6), or whose last word starts
    with ``<<`` (3.2: ``<<EOF``), starts a payload: HAProxy then takes the next
    lines of the batch as data and the exchange hangs. Both read ``\<`` as ``<``.
    """
    value = str(value)
    if _LINE_BREAK_OR_NUL.search(value):
        raise InvalidInput("line breaks and NUL cannot be sent to HAProxy (it reads one command per line): %r" % value)
    check_bytes(value)
    out = []
    for char in value:
        if char in "\\; \t<":
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
    return check_bytes(value, what)


def parse_weight(value):
    """Return ``(number, is_percent)`` for ``0``-``256`` or ``N%``."""
    text = str(value).strip(" ")
    match = _WEIGHT.fullmatch(text)
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


def parse_ip(value, version=None):
    """An ``ipaddress`` object for a literal address, or ``None``.

    Zone (scope) identifiers (``fe80::1%eth0``) are refused: Python accepts
    them, HAProxy's runtime API does not.
    """
    text = str(value)
    if "%" in text or text != text.strip():
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if version is not None and address.version != version:
        return None
    return address


def address_text(address):
    """An address as HAProxy prints it (inet_ntop): IPv4-mapped IPv6 as ``::ffff:1.2.3.4``.

    Python before 3.13 prints that one as ``::ffff:102:304``; HAProxy does not.
    """
    if address.version == 6 and address.ipv4_mapped is not None:
        return "::ffff:%s" % address.ipv4_mapped
    return str(address)


def same_address(one, other):
    """Whether two address texts name the same address (``2001:DB8::1`` is ``2001:db8::1``)."""
    if one is None or other is None:
        return one == other
    first, second = parse_ip(one), parse_ip(other)
    if first is None or second is None:
        return str(one) == str(other)
    return first == second


def check_address(value):
    """A literal IPv4 or IPv6 address (HAProxy refuses host names and zone ids here), as HAProxy prints it."""
    address = parse_ip(value)
    if address is None:
        raise InvalidInput("invalid address %r: expected a literal IPv4 or IPv6 address without a zone id "
                           "(HAProxy's runtime API refuses host names and '%%<zone>')" % (value,))
    return address_text(address)


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
        address = parse_ip(text, 4)
        if address is None:
            raise InvalidInput("invalid key %r for a table of type ip: expected an IPv4 address" % text)
        return str(address)
    if table_type == "ipv6":
        address = parse_ip(text, 6)
        if address is None:
            raise InvalidInput("invalid key %r for a table of type ipv6: expected an IPv6 address without a zone id" % text)
        return address_text(address)
    if table_type == "integer":
        if not _INT_KEY.fullmatch(text) or int(text) > UINT32_MAX:
            raise InvalidInput("invalid key %r for a table of type integer: expected an integer from 0 to 4294967295" % text)
        return str(int(text))
    if table_type == "binary":
        if not _HEX.fullmatch(text):
            raise InvalidInput("invalid key %r for a table of type binary: expected an even number of hexadecimal digits" % text)
        return text.lower()
    if table_type == "string":
        if _LINE_BREAK_OR_NUL.search(text):
            raise InvalidInput("invalid key %r: a key with a line break or a NUL cannot be sent to HAProxy" % text)
        return check_bytes(text, "key")
    raise InvalidInput("unsupported stick-table type %r" % (table_type,))


_KEY_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


def key_text(key):
    r"""A stick-table key as the modules show it: text that round-trips to the same bytes.

    HAProxy's keys are bytes. Those that are UTF-8 are shown as text
    (``café``); every other byte, and every control character, as ``\xNN``
    (upper-case hexadecimal, as ``show table`` prints them); a backslash
    as ``\\``. :func:`key_from_text` reads that form back.
    """
    out = []
    for char in key:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
            out.append("\\x%02X" % (code - 0xDC00))
        elif code < 0x20 or code == 0x7F:
            out.append("\\x%02X" % code)
        else:
            out.append(char)
    return "".join(out)


def key_from_text(text):
    r"""The key (``surrogateescape`` text) that :func:`key_text` shows as ``text``.

    ``\\`` is a backslash and ``\xNN`` the byte NN (``caf\xC3\xA9`` is
    ``café``); any other backslash stands for itself.
    """
    if "\\" not in text:
        return text
    out, index = bytearray(), 0
    for match in _KEY_ESCAPE.finditer(text):
        out += text[index:match.start()].encode("utf-8", "surrogateescape")
        escape = match.group(1)
        out += b"\\" if escape == "\\" else bytes([int(escape[1:], 16)])
        index = match.end()
    out += text[index:].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "surrogateescape")


# The stick-table data types of HAProxy 2.6 to 3.2 (stktable_data_types in src/stick_table.c).
# HAProxy refuses any other name, but 'set table' creates the entry before it does.
DATA_TYPES = frozenset((
    "server_id", "server_key", "gpt0", "gpt", "gpc0", "gpc0_rate", "gpc1", "gpc1_rate", "gpc", "gpc_rate",
    "conn_cnt", "conn_rate", "conn_cur", "sess_cnt", "sess_rate", "http_req_cnt", "http_req_rate",
    "http_err_cnt", "http_err_rate", "http_fail_cnt", "http_fail_rate", "bytes_in_cnt", "bytes_in_rate",
    "bytes_out_cnt", "bytes_out_rate", "glitch_cnt", "glitch_rate",
))


def check_data_type(name):
    if not name or not isinstance(name, str) or not _DATA_TYPE.fullmatch(name):
        raise InvalidInput("invalid stick-table data type %r" % (name,))
    if name.split("(", 1)[0] not in DATA_TYPES:
        raise InvalidInput("unknown stick-table data type %r (HAProxy knows %s)" % (name, ", ".join(sorted(DATA_TYPES))))
    return name


def data_type_max(name):
    """The largest value ``set table`` stores unchanged in data type ``name``."""
    base = name.split("(", 1)[0]
    if base.endswith("_rate"):
        return UINT32_MAX  # a frequency counter's count
    return DATA_TYPE_MAX.get(base, INT64_MAX)


def check_data_value(name, value):
    text = str(value).strip(" ")
    if isinstance(value, bool) or not _UINT.fullmatch(text):
        raise InvalidInput("invalid value %r for data.%s: expected a non-negative integer" % (value, name))
    number, maximum = int(text), data_type_max(name)
    if number > maximum:
        raise InvalidInput("invalid value %d for data.%s: the largest it stores is %d (HAProxy would store it wrapped)"
                           % (number, name, maximum))
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
        value = str(item.get("value", "")).strip(" ")
        if isinstance(item.get("value"), bool) or not _INT.fullmatch(value) or abs(int(value)) > INT64_MAX:
            raise InvalidInput("invalid filter value %r for data.%s: expected a signed 64-bit integer" % (item.get("value"), data))
        words.append("data.%s %s %s" % (data, operator, int(value)))
    return words
