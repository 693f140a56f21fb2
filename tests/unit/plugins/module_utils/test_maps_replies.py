# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The parsers of _maps on replies captured from HAProxy 2.6.12, 3.0.11 and 3.2.26, and a cut dump on a real socket."""

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _maps as maps
from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import ProtocolError
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Read
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.test_transport import FakeCli, interactive

# 'show map' and 'show acl' on the three versions (the same format), captured by hand.
LISTING = [
    "# id (file) description",
    "2 (/tmp/mapprobe/3.2/hosts.map) pattern loaded from file '/tmp/mapprobe/3.2/hosts.map' used by map at file "
    "'3.2/h.cfg' line 13. curr_ver=0 next_ver=2 entry_cnt=4",
    "1 () acl 'path_beg' file '3.2/h.cfg' line 12. curr_ver=0 next_ver=0 entry_cnt=0",
]


def test_listing():
    listed = maps.parse_listing(LISTING)
    assert [(item["id"], item["file"], item["curr_ver"], item["next_ver"], item["entry_cnt"]) for item in listed] == [
        (2, "/tmp/mapprobe/3.2/hosts.map", 0, 2, 4), (1, "", 0, 0, 0)]
    assert maps.find(listed, "#2") is listed[0] and maps.find(listed, "/tmp/mapprobe/3.2/hosts.map") is listed[0]
    assert maps.find(listed, "/nope") is None


def test_entries():
    assert maps.parse_map_entries(["0x55556f51a580 k1 v1", "0x7fb4cc046890 k5 v with space"]) == [
        ("k1", "v1"), ("k5", "v with space")]
    assert maps.parse_acl_entries(["0x5555713f0360 /a b", "0x7f0297482cf0 /q"]) == ["/a b", "/q"]
    with pytest.raises(ProtocolError):
        maps.parse_map_entries(["Unknown map identifier. Please use #<id> or <file>."])


def test_a_dump_cut_short_on_the_socket_is_an_error(tmp_path):
    path = str(tmp_path / "cli.sock")
    lines = b"".join(b"0x55556f51a%03x key%d value%d\n" % (index, index, index) for index in range(500))
    FakeCli(path, [interactive(lines)])  # no empty line: the connection closes in the middle
    client = RuntimeClient(path, 5.0)
    with pytest.raises(ProtocolError) as caught:
        client.read_named([Read("entries", "show map /m", maps.parse_map_entries)])
    assert "in the middle of the answer to 'show map /m'" in str(caught.value)
