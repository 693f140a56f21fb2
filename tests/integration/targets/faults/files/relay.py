"""A recording relay in front of a real admin socket, and scripted hostile peers.

Usage: relay.py UPSTREAM DIR LIFETIME NAME=MODE[:ARG][@WHEN] ...
       relay.py --stop DIR

One process listens on one Unix socket per NAME (DIR/NAME.sock) and records every byte
a client writes on connection N of NAME in DIR/rec/NAME/NNNNN.bin (the file is created
when the connection is accepted, and every chunk is written through before it is
forwarded, so the record is complete by the time the client has its answer). It exits
on its own after LIFETIME seconds; its pid is in DIR/relay.pid.

MODE says what the listener does with a connection it attacks:
  relay       forward both ways to UPSTREAM (the real admin socket)
  close       accept, then close at once (before reading: the client writes into a closed socket)
  reset       read the batch, then reset the connection (SO_LINGER 0)
  cut:N       forward, pass the first N bytes of the real reply (N < 0: all but the last -N), close
  trickle:S   forward, pass the real reply one byte every S seconds
  garbage     read the batch, answer bytes that are not the protocol, close
  huge        read the batch, answer one 8 MB line without a newline, close
  silence     read the batch, never answer (until the client goes away)

WHEN says which connections are attacked (the others are relayed): ``all`` (default),
``write`` (those whose batch holds a write command), ``afterwrite`` (the one that
follows a connection whose batch held a write command: the re-read).
"""

import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

WRITE_VERBS = (b"set ", b"clear ", b"enable ", b"disable ", b"del ", b"add ", b"shutdown ")
HUGE = 8 << 20
BATCH_WAIT = 2.0
# A client writes its batch at once. One that keeps its connection for reads that
# depend on the first answers (no 'quit' yet) has written its first batch when
# nothing more comes for this long; so has HAProxy answered it.
IDLE = 0.3
# The longest a relayed connection lives.
PUMP_LIMIT = 120.0


def read_batch(conn, record):
    """What the client writes first, recorded: up to its ``quit`` line, EOF, a pause of IDLE, or BATCH_WAIT."""
    data = b""
    end = time.monotonic() + BATCH_WAIT
    try:
        while not data.endswith(b"quit\n"):
            left = end - time.monotonic()
            if left <= 0:
                break
            conn.settimeout(min(left, IDLE) if data else left)
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            record.write(chunk)
            data += chunk
    except OSError:
        pass
    return data


def is_write(batch):
    return any(line.startswith(WRITE_VERBS) and not line.startswith(b"set severity-output")
               for line in batch.split(b"\n"))


def drain_client(conn, record, seconds):
    """Keep recording what the client writes, until it goes away (or ``seconds``)."""
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            conn.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return
            record.write(chunk)
    except OSError:
        pass


def pump(conn, upstream, batch, record, mode="relay", arg=""):
    """Forward both ways between the client and the real socket until either side ends.

    What the client writes after ``batch`` is recorded and forwarded as it comes
    (reads that follow on the same connection); the reply passes through ``mode``:
    ``relay`` as is, ``cut:N`` its first N bytes (N < 0: all but the last -N bytes
    of what HAProxy answered before it paused), ``trickle:S`` a byte every S seconds.
    """
    up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    up.settimeout(10)
    up.connect(upstream)
    try:
        up.sendall(batch)
        _pump(conn, up, record, mode, arg)
    finally:
        up.close()


def _pump(conn, up, record, mode, arg):  # noqa: PLR0912
    limit = int(arg) if mode == "cut" else None
    delay = float(arg or 0.05) if mode == "trickle" else 0.0
    sent, pending, up_open = 0, b"", True
    last_up = time.monotonic()
    end = last_up + PUMP_LIMIT
    while time.monotonic() < end:
        waiting = [conn] + ([up] if up_open else [])
        readable = select.select(waiting, [], [], 0.0 if (delay and pending) else 0.05)[0]
        if conn in readable:
            chunk = conn.recv(65536)
            if not chunk:
                return  # the client went away
            record.write(chunk)
            if up_open:
                up.sendall(chunk)
        if up in readable:
            data = up.recv(65536)
            if data:
                pending += data
                last_up = time.monotonic()
            else:
                up_open = False
        if mode == "cut" and limit >= 0:
            part = pending[:limit - sent]
            conn.sendall(part)
            sent += len(part)
            pending = b""
            if sent >= limit:
                return
        elif mode == "cut":
            keep = len(pending) + limit  # hold back the last -limit bytes
            if keep > 0:
                conn.sendall(pending[:keep])
                pending = pending[keep:]
            if pending and (not up_open or time.monotonic() - last_up > IDLE):
                return  # the held bytes, the end of the answer, never come
        elif mode == "trickle":
            if pending:
                conn.sendall(pending[:1])
                pending = pending[1:]
                time.sleep(delay)
        elif pending:
            conn.sendall(pending)
            pending = b""
        if not up_open and not pending:
            return


