# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""keepalived_probe: subscribe to the kernel's process events and unsubscribe, report what it answered."""

import errno
import json
import os
import socket
import struct

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lbops.haproxy.plugins.modules import keepalived_probe


class FakeNetlink(object):
    """A netlink socket that records what is sent, refusing at one step when asked."""

    def __init__(self, fail_at=None, code=errno.ECONNREFUSED):
        self.fail_at, self.code = fail_at, code
        self.opened, self.bound, self.sent, self.closed = None, None, [], False

    def __call__(self, family, kind, proto):
        self.opened = (family, kind, proto)
        if self.fail_at == "socket":
            raise OSError(self.code, "refused")
        return self

    def bind(self, address):
        self.bound = address
        if self.fail_at == "bind":
            raise OSError(self.code, "refused")

    def send(self, data):
        if self.fail_at == "send":
            raise OSError(self.code, "refused")
        self.sent.append(data)
        return len(data)

    def close(self):
        self.closed = True


def decode(data):
    length, kind, _flags, _seq, _pid = struct.unpack_from("=IHHII", data)
    idx, val, _seq, _ack, size, _flags = struct.unpack_from("=IIIIHH", data, 16)
    (op,) = struct.unpack_from("=I", data, 36)
    return {"length": length, "type": kind, "idx": idx, "val": val, "size": size, "op": op, "total": len(data)}


def run(capsys, args=None, check_mode=False):
    with patch_module_args(dict(args or {}, _ansible_check_mode=check_mode)):
        with pytest.raises(SystemExit):
            keepalived_probe.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.skipif(not hasattr(socket, "AF_NETLINK"), reason="netlink is Linux only")
def test_available_subscribes_then_unsubscribes():
    fake = FakeNetlink()
    assert keepalived_probe.probe(fake) == (True, "process events available")
    assert fake.opened == (socket.AF_NETLINK, socket.SOCK_DGRAM, 11)
    assert fake.bound == (0, 1)
    ops = [decode(d) for d in fake.sent]
    assert [o["op"] for o in ops] == [1, 2]  # PROC_CN_MCAST_LISTEN, then PROC_CN_MCAST_IGNORE
    for o in ops:
        assert (o["length"], o["total"], o["type"], o["idx"], o["val"], o["size"]) == (40, 40, 3, 1, 1, 4)
    assert fake.closed


@pytest.mark.skipif(not hasattr(socket, "AF_NETLINK"), reason="netlink is Linux only")
@pytest.mark.parametrize("step", ["socket", "bind", "send"])
def test_refused_at_any_step_is_unavailable_with_the_reason(step):
    fake = FakeNetlink(fail_at=step, code=errno.EPERM)
    available, words = keepalived_probe.probe(fake)
    assert available is False
    assert words == "process events unavailable: " + os.strerror(errno.EPERM)
    assert fake.closed == (step != "socket")


def test_module_reports_without_changing(capsys, monkeypatch):
    monkeypatch.setattr(keepalived_probe, "probe", lambda: (False, "process events unavailable: Connection refused"))
    for check_mode in (False, True):
        out = run(capsys, check_mode=check_mode)
        assert out["changed"] is False
        assert out["process_events"] is False
        assert out["msg"] == "process events unavailable: Connection refused"


def test_unknown_option_is_refused_in_one_line(capsys, monkeypatch):
    called = []
    monkeypatch.setattr(keepalived_probe, "probe", lambda: called.append(1))
    out = run(capsys, {"interval": 3})
    assert out["failed"] is True
    assert "interval" in out["msg"] and "\n" not in out["msg"]
    assert called == []


def test_real_kernel_answers_one_way_or_the_other(capsys):
    # On this machine (host netns as root: available; a container or non-root: refused) the
    # module must return a verdict, never a traceback.
    out = run(capsys)
    assert isinstance(out["process_events"], bool)
    assert out["msg"] == "process events available" or out["msg"].startswith("process events unavailable: ")
