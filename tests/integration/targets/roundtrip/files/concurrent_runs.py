# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start several ansible-playbook runs at once that change the servers of one backend.

Each run changes weights and states of be_conc's servers through the same admin socket,
some of them the same servers as another run (with the same or a conflicting value), a
few rounds each. Every run must end in time, without a traceback or a MODULE FAILURE;
each task's report must be true of what it did; HAProxy must end in the requested state
(for a conflict: in one of the requested states).

Usage: concurrent_runs.py PYTHON COLLECTIONS_PATH SOCKET WORK_DIR
Prints a JSON summary; exits 1 with the reasons when an expectation fails.
"""

import json
import os
import socket
import subprocess
import sys
import time

RUNS = [
    [{"name": "c1", "weight": 11}, {"name": "c2", "state": "drain"}],
    [{"name": "c3", "weight": 33}, {"name": "c2", "state": "drain"}],
    [{"name": "c4", "state": "maint"}, {"name": "c1", "weight": 11}],
    [{"name": "c4", "state": "ready"}, {"name": "c3", "weight": 44}],
]
ROUNDS = 3
TIMEOUT = 240
# What HAProxy must end with: the values every run agrees on, and the sets of the conflicts.
FINAL = {"c1": {"weight": {11}}, "c2": {"state": {"drain"}}, "c3": {"weight": {33, 44}}, "c4": {"state": {"maint", "ready"}}}
CONFLICTS = {("c3", "weight"), ("c4", "state")}

PLAYBOOK = """---
- name: Concurrent run {index}
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Change be_conc
      lbops.haproxy.haproxy_server:
        socket: {socket}
        backend: be_conc
        name: ["{{{{ item.name }}}}"]
        weight: "{{{{ item.weight | default(omit) }}}}"
        state: "{{{{ item.state | default(omit) }}}}"
      loop: {requests}
      register: changes
      ignore_errors: true

    - name: Keep the results
      ansible.builtin.copy:
        content: "{{{{ changes.results | to_json }}}}"
        dest: {out}
        mode: "0644"
"""


def servers_state(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    sock.sendall(b"show servers state be_conc\n")
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    servers = {}
    for line in data.decode().splitlines():
        fields = line.split(" ")
        if len(fields) > 10 and not line.startswith("#"):
            admin = int(fields[6])
            state = "maint" if admin & 0x23 else "drain" if admin & 0x18 else "ready"
            servers[fields[3]] = {"weight": int(fields[7]), "state": state}
    return servers


def check_result(run, result, problems):
    """One task's report: true of what it did."""
    request = result.get("item") or {}
    name = request.get("name")
    text = json.dumps(result)
    if "Traceback" in text or "MODULE FAILURE" in text:
        problems.append("run %d, %s: a traceback or MODULE FAILURE: %s" % (run, name, text[:500]))
        return
    field = "weight" if "weight" in request else "state"
    wanted = request[field]
    conflict = (name, field) in CONFLICTS
    if result.get("failed"):
        msg = result.get("msg") or ""
        # Only a conflicting write can be undone between the write and the re-read, and the
        # module then says so (it checks the states it set).
        if not (conflict and field == "state" and "still" in msg and "\n" not in msg):
            problems.append("run %d, %s: failed: %s" % (run, name, msg[:500]))
        return
    target = result["results"][0]
    commands = target.get("commands") or []
    if bool(result.get("changed")) != bool(commands):
        problems.append("run %d, %s: changed=%s with commands %r" % (run, name, result.get("changed"), commands))
    expected = "set server be_conc/%s %s %s" % (name, field, wanted)
    if any(command != expected for command in commands):
        problems.append("run %d, %s: sent %r, asked %s" % (run, name, commands, expected))
    reported = dict((server["name"], server) for server in target.get("servers") or [])
    if name not in reported:
        problems.append("run %d, %s: no report of the server" % (run, name))
    elif not conflict and reported[name][field] != wanted:
        problems.append("run %d, %s: reported %s=%r, asked %r" % (run, name, field, reported[name][field], wanted))
    elif conflict and reported[name][field] not in FINAL[name][field]:
        problems.append("run %d, %s: reported %s=%r" % (run, name, field, reported[name][field]))


def main(python, collections, sock, work):
    os.makedirs(work, exist_ok=True)
    inventory = os.path.join(work, "inventory")
    with open(inventory, "w") as handle:
        handle.write("localhost ansible_connection=local ansible_python_interpreter=%s\n" % python)
    if not collections:
        print(json.dumps({"problems": ["no collections path: run it through ansible-test (ANSIBLE_COLLECTIONS_PATH)"]}))
        return 1
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    processes = []
    started = time.monotonic()
    for index, requests in enumerate(RUNS):
        playbook = os.path.join(work, "run%d.yml" % index)
        out = os.path.join(work, "run%d.json" % index)
        if os.path.exists(out):
            os.unlink(out)
        with open(playbook, "w") as handle:
            handle.write(PLAYBOOK.format(index=index, socket=json.dumps(sock), requests=json.dumps(requests * ROUNDS),
                                         out=json.dumps(out)))
        log = open(os.path.join(work, "run%d.log" % index), "w")
        processes.append((subprocess.Popen([python, "-m", "ansible.cli.playbook", "-i", inventory, playbook],
                                           stdout=log, stderr=subprocess.STDOUT, env=env), log, out))
    problems, durations = [], []
    for index, (process, log, out) in enumerate(processes):
        try:
            process.wait(timeout=max(1, TIMEOUT - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            problems.append("run %d did not end within %d s" % (index, TIMEOUT))
        log.close()
        durations.append(round(time.monotonic() - started, 1))
        with open(log.name) as handle:
            output = handle.read()
        if "Traceback" in output or "MODULE FAILURE" in output:
            problems.append("run %d: a traceback or MODULE FAILURE in its output" % index)
        if process.returncode != 0:
            problems.append("run %d: ansible-playbook exited %s: %s" % (index, process.returncode, output[-1500:]))
        if not os.path.exists(out):
            problems.append("run %d left no results" % index)
            continue
        with open(out) as handle:
            results = json.load(handle)
        if len(results) != len(RUNS[index]) * ROUNDS:
            problems.append("run %d: %d results" % (index, len(results)))
        for result in results:
            check_result(index, result, problems)
    final = servers_state(sock)
    for name, fields in FINAL.items():
        for field, allowed in fields.items():
            if final.get(name, {}).get(field) not in allowed:
                problems.append("final %s %s=%r, expected one of %r" % (name, field, final.get(name, {}).get(field),
                                                                        sorted(allowed)))
    print(json.dumps({"runs": len(RUNS), "tasks": sum(len(requests) * ROUNDS for requests in RUNS),
                      "seconds": durations, "final": final, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
