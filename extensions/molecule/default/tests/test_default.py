"""Testinfra checks of the scenario `default` of the role lbops.haproxy.haproxy."""

import os
import shlex

import pytest
import testinfra.utils.ansible_runner
import yaml

# Molecule's inventory says ansible_connection=podman; address the instances
# with testinfra's own podman backend.
testinfra_hosts = [
    f"podman://{name}"
    for name in testinfra.utils.ansible_runner.AnsibleRunner(
        os.environ["MOLECULE_INVENTORY_FILE"]
    ).get_hosts("all")
]

with open(
    os.path.join(os.path.dirname(__file__), "..", "vars", "article.yml"), encoding="utf-8"
) as fh:
    VARS = yaml.safe_load(fh)

USERS = VARS["haproxy_stats_users"]
STATS_URL = "http://127.0.0.1:1936/haproxy?stats"
METRICS_URL = "http://127.0.0.1:1936/metrics"
SOCKET = VARS["haproxy_admin_socket_path"]


def http_status(host, url, user=None, password=None):
    """HTTP status of a GET from inside the container; the password goes through
    a curl config on stdin, never on the command line."""
    cmd = f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 {shlex.quote(url)}"
    if user is None:
        return host.check_output(cmd)
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    config = f'user = "{user}:{quoted}"\n'
    return host.check_output(f"printf '%s' {shlex.quote(config)} | {cmd} -K -")


def test_service_running_and_enabled(host):
    svc = host.service("haproxy")
    assert svc.is_running
    assert svc.is_enabled


def test_config_file_not_world_readable(host):
    cfg = host.file("/etc/haproxy/haproxy.cfg")
    assert cfg.user == "root"
    assert cfg.group == "haproxy"
    assert cfg.mode == 0o640


def test_config_has_no_stats_in_defaults(host):
    content = host.file("/etc/haproxy/haproxy.cfg").content_string
    section, bad = None, []
    for line in content.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            section = line.split()[0]
        elif section == "defaults" and line.strip().startswith("stats"):
            bad.append(line)
    assert bad == []


def test_run_dir(host):
    run = host.file("/run/haproxy")
    assert run.is_directory
    assert run.user == "root"
    assert run.group == "root"
    assert run.mode == 0o775


def test_tmpfiles_entry(host):
    entry = host.file("/etc/tmpfiles.d/haproxy.conf")
    assert entry.exists
    lines = [ln.split() for ln in entry.content_string.splitlines() if ln and not ln.startswith("#")]
    assert ["d", "/run/haproxy", "0775", "root", "root", "-"] in lines
    # systemd-tmpfiles accepts it and it wins over the package's entry.
    host.run_expect([0], "systemd-tmpfiles --create --prefix=/run/haproxy")
    assert host.file("/run/haproxy").mode == 0o775


def test_admin_socket(host):
    sock = host.file(SOCKET)
    assert sock.is_socket
    assert sock.mode == 0o660
    assert sock.group == VARS["haproxy_admin_socket_group"]


def test_show_info_through_admin_socket(host):
    out = host.check_output(f"echo 'show info' | socat stdio {SOCKET}")
    assert "Name: HAProxy" in out
    level = host.check_output(f"echo 'show cli level' | socat stdio {SOCKET}")
    assert level.strip() == "admin"


def test_show_info_through_tcp_operator_socket(host):
    out = host.check_output("echo 'show cli level' | socat stdio TCP:127.0.0.1:9999")
    assert out.strip() == "operator"


@pytest.mark.parametrize("user", [u["name"] for u in USERS])
def test_stats_page_accepts_each_user(host, user):
    password = next(u["password"] for u in USERS if u["name"] == user)
    assert http_status(host, STATS_URL, user, password) == "200"


def test_stats_page_refuses_anonymous(host):
    assert http_status(host, STATS_URL) == "401"


@pytest.mark.parametrize("user", [u["name"] for u in USERS])
def test_stats_page_refuses_wrong_password(host, user):
    assert http_status(host, STATS_URL, user, "wrong-password") == "401"


