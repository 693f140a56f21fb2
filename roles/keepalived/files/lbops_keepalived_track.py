# Installed by the role lbops.haproxy.keepalived; run by the HAProxy unit's drop-in
# (lbops-keepalived.conf) with the host's Python 3 (standard library only).
"""Keep keepalived's HAProxy track file in step with the HAProxy systemd unit.

keepalived reads the file as an integer (track_file, weight 1): 0 leaves the
priority alone, HANDOVER (-253) lowers it to 1 (the instance stays MASTER and
keeps the VIP until a preempting peer takes over), FAULT (-254) puts the
instances in FAULT (the VIP is released at once).

  stop        ExecStop: a requested stop (systemd sets MAINPID). Writes HANDOVER, waits
              (bounded) until none of the --vip addresses is on this host any more, so that
              HAProxy keeps serving until a peer holds them, then writes FAULT. Without
              MAINPID the main process is already gone (crash): nothing is written here,
              stop-post decides.
  stop-post   ExecStopPost: FAULT, unless the file is already marked, or the main process
              was killed or crashed (signal, core dump, watchdog) and the unit's Restart=
              setting makes systemd start it again right away. A failed start (an exit code)
              is FAULT even under Restart=always.
  start-post  ExecStartPost: 0 (HAProxy is up).
  set VALUE   writes VALUE (an integer).

It never fails the unit's job: every error is reported on stderr (the journal) and the
exit status is 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HANDOVER = -253
FAULT = -254
POLL = 0.05

# systemd.service(5), Restart=: which $SERVICE_RESULT values lead to a restart.
_ABNORMAL = ("signal", "core-dump", "watchdog", "timeout")
# Results of a running process that crashed (rather than failed to start or exited on its own).
_CRASHES = ("signal", "core-dump", "watchdog")
_RESTART_ON = {
    "no": (),
    "always": None,  # every result
    "on-success": ("success",),
    "on-failure": ("protocol", "timeout", "exit-code", "signal", "core-dump", "watchdog"),
    "on-abnormal": _ABNORMAL,
    "on-abort": ("signal", "core-dump"),
    "on-watchdog": ("watchdog",),
}
# Results after which systemd never restarts, whatever Restart= says.
_NEVER = ("start-limit-hit", "resources")


def log(msg):
    sys.stderr.write("lbops-keepalived-track: %s\n" % msg)
    sys.stderr.flush()


def read_value(path):
    """The integer in the file; 0 when it is missing, empty or not an integer."""
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def write_value(path, value):
    """Replace the file by rename (keepalived sees the new value in one event)."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write("%d\n" % value)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def local_addresses(output):
    """IPv4 addresses in the output of `ip -4 -o addr show`."""
    found = set()
    for line in output.splitlines():
        fields = line.split()
        if "inet" in fields:
            i = fields.index("inet")
            if i + 1 < len(fields):
                found.add(fields[i + 1].split("/")[0])
    return found


def read_local_addresses():
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, timeout=2, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log("cannot list the addresses: %s" % exc)
        return set()
    return local_addresses(out)


def wait_gone(vips, timeout, addresses=read_local_addresses, clock=time.monotonic, sleep=time.sleep):
    """Poll until no address of vips is local or timeout; (gone, seconds waited)."""
    start = clock()
    while True:
        held = set(vips) & addresses()
        waited = clock() - start
        if not held:
            return True, waited
        if waited >= timeout:
            return False, waited
        sleep(POLL)


def restart_follows(result, policy):
    """Whether systemd restarts the unit after its main process ended with result
    ($SERVICE_RESULT) under Restart=policy."""
    if not result or result in _NEVER:
        return False
    wanted = _RESTART_ON.get(policy, ())
    return wanted is None or result in wanted


def unit_restart_policy(unit):
    try:
        proc = subprocess.run(["systemctl", "show", "--property=Restart", "--value", unit], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log("cannot read Restart= of %s: %s" % (unit, exc))
        return "no"
    return proc.stdout.strip() or "no"


def do_stop(args, env, addresses=read_local_addresses, clock=time.monotonic, sleep=time.sleep):
    if not env.get("MAINPID"):
        log("the main process has already ended; nothing to hand over (stop-post decides)")
        return "crashed"
    write_value(args.file, HANDOVER)
    vips = args.vip or []
    held = sorted(set(vips) & addresses())
    if held and args.timeout > 0:
        gone, waited = wait_gone(held, args.timeout, addresses, clock, sleep)
        if gone:
            log("handed %s over in %.2f s" % (", ".join(held), waited))
        else:
            log("%s still here after %.2f s (no peer took over); releasing them" % (", ".join(held), waited))
    write_value(args.file, FAULT)
    return "handed-over" if held else "released"


def do_stop_post(args, env, policy_of=unit_restart_policy):
    if read_value(args.file) != 0:
        return "kept"
    result = env.get("SERVICE_RESULT", "")
    # Only a running HAProxy killed or crashed (a signal, a core dump, the watchdog) is left to a
    # restart: that one comes back within a fraction of a second. An exit code (a start that
    # failed, a configuration HAProxy refused) means FAULT now, whatever Restart= says: the next
    # attempt is likely to fail the same way, and a successful start writes 0 again.
    if args.unit and result in _CRASHES and restart_follows(result, policy_of(args.unit)):
        log("main process ended (%s); systemd restarts %s: not marked" % (result, args.unit))
        return "restart"
    write_value(args.file, FAULT)
    return "fault"


def main(argv=None, env=None):
    parser = argparse.ArgumentParser(prog="lbops-keepalived-track")
    parser.add_argument("action", choices=["stop", "stop-post", "start-post", "set"])
    parser.add_argument("value", nargs="?", type=int, default=0)
    parser.add_argument("--file", required=True)
    parser.add_argument("--vip", action="append")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--unit", default="")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    try:
        if args.action == "stop":
            outcome = do_stop(args, env)
        elif args.action == "stop-post":
            outcome = do_stop_post(args, env)
        else:
            write_value(args.file, 0 if args.action == "start-post" else args.value)
            outcome = "written"
    except OSError as exc:
        log("%s: %s" % (args.action, exc))
        outcome = "error"
    return outcome


if __name__ == "__main__":
    main()
    sys.exit(0)
