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
import signal
import socket
import struct
import sys
import threading
import time

WRITE_VERBS = (b"set ", b"clear ", b"enable ", b"disable ", b"del ", b"add ", b"shutdown ")
HUGE = 8 << 20
BATCH_WAIT = 2.0


def read_batch(conn, record):
    """What the client writes up to its ``quit`` line (or EOF, or BATCH_WAIT), recorded."""
    data = b""
    conn.settimeout(BATCH_WAIT)
    try:
        while not data.endswith(b"quit\n"):
            chunk = conn.recv(65536)
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


def upstream_reply(upstream, batch, chunks=False):
    """Send ``batch`` to the real socket; yield its reply as it comes (or all of it)."""
    up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    up.settimeout(10)
    up.connect(upstream)
    try:
        up.sendall(batch)
        while True:
            data = up.recv(65536)
            if not data:
                return
            yield data
    finally:
        up.close()


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
        if mode == "relay":
            for data in upstream_reply(self.upstream, batch):
                conn.sendall(data)
            drain_client(conn, record, 1)
            return
        if mode == "cut":
            limit = int(self.arg)
            if limit < 0:
                reply = b"".join(upstream_reply(self.upstream, batch))
                conn.sendall(reply[:max(0, len(reply) + limit)])
                return
            sent = 0
            for data in upstream_reply(self.upstream, batch):
                part = data[:limit - sent]
                conn.sendall(part)
                sent += len(part)
                if sent >= limit:
                    return
            return
        if mode == "trickle":
            delay = float(self.arg or 0.05)
            reply = b"".join(upstream_reply(self.upstream, batch))
            for index in range(len(reply)):
                conn.sendall(reply[index:index + 1])
                time.sleep(delay)
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
