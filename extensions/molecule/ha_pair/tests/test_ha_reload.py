"""Scenario `ha_pair`: reloads that drop nothing and forget nothing.

playbooks/site.yml applies a configuration change to both members (the role
reloads HAProxy) while requests and a long download go through the VIP; then
runtime state set through the modules (maint, drain, weights, a runtime
address) must still be there after the role's reload and after an operator's
`systemctl reload`; and a server address changed in the configuration must win
over the saved runtime address.
"""

import hashlib
import http.client
import json
import os
import subprocess
import tempfile
import threading
import time

import yaml
from halab import (
    BACKUP,
    HOSTVARS,
    INVENTORY_DIR,
    LB_VARS,
    MEASURES,
    PRIMARY,
    VIP,
    RequestLoop,
    cli,
    get,
    info,
    playbook,
    say,
    say_failures,
    wait_for,
)

LBS = (PRIMARY, BACKUP)
WEB1_IP = HOSTVARS["web1"]["lab_address"]
WEB2_IP = HOSTVARS["web2"]["lab_address"]
BIG_SIZE = 32 * 1024 * 1024  # /big.bin on the web servers (playbooks/lab/webservers.yml)
BIG_SHA256 = hashlib.sha256(b"\0" * BIG_SIZE).hexdigest()


