"""Testinfra checks of the _smoke scenario: systemd and haproxy run in the container."""

import os

import testinfra.utils.ansible_runner

# Molecule's inventory says ansible_connection=podman, which testinfra's "ansible"
# backend does not map to a native backend (it would then run every command through
# `ansible`). Address the instances with testinfra's own podman backend instead.
testinfra_hosts = [f"podman://{name}" for name in testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")]


def test_systemd_is_pid1(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"


def test_haproxy_installed(host):
    assert host.package("haproxy").is_installed


def test_haproxy_running(host):
    svc = host.service("haproxy")
    assert svc.is_running
    assert svc.is_enabled
    assert host.run("systemctl is-active haproxy").stdout.strip() == "active"
