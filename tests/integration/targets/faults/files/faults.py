"""The fault-injection suite's cases and its checks, where linters and tests see them.

Usage: faults.py cases TABLES.json            -> the case list (JSON) on stdout
       faults.py check TABLES.json RESULTS.json DIR
                                              -> a summary line; exit 1 listing every broken case

TABLES.json holds the case tables of vars/main.yml (bad, check, hostile_plan,
hostile_extra, modes, timeout, slacks, write_re, real_only); RESULTS.json the
registered results of every case (each with its ``case``); DIR the relay's
directory, whose rec/NAME/ holds what each connection of listener NAME wrote
(NNNNN.bin) and when its client process started and exited (NNNNN.json).
"""

import glob
import json
import os
import re
import sys

HOSTILE_ARGS = {
    "haproxy_info": lambda number: {"gather": ["all"]},
    "haproxy_server": lambda number: {"backend": "be_app", "name": ["s3"], "weight": 100 + number},
    "haproxy_table": lambda number: {"name": "fe_main", "state": "present", "keys": ["10.77.0.%d" % number],
                                     "data": {"gpc0": 1}},
    "haproxy_frontend": lambda number: {"name": "fe_aux", "state": "toggle"},
}


def cases(tables):
    """Every case, in the order they run: bad input, check mode (check, real, again), hostile.

    Each has its own listener (relay.py NAME=SPEC), so the records of a case are its own.
    """
    out = []
    for number, case in enumerate(tables["bad"], 1):
        out.append(dict(case, kind="bad", id="bad%d" % number, listener="bad%d" % number, spec="relay", timeout=5.0))
    for number, case in enumerate(tables["check"], 1):
        for phase in ("check", "real", "again"):
            out.append(dict(case, kind=phase, id="chk%d" % number, listener="chk%d%s" % (number, phase),
                            spec="relay", timeout=5.0, check_mode=phase == "check"))
    hostile = list(tables["hostile_extra"])
    for module, plan in tables["hostile_plan"].items():
        for when, modes in plan.items():
            hostile.extend({"module": module, "mode": mode, "when": when} for mode in modes)
    for number, case in enumerate(hostile, 1):
        out.append(dict(case, kind="hostile", id="h%d" % number,
                        listener="h%d_%s_%s" % (number, case["mode"], case["when"]),
                        spec="%s@%s" % (tables["modes"][case["mode"]], case["when"]),
                        args=case.get("args") or HOSTILE_ARGS[case["module"]](number),
                        timeout=tables["timeout"], changed=case["when"] != "all"))
    return out


def _records(directory, listener):
    base = os.path.join(directory, "rec", listener)
    texts = []
    for path in sorted(glob.glob(os.path.join(base, "*.bin"))):
        with open(path, "rb") as handle:
            texts.append(handle.read().decode("utf-8", "replace"))
    metas = []
    for path in sorted(glob.glob(os.path.join(base, "*.json"))):
        with open(path) as handle:
            metas.append(json.load(handle))
    return texts, metas


def _covered(metas):
    """How long at least one of the connections was open (the union of their intervals), in seconds."""
    total, end = 0.0, None
    for start, stop in sorted((meta["accepted"], meta["ended"]) for meta in metas):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def _short(value, limit=300):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


def _failed(result):
    return bool(result.get("failed"))


def _diff_values(result, side):
    return list(((result.get("diff") or {}).get(side) or {}).values())


def _first(result, real_only):
    first = (result.get("results") or [{}])[0]
    return dict((key, value) for key, value in first.items() if key not in real_only and key != "diff")


