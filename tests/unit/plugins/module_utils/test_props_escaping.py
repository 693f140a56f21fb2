# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Properties of escaping: what validation accepts goes out as exactly one line.

Every command is built from user text (keys, names, data types, filters).
Whatever validation accepts must encode to exactly one line of the batch,
be one CLI word where it is one word, and decode (as HAProxy's CLI parser
reads it) back to the same bytes that the text stands for (UTF-8, with
``surrogateescape`` for bytes that are not UTF-8). Whatever holds a line
break or a NUL is refused before anything is sent, with a one-line error.

:func:`cli_words` is a model of HAProxy's CLI parser as documented in
../shared/reference/haproxy-runtime-api.md (1.3): commands end at an
unescaped ``;`` or LF, words are split on spaces and tabs, and ``\\`` escapes
the next character (there is no quoting).
"""

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.lbops.haproxy.plugins.module_utils import _validate as validate
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import build_request
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import encode_commands
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_frontend, haproxy_server, haproxy_table

PREAMBLE = b"prompt\nset severity-output number\n"
BREAKS = ("\n", "\r", "\x00")


def cli_words(line):
    """HAProxy's reading of one line of bytes: a list of commands, each a list of words (bytes)."""
    commands, words, word, escaped, started = [], [], bytearray(), False, False
    for value in line:
        char = bytes([value])
        if escaped:
            word += char
            escaped, started = False, True
        elif char == b"\\":
            escaped = True
        elif char in (b" ", b"\t"):
            if started:
                words.append(bytes(word))
            word, started = bytearray(), False
        elif char in (b";", b"\n"):
            if started:
                words.append(bytes(word))
            commands.append(words)
            words, word, started = [], bytearray(), False
        else:
            word += char
            started = True
    if started:
        words.append(bytes(word))
    if words:
        commands.append(words)
    return commands


def starts_a_payload(line):
    """Whether HAProxy takes the lines after this one as its payload (verified on 2.6.12 and 3.2.26):
    2.6 when the line ends with ``<<``, escaped or not; 3.2 when its last word starts with ``<<``
    (``<<EOF``: a payload up to a line ``EOF``)."""
    words = line.split()
    return line.endswith(b"<<") or bool(words) and words[-1].startswith(b"<<")


def one_line(command):
    """The single line a command goes out as (the batch must hold exactly it, and no payload)."""
    payload = encode_commands([command])
    assert payload.startswith(PREAMBLE) and payload.endswith(b"\nquit\n")
    body = payload[len(PREAMBLE):-len(b"quit\n")]
    assert body.count(b"\n") == 1 and body.endswith(b"\n") and b"\r" not in body and b"\x00" not in body
    assert not starts_a_payload(body[:-1]), "HAProxy would read the next lines as a payload: %r" % body
    return body[:-1]


def wire(text):
    return text.encode("utf-8", "surrogateescape")


def is_valid_text(text):
    """Text that stands for bytes: no lone surrogate outside surrogateescape's range."""
    try:
        wire(text)
    except UnicodeEncodeError:
        return False
    return True


# Every code point but the lone surrogates that no byte stands for, plus the
# ones surrogateescape uses for the bytes 0x80-0xff that are not UTF-8.
any_text = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from([chr(0xDC80 + n) for n in range(128)]),
                   max_size=40)
awkward = st.lists(st.sampled_from(list("ab é€😀;\\#=\"' \t\x1b\x01\x7f/:.-_%<") + ["<<", "<<EOF", chr(0xDCFF), chr(0xDCC3)]),
                   min_size=1, max_size=20).map("".join)
keyish = awkward | any_text.filter(bool)


def with_break(text_strategy=keyish):
    """Text with a line break or a NUL somewhere: inside, first, or last (``gpc0\\n``)."""
    return st.tuples(text_strategy, st.sampled_from(BREAKS), text_strategy | st.just(""), st.integers(0, 40)).map(
        lambda parts: parts[0][:parts[3]] + parts[1] + parts[0][parts[3]:] + parts[2])


# Lone surrogates that stand for no byte (surrogateescape only maps U+DC80-U+DCFF).
no_bytes = st.tuples(keyish, st.one_of(st.integers(0xD800, 0xDC7F), st.integers(0xDD00, 0xDFFF)).map(chr)).map(
    lambda parts: parts[0] + parts[1])


def refused(function, *args):
    try:
        function(*args)
    except InvalidInput as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc)
        return True
    return False


@given(keyish)
def test_an_accepted_word_is_one_word_of_one_line_and_decodes_to_its_bytes(value):
    if any(char in value for char in BREAKS):
        assert refused(validate.escape_arg, value)
        return
    if refused(validate.escape_arg, value):
        # Only line breaks and NUL (and text that stands for no bytes) are refused.
        assert any(char in value for char in BREAKS) or not is_valid_text(value)
        return
    line = one_line("show table t key %s" % validate.escape_arg(value))
    assert cli_words(line) == [[b"show", b"table", b"t", b"key", wire(value)]]


