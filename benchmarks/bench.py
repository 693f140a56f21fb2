"""Benchmark of lbops.haproxy's runtime modules against their peers, in one run.

Not a test: it prints wall times and ratios measured on this machine, now.

1. One HAProxy with a 100-server backend; every variant takes all 100 servers
   from ready to maint (the state is reset, untimed, between variants):
   - lbops.haproxy.haproxy_server, one task for the 100 servers;
   - the same module in a loop of 100 tasks;
   - community.general.haproxy in a loop over the 100 (PyPI's `ansible` package);
   - a raw batched write on the socket (no Ansible at all);
   - the one-task form again, now a no-op: its time, and how many connections
     it opened on the socket (HAProxy's CumConns, read before and after).
2. A stick table of 1,000,000 entries: time to fill it (raw batched writes), to
   count it (haproxy_info: the table list; haproxy_table in check mode: streams
   the whole dump) and to clear it (haproxy_table state=absent), with the peak
   resident memory of the module process. In the same run, the peers of those:
   - the raw dump: ``show table`` read to its end on a plain socket and thrown
     away (what ``socat`` does), alternated with the collection's client
     streaming the same dump through haproxy_table's parser, in-process, three
     times each; the ratio of their medians (target: at most 2x);
   - the module's own work for a full clear (the runner in a fresh Python
     process: read, clear, re-read; target under 1 s, peak RSS under 50 MB),
     next to the task's wall time and a raw ``clear table``.

3. A map of 100,000 entries (MAP_ENTRIES), loaded into an empty map that a frontend
   uses, with haproxy_map state=exact (prepare map, add map @version in payload
   batches, commit map): its wall time next to the same atomic load done on a raw
   socket (no Ansible: the peer, in the same run); then the no-op repeat (its time,
   and its connections by CumConns), a change of 1% of the values (exact again), and
   a raw ``show map`` read to its end for the read side of the ratio.

Every part runs once per HAProxy version given (each from its own Debian root, see
scripts/haproxy-root.sh), one version after the other, and the report ends with the
same ratios side by side.

Usage: benchmarks/run.sh [--haproxy 2.6|3.0|3.2]...  (default: all three; sets up the
environment and the HAProxy roots, then runs this file with
--haproxy VERSION=COMMAND for each)
"""

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The collection's copy that benchmarks/run.sh installs, importable in-process too.
sys.path[:0] = [path for path in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if path]
from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Runner, build_request  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._table import Dump  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.modules import haproxy_table  # noqa: E402

SERVERS = ["srv%d" % n for n in range(1, 101)]
MAP_ENTRIES = int(os.environ.get("BENCH_MAP_ENTRIES", "100000"))
TABLE_ENTRIES = int(os.environ.get("BENCH_TABLE_ENTRIES", "1000000"))


def cli(sock_path, commands):
    """Raw batched CLI session: one connection, returns the raw answer."""
    lines, current, size = [], [], 0
    for command in commands:
        if current and size + len(command) + 1 > 8000:
            lines.append(";".join(current))
            current, size = [], 0
        current.append(command)
        size += len(command) + 1
    if current:
        lines.append(";".join(current))
    payload = ("prompt\n" + "".join(line + "\n" for line in lines) + "quit\n").encode()
    conn = socket.socket(socket.AF_UNIX)
    conn.settimeout(120)
    conn.connect(sock_path)
    # No half-close after the payload: 'quit' ends the session (HAProxy 2.6 may reset a
    # half-closed connection while it still answers a long batch).
    writer = threading.Thread(target=conn.sendall, args=(payload,))
    writer.start()
    chunks = []
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    writer.join()
    conn.close()
    return b"".join(chunks).decode()


def show_info(sock_path):
    out = subprocess.run(["socat", "stdio", sock_path], input=b"show info\n", capture_output=True, check=True).stdout.decode()
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def playbook(workdir, name, tasks, extra_env=None):
    path = os.path.join(workdir, name + ".yml")
    with open(path, "w") as handle:
        json.dump([{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}], handle)
    env = dict(os.environ)
    # The controller's interpreter (the project's venv) runs the modules too.
    env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
    env.update(extra_env or {})
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", path], capture_output=True, env=env, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("playbook %s failed" % name)
    return elapsed


