# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Send HTTP requests to fe_maps on loopback, round-robin over host names, and count where they went.

Usage: route_probe.py PORT HOSTS_FILE STOP_FILE MAX_SECONDS MAX_REQUESTS

Bounded: it stops at the first of STOP_FILE appearing, MAX_SECONDS, MAX_REQUESTS (and 127.0.0.1 only).
Prints one JSON object: requests, per body ("lb1 web2", "lb1 default"...) the count, errors, and the
first and last request number of each body (so a test can tell that the switch happened while it ran).
"""

import http.client
import json
import os
import sys
import time


def main():
    port, hosts_file, stop_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    max_seconds, max_requests = float(sys.argv[4]), int(sys.argv[5])
    with open(hosts_file) as handle:
        hosts = [line.strip() for line in handle if line.strip()]
    started = time.monotonic()
    counts, first, last, errors, number = {}, {}, {}, 0, 0
    ready = stop_file + ".ready"
    while number < max_requests and time.monotonic() - started < max_seconds:
        if number % 50 == 0 and os.path.exists(stop_file):
            break
        host = hosts[number % len(hosts)]
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/", headers={"Host": host})
            body = conn.getresponse().read().decode("utf-8", "replace").strip()
            conn.close()
        except (OSError, http.client.HTTPException):
            errors += 1
            body = None
        if body is not None:
            counts[body] = counts.get(body, 0) + 1
            first.setdefault(body, number)
            last[body] = number
        number += 1
        if number == 200:
            with open(ready, "w") as handle:
                handle.write("ready\n")
    print(json.dumps({"requests": number, "counts": counts, "first": first, "last": last, "errors": errors,
                      "seconds": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    main()