class Checker(object):
    def __init__(self, tables, results, directory):
        self.tables = tables
        self.results = results
        self.directory = directory
        self.write_re = re.compile(tables["write_re"])
        self.by_listener = dict((result["case"]["listener"], result) for result in results)
        self.baseline = self._baseline()
        self.walls = []

    def _wall(self, metas):
        starts = [meta["started"] for meta in metas if meta.get("started")]
        exits = [meta["exited"] for meta in metas if meta.get("exited")]
        if not metas or len(starts) != len(metas) or len(exits) != len(metas):
            return None
        return max(exits) - min(starts)

    def _baseline(self):
        """The longest a module process that never waits took in this run (the bad cases that read)."""
        walls = [0.0]
        for result in self.results:
            if result["case"]["kind"] == "bad":
                wall = self._wall(_records(self.directory, result["case"]["listener"])[1])
                if wall is not None:
                    walls.append(wall)
        return max(walls)

    def problems(self, result):  # noqa: PLR0912
        case = result["case"]
        texts, metas = _records(self.directory, case["listener"])
        writes = [line for line in "\n".join(texts).split("\n") if self.write_re.match(line)]
        msg = str(result.get("msg") or "")
        items = []
        if "module_stderr" in result or "MODULE FAILURE" in msg:
            items.append("a traceback or module failure")
        if _failed(result) and (len(msg.splitlines()) != 1 or len(msg) >= 3000 or "Traceback" in msg
                                or "MODULE FAILURE" in msg or "unexpected" in msg.lower()):
            items.append("msg is not one bounded line without a catch-all")
        kind = case["kind"]
        if kind == "bad":
            if not _failed(result):
                items.append("bad input did not fail")
            if result.get("changed"):
                items.append("bad input reported changed")
            if case["sends"] == "nothing" and texts:
                items.append("%d connection(s), expected none" % len(texts))
            if writes:
                items.append("wrote " + _short(writes))
        elif kind == "check":
            real = self.by_listener[case["id"] + "real"]
            if writes:
                items.append("check mode wrote " + _short(writes))
            if _failed(result) != _failed(real):
                why = _short(result.get("msg") or real.get("msg") or "")
                items.append("check failed=%s, real failed=%s (%s)" % (_failed(result), _failed(real), why))
            if bool(result.get("changed")) != bool(real.get("changed")):
                items.append("check changed=%s, real changed=%s" % (bool(result.get("changed")), bool(real.get("changed"))))
            # The diff is keyed by socket, and each run has its own listener: compare the values.
            for side in ("before", "after"):
                mine, theirs = _diff_values(result, side), _diff_values(real, side)
                if mine != theirs:
                    items.append("diff.%s: check %s real %s" % (side, _short(mine, 500), _short(theirs, 500)))
            mine, theirs = _first(result, self.tables["real_only"]), _first(real, self.tables["real_only"])
            for key in sorted(set(mine) | set(theirs)):
                if mine.get(key, "<none>") != theirs.get(key, "<none>"):
                    pair = (_short(mine.get(key, "<none>")), _short(theirs.get(key, "<none>")))
                    items.append("results[0].%s: check %s real %s" % ((key,) + pair))
        elif kind == "again" and not _failed(self.by_listener[case["id"] + "real"]):
            if _failed(result):
                items.append("the run after failed")
            if result.get("changed"):
                items.append("the run after is changed")
            if len(texts) != 1:
                items.append("the run after opened %d connections" % len(texts))
            if writes:
                items.append("the run after wrote " + _short(writes))
        elif kind == "hostile":
            if not _failed(result):
                items.append("did not fail")
            if bool(result.get("changed")) != case["changed"]:
                items.append("changed=%s, expected %s" % (bool(result.get("changed")), case["changed"]))
            wall = self._wall(metas)
            if wall is None:
                items.append("no wall time: " + _short(metas, 200))
            else:
                self.walls.append(round(wall, 2))
                # The timeout bounds each connection (a read, then the write batch, then the re-read):
                # none may last longer than it, plus the slack. Between them the module only computes.
                longest = max(meta["ended"] - meta["accepted"] for meta in metas)
                if longest > case["timeout"] + self.tables["exchange_slack"]:
                    items.append("a connection took %.2f s (timeout %s)" % (longest, case["timeout"]))
                exchange = _covered(metas)
                # Outside its exchanges (Python's start, the error's formatting, the exit) a module
                # process does what one that never waits does: at most twice the slowest of those in
                # this run (the load of the machine changes from one minute to the next), plus the slack.
                outside = wall - exchange
                if outside > 2 * self.baseline + self.tables["slack"]:
                    items.append("its process took %.2f s outside its exchanges of %.2f s (a module that does not "
                                 "wait: %.2f s)" % (outside, exchange, self.baseline))
        if not items:
            return None
        head = "%s %s %s %s" % (case["id"], kind, case["module"], _short(case["args"], 160))
        return "%s: %s [msg: %s]" % (head, "; ".join(items), _short(msg))


def check(tables, results, directory):
    checker = Checker(tables, results, directory)
    broken = [text for text in (checker.problems(result) for result in results) if text]
    all_cases = cases(tables)
    kinds = dict((kind, sum(1 for case in all_cases if case["kind"] == kind)) for kind in ("hostile", "bad", "check"))
    ids = len(set(case["id"] for case in all_cases))
    summary = ("faults: %d of %d cases passed (%d hostile peer, %d bad input, %d check mode, each with its real run and "
               "the no-op after), %d module runs; slowest hostile case %s s with timeout %s s (a module that does not "
               "wait: %.2f s)" % (ids - len(set(text.split()[0] for text in broken)), ids, kinds["hostile"], kinds["bad"],
                                  kinds["check"], len(results), max(checker.walls or [0]), tables["timeout"],
                                  checker.baseline))
    return summary, broken


def main(argv):
    with open(argv[2]) as handle:
        tables = json.load(handle)
    if argv[1] == "cases":
        json.dump(cases(tables), sys.stdout)
        return 0
    with open(argv[3]) as handle:
        results = json.load(handle)
    summary, broken = check(tables, results, argv[4])
    print(summary)
    for text in broken:
        print("BROKEN " + text)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