def timed_tasks(label, tasks):
    """Wrap tasks with time stamps so the playbook's own start-up is not counted."""
    start = {"name": "t0 " + label, "ansible.builtin.set_fact": {"_t0": "{{ now(fmt='%s.%f') }}"}}
    stop = {"name": "t1 " + label, "ansible.builtin.set_fact": {"_t1": "{{ now(fmt='%s.%f') }}"}}
    save = {"name": "report " + label,
            "ansible.builtin.copy": {"dest": "{{ result_file }}", "mode": "0600", "content": "{{ (_t1 | float) - (_t0 | float) }}"}}
    return [start] + tasks + [stop, save]


def run_timed(workdir, label, tasks, extra_env=None):
    result_file = os.path.join(workdir, label + ".time")
    wrapped = [{"ansible.builtin.set_fact": {"result_file": result_file}}] + timed_tasks(label, tasks)
    playbook(workdir, label, wrapped, extra_env)
    with open(result_file) as handle:
        return float(handle.read())


def reset_ready(sock_path):
    cli(sock_path, ["set server be_big/%s state ready" % s for s in SERVERS])


def all_maint(sock_path):
    out = cli(sock_path, ["show servers state be_big"])
    admin = []
    for line in out.splitlines():
        fields = line.lstrip("> ").split(" ")
        if len(fields) > 6 and fields[1] == "be_big":
            admin.append(int(fields[6]) & 1)
    return len(admin) == 100 and all(admin)


def peak_rss_wrapper(workdir):
    """An interpreter wrapper that records each Python process's peak RSS (kB)."""
    wrapper = os.path.join(workdir, "python-rss")
    log = os.path.join(workdir, "rss.log")
    with open(wrapper, "w") as handle:
        handle.write("#!/bin/sh\nexec /usr/bin/time -a -o %s -f '%%M' %s \"$@\"\n" % (log, sys.executable))
    os.chmod(wrapper, 0o755)
    return wrapper, log


def bench_version(version, haproxy, parts=("servers", "table", "map")):
    """Both parts against one HAProxy: ``haproxy`` is its command, ``version`` what it must report."""
    workdir = tempfile.mkdtemp(prefix="lbops-bench-")
    sock_path = os.path.join(workdir, "admin.sock")
    with open(os.path.join(HERE, "haproxy-bench.cfg.j2")) as handle:
        template = handle.read()
    config = template.replace("{{ bench_dir }}", workdir)
    body = []
    for line in config.splitlines():
        if line.startswith("{% for"):
            continue
        if line.startswith("{% endfor"):
            continue
        if "{{ n }}" in line:
            body.extend(line.replace("{{ n }}", str(n)).replace("{{ 20000 + n }}", str(20000 + n)) for n in range(1, 101))
            continue
        body.append(line)
    cfg_path = os.path.join(workdir, "haproxy.cfg")
    open(os.path.join(workdir, "bench.map"), "w").close()
    with open(cfg_path, "w") as handle:
        handle.write("\n".join(body) + "\n")
    pidfile = os.path.join(workdir, "haproxy.pid")
    subprocess.run([haproxy, "-c", "-q", "-f", cfg_path], check=True)
    subprocess.run([haproxy, "-D", "-f", cfg_path, "-p", pidfile], check=True)
    try:
        for _attempt in range(50):
            if os.path.exists(sock_path):
                break
            time.sleep(0.1)
        running = show_info(sock_path)["Version"]
        if not running.startswith(version + "."):
            raise SystemExit("%s runs HAProxy %s, not %s" % (haproxy, running, version))
        results = {"haproxy_version": running}
        if "servers" in parts:
            results.update(bench_servers(workdir, sock_path))
        if "table" in parts:
            results.update(bench_table(workdir, sock_path))
        if "map" in parts:
            results.update(bench_map(workdir, sock_path))
    finally:
        with open(pidfile) as handle:
            for pid in handle.read().split():
                try:
                    os.kill(int(pid), 15)
                except OSError:
                    pass
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main():
    if sys.argv[1:2] == ["--module-clear"]:
        _module_clear_main(sys.argv[2])
        return
    if sys.argv[1:2] == ["--module-map"]:
        _module_map_main(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description="lbops.haproxy benchmark")
    parser.add_argument("--haproxy", action="append", required=True, metavar="VERSION=COMMAND",
                        help="an HAProxy version and its command (repeat for several versions)")
    parser.add_argument("--part", action="append", choices=["servers", "table", "map"],
                        help="run only this part (repeat for several; default: every part)")
    args = parser.parse_args()
    parts = args.part or ["servers", "table", "map"]
    runs = []
    for spec in args.haproxy:
        version, sep, command = spec.partition("=")
        if not sep:
            parser.error("--haproxy takes VERSION=COMMAND, got %r" % spec)
        print("HAProxy %s (%s)" % (version, command), flush=True)
        results = bench_version(version, command, parts)
        report(results)
        runs.append((version, results))
    summary(runs)


