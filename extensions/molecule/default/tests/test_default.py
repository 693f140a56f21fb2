"""Testinfra checks of the scenario `default` of the role lbops.haproxy.haproxy."""

import json
import os
import re
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


# --- runtime server state (side_effect.yml: server_state.yml) -------------------------

STATE_FILE = "/var/lib/lbops-haproxy/server-state"
STATE_TOOL = "/usr/local/sbin/lbops-haproxy-state"
STATE_DROPIN = "/etc/systemd/system/haproxy.service.d/lbops-server-state.conf"


def test_config_names_the_state_file_and_hard_stop_after(host):
    section, found = None, set()
    for line in host.file("/etc/haproxy/haproxy.cfg").content_string.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            section = line.split()[0]
        elif line.strip():
            found.add((section, line.strip()))
    assert ("global", "hard-stop-after 30m") in found
    assert ("global", f"server-state-file {STATE_FILE}") in found
    assert ("defaults", "load-server-state-from-file global") in found


def exec_lines(host, prop):
    """The argv of each command of a unit's Exec* list, as systemd holds it after the drop-ins."""
    out = host.check_output(f"systemctl show haproxy -p {prop} --value")
    return [argv.strip().split() for argv in re.findall(r"argv\[\]=([^;]*)", out)]


def test_unit_saves_the_state_before_every_reload(host):
    reload = exec_lines(host, "ExecReload")
    assert [argv[0] for argv in reload] == ["/usr/sbin/haproxy", STATE_TOOL, STATE_TOOL, "/bin/kill", STATE_TOOL]
    # The distribution's check (-Ws, the same file, its options), then the save, the note of the
    # running worker, USR2, and the runtime addresses HAProxy does not restore set again.
    assert reload[0] == ["/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg", "-c", "$EXTRAOPTS"]
    assert reload[1][1:3] == ["save", "--socket"]
    assert reload[2][1:3] == ["reapply", "--record-worker"]
    assert reload[3] == ["/bin/kill", "-USR2", "$MAINPID"]
    assert reload[4][1:3] == ["reapply", "--socket"]
    assert [argv[:3] for argv in exec_lines(host, "ExecStop")] == [[STATE_TOOL, "save", "--at-stop"]]
    assert [argv[:2] for argv in exec_lines(host, "ExecStartPost")] == [[STATE_TOOL, "reapply"]]
    assert [argv[:2] for argv in exec_lines(host, "ExecStartPre")] == [[STATE_TOOL, "prepare"]]
    dropin = host.file(STATE_DROPIN)
    assert (dropin.user, dropin.group, dropin.mode) == ("root", "root", 0o644)
    assert dropin.content_string.startswith("#")  # ansible_managed


def test_state_tool_and_files_are_root_only(host):
    tool = host.file(STATE_TOOL)
    assert (tool.user, tool.group, tool.mode) == ("root", "root", 0o755)
    assert tool.content_string.startswith("#!/usr/bin/python3\n")
    state_dir = host.file(os.path.dirname(STATE_FILE))
    assert (state_dir.user, state_dir.group, state_dir.mode) == ("root", "root", 0o700)
    for path in (STATE_FILE, STATE_FILE + ".config.json"):
        f = host.file(path)
        assert (f.user, f.mode) == ("root", 0o600)


def test_state_file_holds_the_last_save(host):
    """The last save (the reload of server_state.yml's last role run) reconciled the
    runtime of run C (ports 8084) with the article's configuration (8082): the file
    holds the configured ports and every server in rotation."""
    lines = host.file(STATE_FILE).content_string.splitlines()
    assert lines[0] == "1"
    columns = lines[1][2:].split()
    rows = {(r["be_name"], r["srv_name"]): r for r in (dict(zip(columns, ln.split())) for ln in lines[2:])}
    for backend, server, port in (("https", "cloudserver", "8081"), ("https", "localserver", "8082"),
                                  ("be_cloud", "cloud", "8081"), ("be_local", "local", "8082")):
        row = rows[(backend, server)]
        assert (row["srv_addr"], row["srv_port"], row["srv_admin_state"]) == ("127.0.0.1", port, "0")
    snapshot = json.loads(host.file(STATE_FILE + ".config.json").content_string)
    assert snapshot["servers"]["https"] == {"cloudserver": ["127.0.0.1", "8081"], "localserver": ["127.0.0.1", "8082"]}


def test_journal_shows_the_saves(host):
    journal = host.check_output("journalctl --unit haproxy --no-pager --output cat")
    assert "lbops-haproxy-state: saved the state of" in journal
    assert "lbops-haproxy-state: the configuration wins: https/localserver: saved 127.0.0.1:8081 -> configured 127.0.0.1:8084" in journal
