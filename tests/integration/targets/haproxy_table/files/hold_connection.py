"""Keep one HTTP request in flight (headers sent, body withheld) so that the
stick-table entry it tracks stays in use. Usage: URL-PORT CLIENT-IP SECONDS."""
import socket
import sys
import time

port, client_ip, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
conn = socket.create_connection(("127.0.0.1", port))
conn.sendall(("POST / HTTP/1.1\r\nHost: lb\r\nX-Forwarded-For: %s\r\nContent-Length: 100\r\n\r\n" % client_ip).encode())
time.sleep(seconds)
conn.close()
