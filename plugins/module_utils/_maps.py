# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Maps and ACL pattern files at runtime: what ``haproxy_map`` and ``haproxy_acl`` share.

Both edit a *pattern reference* (a map or an ACL file, as ``show map`` /
``show acl`` list it, by file or ``#<id>``) through the same runner flow:

- one read connection: ``show cli level``, the list (``show map``), then the
  entries of the one reference (``show map <ref>``), parsed as a stream (a
  cut reply is an error from the transport, never a shorter map);
- ``present``/``absent``: one write batch of one-line commands (``set map``,
  ``add map``, ``del map``; ``add acl``, ``del acl``), escaped for the CLI;
- ``exact``: ``prepare`` (one connection, it gives the version), then every
  entry into that version (``add map @<ver> <ref> <<`` payloads cut under
  ``MAX_PAYLOAD_BYTES``; ACLs take no payload on 2.6 to 3.2, so one
  ``add acl @<ver> <ref> <pattern>`` per pattern, in one batch), then, only
  when every one of them was taken, ``commit @<ver>`` on its own connection:
  requests never see a half-filled map. On any failure before the commit,
  nothing is committed: ``clear map @<ver>`` drops the version (HAProxy also
  drops every older uncommitted version at the next commit of the reference).

Facts measured on HAProxy 2.6.12, 3.0.11 and 3.2.26 (same on all three):
``show map <ref>`` prints ``<ptr> <key> <value>`` per entry, in insertion
order, in one stream to the end; ``set map`` sets every entry of a
duplicated key, ``del map``/``del acl`` remove every one of them, ``add``
appends another; a payload line is split at its first blank (key, then
value, no backslash processing; a line that starts with a blank gives an
empty key); ``prepare`` answers ``New version created: <n>`` (info level)
with n = the listing's ``next_ver`` + 1; a missing reference answers
``Unknown map identifier`` / ``Unknown ACL identifier``.
"""

import os
import re
import stat
import tempfile

from ansible_collections.lbops.haproxy.plugins.module_utils._diff import Difference
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (
    CommandError,
    HAProxyError,
    InvalidInput,
    NotFound,
    ProtocolError,
    StateError,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Definition, Plan, Read
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import MAX_COMMAND_BYTES, MAX_PAYLOAD_BYTES, Payload, clip
from ansible_collections.lbops.haproxy.plugins.module_utils._validate import check_bytes, escape_arg

STATES = ("present", "absent", "exact")
# The diff names at most this many changed keys or patterns (the counts are always whole).
DIFF_LIMIT = 200
# A map payload is cut so that its command, its lines and its ending empty line stay within this.
PAYLOAD_BUDGET = MAX_PAYLOAD_BYTES
_LISTED = re.compile(r"^(?P<id>-?\d+) \((?P<file>.*?)\) (?P<description>.*?)"
                     r"(?: curr_ver=(?P<curr>\d+) next_ver=(?P<next>\d+) entry_cnt=(?P<count>\d+))?$")
_VERSION = re.compile(r"New version created: (\d+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FILE_MODE = 0o644


class Kind(object):
    """What differs between maps and ACL files: words, commands, the form of an entry."""

    def __init__(self, name, option, items, payload):
        self.name = name          # "map" or "acl"
        self.option = option      # the module's option naming the reference
        self.items = items        # "entries" or "patterns"
        self.payload = payload    # whether 'add <kind> @<ver> <ref> <<' takes a payload
        self.title = "map" if name == "map" else "ACL file"


MAP = Kind("map", "map", "entries", True)
ACL = Kind("acl", "acl", "patterns", False)


# -- reading -------------------------------------------------------------------


def parse_listing(lines):
    """``show map`` / ``show acl``: ``[{id, file, description, curr_ver, next_ver, entry_cnt}]``."""
    listed = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        match = _LISTED.match(line)
        if not match:
            raise ProtocolError("unexpected line in the list of pattern files: %s" % clip(repr(line), 200))
        listed.append({"id": int(match.group("id")), "file": match.group("file"),
                       "description": match.group("description"),
                       "curr_ver": int(match.group("curr")) if match.group("curr") else None,
                       "next_ver": int(match.group("next")) if match.group("next") else None,
                       "entry_cnt": int(match.group("count")) if match.group("count") else None})
    return listed


def parse_map_entries(lines):
    """``show map <ref>``: ``[(key, value)]`` in HAProxy's order (``<ptr> <key> <value>`` per line)."""
    entries = []
    append = entries.append
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("0x"):
            raise ProtocolError("unexpected line in a map dump: %s" % clip(repr(line), 200))
        append((parts[1], parts[2] if len(parts) > 2 else ""))
    return entries


def parse_acl_entries(lines):
    """``show acl <ref>``: ``[pattern]`` in HAProxy's order (``<ptr> <pattern>`` per line)."""
    patterns = []
    append = patterns.append
    for line in lines:
        ptr, _sep, pattern = line.partition(" ")
        if not ptr.startswith("0x"):
            raise ProtocolError("unexpected line in an ACL dump: %s" % clip(repr(line), 200))
        append(pattern)
    return patterns


# -- the request ----------------------------------------------------------------


def _check_text(value, what, kind, allow_blanks):
    if not isinstance(value, str):
        value = str(value)
    if value == "":
        raise InvalidInput("%s must not be empty" % what)
    if _CONTROL.search(value):
        raise InvalidInput("%s %s holds a line break, a tab, a NUL or another control character, which a %s cannot "
                           "hold; nothing was sent" % (what, clip(repr(value), 120), kind.title))
    if value != value.strip():
        raise InvalidInput("%s %s starts or ends with a blank, which HAProxy would not keep; nothing was sent"
                           % (what, clip(repr(value), 120)))
    if not allow_blanks and " " in value:
        raise InvalidInput("%s %s holds a blank: 'show map' and the map file split a line at its first blank, so such a "
                           "key can never be read back; nothing was sent" % (what, clip(repr(value), 120)))
    check_bytes(value, what)
    return value


def check_key(value, kind):
    what = "key" if kind is MAP else "pattern"
    value = _check_text(value, what, kind, allow_blanks=kind is ACL)
    if value.startswith("#"):
        raise InvalidInput("%s %s starts with '#', which HAProxy reads as an entry reference in 'del %s' and a file as a "
                           "comment; nothing was sent" % (what, clip(repr(value), 120), kind.name))
    return value


def check_value(value):
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise InvalidInput("map values must be text or numbers, got %r; nothing was sent" % (value,))
    return _check_text(value, "value", MAP, allow_blanks=True)


def check_reference(value, kind):
    text = value or ""
    if re.match(r"^#\d+$", text):
        return text
    if not text.startswith("/") or any(char.isspace() or ord(char) < 0x20 or char == "\\" for char in text):
        raise InvalidInput("%s must be the file of a %s as 'show %s' lists it (an absolute path without blanks or "
                           "backslashes) or '#<id>', got %r" % (kind.option, kind.title, kind.name, clip(text, 200)))
    return text


class Request(object):
    def __init__(self, kind, params):
        self.kind = kind
        self.ref = check_reference(params[kind.option], kind)
        self.state = params["state"]
        self.persist = params["persist"]
        self.escaped_ref = escape_arg(self.ref)
        raw = params.get(kind.items)
        if raw is None:
            raw = []
        if kind is MAP:
            self.entries = self._map_entries(raw)
            self.keys = [key for key, dummy in self.entries]
        else:
            self.keys = self._patterns(raw)
            self.entries = [(key, None) for key in self.keys]

    def _map_entries(self, raw):
        pairs = []
        if isinstance(raw, dict):
            pairs = list(raw.items())
        elif isinstance(raw, list):
            for item in raw:
                if isinstance(item, dict):
                    unknown = sorted(set(item) - {"key", "value"})
                    if unknown or "key" not in item:
                        raise InvalidInput("each item of entries must be {key, value}, got %s" % clip(repr(item), 200))
                    if "value" not in item and self.state != "absent":
                        raise InvalidInput("the entry of key %r has no value (needed with state=%s)" % (item["key"], self.state))
                    pairs.append((item["key"], item.get("value")))
                elif self.state == "absent" and isinstance(item, (str, int)) and not isinstance(item, bool):
                    pairs.append((item, None))
                else:
                    raise InvalidInput("entries must be a dict of key: value, or a list of {key, value} (or, with "
                                       "state=absent, of keys), got %s" % clip(repr(item), 200))
        else:
            raise InvalidInput("entries must be a dict or a list")
        out, seen = [], set()
        for key, value in pairs:
            key = check_key(key, MAP)
            if key in seen:
                raise InvalidInput("entries names key %r twice" % key)
            seen.add(key)
            out.append((key, None if (self.state == "absent" and value is None) else check_value(value)))
        if self.state == "absent":
            out = [(key, None) for key, dummy in out]
        return out

    def _patterns(self, raw):
        if not isinstance(raw, list):
            raise InvalidInput("patterns must be a list")
        out, seen = [], set()
        for item in raw:
            if isinstance(item, (dict, list, bool)) or item is None:
                raise InvalidInput("patterns must be text, got %r" % (item,))
            pattern = check_key(item, ACL)
            if pattern in seen:
                raise InvalidInput("patterns names %r twice" % pattern)
            seen.add(pattern)
            out.append(pattern)
        return out

    # commands --------------------------------------------------------------

    def one_line(self, verb, key, value=None, version=None):
        words = [verb, self.kind.name]
        if version is not None:
            words.append("@%d" % version)
        words += [self.escaped_ref, escape_arg(key)]
        if value is not None:
            words.append(escape_arg(value))
        command = " ".join(words)
        if len(command.encode("utf-8", "surrogateescape")) > MAX_COMMAND_BYTES:
            raise InvalidInput("the entry of %r makes a command of more than %d bytes; nothing was sent"
                               % (clip(key, 100), MAX_COMMAND_BYTES))
        return command

    def version_adds(self, version):
        """The commands that put every wanted entry into ``version`` (payload chunks for maps)."""
        if not self.kind.payload:
            return [self.one_line("add", key, version=version) for key in self.keys]
        command = "add map @%d %s <<" % (version, self.escaped_ref)
        budget = PAYLOAD_BUDGET - len(command.encode("utf-8")) - 3
        out, lines, size = [], [], 0
        for key, value in self.entries:
            line = "%s %s\n" % (key, value)
            length = len(line.encode("utf-8", "surrogateescape"))
            if length > budget:
                raise InvalidInput("the entry of %r is too long for one payload (%d bytes, at most %d); nothing was sent"
                                   % (clip(key, 100), length, budget))
            if size + length > budget:
                out.append(Payload(command, "".join(lines)))
                lines, size = [], 0
            lines.append(line)
            size += length
        if lines:
            out.append(Payload(command, "".join(lines)))
        return out


# -- planning (pure) --------------------------------------------------------------


def find(listed, ref):
    for item in listed:
        if ref.startswith("#") and "#%d" % item["id"] == ref:
            return item
        if item["file"] == ref:
            return item
    return None


def bounded(mapping):
    """At most DIFF_LIMIT items of ``mapping`` (sorted by key), and how many were left out."""
    keys = sorted(mapping)
    shown = dict((key, mapping[key]) for key in keys[:DIFF_LIMIT])
    return shown, max(0, len(keys) - DIFF_LIMIT)


def as_dict(kind, entries):
    """key -> value (maps; the last of duplicates) or pattern -> True (ACLs)."""
    if kind is MAP:
        return dict(entries)
    return dict((pattern, True) for pattern in entries)


def desired(request, current):
    """The entries (maps: [(key, value)], ACLs: [pattern]) the reference holds after the run, in order."""
    kind = request.kind
    if request.state == "exact":
        return list(request.entries) if kind is MAP else list(request.keys)
    if request.state == "absent":
        doomed = set(request.keys)
        if kind is MAP:
            return [(key, value) for key, value in current if key not in doomed]
        return [pattern for pattern in current if pattern not in doomed]
    if kind is MAP:
        wanted = dict(request.entries)
        present = set(key for key, dummy in current)
        return ([(key, wanted.get(key, value)) for key, value in current]
                + [(key, value) for key, value in request.entries if key not in present])
    present = set(current)
    return list(current) + [pattern for pattern in request.keys if pattern not in present]


def differences(kind, before, after):
    """(before view, after view, counts) of what differs, bounded."""
    old, new = as_dict(kind, before), as_dict(kind, after)
    added = [key for key in new if key not in old]
    removed = [key for key in old if key not in new]
    updated = [key for key in new if key in old and old[key] != new[key]] if kind is MAP else []
    touched = set(added) | set(removed) | set(updated)
    if kind is MAP:
        shown_before, omitted = bounded(dict((key, old[key]) for key in touched if key in old))
        shown_after, omitted_after = bounded(dict((key, new[key]) for key in touched if key in new))
    else:
        shown_before, omitted = bounded(dict((key, True) for key in removed))
        shown_after, omitted_after = bounded(dict((key, True) for key in added))
        shown_before, shown_after = sorted(shown_before), sorted(shown_after)
    before_view = {"count": len(before), kind.items: shown_before}
    after_view = {"count": len(after), kind.items: shown_after}
    if omitted or omitted_after:
        before_view["omitted"], after_view["omitted"] = omitted, omitted_after
    counts = {"added": len(added), "updated": len(updated), "removed": len(removed)}
    if before != after and not touched:
        # Same entries, in another order or with duplicates: exact rewrites them.
        before_view["note"] = "the same %s in another order, or with duplicates" % kind.items
    return before_view, after_view, counts


def plan_commands(request, current):
    """The one-line writes of present/absent (pure)."""
    kind = request.kind
    commands = []
    if kind is MAP:
        values = {}
        for key, value in current:
            values.setdefault(key, set()).add(value)
        for key, value in request.entries:
            if request.state == "absent":
                if key in values:
                    commands.append(request.one_line("del", key))
            elif key not in values:
                commands.append(request.one_line("add", key, value))
            elif values[key] != {value}:
                commands.append(request.one_line("set", key, value))
    else:
        present = set(current)
        for pattern in request.keys:
            if request.state == "absent" and pattern in present:
                commands.append(request.one_line("del", pattern))
            elif request.state == "present" and pattern not in present:
                commands.append(request.one_line("add", pattern))
    return commands


def file_text(kind, entries):
    if kind is MAP:
        return "".join("%s %s\n" % item for item in entries)
    return "".join("%s\n" % pattern for pattern in entries)


class PatternFile(Definition):
    """A map or an ACL file, edited live; ``kind`` is :data:`MAP` or :data:`ACL`."""

    def __init__(self, kind):
        self.kind = kind

    def request(self, params):
        return Request(self.kind, params)

    def minimum_level(self, request):
        return ("operator", "show %s %s" % (self.kind.name, request.ref))

    def _entries_read(self, request):
        parser = parse_map_entries if self.kind is MAP else parse_acl_entries
        return Read("entries", "show %s %s" % (self.kind.name, request.escaped_ref), parser)

    def reads(self, request):
        return [Read("listed", "show %s" % self.kind.name, parse_listing)]

    def plan(self, request, state):
        kind = self.kind
        listed = find(state["listed"], request.ref)
        if listed is None:
            files = [item["file"] or "#%d" % item["id"] for item in state["listed"]]
            hint = ", ".join(files[:10]) + (", ..." if len(files) > 10 else "") if files else "none"
            raise NotFound("HAProxy has no %s '%s' (show %s lists: %s); nothing was sent"
                           % (kind.title, request.ref, kind.name, hint), None, "show %s" % kind.name, None)
        if "entries" not in state:
            return Plan(more_reads=[self._entries_read(request)])
        if request.persist and not listed["file"]:
            raise InvalidInput("persist needs the file of %s, and HAProxy lists none for it; nothing was sent" % request.ref)
        current = state["entries"]
        after = desired(request, current)
        before_view, after_view, counts = differences(kind, current, after)
        if request.state == "exact":
            version = (listed["next_ver"] or 0) + 1  # what 'prepare' answers (measured on 2.6 to 3.2)
            commands = []
            if current != after:
                commands = (["prepare %s %s" % (kind.name, request.escaped_ref)]
                            + [str(command) for command in request.version_adds(version)]
                            + ["commit %s @%d %s" % (kind.name, version, request.escaped_ref)])
            first = commands[:1]
        else:
            commands = plan_commands(request, current)
            first = commands
        result = dict(counts, commands=commands, changed=bool(commands), file=listed["file"] or None,
                      id=listed["id"], count=len(after))
        result[kind.option] = request.ref
        if request.persist:
            result["_content"] = file_text(kind, after)
            result["_file"] = listed["file"]
        return Plan(first, Difference.whole(before_view, after_view), result=result, level="admin",
                    follow_up=request.state == "exact" and bool(commands),
                    data={"before": current, "after": after, "listed": listed, "version": None, "committed": False})

    def follow_up(self, step, request, plan):
        kind = self.kind
        if request.state != "exact":
            return
        prepared = step.last_outcomes[0].text if step.last_outcomes else ""
        match = _VERSION.search(prepared or "")
        if not match:
            raise ProtocolError("HAProxy answered 'prepare %s %s' with %s, not a version"
                                % (kind.name, request.ref, clip(repr(prepared), 200)))
        version = int(match.group(1))
        plan.data["version"] = version
        adds = request.version_adds(version)
        if adds:
            step.write(adds)
        plan.data["committing"] = True
        outcome = step.write(["commit %s @%d %s" % (kind.name, version, request.escaped_ref)])[0]
        plan.data["committed"] = outcome.ok

    def reread(self, request, plan):
        return [self._entries_read(request)]

    def observe(self, request, state, plan, step):
        entries = state["entries"]
        wanted = plan.data["after"]
        if request.state == "exact":
            wrong = entries != wanted
        else:
            got = as_dict(self.kind, entries)
            if request.state == "absent":
                wrong = any(key in got for key in request.keys)
            elif self.kind is MAP:
                values = {}
                for key, value in entries:
                    values.setdefault(key, set()).add(value)
                wrong = any(values.get(key) != {value} for key, value in request.entries)
            else:
                wrong = any(pattern not in got for pattern in request.keys)
        if wrong:
            raise StateError("HAProxy took the commands, but the %s '%s' does not hold what was asked when read again "
                             "(another client changing it at the same time?)" % (self.kind.title, request.ref))
        dummy, view, counts = differences(self.kind, plan.data["before"], entries)
        result = dict(plan.result)
        result.update(counts)
        result.update(commands=list(step.sent), count=len(entries))
        if request.persist:
            result["_content"] = file_text(self.kind, entries)
        return result, view

    def recover(self, step, request, plan, error):
        """exact: a failure before the commit took committed nothing; drop the prepared version, say so."""
        if request.state != "exact" or plan.data.get("committed"):
            return
        if plan.data.get("committing"):
            # The commit went out. Only HAProxy's refusal of it says that it did not take; a lost
            # answer may have committed (the error keeps changed=true and says so).
            if not (isinstance(error, CommandError) and (error.command or "").startswith("commit ")):
                return
        # Nothing was committed: what requests see is what they saw before.
        error.changed = False
        error.message = error.message.split("; already changed on this target:")[0]
        version = plan.data.get("version")
        if version is None:
            error.message += "; nothing was committed"
            return
        clear = "clear %s @%d %s" % (self.kind.name, version, request.escaped_ref)
        try:
            dropped = step.client.write([clear])[0].ok
        except HAProxyError:
            dropped = False
        error.message += ("; nothing was committed: version @%d of %s was %s (HAProxy also drops every uncommitted "
                          "version at the next commit of this %s); the %s serves what it served before"
                          % (version, request.ref, "dropped ('%s')" % clear if dropped else "left uncommitted",
                             self.kind.title, self.kind.title))
        error.commands = [command for command in error.commands if command != clear]

    def finish(self, request, output, check_mode):
        contents = []
        for result in output["results"]:
            content = result.pop("_content", None)
            path = result.pop("_file", None)
            if content is not None:
                contents.append((content, path or result.get("file")))
        if request.persist:
            persist(request, check_mode, output, contents)


# -- persist ------------------------------------------------------------------------


def write_atomically(path, text, old):
    """``text`` to ``path``: a temporary file in the same directory (the old one's mode, owner, group), fsync, rename."""
    directory = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        os.fchmod(fd, stat.S_IMODE(old.st_mode) if old is not None else _FILE_MODE)
        if old is not None and os.geteuid() == 0:
            os.fchown(fd, old.st_uid, old.st_gid)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as handle:
            fd = None
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        temporary = None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if fd is not None:
            os.close(fd)
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _file_entries(kind, text):
    """What a map or ACL file holds, as HAProxy reads it (comments and blank lines left out)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if kind is MAP:
            parts = line.split(None, 1)
            out.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
        else:
            out.append(line)
    return out


def persist(request, check_mode, output, contents):
    """Write the file once every target took the change; ``persisted`` and the file's diff."""
    kind = request.kind
    if any(result["failed"] for result in output["results"]) or not contents:
        output["persisted"] = False
        return
    texts = set(content for content, dummy in contents)
    path = contents[0][1]
    if len(texts) > 1:
        output["persisted"] = False
        raise HAProxyError("every target took the change, but the targets now hold different %s for %s (they held "
                           "different entries before); %s was not written" % (kind.items, request.ref, path))
    text = contents[0][0]
    try:
        old = os.stat(path)
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            current = handle.read()
    except FileNotFoundError:
        old, current = None, None
    except OSError as exc:
        raise HAProxyError("cannot read %s: %s" % (path, exc.strerror or exc))
    write = current is None or _file_entries(kind, current) != _file_entries(kind, text)
    if write and not check_mode:
        try:
            write_atomically(path, text, old)
        except OSError as exc:
            raise HAProxyError("every target took the change, but writing %s failed: %s" % (path, exc.strerror or exc))
    output["persisted"] = write
    output["changed"] = output["changed"] or write
    if "diff" in output:
        key = "file:%s" % path
        before_entries = _file_entries(kind, current) if current is not None else []
        before_view, after_view_, dummy = differences(kind, before_entries, _file_entries(kind, text))
        if current is None:
            before_view = None
        output["diff"]["before"][key] = before_view
        output["diff"]["after"][key] = after_view_ if write else before_view
