# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""RuntimeClient: reads raise typed errors, writes report one Outcome per command."""

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _parsers as parsers
from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient, classify, require_level
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import CommandError, LevelTooLow, NotFound, ProtocolError
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback


class ScriptedClient(RuntimeClient):
    """Replies come from a dict ``command -> Feedback or list of lines``."""

    def __init__(self, replies, truncate=None):
        super(ScriptedClient, self).__init__("/run/haproxy/admin.sock", 1.0)
        self.replies = replies
        self.truncate = truncate
        self.batches = []

    def _session(self, extra_time=0.0):
        self.connections += 1
        client = self

        class _Session(object):
            def run(self, commands):
                client.batches.append(list(commands))
                for command in commands[:client.truncate]:
                    reply = client.replies[command]
                    yield reply if isinstance(reply, Feedback) else iter(reply)
        return _Session()


@pytest.mark.parametrize("text, error, words", [
    ("Permission denied", LevelTooLow, "level is too low"),
    ("No such server.", NotFound, "HAProxy: No such server"),
    ("No such table", NotFound, "No such table"),
    ("Can't find backend.", NotFound, "Can't find backend"),
    ("Require 'backend/server'.", CommandError, "HAProxy refused 'cmd': Require 'backend/server'."),
])
def test_classify_errors(text, error, words):
    result = classify("cmd", Feedback(3, text), "/s")
    assert result.__class__ is error
    assert words in str(result)
    assert str(result).startswith("/s: ")


def test_classify_unknown_command_is_an_error_at_info_severity():
    result = classify("bogus", Feedback(6, "Unknown command, but maybe one of the following ones is a better match:\n  help"))
    assert isinstance(result, CommandError) and "does not know the command 'bogus'" in str(result)
    assert "\n" not in str(result).split(" (", maxsplit=1)[0]


def test_classify_non_errors():
    assert classify("x", Feedback(4, "IP changed from 'a' to 'b'")) is None
    assert classify("x", Feedback(5, "All sockets are already disabled.")) is None


def test_read_uses_one_connection_and_parsers():
    client = ScriptedClient({"show cli level": ["admin"], "get weight be/s1": ["10 (initial 20)"], "show info": ["Name: HAProxy"]})
    level, weight, raw = client.read([client.level_request(), ("get weight be/s1", parsers.parse_weight), ("show info", None)])
    assert (level, weight, raw) == ("admin", (10, 20), ["Name: HAProxy"])
    assert client.connections == 1 and client.batches == [["show cli level", "get weight be/s1", "show info"]]


def test_read_passes_non_error_feedback_to_the_parser():
    client = ScriptedClient({"x": Feedback(5, "notice text")})
    assert client.read([("x", None)]) == [["notice text"]]


def test_read_raises_the_typed_error():
    client = ScriptedClient({"show table t": Feedback(3, "No such table")})
    with pytest.raises(NotFound) as err:
        client.read([("show table t", None)])
    assert err.value.command == "show table t" and err.value.reply == "No such table"


def test_read_detects_missing_answers():
    client = ScriptedClient({"a": [], "b": []}, truncate=1)
    with pytest.raises(ProtocolError):
        client.read([("a", None), ("b", None)])
    with pytest.raises(ProtocolError):
        client.write(["a", "b"])


def test_write_reports_each_command():
    client = ScriptedClient({"set a": [], "set b": Feedback(3, "Entry currently in use, cannot remove"),
                             "set c": Feedback(4, "IP changed"), "set d": ["some", "text"]})
    outcomes = client.write(["set a", "set b", "set c", "set d"])
    assert [o.ok for o in outcomes] == [True, False, True, True]
    assert outcomes[1].text == "Entry currently in use, cannot remove" and outcomes[1].severity == 3
    assert isinstance(outcomes[1].error, CommandError)
    assert outcomes[3].text == "some\ntext" and outcomes[3].severity is None
    assert client.connections == 1


@pytest.mark.parametrize("level, needed, allowed", [
    ("user", "operator", False), ("operator", "operator", True), ("admin", "operator", True),
    ("operator", "admin", False), ("user", "user", True), (None, "admin", True),
])
def test_require_level(level, needed, allowed):
    client = RuntimeClient("/run/haproxy/admin.sock")
    if allowed:
        require_level(client, level, needed, "clear table t")
    else:
        with pytest.raises(LevelTooLow) as err:
            require_level(client, level, needed, "clear table t")
        assert "level is '%s'" % level in str(err.value)