def boot_time():
    with open("/proc/stat") as handle:
        for line in handle:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


BOOT = boot_time()
TICKS = os.sysconf("SC_CLK_TCK")


def process_start(pid):
    """When ``pid`` started (epoch seconds, to a clock tick), or None."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return BOOT + float(fields[19]) / TICKS


def watch_exit(pid, seconds=300):
    """When ``pid`` is gone (polled every 10 ms), or None after ``seconds``."""
    end = time.time() + seconds
    while time.time() < end:
        if not os.path.exists("/proc/%d" % pid):
            return time.time()
        try:
            with open("/proc/%d/stat" % pid) as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return time.time()
        except OSError:
            return time.time()
        time.sleep(0.01)
    return None


class Listener(object):
    def __init__(self, name, spec, directory, upstream):
        self.name = name
        mode, when = (spec.split("@", 1) + ["all"])[:2]
        self.mode, self.arg = (mode.split(":", 1) + [""])[:2]
        self.when = when
        self.directory = directory
        self.upstream = upstream
        self.records = os.path.join(directory, "rec", name)
        os.makedirs(self.records, exist_ok=True)
        self.count = 0
        self.last_was_write = False
        self.lock = threading.Lock()
        path = os.path.join(directory, name + ".sock")
        if os.path.exists(path):
            os.unlink(path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(64)

    def serve(self):
        while True:
            conn, dummy = self.server.accept()
            with self.lock:
                self.count += 1
                number = self.count
            meta = {"accepted": time.time()}
            try:
                pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
                meta.update(pid=pid, started=process_start(pid))
            except OSError:
                pass
            record = open(os.path.join(self.records, "%05d.bin" % number), "wb", buffering=0)
            threading.Thread(target=self.handle, args=(conn, record, number, meta), daemon=True).start()

    def handle(self, conn, record, number, meta):
        try:
            self.handle_one(conn, record)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            record.close()
        # The connection's meta: when the client process started and exited (its
        # wall time), when the connection was accepted and ended.
        meta["ended"] = time.time()
        if meta.get("pid"):
            meta["exited"] = watch_exit(meta["pid"])
        with open(os.path.join(self.records, "%05d.json" % number), "w") as handle:
            json.dump(meta, handle)

    def handle_one(self, conn, record):
        if self.mode == "close" and self.when == "all":
            return
        batch = read_batch(conn, record)
        with self.lock:
            attack = (self.when == "all" or (self.when == "write" and is_write(batch))
                      or (self.when == "afterwrite" and self.last_was_write))
            self.last_was_write = is_write(batch)
        mode = self.mode if attack else "relay"
        if mode == "close":
            return
        if mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if mode == "garbage":
            conn.sendall(b"\x00\xff\xfeHTTP/1.1 400 Bad Request\r\n\x1b[31m\xc3\x28 garbage \x80\x81\r\n" * 8)
            return
        if mode == "huge":
            block = b"A" * 65536
            for _dummy in range(HUGE // len(block)):
                conn.sendall(block)
            drain_client(conn, record, 30)
            return
        if mode == "silence":
            drain_client(conn, record, 120)
            return
        if mode in ("relay", "cut", "trickle"):
            pump(conn, self.upstream, batch, record, mode, self.arg)
            return
        raise SystemExit("unknown mode %r" % mode)


def stop(directory):
    pidfile = os.path.join(directory, "relay.pid")
    try:
        with open(pidfile) as handle:
            pid = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            line = handle.read()
    except OSError:
        line = b""
    # Only this relay: a reused pid is left alone.
    if b"relay.py" in line and directory.encode() in line:
        os.kill(pid, signal.SIGTERM)
        for _dummy in range(100):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.05)
    os.unlink(pidfile)


def main():
    if sys.argv[1] == "--stop":
        stop(os.path.abspath(sys.argv[2]))
        return
    upstream, directory, lifetime = sys.argv[1], os.path.abspath(sys.argv[2]), float(sys.argv[3])
    os.makedirs(directory, exist_ok=True)
    listeners = []
    for item in sys.argv[4:]:
        name, spec = item.split("=", 1)
        listeners.append(Listener(name, spec, directory, upstream))
    with open(os.path.join(directory, "relay.pid"), "w") as handle:
        handle.write("%d\n" % os.getpid())
    for listener in listeners:
        threading.Thread(target=listener.serve, daemon=True).start()
    # Every socket is listening: say so (the starting task waits for this file).
    with open(os.path.join(directory, "ready"), "w") as handle:
        handle.write("%d\n" % len(listeners))
    time.sleep(lifetime)
    os._exit(0)


if __name__ == "__main__":
    main()
