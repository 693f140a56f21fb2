# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The map and ACL commands of the fake HAProxy (an extension of fake_haproxy.FakeHAProxy).

``show map|acl [<ref>]``, ``set map``, ``add map|acl [@<ver>] <ref> ...`` (maps also
with a payload), ``del map|acl``, ``prepare``, ``commit``, ``clear [@<ver>]``, as
HAProxy 2.6.12, 3.0.11 and 3.2.26 answer them (the same texts on all three,
captured by hand on each): ``set map`` sets every duplicate of a key, ``del``
removes every one of them; a payload line splits at its first blank with no
backslash processing; ``prepare`` answers ``New version created: <n>`` at info
level; a commit drops every older version, committed or not; ``add acl`` refuses
a payload.
"""

import re
from collections import OrderedDict

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import ConnectError, ProtocolError
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback, payload_of
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import FakeHAProxy, cli_words

HOSTS = "/etc/haproxy/maps/hosts.map"
BLOCKED = "/etc/haproxy/acl/blocked.acl"
UNKNOWN = {"map": "Unknown map identifier. Please use #<id> or <file>.",
           "acl": "Unknown ACL identifier. Please use #<id> or <file>."}


class Ref(object):
    """One pattern reference: its versions of entries ([(key, value)]; ACLs: value None)."""

    def __init__(self, number, path, kind, entries=()):
        self.id, self.file, self.kind = number, path, kind
        self.curr = self.next = 0
        self.versions = {0: list(entries)}

    @property
    def entries(self):
        return self.versions.setdefault(self.curr, [])

    def count(self):
        return sum(len(items) for items in self.versions.values())

    def listing(self):
        return "%d (%s) pattern loaded from file '%s' used by %s at file 'h.cfg' line 1. curr_ver=%d next_ver=%d entry_cnt=%d" % (
            self.id, self.file, self.file, self.kind, self.curr, self.next, self.count())


class PatternStore(object):
    def __init__(self, haproxy):
        self.haproxy = haproxy
        self.refs = []
        self.fail_on = None     # predicate(command) -> a refusal text (error level) for that command
        self.break_on = None    # predicate(command): the connection breaks instead of the answer
        self.cut_dump = False   # 'show map|acl <ref>' is cut short, as the transport reports it

    def add(self, path, kind, entries=()):
        ref = Ref(len(self.refs), path, kind,
                  list(entries) if kind == "map" else [(item, None) for item in entries])
        self.refs.append(ref)
        return ref

    def find(self, kind, text):
        for ref in self.refs:
            if ref.kind == kind and (ref.file == text or "#%d" % ref.id == text):
                return ref
        return None

    def ref(self, path):
        return [ref for ref in self.refs if ref.file == path][0]

    def answer(self, haproxy, command, words):
        if len(words) < 2 or words[1] not in ("map", "acl") or words[0] not in ("show", "set", "add", "del", "prepare",
                                                                                "commit", "clear", "get"):
            return None
        if self.break_on is not None and self.break_on(command):
            raise ConnectError("connection lost while reading the answer to %s: Connection reset by peer" % command)
        words = cli_words(command)
        verb, kind, rest = words[0], words[1], words[2:]
        if verb == "show":
            if not rest:
                return iter(["# id (file) description"] + [ref.listing() for ref in self.refs if ref.kind == kind])
            version = None
            if rest[0].startswith("@"):
                version, rest = int(rest[0][1:]), rest[1:]
            ref = self.find(kind, rest[0])
            if ref is None:
                return Feedback(3, UNKNOWN[kind])
            items = ref.versions.get(ref.curr if version is None else version, [])
            lines = ["0x%012x %s" % (0x55d0c0000000 + index, key if kind == "acl" else "%s %s" % (key, value))
                     for index, (key, value) in enumerate(items)]
            return self.cut(lines) if self.cut_dump else iter(lines)
        refusal = haproxy.write_attempt(command)
        if refusal is not None:
            return refusal
        if self.fail_on is not None:
            text = self.fail_on(command)
            if text:
                return Feedback(3, text)
        version = None
        if rest and rest[0].startswith("@"):
            version, rest = int(rest[0][1:]), rest[1:]
        ref = self.find(kind, rest[0]) if rest else None
        if ref is None:
            return Feedback(3, UNKNOWN[kind])
        rest = rest[1:]
        if verb == "prepare":
            ref.next += 1
            ref.versions[ref.next] = []
            return Feedback(6, "New version created: %d" % ref.next)
        if verb == "commit":
            if version is None or version > ref.next or version < ref.curr:
                return Feedback(3, "Version number out of range.")
            ref.curr = version
            ref.versions = dict((number, items) for number, items in ref.versions.items() if number >= version)
            return iter([])
        if verb == "clear":
            if version is None:
                ref.versions[ref.curr] = []
            else:
                ref.versions.pop(version, None)
            return iter([])
        if version is not None and version > ref.next:
            return Feedback(3, "Version number in the future, please use 'prepare %s' before." % kind)
        items = ref.versions.setdefault(ref.curr if version is None else version, [])
        if verb == "add":
            text = payload_of(command)
            if text is not None:
                if kind == "acl":
                    return Feedback(3, "'add acl' expects two parameters: ACL identifier and pattern.")
                for line in text.rstrip("\n").split("\n"):
                    match = re.match(r"^([^ \t]*)[ \t]*(.*)$", line)
                    items.append((match.group(1), match.group(2)))
                return iter([])
            if kind == "map":
                if len(rest) != 2:
                    return Feedback(3, "'add map' expects three parameters (map identifier, key and value) or one "
                                       "parameter (map identifier) and a payload")
                items.append((rest[0], rest[1]))
            else:
                items.append((rest[0], None))
            return iter([])
        if verb == "set":
            found = False
            for index, (key, _dummy) in enumerate(items):
                if key == rest[0]:
                    items[index] = (key, rest[1])
                    found = True
            return iter([]) if found else Feedback(3, "entry not found.")
        if verb == "del":
            kept = [item for item in items if item[0] != rest[0]]
            if len(kept) == len(items):
                return Feedback(3, "Key not found.")
            items[:] = kept
            return iter([])
        return None

    @staticmethod
    def cut(lines):
        yield from lines[:len(lines) // 2]
        raise ProtocolError("the connection closed in the middle of the answer to 'show map'")


def maps_lab(level="admin", version="2.6.12-1+deb12u3", hosts=None, blocked=None, hosts_path=HOSTS, blocked_path=BLOCKED):
    """A fake HAProxy with the map ``hosts_path`` (id 2) and the ACL file ``blocked_path`` (id 0).

    ``hosts``: a dict or a list of (key, value) (duplicates allowed); its store is ``haproxy.maps``.
    """
    haproxy = FakeHAProxy(level, version)
    haproxy.maps = PatternStore(haproxy)
    haproxy.maps.add(blocked_path, "acl", ["/admin", "/debug"] if blocked is None else blocked)
    haproxy.maps.add("", "acl", [])  # an anonymous ACL (inline patterns): listed, with no file
    if hosts is None:
        hosts = OrderedDict([("a.example", "be_a"), ("b.example", "be_b")])
    haproxy.maps.add(hosts_path, "map", list(hosts.items()) if isinstance(hosts, dict) else list(hosts))
    haproxy.extensions.append(haproxy.maps.answer)
    return haproxy
