# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A small in-memory HAProxy runtime API for the server/frontend unit tests.

It answers the commands haproxy_server and haproxy_frontend send, with
HAProxy 2.6.12's replies (taken from the reference notes), and plugs into the
real RuntimeClient in place of the socket session, so the client's
classification of replies is exercised too.
"""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback

HEADER = ("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
          "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
          "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
          "srv_check_addr srv_agent_addr srv_agent_port")
STAT_HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,weight"


class Srv(object):
    def __init__(self, name, weight=10, admin=0, check=6, agent=0, addr="127.0.0.1", port=8080, op=2, scur=0):
        self.name, self.uweight, self.iweight, self.admin = name, weight, weight, admin
        self.check, self.agent, self.addr, self.port, self.op, self.scur = check, agent, addr, port, op, scur


class FakeHAProxy(object):
    def __init__(self, level="admin", version="2.6.12-1+deb12u3"):
        self.level = level
        self.version = version
        self.on_wait = None      # hook(srv, ms) called by 'wait <ms> srv-removable' while srv is busy
        self.tracked = set()     # "backend/server" that other servers track
        self.backends = {}       # name -> (algo, [Srv])
        self.frontends = {}      # name -> status ("OPEN", "PAUSED", "STOP", or None = config-disabled)
        self.sessions = []       # commands of each connection
        self.writes = []         # every command that is not a read
        self.on_read = None      # hook called on every 'show stat' (to simulate time passing)

    def add_backend(self, name, servers, algo="roundrobin"):
        self.backends[name] = (algo, servers)

    def server(self, ref):
        backend, dummy, name = ref.partition("/")
        if backend not in self.backends:
            return None, "No such backend."
        for srv in self.backends[backend][1]:
            if srv.name == name:
                return srv, None
        return None, "No such server."

    # -- the CLI ---------------------------------------------------------
    def run(self, commands):
        self.sessions.append(list(commands))
        for command in commands:
            yield self.answer(command)

    def answer(self, command):  # noqa: PLR0911, PLR0912
        words = command.split(" ")
        if command == "show cli level":
            return iter([self.level])
        if command == "show version":
            return Feedback(6, self.version)
        if words[0] == "wait":
            return self.wait(words)
        if command.startswith("show servers state "):
            backend = words[3]
            if backend not in self.backends:
                return Feedback(3, "Can't find backend.")
            be_id = sorted(self.backends).index(backend) + 1
            lines = ["1", HEADER]
            for index, s in enumerate(self.backends[backend][1], 1):
                lines.append("%d %s %d %s %s %d %d %d %d 5 6 3 4 %d %d 0 0 - %d - 0 0 - - 0" % (
                    be_id, backend, index, s.name, s.addr, s.op, s.admin, s.uweight, s.iweight, s.check, s.agent, s.port))
            return iter(lines)
        if command.startswith("show stat "):
            if self.on_read:
                self.on_read(self)
            name = words[2]
            if name in self.frontends:
                status = self.frontends[name]
                return iter([STAT_HEADER] + ([] if status is None else ["%s,FRONTEND,0,0,0,0,0,0,%s," % (name, status)]))
            if name in self.backends:
                rows = [STAT_HEADER]
                if words[3] in ("3", "2"):
                    rows.append("%s,BACKEND,0,0,0,0,0,0,UP,1" % name)
                else:
                    rows += ["%s,%s,0,0,%d,0,0,0,UP,%d" % (name, s.name, s.scur, s.uweight) for s in self.backends[name][1]]
                return iter(rows)
            return Feedback(3, "No such proxy.")
        self.writes.append(command)
        if self.level != "admin":
            return Feedback(3, "Permission denied")
        if words[0] == "set" and words[1] == "server":
            srv, err = self.server(words[2])
            if err:
                return Feedback(3, err)
            if words[3] == "state":
                if words[4] == "ready":
                    srv.admin &= ~0x09
                    srv.op = 2
                elif words[4] == "drain":
                    srv.admin = (srv.admin | 0x08) & ~0x01
                    srv.op = 2
                else:
                    srv.admin = (srv.admin | 0x01) & ~0x08
                    srv.op = 0
                return iter([])
            if words[3] == "weight":
                algo = self.backends[words[2].split("/")[0]][0]
                value = words[4]
                if algo == "static-rr" and value not in ("0%", "100%"):
                    return Feedback(3, "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.")
                srv.uweight = srv.iweight * int(value[:-1]) // 100 if value.endswith("%") else int(value)
                return iter([])
            if words[3] == "addr":
                addr = words[4]
                if not addr[0].isdigit() and ":" not in addr:
                    return Feedback(4, "Invalid addr '%s' by 'stats socket command'" % addr)
                old = srv.addr
                srv.addr = addr
                if len(words) > 6:
                    srv.port = int(words[6])
                return Feedback(4, "IP changed from '%s' to '%s' by 'stats socket command'" % (old, addr))
        if words[0] in ("enable", "disable") and words[1] in ("health", "agent"):
            srv, err = self.server(words[2])
            if err:
                return Feedback(3, err)
            attr = "check" if words[1] == "health" else "agent"
            bits = getattr(srv, attr)
            if words[0] == "enable":
                if not bits & 0x02:
                    return Feedback(3, "Health check was not configured on this server, cannot enable.")
                bits |= 0x04
            else:
                bits &= ~0x04
            setattr(srv, attr, bits)
            return iter([])
        if words[:3] == ["shutdown", "sessions", "server"]:
            srv, err = self.server(words[3])
            if err:
                return Feedback(3, err)
            srv.scur = 0
            return iter([])
        if words[1] == "frontend":
            name = words[2]
            if name not in self.frontends:
                return Feedback(3, "No such frontend.")
            status = self.frontends[name]
            if status in (None, "STOP"):
                return Feedback(3, "Frontend was previously shut down, cannot enable.")
            self.frontends[name] = "OPEN" if words[0] == "enable" else "PAUSED"
            return iter([])
        return Feedback(6, "Unknown command, but maybe one of the following ones is a better match:")

    def wait(self, words):
        """'wait <ms> srv-removable <b>/<s>' as 3.0 answers it (2.6 does not know it)."""
        if not self.version.startswith("3."):
            return Feedback(6, "Unknown command: 'wait', but maybe one of the following ones is a better match:")
        srv, err = self.server(words[3])
        if err or not srv.admin & 0x01 or words[3] in self.tracked:
            return Feedback(3, "Failed.")
        if srv.scur and self.on_wait:
            self.on_wait(srv, int(words[1]))
        return Feedback(6, "Done.") if srv.scur == 0 else Feedback(3, "Failed.")


class _FakeSession(object):
    def __init__(self, haproxy):
        self.haproxy = haproxy

    def run(self, commands):
        return self.haproxy.run(commands)


class FakeClient(RuntimeClient):
    """The real client, with the socket session replaced by :class:`FakeHAProxy`."""

    def __init__(self, haproxy, spec="/run/haproxy/admin.sock"):
        super(FakeClient, self).__init__(spec, 1.0)
        self.haproxy = haproxy

    def _session(self, extra_time=0.0):
        self.connections += 1
        return _FakeSession(self.haproxy)


def lab(level="admin", version="2.6.12-1+deb12u3"):
    """The integration harness's backends, in memory."""
    haproxy = FakeHAProxy(level, version)
    haproxy.add_backend("be_app", [
        Srv("s1", 10), Srv("s2", 20), Srv("s3", 30, check=0), Srv("s4", 40, check=0, agent=22)])
    haproxy.add_backend("be_static", [Srv("a", 1, check=0), Srv("b", 1, check=0)], algo="static-rr")
    haproxy.add_backend("be_track", [Srv("t1", 1, check=0)])
    haproxy.add_backend("be_cfgdisabled", [Srv("d1", 1, admin=0x05, check=0, op=0)])
    haproxy.frontends.update({"fe_main": "OPEN", "fe_aux": "OPEN", "fe_stop": "STOP", "fe_off": None})
    haproxy.tracked.add("be_app/s1")  # be_track/t1
    return haproxy


def run_module(capsys, main, args, check_mode=False, diff=False):
    """Run a module's ``main()`` with ``args``; return the JSON it exits with."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    return json.loads(capsys.readouterr().out)
