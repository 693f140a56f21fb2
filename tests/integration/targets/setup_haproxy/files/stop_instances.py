"""Stop this harness run's own processes and make sure its ports are free.

Usage: stop_instances.py DIR [PORT ...]

Every ``DIR/*/haproxy.pid`` and ``DIR/*.pid`` names processes of this run (HAProxy
instances, helper listeners). A pid is signalled only if the process still belongs to
this run: its command line mentions DIR, or it is the listener recorded in DIR. Each one
gets SIGTERM, then SIGKILL if it is still there after a few seconds, and the script
waits until it is gone: HAProxy opens its listeners with SO_REUSEPORT, so an old
instance that is still alive would silently share a port with the next one and take
part of its traffic. Finally every PORT must have no listener left on 127.0.0.1 (or
any address); otherwise the script names who holds it and fails.
"""

import glob
import os
import signal
import sys
import time

TERM_GRACE = 5.0
KILL_GRACE = 5.0


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return None


def alive(pid):
    """True while any thread of ``pid`` runs.

    The thread-group leader of a multi-threaded HAProxy can already be a zombie while
    its other threads still hold the process's file descriptors (its listening sockets
    included): the process is gone only when every thread is.
    """
    for stat in glob.glob("/proc/%d/task/*/stat" % pid):
        try:
            with open(stat) as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            return True
    return False


def wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = [pid for pid in pids if alive(pid)]
        if not pids:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def own_pids(directory):
    pids = []
    for pidfile in sorted(glob.glob(os.path.join(directory, "*", "haproxy.pid")) + glob.glob(os.path.join(directory, "*.pid"))):
        try:
            with open(pidfile) as handle:
                words = handle.read().split()
        except OSError:
            continue
        for word in words:
            if not word.isdigit():
                continue
            pid = int(word)
            line = cmdline(pid)
            # A pid that was reused by another process is not ours: leave it alone.
            if line is not None and directory in line:
                pids.append(pid)
        os.unlink(pidfile)
    return pids


def listeners(ports):
    """``{port: [inode, ...]}`` of TCP sockets in LISTEN state on any of ``ports``."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "0A" and port in ports:  # 0A = LISTEN
                found.setdefault(port, []).append(fields[9])
    return found


def holders(inodes):
    """Command lines of the processes that hold the given socket inodes."""
    wanted = set("socket:[%s]" % inode for inode in inodes)
    names = []
    for fd_dir in glob.glob("/proc/[0-9]*/task/[0-9]*/fd"):
        try:
            for fd in os.listdir(fd_dir):
                if os.readlink(os.path.join(fd_dir, fd)) in wanted:
                    pid = int(fd_dir.split("/")[2])
                    name = "pid %d (%s)" % (pid, (cmdline(pid) or "?")[:160])
                    if name not in names:
                        names.append(name)
                    break
        except OSError:
            continue
    return names


def main():
    directory = os.path.abspath(sys.argv[1])
    ports = set(int(port) for port in sys.argv[2:])
    pids = own_pids(directory) if os.path.isdir(directory) else []
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    left = wait_gone(pids, TERM_GRACE)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    left = wait_gone(left, KILL_GRACE)
    if left:
        sys.exit("processes of %s still alive after SIGKILL: %s" % (directory, left))
    busy = listeners(ports)
    if busy:
        sys.exit("ports of this run are still listened on: %s" % "; ".join(
            "%d by %s" % (port, ", ".join(holders(inodes)) or "an unknown process") for port, inodes in sorted(busy.items())))
    print("stopped %d process(es) of %s; %d port(s) free" % (len(pids), directory, len(ports)))


if __name__ == "__main__":
    main()