def bench_servers(workdir, sock_path):
    base = {"socket": sock_path, "backend": "be_big"}
    one_task = [{"name": "all 100 in one task", "lbops.haproxy.haproxy_server": dict(base, name=SERVERS, state="maint")}]
    loop = [{"name": "one task per server", "lbops.haproxy.haproxy_server": dict(base, name="{{ item }}", state="maint"),
             "loop": SERVERS}]
    peer = [{"name": "community.general.haproxy", "community.general.haproxy": {
        "socket": sock_path, "backend": "be_big", "host": "{{ item }}", "state": "disabled"}, "loop": SERVERS}]
    results = {}
    reset_ready(sock_path)
    results["one_task"] = run_timed(workdir, "one_task", one_task)
    assert all_maint(sock_path), "one-task variant did not put the 100 servers in maint"
    before = int(show_info(sock_path)["CumConns"])
    results["noop"] = run_timed(workdir, "noop", one_task)
    after = int(show_info(sock_path)["CumConns"])
    # The first show_info connection is counted in `before`'s own total.
    results["noop_connections"] = after - before - 1
    reset_ready(sock_path)
    results["loop_100_tasks"] = run_timed(workdir, "loop", loop)
    assert all_maint(sock_path), "loop variant did not put the 100 servers in maint"
    reset_ready(sock_path)
    results["community_general"] = run_timed(workdir, "peer", peer)
    assert all_maint(sock_path), "community.general.haproxy did not put the 100 servers in maint"
    reset_ready(sock_path)
    start = time.monotonic()
    cli(sock_path, ["set server be_big/%s state maint" % s for s in SERVERS])
    results["raw_batched_write"] = time.monotonic() - start
    assert all_maint(sock_path), "raw write did not put the 100 servers in maint"
    return results


def fill_table(sock_path):
    keys = ("%d.%d.%d.%d" % (10 + (n >> 24), (n >> 16) & 255, (n >> 8) & 255, n & 255) for n in range(TABLE_ENTRIES))
    batch = []
    for key in keys:
        batch.append("set table big_table key %s data.gpc0 1" % key)
        if len(batch) == 100000:
            cli(sock_path, batch)
            batch = []
    if batch:
        cli(sock_path, batch)


def table_used(sock_path):
    return int(cli(sock_path, ["show table"]).split("big_table, type: ip, size:1100000, used:")[1].split()[0])


def raw_dump(sock_path):
    """``show table big_table`` read to its end and dropped, as socat would: (seconds, bytes)."""
    conn = socket.socket(socket.AF_UNIX)
    conn.settimeout(120)
    conn.connect(sock_path)
    start = time.monotonic()
    conn.sendall(b"show table big_table\n")
    size = 0
    while True:
        chunk = conn.recv(1 << 18)
        if not chunk:
            break
        size += len(chunk)
    elapsed = time.monotonic() - start
    conn.close()
    return elapsed, size


def client_stream(sock_path):
    """The same dump through the collection's client and haproxy_table's parser, in-process: (seconds, count)."""
    client = RuntimeClient(sock_path, 120)
    start = time.monotonic()
    dump = client.read([("show table big_table", Dump(100).consume)])[0]
    return time.monotonic() - start, dump.count


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def module_clear(sock_path):
    """The runner's full clear in a fresh Python (``--module-clear``): (seconds, CPU seconds, peak RSS MB, removed).

    The CPU seconds (user + system of that process, during the clear) say what
    the wall time would be on an idle machine, where HAProxy and the module do
    not wait for each other's core.
    """
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--module-clear", sock_path],
                         capture_output=True, text=True, check=True).stdout
    seconds, cpu, rss, removed = out.split()
    return float(seconds), float(cpu), float(rss), int(removed)


