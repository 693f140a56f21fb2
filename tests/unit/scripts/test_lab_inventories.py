# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The lab's two inventories describe one lab: playbooks/lab/inventory-ssh.yml (SSH, for
AWX and the execution environment) has the same groups, hosts, addresses and network as
playbooks/lab/inventory.yml (podman exec), and reaches each host at its lab address with
host keys checked. The EE definition installs this collection and ansible-core from the
pinned requirements, not from a registry."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "playbooks" / "lab"


def _load(name):
    return yaml.safe_load((LAB / name).read_text())


def _hosts(inventory):
    return {
        group: dict(body["hosts"])
        for group, body in inventory["all"]["children"].items()
    }


def test_same_groups_hosts_addresses_and_network():
    podman, ssh = _load("inventory.yml"), _load("inventory-ssh.yml")
    podman_hosts, ssh_hosts = _hosts(podman), _hosts(ssh)
    assert list(ssh_hosts) == list(podman_hosts)
    for group, hosts in podman_hosts.items():
        assert list(ssh_hosts[group]) == list(hosts), group    # same names, same order (lb1 is MASTER)
        for name, hostvars in hosts.items():
            assert ssh_hosts[group][name]["lab_address"] == hostvars["lab_address"], name
            assert ssh_hosts[group][name]["ansible_host"] == hostvars["lab_address"], name
    for key in ("lab_network", "lab_subnet"):
        assert ssh["all"]["vars"][key] == podman["all"]["vars"][key]


def test_ssh_inventory_checks_host_keys_with_the_lab_key():
    v = _load("inventory-ssh.yml")["all"]["vars"]
    assert v["ansible_connection"] == "ansible.builtin.ssh"
    assert v["ansible_user"] == "root"
    assert v["ansible_ssh_private_key_file"] == "{{ lab_ssh_dir }}/id_ed25519"
    args = v["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in args
    assert "UserKnownHostsFile={{ lab_ssh_dir }}/known_hosts" in args


def test_ee_definition_is_local_and_pinned():
    ee = yaml.safe_load((ROOT / "execution-environment" / "execution-environment.yml").read_text())
    assert ee["version"] == 3
    assert ee["images"]["base_image"]["name"].startswith("localhost/")
    assert ee["dependencies"]["galaxy"] == "requirements.yml"
    req = yaml.safe_load((ROOT / "execution-environment" / "requirements.yml").read_text())
    assert req["collections"] == [{"name": "collections/lbops-haproxy.tar.gz", "type": "file"}]
    # pip in the build sees only the wheels made from the pins: no index.
    assert "COPY _build/configs/pip.conf /etc/pip.conf" in ee["additional_build_steps"]["prepend_base"]
    pins = (ROOT / "requirements" / "ansible-2.21.txt").read_text().splitlines()
    for package in ("ansible-core", "ansible-runner"):
        assert any(line.startswith(package + "==") for line in pins), package


def test_collection_declares_its_ee_needs():
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    for key in ("python", "system"):
        path = ROOT / meta["dependencies"][key]
        assert path.is_file(), path
        # No requirement lines: only comments (the modules run on the hosts with the stdlib).
        assert [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")] == []