def module_on_lbs(module, args):
    """One ad-hoc task on both load balancers (ansible, Molecule's inventory): {host: result}."""
    env = dict(os.environ)
    cfg = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ansible.cfg")
    if os.path.exists(cfg):
        env["ANSIBLE_CONFIG"] = cfg
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    cmd = ["ansible", "-i", INVENTORY_DIR, "loadbalancers", "-b", "-m", f"lbops.haproxy.{module}", "-a", json.dumps(args)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    return dict(data["plays"][0]["tasks"][0]["hosts"])


def servers_state(short, backend="web"):
    """show servers state of a backend: {server: {admin, uweight, addr, port}}."""
    out = {}
    for line in cli(short, f"show servers state {backend}").splitlines():
        cols = line.split()
        if len(cols) > 18 and cols[1] == backend:
            out[cols[3]] = {"admin": int(cols[6]), "uweight": int(cols[7]), "addr": cols[4], "port": int(cols[18])}
    return out


def worker_pids():
    return {s: info(s)["Pid"] for s in LBS}


def site(*extra, timeout=400):
    rc, out, recap = playbook("site", *extra, timeout=timeout)
    assert rc == 0, out[-6000:]
    return recap


def site_with_backends(backends):
    """site.yml with haproxy_backends replaced (an extra-vars file: the values keep their Jinja)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        yaml.safe_dump({"haproxy_backends": backends}, fh)
        path = fh.name
    try:
        return site("-e", f"@{path}")
    finally:
        os.unlink(path)


class SlowDownload(threading.Thread):
    """GET /big.bin through the VIP on one connection, read slowly until told to
    hurry (so that it is still running while the reload happens), then at full speed.
    Bounded: at most max_seconds in all."""

    def __init__(self, port=8080, slow_rate=256 * 1024, max_seconds=240.0):
        super().__init__(daemon=True)
        self.port, self.slow_rate, self.max_seconds = port, slow_rate, max_seconds
        self.hurry = threading.Event()
        self.started_at = self.ended_at = None
        self.size, self.sha256, self.error, self.status, self.server = 0, None, None, None, None

    def run(self):
        digest = hashlib.sha256()
        deadline = time.monotonic() + self.max_seconds
        conn = http.client.HTTPConnection(VIP, self.port, timeout=10)
        try:
            self.started_at = time.monotonic()
            conn.request("GET", "/big.bin", headers={"Connection": "close"})
            resp = conn.getresponse()
            self.status = resp.status
            chunk = max(1, self.slow_rate // 20)
            while time.monotonic() < deadline:
                data = resp.read(chunk if not self.hurry.is_set() else 1024 * 1024)
                if not data:
                    break
                digest.update(data)
                self.size += len(data)
                if not self.hurry.is_set():
                    time.sleep(0.05)
            self.sha256 = digest.hexdigest()
        except OSError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ended_at = time.monotonic()
            conn.close()


# --- tests ---------------------------------------------------------------------------


def test_site_reload_under_load_drops_nothing():
    """A configuration change applied by site.yml to both members (a reload on each)
    under request loops through the VIP: no request fails, and a download started
    before the reloads completes, whole, after them."""
    pids = worker_pids()
    loops = [RequestLoop(80, interval=0.05, max_seconds=300, max_requests=6000), RequestLoop(8080, interval=0.05, max_seconds=300, max_requests=6000)]
    for loop in loops:
        loop.start()
    download = SlowDownload()
    download.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    recap = site("-e", json.dumps({"haproxy_global_maxconn": 3990}))
    t_done = time.monotonic()
    new_pids = worker_pids()
    in_flight = download.is_alive()
    download.hurry.set()
    download.join(timeout=120)
    time.sleep(1.0)
    records = [loop.finish() for loop in loops]
    failures = [f for loop in loops for f in loop.failures]
    total = sum(len(r) for r in records)
    MEASURES["reload_requests"] = total
    MEASURES["reload_failed"] = len(failures)
    MEASURES["reload_download_s"] = round(download.ended_at - download.started_at, 1) if download.ended_at else None
    say(
        f"site.yml reload of both members under load: {total} requests (ports 80, 8080), {len(failures)} failed;"
        f" workers {pids} -> {new_pids}; download of {download.size} bytes in {MEASURES['reload_download_s']} s"
        f" (still running when site.yml ended: {in_flight}), error {download.error}"
    )
    say_failures(failures, t0)
    for short in LBS:
        assert recap[short]["changed"] > 0, recap
        assert new_pids[short] != pids[short], f"{short} did not reload"
    assert failures == []
    assert min(len(r) for r in records) >= 100, [len(r) for r in records]
    assert in_flight, "the download ended before the reloads: it proves nothing"
    assert download.error is None and download.status == 200
    assert (download.size, download.sha256) == (BIG_SIZE, BIG_SHA256)
    assert download.started_at < t0 and download.ended_at > t_done


def _backends_with_web2(address, port):
    backends = json.loads(json.dumps(LB_VARS["haproxy_backends"]))
    web = next(b for b in backends if b["name"] == "web")
    web2 = next(s for s in web["servers"] if s["name"] == "web2")
    web2["address"], web2["port"] = address, port
    return backends


def _runtime(short):
    """(admin state, user weight) of web/web1 and https/localserver, (addr, port) of web/web2."""
    web, https = servers_state(short, "web"), servers_state(short, "https")
    return {
        "web/web1": (web["web1"]["admin"], web["web1"]["uweight"]),
        "https/localserver": (https["localserver"]["admin"], https["localserver"]["uweight"]),
        "web/web2": (web["web2"]["addr"], web["web2"]["port"]),
    }


def test_runtime_state_survives_role_and_operator_reloads():
    """maint, drain, a weight and a runtime address set through haproxy_server on both
    members are still there after site.yml reloads HAProxy for an unrelated change,
    and after a `systemctl reload` by hand."""
    for args in (
        {"backend": "https", "name": "localserver", "state": "maint"},
        {"backend": "web", "name": "web1", "state": "drain", "weight": 7},
        {"backend": "web", "name": "web2", "address": WEB1_IP, "port": 8081},
    ):
        changed = module_on_lbs("haproxy_server", args)
        assert all(r["changed"] for r in changed.values()), changed
    # admin: 1 forced maint, 8 forced drain; web2 now points at web1's second port (HAProxy
    # restores a saved address only for servers configured by name: the saver sets this one again).
    want = {s: {"web/web1": (8, 7), "https/localserver": (1, 1), "web/web2": (WEB1_IP, 8081)} for s in LBS}
    assert {s: _runtime(s) for s in LBS} == want
    assert wait_for(lambda: {get(8080)[1] for _attempt in range(4)} == {"web1 alt"}, 15) is not None  # web1 drained

    pids = worker_pids()
    site("-e", json.dumps({"haproxy_global_maxconn": 3980}))
    after_role = worker_pids()
    assert all(after_role[s] != pids[s] for s in LBS), (pids, after_role)
    kept_role = {s: _runtime(s) for s in LBS}
    answered_role = {get(8080)[1] for _attempt in range(4)}
    for short in LBS:
        subprocess.run(["podman", "exec", HOSTVARS[short]["ansible_host"], "systemctl", "reload", "haproxy"], check=True, timeout=60)
    assert wait_for(lambda: all(info(s)["Pid"] != after_role[s] for s in LBS), 15) is not None
    kept_operator = {s: _runtime(s) for s in LBS}
    say(f"runtime state after the role's reload: {kept_role}; after systemctl reload: {kept_operator} (want {want})")
    assert kept_role == want
    assert kept_operator == want
    assert answered_role == {"web1 alt"}, answered_role
    MEASURES["state_kept_across_reloads"] = "maint, drain, weight, runtime address kept (role reload and systemctl reload)"


def test_configured_address_wins_over_the_saved_one():
    """The configuration now says web2 is at web1's address: that wins over the runtime
    address saved before the reload; the admin states saved with it stay."""
    site_with_backends(_backends_with_web2("{{ hostvars['web1']['lab_address'] }}", 80))
    won = {s: _runtime(s) for s in LBS}
    say(f"after the configured address of web/web2 changed to {WEB1_IP}:80: {won}")
    assert all(v["web/web2"] == (WEB1_IP, 80) for v in won.values()), won
    assert all(v["web/web1"] == (8, 7) and v["https/localserver"] == (1, 1) for v in won.values()), won
    assert wait_for(lambda: {get(8080)[1] for _attempt in range(4)} == {"web1"}, 15) is not None

    # Back to the inventory: web2 at its own address again (a configured change again),
    # and the servers ready at their configured weights.
    for args in (
        {"backend": "https", "name": "localserver", "state": "ready"},
        {"backend": "web", "name": "web1", "state": "ready", "weight": 1},
    ):
        module_on_lbs("haproxy_server", args)
    site()
    back = {s: _runtime(s) for s in LBS}
    assert all(v == {"web/web1": (0, 1), "https/localserver": (0, 1), "web/web2": (WEB2_IP, 80)} for v in back.values()), back
    assert wait_for(lambda: {get(8080)[1] for _attempt in range(4)} == {"web1", "web2"}, 15) is not None
    MEASURES["config_address_wins"] = "a configured address change wins over the saved runtime address; admin states kept"