def test_password_with_hash_sign_is_not_truncated(host):
    # Pitfall 4: unquoted, `#` would cut the password at the `#`.
    user = next(u for u in USERS if "#" in u["password"])
    truncated = user["password"].split("#", 1)[0]
    assert http_status(host, STATS_URL, user["name"], truncated) == "401"


def test_realm_with_space_is_whole(host):
    headers = host.check_output(f"curl -s -D - -o /dev/null --max-time 5 '{STATS_URL}'")
    assert 'realm="HAProxy Statistics"' in headers


def test_stats_page_hides_version(host):
    user = USERS[0]
    page = host.check_output(
        "printf '%s' {} | curl -s --max-time 5 -K - '{}'".format(
            shlex.quote(f'user = "{user["name"]}:{user["password"]}"\n'), STATS_URL
        )
    )
    assert "Statistics Report" in page
    version = host.check_output("haproxy -v | head -n1").split()[2]
    assert version not in page


def test_metrics(host):
    user = USERS[0]
    assert http_status(host, METRICS_URL) == "401"
    assert http_status(host, METRICS_URL, user["name"], user["password"]) == "200"
    body = host.check_output(
        "printf '%s' {} | curl -s --max-time 5 -K - '{}'".format(
            shlex.quote(f'user = "{user["name"]}:{user["password"]}"\n'), METRICS_URL
        )
    )
    assert "haproxy_process_" in body


def test_failover_backend_serves_primary(host):
    assert host.check_output("curl -s --max-time 5 http://127.0.0.1:8080/").strip() == "cloudserver"


def test_passwords_not_in_logs(host):
    # The journal of the container must not carry the stats passwords.
    journal = host.run("journalctl --no-pager -q").stdout
    for user in USERS:
        assert user["password"] not in journal


# --- maps and ACL files (declared seed_only, changed at runtime in converge.yml) ------

MAPS_DIR = VARS["haproxy_maps_dir"]
ACLS_DIR = VARS["haproxy_acl_files_dir"]
PERSISTED_MAP = "a.test be_local\nb.test be_local\nc.test be_local\n"
PERSISTED_ACL = "/blocked\n/also-blocked\n"


def ask_map_frontend(host, host_header, path="/"):
    """'<body> <status>' of one request to the map frontend."""
    out = host.check_output(f"curl -s --max-time 5 -w '\\n%{{http_code}}' -H 'Host: {host_header}' http://127.0.0.1:8090{path}")
    body, _nl, status = out.rpartition("\n")
    return f"{body.strip()} {status}"


def test_map_and_acl_dirs(host):
    for path in (MAPS_DIR, ACLS_DIR):
        d = host.file(path)
        assert d.is_directory
        assert (d.user, d.group, d.mode) == ("root", "haproxy", 0o750)


def test_role_kept_the_runtime_change_of_the_files(host):
    """The idempotence run (changed=0) and side_effect.yml's role run left the persisted content."""
    m, a = host.file(f"{MAPS_DIR}/hosts.map"), host.file(f"{ACLS_DIR}/blocked.acl")
    assert m.content_string == PERSISTED_MAP
    assert a.content_string == PERSISTED_ACL
    for f in (m, a):
        assert (f.user, f.group, f.mode) == ("root", "haproxy", 0o640)


def test_runtime_serves_the_persisted_map(host):
    out = host.check_output(f"echo 'show map {MAPS_DIR}/hosts.map' | socat stdio {SOCKET}")
    assert [line.split()[1:] for line in out.splitlines()] == [["a.test", "be_local"], ["b.test", "be_local"], ["c.test", "be_local"]]
    out = host.check_output(f"echo 'show acl {ACLS_DIR}/blocked.acl' | socat stdio {SOCKET}")
    assert [line.split()[1:] for line in out.splitlines()] == [["/blocked"], ["/also-blocked"]]


def test_map_routes_traffic_as_changed(host):
    assert ask_map_frontend(host, "a.test") == "localserver 200"
    assert ask_map_frontend(host, "c.test") == "localserver 200"
    assert ask_map_frontend(host, "unknown.test") == "cloudserver 200"  # the map's default
    assert ask_map_frontend(host, "a.test", "/also-blocked").endswith(" 403")
    assert ask_map_frontend(host, "b.test", "/blocked").endswith(" 403")
