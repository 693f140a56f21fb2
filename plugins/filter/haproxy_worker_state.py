# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: haproxy_worker_state
short_description: Whether the HAProxy worker that answers runs the current configuration file
version_added: 0.1.0
description:
  - Reads the registered result of M(lbops.haproxy.haproxy_info) (with C(gather) including C(info), one socket)
    and compares the answering worker's start (RV(lbops.haproxy.haproxy_info#module:results[].started_at)) with
    the time the configuration file was written.
  - C(systemctl reload) succeeds as soon as the signal is sent, even when the new configuration cannot run and the
    previous worker keeps serving; a worker older than the file means the last reload did not take.
  - The role C(lbops.haproxy.haproxy) uses it after every run.
positional: written, config
options:
  _input:
    description: The registered result of M(lbops.haproxy.haproxy_info), also a failed one (C(failed_when) false).
    type: dict
    required: true
  written:
    description: When the configuration file was written (C(stat.mtime) of M(ansible.builtin.stat) on the same host).
    type: float
    required: true
  config:
    description: The configuration file's path, for the summary.
    type: str
    default: haproxy.cfg
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Read show info
  lbops.haproxy.haproxy_info:
    socket: /run/haproxy/admin.sock
    gather: [info]
  register: info
  failed_when: false

- name: Fail unless the worker is newer than haproxy.cfg
  ansible.builtin.assert:
    that: (info | lbops.haproxy.haproxy_worker_state(cfg.stat.mtime)).state == 'current'
"""

RETURN = r"""
_value:
  description:
    - C(state) is V(current) (the socket answers as HAProxy and the worker started after the file was written),
      V(older) (it started before) or V(no answer) (no answer, or not from HAProxy).
    - C(summary) says it in one line - the worker's pid, version and start and the file's time (UTC), or why
      there was no answer.
  type: dict
"""

import time  # noqa: E402
from collections.abc import Mapping  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402


def _clock(seconds):
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


def haproxy_worker_state(read, written, config="haproxy.cfg"):
    if not isinstance(read, Mapping):
        raise AnsibleFilterError("haproxy_worker_state: the input must be the registered result of haproxy_info")
    try:
        written = float(written)
    except (TypeError, ValueError):
        raise AnsibleFilterError("haproxy_worker_state: written must be a time in seconds (stat.mtime), not %r" % (written,))
    results = read.get("results") or []
    target = results[0] if results and isinstance(results[0], Mapping) else None
    if target is None:
        return {"state": "no answer", "summary": str(read.get("msg") or "haproxy_info returned no result")}
    if target.get("failed"):
        return {"state": "no answer", "summary": str(target.get("msg") or read.get("msg") or "reading the socket failed")}
    info = target.get("info") or {}
    started = target.get("started_at")
    if info.get("Name") != "HAProxy" or started is None:
        return {"state": "no answer", "summary": "unexpected answer to show info: %s" % (str(dict(info))[:200],)}
    summary = "pid %s, version %s, worker started %s UTC, %s written %s UTC" % (
        target.get("pid"), target.get("version"), _clock(started), config, _clock(written))
    return {"state": "older" if started < written else "current", "summary": summary}


class FilterModule(object):
    def filters(self):
        return {"haproxy_worker_state": haproxy_worker_state}
