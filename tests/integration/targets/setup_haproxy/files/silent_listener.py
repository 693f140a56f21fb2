"""Accept TCP connections on 127.0.0.1:PORT and never answer (bounded lifetime).

Usage: PORT SECONDS [OWNER-DIR] (OWNER-DIR only marks the harness run it belongs to).
"""
import socket
import sys
import time

port, lifetime = int(sys.argv[1]), float(sys.argv[2])
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(64)
server.settimeout(1.0)
held = []
deadline = time.time() + lifetime
while time.time() < deadline:
    try:
        conn, dummy = server.accept()
        held.append(conn)
    except socket.timeout:
        pass
