# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the keys of a stick table as HAProxy holds them: JSON, a list of hexadecimal byte strings.

Reads 'show table <table>' from the admin socket and undoes HAProxy's own escaping of
string keys (a backslash before space, backslash, '=', TAB, CR, LF, ESC as t r n e, and
\\xNN for any other byte), independently of the collection's parsers.

Usage: table_keys.py SOCKET TABLE
"""

import json
import re
import socket
import sys

ESCAPES = {b"t": b"\t", b"n": b"\n", b"r": b"\r", b"e": b"\x1b"}


def unescape(text):
    out, index = bytearray(), 0
    while index < len(text):
        char = text[index:index + 1]
        if char == b"\\":
            nxt = text[index + 1:index + 2]
            if nxt == b"x":
                out.append(int(text[index + 2:index + 4], 16))
                index += 4
                continue
            out += ESCAPES.get(nxt, nxt)
            index += 2
            continue
        out += char
        index += 1
    return bytes(out)


def main(path, table):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    sock.sendall(("show table %s\n" % table).encode())
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    keys = []
    for line in data.split(b"\n"):
        match = re.match(rb"^0x[0-9a-f]+: key=((?:\\.|[^ \\])*) use=", line)
        if match:
            keys.append(unescape(match.group(1)).hex())
    print(json.dumps(sorted(keys)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
