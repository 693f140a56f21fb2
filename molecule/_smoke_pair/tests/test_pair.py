"""Testinfra checks of the _smoke_pair scenario: the two containers reach each other."""

import os

import pytest
import testinfra.utils.ansible_runner

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
NAMES = RUNNER.get_hosts("all")
# Static addresses of molecule.yml (platform `ip:`), keyed by instance name.
IPS = {"lbops-pair-lb1": "10.213.0.11", "lbops-pair-lb2": "10.213.0.12"}

testinfra_hosts = [f"podman://{name}" for name in NAMES]


def _me(host):
    return host.backend.name


def test_static_address(host):
    assert host.interface("eth0").addresses[0] == IPS[_me(host)]


def test_vrrp_capabilities(host):
    # privileged already grants every capability; check what keepalived needs is there.
    status = host.file("/proc/1/status").content_string
    bounding = int(status.split("CapBnd:")[1].split()[0], 16)
    for cap in (11, 12, 13):  # CAP_NET_BROADCAST, CAP_NET_ADMIN, CAP_NET_RAW
        assert bounding & (1 << cap), cap


@pytest.mark.parametrize("peer", sorted(IPS))
def test_ping_peer(host, peer):
    host.run_test("ping -c 2 -W 2 %s", IPS[peer])


@pytest.mark.parametrize("peer", sorted(IPS))
def test_curl_peer(host, peer):
    out = host.check_output("curl -sS --max-time 5 http://%s:8080/", IPS[peer])
    assert out.strip() == f"smoke {peer}"