def _module_clear_main(sock_path):
    """What haproxy_table state=absent does once its parameters are checked, timed in this process."""
    request = build_request(haproxy_table.DEFINITION, haproxy_table.ARGUMENT_SPEC,
                            {"name": "big_table", "socket": [sock_path], "state": "absent"}, haproxy_table.MODULE_KWARGS)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    result = Runner(haproxy_table.DEFINITION, request).run(RuntimeClient(sock_path, 120))
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    print("%.4f %.4f %.1f %d" % (elapsed, cpu, peak_rss_of_this_process(), result["removed"]))


def peak_rss_of_this_process():
    """Peak RSS (MB) of this process since its exec: /proc's VmHWM.

    Not ``ru_maxrss``: Linux carries the forking parent's peak into it across
    exec, so a child of this (large) benchmark process would report the
    benchmark's own memory.
    """
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise SystemExit("no VmHWM in /proc/self/status")


def bench_table(workdir, sock_path):
    results = {}
    start = time.monotonic()
    fill_table(sock_path)
    results["table_fill"] = time.monotonic() - start
    results["table_entries"] = table_used(sock_path)
    raw_times, stream_times = [], []
    for _round in range(3):
        seconds, size = raw_dump(sock_path)
        raw_times.append(seconds)
        seconds, count = client_stream(sock_path)
        assert count == results["table_entries"], "the client counted %d entries of %d" % (count, results["table_entries"])
        stream_times.append(seconds)
    results["table_dump_bytes"] = size
    results["table_raw_dump"] = median(raw_times)
    results["table_client_stream"] = median(stream_times)
    wrapper, rss_log = peak_rss_wrapper(workdir)
    env = {"ANSIBLE_PYTHON_INTERPRETER": wrapper}
    info = [{"lbops.haproxy.haproxy_info": {"socket": sock_path}, "register": "_info"}]
    results["table_count_info"] = run_timed(workdir, "count_info", info)
    check = [{"lbops.haproxy.haproxy_table": {"socket": sock_path, "name": "big_table", "state": "absent"},
              "check_mode": True, "register": "_predict"}]
    open(rss_log, "w").close()
    results["table_count_stream"] = run_timed(workdir, "count_stream", check, env)
    results["table_count_stream_peak_rss_mb"] = max_rss(rss_log)
    clear = [{"lbops.haproxy.haproxy_table": {"socket": sock_path, "name": "big_table", "state": "absent"}}]
    open(rss_log, "w").close()
    results["table_clear"] = run_timed(workdir, "clear", clear, env)
    results["table_clear_peak_rss_mb"] = max_rss(rss_log)
    left = table_used(sock_path)
    assert left == 0, "%d entries left after the clear" % left
    fill_table(sock_path)
    seconds, cpu, rss, removed = module_clear(sock_path)
    assert removed == results["table_entries"] and table_used(sock_path) == 0, "the runner's clear left entries"
    results["table_module_clear"], results["table_module_clear_cpu"] = seconds, cpu
    results["table_module_clear_peak_rss_mb"] = rss
    results["load_average"] = os.getloadavg()[0]
    fill_table(sock_path)
    start = time.monotonic()
    cli(sock_path, ["clear table big_table"])
    results["table_raw_clear"] = time.monotonic() - start
    assert table_used(sock_path) == 0, "the raw clear left entries"
    return results


def map_entries(salt=""):
    """The benchmark's map: MAP_ENTRIES host names, each routed to one of the 100 servers."""
    return dict(("h%06d.example.test" % n, "srv%d%s" % (n % 100 + 1, salt if n % 100 == 0 else ""))
                for n in range(MAP_ENTRIES))


