"""Shared helpers of the scenario `ha_pair`'s tests: the lab's inventory, the hosts
(testinfra over podman), requests to the VIP in bounded loops, the admin socket,
playbook runs against Molecule's inventory, and MEASURES, the figures every test
adds to (printed at the end of the run).
"""

import http.client
import json
import os
import re
import subprocess
import threading
import time

import testinfra
import yaml

# The pair is the lab's (playbooks/lab/inventory.yml and group_vars/, linked into
# Molecule's inventory): host names, container names (ansible_host), addresses (lab_address).
INVENTORY_DIR = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
INVENTORY = json.loads(subprocess.run(["ansible-inventory", "-i", INVENTORY_DIR, "--list"], capture_output=True, text=True, check=True).stdout)
HOSTVARS = INVENTORY["_meta"]["hostvars"]
PLATFORMS = {h: {"name": HOSTVARS[h]["ansible_host"], "ip": HOSTVARS[h]["lab_address"]} for h in HOSTVARS if "lab_address" in HOSTVARS[h]}
with open(os.path.join(INVENTORY_DIR, "group_vars", "loadbalancers.yml"), encoding="utf-8") as fh:
    LB_VARS = yaml.safe_load(fh)
VIP = HOSTVARS["lb1"]["lab_vip"]
PREEMPT = not LB_VARS.get("keepalived_nopreempt", False)
PEERS_SECTION = LB_VARS["haproxy_peers_section"]
PRIMARY, BACKUP = "lb1", "lb2"
SOCKET = "/run/haproxy/admin.sock"
SWITCH_LIMIT = 1.5  # seconds the issue allows for the VIP to move

HOSTS = {short: testinfra.get_host(f"podman://{p['name']}") for short, p in PLATFORMS.items()}
MEASURES = {}


def say(msg):
    print(f"\n[ha_pair] {msg}", flush=True)


# --- helpers -------------------------------------------------------------------------


def get(port, path="/", timeout=1.0):
    """One GET to the VIP on a new connection: (ok, body or error)."""
    conn = http.client.HTTPConnection(VIP, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace").strip()
        if resp.status != 200:
            return False, f"HTTP {resp.status}"
        return True, body
    except OSError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


class RequestLoop(threading.Thread):
    """Requests to the VIP until stopped, at most max_requests and max_seconds."""

    def __init__(self, port, interval=0.05, max_seconds=60.0, max_requests=2000):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.max_seconds, self.max_requests = max_seconds, max_requests
        self.records = []  # (time, ok, detail)
        self._halt = threading.Event()

    def run(self):
        end = time.monotonic() + self.max_seconds
        while not self._halt.is_set() and len(self.records) < self.max_requests and time.monotonic() < end:
            t = time.monotonic()
            ok, detail = get(self.port)
            self.records.append((t, ok, detail))
            self._halt.wait(self.interval)

    def finish(self):
        self._halt.set()
        self.join(timeout=10)
        return self.records

    @property
    def failures(self):
        return [r for r in self.records if not r[1]]


def has_vip(short):
    out = HOSTS[short].check_output("ip -4 -o addr show")
    return f" {VIP}/" in out


def wait_for(pred, timeout, step=0.1):
    """Poll pred() until true or timeout (bounded); seconds it took, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(step)
    return None


def cli(short, command):
    return HOSTS[short].check_output(f"echo {command!r} | socat stdio {SOCKET}")


def info(short):
    return dict(line.split(": ", 1) for line in cli(short, "show info").splitlines() if ": " in line)


def table(short, name):
    """Entries of a stick table: {key: {data: value}}."""
    entries = {}
    for line in cli(short, f"show table {name}").splitlines():
        if line.startswith("0x"):
            fields = dict(f.split("=", 1) for f in line.split(":", 1)[1].split() if "=" in f)
            entries[fields.pop("key")] = fields
    return entries


def server_status(short, backend, server):
    """status column of show stat (UP, DOWN, MAINT, DRAIN, no check...)."""
    for line in cli(short, "show stat").splitlines():
        cols = line.split(",")
        if len(cols) > 17 and cols[0] == backend and cols[1] == server:
            return cols[17]
    return None


def playbook(name, *args, timeout=300):
    """Run a playbook of the collection against the molecule inventory; (rc, output, recap)."""
    env = dict(os.environ)
    cfg = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ansible.cfg")
    if os.path.exists(cfg):
        env["ANSIBLE_CONFIG"] = cfg
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_STDOUT_CALLBACK"] = "default"
    cmd = ["ansible-playbook", "-i", INVENTORY_DIR, f"lbops.haproxy.{name}", *args]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    took = time.monotonic() - start
    recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))} for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M)}
    say(f"ansible-playbook {name} {' '.join(args)}: rc {proc.returncode}, {took:.1f} s")
    return proc.returncode, proc.stdout + proc.stderr, recap


def say_failures(failures, t0):
    """Print the failed requests, grouped by error, with their times relative to t0."""
    groups = {}
    for t, _ok, detail in failures:
        groups.setdefault(detail, []).append(t - t0)
    for detail, times in groups.items():
        say(f"  {len(times)} failed between t0{min(times):+.2f} s and t0{max(times):+.2f} s: {detail}")


def report_lines(output, marker):
    """Lines of the debug report whose text holds marker."""
    return [line.strip().strip('",') for line in output.splitlines() if marker in line]


class VipWatch:
    """Notes the moment the VIP is added on a member, from `ip -o -4 monitor address` run in
    its container (the kernel's own event, read as it comes): a poll through `podman exec`
    costs 0.2-0.6 s a round on a loaded machine, too coarse for a 1.5 s bound.
    ``added_at`` is None until the event is seen."""

    def __init__(self, short):
        self.added_at = None
        self.proc = subprocess.Popen(
            ["podman", "exec", PLATFORMS[short]["name"], "ip", "-o", "-4", "monitor", "address"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            if self.added_at is None and f" {VIP}/" in line and not line.startswith("Deleted"):
                self.added_at = time.monotonic()

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.thread.join(timeout=5)