@given(with_break())
def test_text_with_a_line_break_or_nul_is_refused_everywhere(value):
    assert refused(validate.escape_arg, value)
    assert refused(validate.check_name, value, "backend name")
    assert refused(validate.check_name, value, "table name")
    assert refused(validate.normalize_key, value, "string")
    assert refused(validate.check_data_type, value)
    assert refused(encode_commands, ["show table %s" % value])


@given(no_bytes)
def test_text_that_stands_for_no_bytes_is_refused_not_a_crash(value):
    assert refused(validate.escape_arg, value)
    assert refused(validate.check_name, value, "backend name")
    assert refused(validate.normalize_key, value, "string")
    assert refused(encode_commands, ["show table %s" % value])


@given(keyish)
def test_an_accepted_name_is_one_word(value):
    for what in ("backend name", "server name", "frontend name", "table name"):
        if refused(validate.check_name, value, what):
            continue
        assert is_valid_text(value)
        line = one_line("disable frontend %s" % validate.escape_arg(value))
        assert cli_words(line) == [[b"disable", b"frontend", wire(value)]]


@given(keyish, keyish)
def test_a_server_reference_is_one_word_of_two_names(backend, server):
    if refused(validate.check_name, backend, "backend name") or refused(validate.check_name, server, "server name"):
        return
    ref = haproxy_server.server_ref({"backend": backend, "name": server})
    words = cli_words(one_line("set server %s state ready" % ref))
    assert words == [[b"set", b"server", wire(backend) + b"/" + wire(server), b"state", b"ready"]]


@given(keyish, st.sampled_from(validate.TABLE_TYPES))
def test_a_normalized_key_is_sent_as_the_bytes_it_stands_for(key, table_type):
    try:
        canonical = validate.normalize_key(key, table_type)
    except InvalidInput as exc:
        assert "\n" not in str(exc)
        return
    assert validate.normalize_key(canonical, table_type) == canonical  # canonical is a fixed point
    request = build_request(haproxy_table.DEFINITION, haproxy_table.ARGUMENT_SPEC,
                            {"name": "st", "state": "present", "keys": [key], "data": {"gpc0": 1}},
                            haproxy_table.MODULE_KWARGS)
    words = cli_words(one_line(request.set_command(canonical)))
    assert words == [[b"set", b"table", b"st", b"key", wire(canonical), b"data.gpc0", b"1"]]


data_names = st.from_regex(r"[a-z][a-z0-9_]{0,12}(\([0-9]{1,6}\))?", fullmatch=True)


@given(data_names | keyish, st.integers(0, 2 ** 64 - 1))
def test_an_accepted_data_type_is_one_word(name, value):
    if refused(validate.check_data_type, name):
        return
    words = cli_words(one_line("set table st key k data.%s %d" % (validate.check_data_type(name), value)))
    assert words == [[b"set", b"table", b"st", b"key", b"k", wire("data." + name), str(value).encode()]]


@given(st.lists(st.fixed_dictionaries({"data": data_names | keyish,
                                       "operator": st.sampled_from(validate.FILTER_OPERATORS),
                                       "value": st.integers(-2 ** 63, 2 ** 63 - 1)}), max_size=5))
def test_accepted_filters_are_three_words_each(filters):
    try:
        words = validate.check_filters(filters)
    except InvalidInput as exc:
        assert "\n" not in str(exc)
        bad_type = any(refused(validate.check_data_type, item["data"]) for item in filters)
        assert len(filters) > validate.MAX_TABLE_FILTERS or bad_type
        return
    line = one_line(" ".join(["show table st"] + words))
    expected = [b"show", b"table", b"st"]
    for item in filters:
        expected += [wire("data." + item["data"]), item["operator"].encode(), str(item["value"]).encode()]
    assert cli_words(line) == [expected]


@given(st.sampled_from(["table", "server", "frontend"]), with_break(), st.sampled_from(["name", "key", "backend"]))
def test_requests_with_a_line_break_fail_before_any_connection(module, bad, field):
    """The whole request building (argument spec + validation): an InvalidInput, never a later error."""
    if module == "table":
        params = {"name": "st_string", "state": "present", "keys": ["ok"], "data": {"gpc0": 1}}
        params["keys" if field == "key" else "name"] = [bad] if field == "key" else bad
        if field == "backend":
            params["data"] = {bad: 1}
        definition, spec, kwargs = haproxy_table.DEFINITION, haproxy_table.ARGUMENT_SPEC, haproxy_table.MODULE_KWARGS
    elif module == "server":
        params = {"backend": "be_app", "name": ["s1"], "state": "ready"}
        params["backend" if field == "backend" else "name"] = bad if field == "backend" else [bad]
        definition, spec, kwargs = haproxy_server.DEFINITION, haproxy_server.ARGUMENT_SPEC, haproxy_server.MODULE_KWARGS
    else:
        params = {"name": bad, "state": "enabled"}
        definition, spec, kwargs = haproxy_frontend.DEFINITION, haproxy_frontend.ARGUMENT_SPEC, None
    assert refused(build_request, definition, spec, params, kwargs)