class RawCli(object):
    """A plain interactive CLI connection (prompt mode), for the raw peer of the map part."""

    def __init__(self, sock_path):
        self.conn = socket.socket(socket.AF_UNIX)
        self.conn.settimeout(120)
        self.conn.connect(sock_path)
        self.buffer = b""
        self.conn.sendall(b"prompt\n")
        self.until_prompt()

    def until_prompt(self):
        """The bytes before the next prompt ('> ' at a line start), the prompt dropped."""
        while True:
            if self.buffer.startswith(b"> "):
                at = 0
            else:
                at = self.buffer.find(b"\n> ")
                at = at + 1 if at >= 0 else -1
            if at >= 0:
                out, self.buffer = self.buffer[:at], self.buffer[at + 2:]
                return out
            chunk = self.conn.recv(1 << 20)
            if not chunk:
                raise SystemExit("the raw CLI connection closed early: %r" % self.buffer[-200:])
            self.buffer += chunk

    def send(self, data):
        writer = threading.Thread(target=self.conn.sendall, args=(data,))
        writer.start()
        return writer

    def close(self):
        self.conn.sendall(b"quit\n")
        while self.conn.recv(1 << 20):
            pass
        self.conn.close()


def raw_map_exact(sock_path, path, entries):
    """The atomic load on a raw socket: prepare, payloads of at most 14 kB, commit. Seconds."""
    start = time.monotonic()
    raw = RawCli(sock_path)
    writer = raw.send(("prepare map %s\n" % path).encode())
    writer.join()
    answer = raw.until_prompt().decode()
    if "New version created:" not in answer:
        raise SystemExit("prepare map answered %r" % answer)
    version = answer.split("New version created:")[1].split()[0]
    chunks, current, size = [], [], 0
    for key, value in entries.items():
        line = "%s %s\n" % (key, value)
        if current and size + len(line) > 14000:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        chunks.append("".join(current))
    data = "".join("add map @%s %s <<\n%s\n" % (version, path, chunk) for chunk in chunks)
    data += "commit map @%s %s\n" % (version, path)
    writer = raw.send(data.encode())
    answers = []
    for _chunk in range(len(chunks) + 1):
        answers.append(raw.until_prompt().decode())
    writer.join()
    raw.close()
    elapsed = time.monotonic() - start
    bad = [a for a in answers if a.strip("+ \n")]
    if bad:
        raise SystemExit("the raw load was refused: %r" % bad[0][:200])
    return elapsed


def raw_show_map(sock_path, path):
    """``show map <file>`` read to its end on a plain socket: (seconds, lines)."""
    conn = socket.socket(socket.AF_UNIX)
    conn.settimeout(120)
    conn.connect(sock_path)
    start = time.monotonic()
    conn.sendall(("show map %s\n" % path).encode())
    chunks = []
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    elapsed = time.monotonic() - start
    conn.close()
    return elapsed, b"".join(chunks).count(b"\n") - 1


def map_content(sock_path, path):
    """The map as HAProxy serves it now: {key: value}."""
    conn = socket.socket(socket.AF_UNIX)
    conn.settimeout(120)
    conn.connect(sock_path)
    conn.sendall(("show map %s\n" % path).encode())
    chunks = []
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    conn.close()
    out = {}
    for line in b"".join(chunks).decode().splitlines():
        fields = line.split(" ", 2)
        if len(fields) == 3:
            out[fields[1]] = fields[2]
    return out


