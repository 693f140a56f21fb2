# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Validation and escaping: everything refused here is refused before a socket is opened."""

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _validate as v
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput


@pytest.mark.parametrize("raw, escaped", [("plain", "plain"), ("a b", "a\\ b"), ("a;b", "a\\;b"), ("a\\b", "a\\\\b"),
                                          (7, "7"), ("é", "é"), ("<<", "\\<\\<"), ("<<EOF", "\\<\\<EOF")])
def test_escape_arg(raw, escaped):
    assert v.escape_arg(raw) == escaped


@pytest.mark.parametrize("raw", ["a\nb", "a\rb", "\x00", "a\r\n"])
def test_escape_arg_refuses_line_breaks_and_nul(raw):
    with pytest.raises(InvalidInput):
        v.escape_arg(raw)


@pytest.mark.parametrize("raw, escaped", [("a\tb", "a\\\tb"), ("\x1b[0m", "\x1b[0m"), ("\x7f", "\x7f"), ("a\x01b", "a\x01b")])
def test_escape_arg_sends_other_control_characters(raw, escaped):
    # Keys made by traffic may hold them; 2.6.12 and 3.2.26 set and clear such keys by key.
    assert v.escape_arg(raw) == escaped
    assert v.normalize_key(raw, "string") == raw


def test_check_name():
    assert v.check_name("be_app", "backend") == "be_app"
    assert v.check_name("#3", "server") == "#3"
    assert v.check_name("mypeers/st", "table name") == "mypeers/st"
    for bad in ("", None, "a b", "a;b", "a\\b", "a\nb"):
        with pytest.raises(InvalidInput):
            v.check_name(bad, "backend")
    with pytest.raises(InvalidInput):
        v.check_name("be/s1", "backend")


@pytest.mark.parametrize("raw, parsed", [("0", (0, False)), (256, (256, False)), ("50%", (50, True)), (" 7 ", (7, False)),
                                         ("100%", (100, True))])
def test_parse_weight(raw, parsed):
    assert v.parse_weight(raw) == parsed


@pytest.mark.parametrize("raw", ["257", "-1", "abc", "1.5", "", "50 %", "1000%"])
def test_parse_weight_refused(raw):
    with pytest.raises(InvalidInput):
        v.parse_weight(raw)


def test_resolve_weight():
    assert v.resolve_weight("50%", 25) == 12
    assert v.resolve_weight("30", 25) == 30
    with pytest.raises(InvalidInput):
        v.resolve_weight("300%", 100)


def test_address_and_port():
    assert v.check_address("127.0.0.1") == "127.0.0.1"
    assert v.check_address("2001:DB8::1") == "2001:db8::1"
    # As HAProxy shows them (inet_ntop), whatever Python's own text (3.12: '::ffff:7f00:5').
    assert v.check_address("::ffff:127.0.0.5") == "::ffff:127.0.0.5"
    assert v.check_address("::FFFF:7F00:5") == "::ffff:127.0.0.5"
    assert v.normalize_key("::ffff:7f00:5", "ipv6") == "::ffff:127.0.0.5"
    for bad in ("web.example", "fe80::1%lo", "fe80::1%eth0", "127.0.0.1\n"):
        with pytest.raises(InvalidInput):
            v.check_address(bad)
    assert v.check_port("443") == 443
    for bad in (0, 65536, "x", None):
        with pytest.raises(InvalidInput):
            v.check_port(bad)


@pytest.mark.parametrize("key, ttype, canonical", [
    ("10.0.0.1", "ip", "10.0.0.1"),
    ("2001:DB8:0::1", "ipv6", "2001:db8::1"),
    ("007", "integer", "7"),
    ("4294967295", "integer", "4294967295"),
    ("0A0b", "binary", "0a0b"),
    ("any thing=x\\", "string", "any thing=x\\"),
])
def test_normalize_key(key, ttype, canonical):
    assert v.normalize_key(key, ttype) == canonical


@pytest.mark.parametrize("key, ttype", [
    ("notanip", "ip"), ("::1", "ip"), ("10.0.0.256", "ip"), ("10.0.0", "ip"), ("", "ip"),
    ("10.0.0.1", "ipv6"), ("-1", "integer"), ("4294967296", "integer"), ("1e3", "integer"),
    ("abc", "binary"), ("0a0", "binary"), ("a\nb", "string"), ("x", "peers"),
    ("fe80::1%lo", "ipv6"), ("10\n", "integer"), ("0a0b\n", "binary"),
])
def test_normalize_key_refused(key, ttype):
    with pytest.raises(InvalidInput):
        v.normalize_key(key, ttype)


def test_data_types_and_values():
    assert v.check_data_type("gpc0") == "gpc0"
    assert v.check_data_type("http_req_rate(10000)") == "http_req_rate(10000)"
    for bad in ("", "GPC0", "gpc 0", "data.gpc0", "gpc0;", "gpc0\n", "http_req_rate(10)\n", "nosuch_type"):
        with pytest.raises(InvalidInput):
            v.check_data_type(bad)
    assert v.check_data_value("gpc0", "12") == 12
    assert v.check_data_value("gpc0", 4294967295) == 4294967295
    assert v.check_data_value("bytes_in_cnt", 4294967296) == 4294967296
    for bad in (-1, "x", True, "1.5", 4294967296):
        with pytest.raises(InvalidInput):
            v.check_data_value("gpc0", bad)
    with pytest.raises(InvalidInput):
        v.check_data_value("server_id", 1 << 31)


def test_filters():
    words = v.check_filters([{"data": "gpc0", "operator": "GT", "value": "5"}, {"data": "conn_cur", "operator": "eq", "value": -1}])
    assert words == ["data.gpc0 gt 5", "data.conn_cur eq -1"]
    assert v.check_filters(None) == []
    assert len(v.check_filters([{"data": "gpc0", "operator": "ge", "value": 0}] * v.MAX_TABLE_FILTERS)) == 4
    with pytest.raises(InvalidInput) as err:
        v.check_filters([{"data": "gpc0", "operator": "ge", "value": 0}] * 5)
    assert "at most 4" in str(err.value)
    for bad in ({"data": "gpc0", "operator": "~", "value": 1}, {"data": "gpc0", "operator": "eq", "value": "x"},
                {"data": "gpc0", "operator": "eq", "value": True}, {"data": "", "operator": "eq", "value": 1}):
        with pytest.raises(InvalidInput):
            v.check_filters([bad])


@pytest.mark.parametrize("check", [v.escape_arg, lambda text: v.check_name(text, "backend name"),
                                   lambda text: v.normalize_key(text, "string")])
@pytest.mark.parametrize("text", ["a\ud800", "\udc41", "\udfff"])
def test_text_that_stands_for_no_bytes_is_refused(check, text):
    # A lone surrogate outside U+DC80-U+DCFF cannot be encoded: refused, not an UnicodeEncodeError later.
    with pytest.raises(InvalidInput) as err:
        check(text)
    assert "stands for no bytes" in str(err.value)


def test_bytes_that_are_not_utf8_are_text_that_stands_for_them():
    assert v.escape_arg("caf\udce9") == "caf\udce9"
    assert v.normalize_key("\udcff\udcfe", "string") == "\udcff\udcfe"