def bench_map(workdir, sock_path):
    path = os.path.join(workdir, "bench.map")
    entries, changed = map_entries(), map_entries("-v2")
    results = {"map_entries": len(entries)}
    results["map_raw_exact"] = raw_map_exact(sock_path, path, entries)
    assert map_content(sock_path, path) == entries, "the raw load did not give the map"
    raw_map_exact(sock_path, path, {"placeholder.example.test": "srv1"})
    for name, content in (("map_v1.json", entries), ("map_v2.json", changed)):
        with open(os.path.join(workdir, name), "w") as handle:
            json.dump(content, handle)

    def task(name):
        return [{"name": "haproxy_map exact", "lbops.haproxy.haproxy_map": {
            "socket": sock_path, "map": path, "state": "exact",
            "entries": "{{ lookup('ansible.builtin.file', '%s') | from_json }}" % os.path.join(workdir, name)},
            "register": "_map"}]
    results["map_module_exact"] = run_timed(workdir, "map_exact", task("map_v1.json"))
    assert map_content(sock_path, path) == entries, "haproxy_map exact did not give the map"
    before = int(show_info(sock_path)["CumConns"])
    results["map_noop"] = run_timed(workdir, "map_noop", task("map_v1.json"))
    after = int(show_info(sock_path)["CumConns"])
    results["map_noop_connections"] = after - before - 1
    results["map_module_change_1pct"] = run_timed(workdir, "map_change", task("map_v2.json"))
    assert map_content(sock_path, path) == changed, "haproxy_map exact did not apply the 1% change"
    # The module's own work (argument checks, read, plan, writes, re-read), without Ansible's
    # templating and transfer of 100,000 entries: the 1% back, then a no-op.
    v1 = os.path.join(workdir, "map_v1.json")
    seconds, cpu, did = module_map(sock_path, path, v1)
    assert did and map_content(sock_path, path) == entries, "the runner's exact did not change the map back"
    results["map_runner_change_1pct"], results["map_runner_change_1pct_cpu"] = seconds, cpu
    seconds, cpu, did = module_map(sock_path, path, v1)
    assert not did, "the runner's repeat reported a change"
    results["map_runner_noop"] = seconds
    raw_map_exact(sock_path, path, {"placeholder.example.test": "srv1"})
    seconds, cpu, did = module_map(sock_path, path, v1)
    assert did and map_content(sock_path, path) == entries, "the runner's exact did not load the map"
    results["map_runner_exact"], results["map_runner_exact_cpu"] = seconds, cpu
    raw_times = [raw_show_map(sock_path, path) for _round in range(3)]
    assert all(lines == len(entries) for dummy, lines in raw_times), "show map listed %r lines" % (raw_times,)
    results["map_raw_show"] = median([seconds for seconds, dummy in raw_times])
    return results


def module_map(sock_path, path, entries_file):
    """haproxy_map exact's own work in a fresh Python (``--module-map``): (seconds, CPU seconds, changed)."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--module-map", sock_path, path, entries_file],
                         capture_output=True, text=True, check=True).stdout
    seconds, cpu, changed = out.split()
    return float(seconds), float(cpu), changed == "True"


def _module_map_main(sock_path, path, entries_file):
    """What haproxy_map state=exact does once Ansible handed it its parameters, timed in this process."""
    from ansible_collections.lbops.haproxy.plugins.modules import haproxy_map  # noqa: PLC0415
    with open(entries_file) as handle:
        entries = json.load(handle)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    request = build_request(haproxy_map.DEFINITION, haproxy_map.ARGUMENT_SPEC,
                            {"map": path, "entries": entries, "socket": [sock_path], "state": "exact"})
    result = Runner(haproxy_map.DEFINITION, request).run(RuntimeClient(sock_path, 120))
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    print("%.4f %.4f %s" % (elapsed, cpu, bool(result.get("changed"))))


def report_map(r):
    print("-" * 72)
    print("map: %d entries, loaded atomically (prepare, add @version, commit)" % r["map_entries"])
    print("%-48s %10.3f s" % ("raw socket: the atomic load (no Ansible)", r["map_raw_exact"]))
    print("%-48s %10.3f s" % ("haproxy_map exact, into an almost empty map", r["map_module_exact"]))
    print("%-48s %10.3f s" % ("haproxy_map exact, 1% of the values changed", r["map_module_change_1pct"]))
    print("%-48s %10.3f s" % ("haproxy_map exact, no-op repeat", r["map_noop"]))
    print("%-48s %10d" % ("connections opened by the no-op repeat", r["map_noop_connections"]))
    print("%-48s %10.3f s" % ("raw socket: show map read to its end (median of 3)", r["map_raw_show"]))
    print("%-48s %10.3f s  (CPU %.3f s)" % ("module's work (runner, in-process): the load", r["map_runner_exact"],
                                            r["map_runner_exact_cpu"]))
    print("%-48s %10.3f s  (CPU %.3f s)" % ("module's work: 1% of the values changed", r["map_runner_change_1pct"],
                                            r["map_runner_change_1pct_cpu"]))
    print("%-48s %10.3f s" % ("module's work: no-op (read and compare)", r["map_runner_noop"]))
    print("ratio task exact / raw atomic load            %10.1f x" % (r["map_module_exact"] / r["map_raw_exact"]))
    print("ratio module's work / raw atomic load         %10.1f x" % (r["map_runner_exact"] / r["map_raw_exact"]))
    print("ratio module's no-op / raw show map           %10.1f x" % (r["map_runner_noop"] / r["map_raw_show"]))


def max_rss(path):
    with open(path) as handle:
        values = [int(line) for line in handle.read().split() if line.isdigit()]
    return round(max(values) / 1024.0, 1) if values else None


def report(r):
    print("")
    print("lbops.haproxy benchmark on HAProxy %s (wall seconds of the tasks, measured in one run)" % r["haproxy_version"])
    if "one_task" in r:
        report_servers(r)
    if "table_entries" in r:
        report_table(r)
    if "map_entries" in r:
        report_map(r)
    print(json.dumps(r, sort_keys=True))
    for label, ok in targets(r):
        print("target (%s): %s" % (label, "met" if ok else "NOT met"))


def report_servers(r):
    print("-" * 72)
    rows = [
        ("haproxy_server, 100 servers in one task", r["one_task"]),
        ("haproxy_server, loop of 100 tasks", r["loop_100_tasks"]),
        ("community.general.haproxy, loop of 100", r["community_general"]),
        ("raw batched socket write (no Ansible)", r["raw_batched_write"]),
        ("haproxy_server one task, no-op repeat", r["noop"]),
    ]
    for label, value in rows:
        print("%-48s %10.3f s" % (label, value))
    print("%-48s %10d" % ("connections opened by the no-op repeat", r["noop_connections"]))
    print("-" * 72)
    print("ratio community.general / one task            %10.1f x" % (r["community_general"] / r["one_task"]))
    print("ratio loop of 100 tasks / one task            %10.1f x" % (r["loop_100_tasks"] / r["one_task"]))
    print("ratio one task / raw batched write            %10.1f x" % (r["one_task"] / r["raw_batched_write"]))


def report_table(r):
    print("-" * 72)
    print("stick table: %d entries" % r["table_entries"])
    print("%-48s %10.3f s" % ("fill (raw batched set table)", r["table_fill"]))
    print("%-48s %10.3f s" % ("count: haproxy_info (table list)", r["table_count_info"]))
    print("%-48s %10.3f s  (peak RSS %s MB)" % ("count: haproxy_table check mode (streams)", r["table_count_stream"],
                                                r["table_count_stream_peak_rss_mb"]))
    print("%-48s %10.3f s  (peak RSS %s MB)" % ("clear: haproxy_table state=absent", r["table_clear"], r["table_clear_peak_rss_mb"]))
    print("%-48s %10.3f s  (%d MB)" % ("dump: raw socket, read and dropped (median of 3)", r["table_raw_dump"],
                                       r["table_dump_bytes"] >> 20))
    print("%-48s %10.3f s" % ("dump: the client streaming it (median of 3)", r["table_client_stream"]))
    print("%-48s %10.3f s  (CPU %.3f s, peak RSS %s MB, load %.1f)" % (
        "clear: the module's work (runner, in-process)", r["table_module_clear"], r["table_module_clear_cpu"],
        r["table_module_clear_peak_rss_mb"], r["load_average"]))
    print("%-48s %10.3f s" % ("clear: raw 'clear table'", r["table_raw_clear"]))
    print("ratio client stream / raw dump                %10.2f x" % (r["table_client_stream"] / r["table_raw_dump"]))


def targets(r):
    """``[(label, met)]`` for the parts that ran."""
    found = []
    if "one_task" in r:
        found.append(("one task >= 20x faster than community.general.haproxy", r["community_general"] / r["one_task"] >= 20))
        found.append(("no-op = one read connection per socket", r["noop_connections"] == 1))
    if "table_entries" in r:
        peak = max(r["table_module_clear_peak_rss_mb"], r["table_clear_peak_rss_mb"] or 0,
                   r["table_count_stream_peak_rss_mb"] or 0)
        found.append(("streaming 1M entries costs at most 2x the raw dump", r["table_client_stream"] <= 2 * r["table_raw_dump"]))
        found.append(("the module's full clear of 1M entries under 1 s", r["table_module_clear"] < 1.0))
        found.append(("peak RSS of the module under 50 MB", peak < 50))
    if "map_entries" in r:
        found.append(("no-op map repeat = one read connection per socket", r["map_noop_connections"] == 1))
    return found


def summary(runs):
    """The same figures for every version, side by side."""
    print("")
    print("summary (one column per HAProxy version)")
    print("%-44s" % "" + "".join("%14s" % r["haproxy_version"][:13] for dummy, r in runs))
    rows = [
        ("haproxy_server, 100 servers, one task (s)", lambda r: "%.2f" % r["one_task"]),
        ("haproxy_server, loop of 100 tasks (s)", lambda r: "%.1f" % r["loop_100_tasks"]),
        ("community.general.haproxy, loop of 100 (s)", lambda r: "%.1f" % r["community_general"]),
        ("raw batched socket write (s)", lambda r: "%.3f" % r["raw_batched_write"]),
        ("no-op repeat (s)", lambda r: "%.2f" % r["noop"]),
        ("no-op connections", lambda r: "%d" % r["noop_connections"]),
        ("ratio community.general / one task", lambda r: "%.0fx" % (r["community_general"] / r["one_task"])),
        ("ratio loop of 100 / one task", lambda r: "%.0fx" % (r["loop_100_tasks"] / r["one_task"])),
        ("table: fill 1M (s)", lambda r: "%.1f" % r["table_fill"]),
        ("table: count, haproxy_info (s)", lambda r: "%.1f" % r["table_count_info"]),
        ("table: count, haproxy_table check (s)", lambda r: "%.1f" % r["table_count_stream"]),
        ("table: clear, haproxy_table (s)", lambda r: "%.1f" % r["table_clear"]),
        ("table: raw dump, median (s)", lambda r: "%.2f" % r["table_raw_dump"]),
        ("table: client stream, median (s)", lambda r: "%.2f" % r["table_client_stream"]),
        ("ratio client stream / raw dump", lambda r: "%.2fx" % (r["table_client_stream"] / r["table_raw_dump"])),
        ("table: clear, module's work (s)", lambda r: "%.2f" % r["table_module_clear"]),
        ("table: clear, module's CPU (s)", lambda r: "%.2f" % r["table_module_clear_cpu"]),
        ("load average (1 min) at the clear", lambda r: "%.1f" % r["load_average"]),
        ("table: clear, raw (s)", lambda r: "%.2f" % r["table_raw_clear"]),
        ("map: entries", lambda r: "%d" % r["map_entries"]),
        ("map: raw atomic load (s)", lambda r: "%.2f" % r["map_raw_exact"]),
        ("map: haproxy_map exact (s)", lambda r: "%.2f" % r["map_module_exact"]),
        ("map: haproxy_map exact, 1% changed (s)", lambda r: "%.2f" % r["map_module_change_1pct"]),
        ("map: no-op repeat (s)", lambda r: "%.2f" % r["map_noop"]),
        ("map: no-op connections", lambda r: "%d" % r["map_noop_connections"]),
        ("map: raw show map (s)", lambda r: "%.2f" % r["map_raw_show"]),
        ("map: module's work, load (s)", lambda r: "%.2f" % r["map_runner_exact"]),
        ("map: module's work, 1% changed (s)", lambda r: "%.2f" % r["map_runner_change_1pct"]),
        ("map: module's work, no-op (s)", lambda r: "%.2f" % r["map_runner_noop"]),
        ("ratio task exact / raw load", lambda r: "%.1fx" % (r["map_module_exact"] / r["map_raw_exact"])),
        ("ratio module's work / raw load", lambda r: "%.1fx" % (r["map_runner_exact"] / r["map_raw_exact"])),
        ("table: peak RSS count / clear (MB)", lambda r: "%s/%s" % (r["table_count_stream_peak_rss_mb"],
                                                                    r["table_clear_peak_rss_mb"])),
    ]
    for label, value in rows:
        try:
            cells = [value(r) for dummy, r in runs]
        except KeyError:
            continue  # a part that did not run
        print("%-44s" % label + "".join("%14s" % cell for cell in cells))
    print(json.dumps(dict(runs), sort_keys=True))
    labels = [label for label, dummy in targets(runs[0][1])] if runs else []
    for index, label in enumerate(labels):
        met = all(targets(r)[index][1] for dummy, r in runs)
        print("target (%s) on every version: %s" % (label, "met" if met else "NOT met"))


if __name__ == "__main__":
    main()
