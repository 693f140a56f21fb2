# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""haproxy_ssl_cert as a module, against the fake HAProxy's certificate commands (fake_ssl)."""

import json
import os
import stat

import pytest

from ansible_collections.lbops.haproxy.plugins.modules import haproxy_ssl_cert
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import Instances
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_ssl import OTHER, SITE, fixture, part, ssl_lab

FAKES = Instances(haproxy_ssl_cert.main)
run = FAKES.run
VERSIONS = ("2.6.12-1+deb12u3", "3.0.11-1+deb13u4", "3.2.26-1")
A_FP = "E8DD8200830C1F190BDF511D9456E293FC1EDBCE"
B_FP = "F6553612FAC667FF723E9477F67B9DF1A3BB9D63"
A_SHOWN = {"subject": "/CN=test-a.lbops.invalid", "serial": "1A2B3C4D5E6F7081", "fingerprint": A_FP,
           "not_after": "Nov  8 10:20:21 2126 GMT"}
B_SHOWN = {"subject": "/CN=test-b.lbops.invalid/O=lbops tests", "serial": "FF00FF00FF00FF", "fingerprint": B_FP,
           "not_after": "Nov  8 10:20:21 2126 GMT"}
SET = "set ssl cert %s <<" % SITE
COMMIT = "commit ssl cert %s" % SITE
ABORT = "abort ssl cert %s" % SITE


@pytest.fixture
def instances():
    return FAKES.reset(lb1=ssl_lab(), lb2=ssl_lab())


def args(name="b", **extra):
    values = {"socket": "/lb1.sock", "path": SITE, "pem": fixture(name)}
    values.update(extra)
    return values


def key_lines(name):
    """The base64 lines of a fixture's private key: none may appear in any output."""
    return [line for line in part(name, "key").splitlines() if line and not line.startswith("-----")]


def assert_no_key(output, *names):
    text = json.dumps(output)
    for name in names:
        for line in key_lines(name):
            assert line not in text, "a line of %s's private key reached the output" % name
            assert line[:24] not in text


@pytest.mark.parametrize("version", VERSIONS)
def test_check_change_repeat_on_a_pair(capsys, version):
    instances = FAKES.reset(lb1=ssl_lab(version=version), lb2=ssl_lab(version=version))
    pair = args(socket=["/lb1.sock", "/lb2.sock"])
    checked = run(capsys, pair, check_mode=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["before"] == {"/lb1.sock": A_SHOWN, "/lb2.sock": A_SHOWN}
    assert checked["diff"]["after"] == {"/lb1.sock": B_SHOWN, "/lb2.sock": B_SHOWN}
    assert [r["commands"] for r in checked["results"]] == [[SET, COMMIT], [SET, COMMIT]]
    for fake in instances.values():
        assert fake.writes == []
        assert len(fake.sessions) == 1  # check mode: one read connection
        assert fake.ssl.serving(SITE) == A_FP
    done = run(capsys, pair, diff=True)
    assert done["changed"] is True
    assert done["diff"] == checked["diff"]  # check mode predicted the real run exactly
    assert [r["after"] for r in done["results"]] == [B_SHOWN, B_SHOWN]
    assert [r["commands"] for r in done["results"]] == [[SET, COMMIT], [SET, COMMIT]]
    for fake in instances.values():
        assert fake.ssl.serving(SITE) == B_FP
        assert fake.ssl.transaction is None
        assert fake.writes == [SET, COMMIT]
        # the payload is the module's canonical PEM: certificate, then key
        assert fake.ssl.received == [(SET, part("b", "cert") + part("b", "key"))]
        fake.sessions[:] = []
    again = run(capsys, pair, diff=True)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"] == {"/lb1.sock": B_SHOWN, "/lb2.sock": B_SHOWN}
    assert [r["commands"] for r in again["results"]] == [[], []]
    for fake in instances.values():
        assert len(fake.sessions) == 1  # a no-op is one read connection
        assert fake.writes == [SET, COMMIT]


def test_change_takes_four_connections(instances, capsys):
    out = run(capsys, args())
    assert out["changed"] is True
    sessions = instances["/lb1.sock"].sessions
    assert sessions == [["show cli level", "show ssl cert", "show ssl cert %s" % SITE], [SET], [COMMIT],
                        ["show ssl cert %s" % SITE]]


def test_certificate_and_key_options(instances, capsys):
    out = run(capsys, {"socket": "/lb1.sock", "path": SITE, "certificate": part("b", "cert"), "private_key": part("b", "key")})
    assert out["changed"] is True
    assert instances["/lb1.sock"].ssl.serving(SITE) == B_FP


def test_certificate_without_key_keeps_haproxys_key(instances, capsys):
    """A renewal with the same key: only the certificate is sent, HAProxy keeps its key."""
    fake = instances["/lb1.sock"]
    fake.ssl.serve(SITE, "b")
    fake.ssl.files[SITE].cert = fake.ssl.files[OTHER].cert  # same certificate, so the no-op path...
    out = run(capsys, {"socket": "/lb1.sock", "path": SITE, "certificate": part("b", "cert")})
    assert out["changed"] is False
    fake = FAKES.reset(lb1=ssl_lab(serving="a"))["/lb1.sock"]
    fake.ssl.files[SITE].key = fake.ssl.files[OTHER].key  # HAProxy holds b's key already
    out = run(capsys, {"socket": "/lb1.sock", "path": SITE, "certificate": part("b", "cert")})
    assert out["changed"] is True
    assert fake.ssl.received == [(SET, part("b", "cert"))]
    assert fake.ssl.serving(SITE) == B_FP


def test_chain_goes_with_the_leaf_first(instances, capsys):
    out = run(capsys, args("chain"), diff=True)
    assert out["changed"] is True
    assert out["results"][0]["after"]["serial"] == "05"
    assert out["results"][0]["after"]["subject"] == "/CN=chain.lbops.invalid"
    sent = instances["/lb1.sock"].ssl.received[0][1]
    assert sent == part("chain", "cert") + part("chain", "key")
    assert len(instances["/lb1.sock"].ssl.files[SITE].chain) == 1


def test_utf8_subject_predicted_as_haproxy_shows_it(instances, capsys):
    checked = run(capsys, args("c"), check_mode=True, diff=True)
    done = run(capsys, args("c"), diff=True)
    assert checked["diff"] == done["diff"]
    assert done["results"][0]["after"]["subject"].startswith("/C=FR/ST=\u00cele-de-France/")
    assert done["results"][0]["after"]["serial"] == "80000000000000000001"


@pytest.mark.parametrize("version", VERSIONS)
def test_mismatched_key_refused_at_commit_and_aborted(capsys, version):
    fake = FAKES.reset(lb1=ssl_lab(version=version))["/lb1.sock"]
    params = {"socket": "/lb1.sock", "path": SITE, "certificate": part("b", "cert"), "private_key": part("a", "key")}
    checked = run(capsys, params, check_mode=True)
    assert checked["changed"] is True  # the key cannot be checked without HAProxy: check mode predicts the attempt
    out = run(capsys, params, diff=True)
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["msg"] == ("/lb1.sock: HAProxy refused '%s': inconsistencies between private key and certificate loaded '%s'. "
                          "Can't commit %s!; sent '%s' (HAProxy: Transaction aborted for certificate '%s'!): "
                          "the certificate served is unchanged" % (COMMIT, SITE, SITE, ABORT, SITE))
    assert fake.writes == [SET, COMMIT, ABORT]
    assert fake.ssl.serving(SITE) == A_FP
    assert fake.ssl.transaction is None
    assert "\n" not in out["msg"]
    assert_no_key(out, "a", "b")


def test_refused_set_is_aborted_too(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.replies[SET] = __import__("ansible_collections.lbops.haproxy.plugins.module_utils._transport",
                                   fromlist=["Feedback"]).Feedback(3, "unable to load certificate from file '%s'.\nCan't load the payload" % SITE)
    out = run(capsys, args())
    assert out["failed"] is True
    assert out["changed"] is False
    assert "HAProxy refused '%s': unable to load certificate" % SET in out["msg"]
    assert "sent '%s' (HAProxy: No ongoing transaction!)" % ABORT in out["msg"]
    assert fake.writes == [ABORT]  # (the fixed reply of the set is not recorded by the fake)


def test_commit_failing_midway_is_aborted(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.ssl.commit_failure = "Unable to create the new instance. "
    out = run(capsys, args())
    assert out["failed"] is True
    assert out["changed"] is False
    assert "HAProxy did not commit '%s': Committing %s Unable to create the new instance. Failed!" % (SITE, SITE) in out["msg"]
    assert "sent '%s'" % ABORT in out["msg"]
    assert fake.ssl.transaction is None
    assert fake.ssl.serving(SITE) == A_FP


def test_connection_lost_during_commit(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.ssl.break_on = COMMIT
    out = run(capsys, args())
    assert out["failed"] is True
    assert out["changed"] is True  # the commit may have taken
    assert "connection lost" in out["msg"]
    assert "sent '%s'" % ABORT in out["msg"]
    assert fake.ssl.transaction is None
    assert out["results"][0]["commands"][0] == SET
    assert_no_key(out, "b")


def test_reread_showing_another_certificate_fails(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.replies["show ssl cert %s" % SITE] = list(fake.ssl.detail(SITE, fake.ssl.files[SITE], "Used"))
    out = run(capsys, args())
    assert out["failed"] is True
    assert out["changed"] is True
    assert "after the commit, HAProxy serves serial 1A2B3C4D5E6F7081" in out["msg"]


def test_unknown_path_refused_before_any_write(instances, capsys):
    out = run(capsys, args(path="/etc/haproxy/certs/nope.pem"))
    assert out["failed"] is True
    assert out["msg"] == ("/lb1.sock: HAProxy serves no certificate file '/etc/haproxy/certs/nope.pem' (show ssl cert lists: "
                          "%s, %s); nothing was sent" % (OTHER, SITE))
    assert instances["/lb1.sock"].writes == []
    assert len(instances["/lb1.sock"].sessions) == 1


def test_other_transaction_open_refused_before_sending(instances, capsys):
    fake = instances["/lb1.sock"]
    fake.ssl.transaction = (OTHER, fake.ssl.files[OTHER])
    for check_mode in (True, False):
        out = run(capsys, args(), check_mode=check_mode)
        assert out["failed"] is True
        assert "a certificate transaction is open on '%s'" % OTHER in out["msg"]
        assert out["msg"].endswith("nothing was sent")
    assert fake.writes == []


def test_operator_socket_reads_but_cannot_write(capsys):
    fake = FAKES.reset(lb1=ssl_lab(level="operator"))["/lb1.sock"]
    out = run(capsys, args("a"))
    assert out["changed"] is False and out.get("failed") is not True
    for check_mode in (True, False):
        out = run(capsys, args(), check_mode=check_mode)
        assert out["failed"] is True
        assert "'set ssl cert %s <<' needs level admin" % SITE in out["msg"]
    assert fake.writes == []


@pytest.mark.parametrize("params, message", [
    ({"pem": "not a pem"}, "pem holds no PEM block"),
    ({"pem": "-----BEGIN CERTIFICATE-----\nAAAA"}, "pem has a PEM block that does not end"),
    ({"pem": "-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n"}, "pem: block 1 (CERTIFICATE) is not base64"),
    ({"pem": "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"}, "the certificate is not an X.509 certificate"),
    ({"pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "the certificate is not an X.509 certificate"),
    ({"pem": part("a", "key")}, "no CERTIFICATE block given"),
    ({"pem": fixture("a") + part("b", "key")}, "2 private keys given, expected one"),
    ({"pem": part("a", "cert") + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"},
     "the private key is encrypted"),
    ({"pem": part("a", "cert") + "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"}, "unexpected PEM block 'PUBLIC KEY'"),
    ({"pem": None, "certificate": fixture("a")}, "certificate must hold CERTIFICATE blocks only"),
    ({"pem": None, "certificate": part("a", "cert"), "private_key": fixture("a")}, "private_key holds a CERTIFICATE block"),
    ({"pem": None, "certificate": part("a", "cert"), "persist": True}, "persist needs the private key"),
    ({"pem": part("a", "cert") * 12 + part("a", "key")}, "more than HAProxy reads in one command (15000, tune.bufsize)"),
    ({"path": "/etc/haproxy/certs/a b.pem"}, "path must be a certificate file name"),
    ({"path": "*" + SITE}, "path must be a certificate file name"),
    ({"pem": None}, "one of the following is required: pem, certificate"),
    ({"certificate": part("a", "cert")}, "parameters are mutually exclusive: pem|certificate"),
])
def test_invalid_input_refused_before_any_connection(instances, capsys, params, message):
    values = args()
    values.update(params)
    values = dict((name, value) for name, value in values.items() if value is not None)
    out = run(capsys, values)
    assert out["failed"] is True
    assert message in out["msg"]
    assert "\n" not in out["msg"]
    assert instances["/lb1.sock"].sessions == []
    assert_no_key(out, "a", "b")


# -- persist ------------------------------------------------------------------


def test_persist_writes_0600_atomically_once(instances, capsys, tmp_path):
    path = str(tmp_path / "site.pem")
    with open(path, "w") as handle:
        handle.write(fixture("a"))
    os.chmod(path, 0o644)
    instances["/lb1.sock"].ssl.files[path] = instances["/lb1.sock"].ssl.files.pop(SITE)
    params = args(path=path, persist=True)
    checked = run(capsys, params, check_mode=True, diff=True)
    assert checked["changed"] is True and checked["persisted"] is True
    with open(path) as handle:
        assert handle.read() == fixture("a")  # check mode writes nothing
    assert checked["diff"]["before"]["file:%s" % path] == dict(A_SHOWN, mode="0644")
    assert checked["diff"]["after"]["file:%s" % path] == dict(B_SHOWN, mode="0600")
    done = run(capsys, params, diff=True)
    assert done["changed"] is True and done["persisted"] is True
    assert done["diff"] == checked["diff"]
    with open(path) as handle:
        assert handle.read() == part("b", "cert") + part("b", "key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(str(tmp_path))) == ["site.pem"]  # no temporary file left
    again = run(capsys, params, diff=True)
    assert again["changed"] is False and again["persisted"] is False
    assert_no_key(checked, "b")
    assert_no_key(done, "b")


def test_persist_same_material_other_layout_is_not_rewritten(instances, capsys, tmp_path):
    path = str(tmp_path / "site.pem")
    with open(path, "w") as handle:  # key first, comments, CRLF: the same certificate and key
        handle.write(("# comment\n" + part("b", "key") + "\n" + part("b", "cert")).replace("\n", "\r\n"))
    os.chmod(path, 0o600)
    before = os.stat(path).st_ino
    fake = instances["/lb1.sock"]
    fake.ssl.files[path] = fake.ssl.files[OTHER]
    out = run(capsys, {"socket": "/lb1.sock", "path": path, "certificate": part("b", "cert"),
                       "private_key": part("b", "key"), "persist": True})
    assert out["changed"] is False and out["persisted"] is False
    assert os.stat(path).st_ino == before


def test_persist_fixes_the_mode_only(instances, capsys, tmp_path):
    path = str(tmp_path / "site.pem")
    with open(path, "w") as handle:
        handle.write(fixture("b"))
    os.chmod(path, 0o640)
    fake = instances["/lb1.sock"]
    fake.ssl.files[path] = fake.ssl.files[OTHER]
    out = run(capsys, args(path=path, persist=True))
    assert out["changed"] is True and out["persisted"] is True
    assert out["results"][0]["changed"] is False
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_persist_creates_a_missing_file(instances, capsys, tmp_path):
    path = str(tmp_path / "new.pem")
    fake = instances["/lb1.sock"]
    fake.ssl.files[path] = fake.ssl.files[OTHER]
    out = run(capsys, args(path=path, persist=True), diff=True)
    assert out["persisted"] is True
    assert out["diff"]["before"]["file:%s" % path] is None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_persist_skipped_when_a_target_failed(instances, capsys, tmp_path):
    path = str(tmp_path / "site.pem")
    with open(path, "w") as handle:
        handle.write(fixture("a"))
    for fake in instances.values():
        fake.ssl.files[path] = fake.ssl.files.pop(SITE)
    instances["/lb2.sock"].ssl.commit_failure = "boom "
    out = run(capsys, args(path=path, persist=True, socket=["/lb1.sock", "/lb2.sock"]))
    assert out["failed"] is True
    assert out["persisted"] is False
    with open(path) as handle:
        assert handle.read() == fixture("a")
    assert "(targets already changed: /lb1.sock)" in out["msg"]


def test_persist_write_failure_is_reported(instances, capsys, tmp_path):
    directory = tmp_path / "missing-dir"
    path = str(directory / "site.pem")
    fake = instances["/lb1.sock"]
    fake.ssl.files[path] = fake.ssl.files.pop(SITE)
    out = run(capsys, args(path=path, persist=True))
    assert out["failed"] is True
    assert out["msg"].startswith("every target took the certificate, but writing %s failed" % path)
    assert out["results"][0]["changed"] is True


# -- the private key never reaches an output ------------------------------------


def test_no_output_holds_the_private_key(capsys, tmp_path):
    """Every path of the module, with diff: results, diff, errors, warnings, check mode."""
    outputs = []
    path = str(tmp_path / "site.pem")
    for version in VERSIONS:
        for check_mode in (True, False):
            fake = FAKES.reset(lb1=ssl_lab(version=version))["/lb1.sock"]
            fake.ssl.files[path] = fake.ssl.files[SITE]
            outputs.append(run(capsys, args(path=path, persist=True), check_mode=check_mode, diff=True))
            outputs.append(run(capsys, args(path=path, persist=True), check_mode=check_mode, diff=True))
            outputs.append(run(capsys, {"socket": "/lb1.sock", "path": SITE, "certificate": part("a", "cert"),
                                        "private_key": part("b", "key")}, check_mode=check_mode, diff=True))
            fake.ssl.commit_failure = "boom "
            outputs.append(run(capsys, args("c", path=SITE), check_mode=check_mode, diff=True))
            fake.ssl.commit_failure, fake.ssl.break_on = None, COMMIT
            outputs.append(run(capsys, args("chain", path=SITE), check_mode=check_mode, diff=True))
            fake.ssl.break_on = None
            outputs.append(run(capsys, args("b", path="/nope.pem"), check_mode=check_mode, diff=True))
            outputs.append(run(capsys, args("b", path="bad path"), check_mode=check_mode, diff=True))
            outputs.append(run(capsys, {"socket": "/lb1.sock", "path": SITE, "certificate": part("a", "cert"),
                                        "private_key": part("b", "key")[:-40]}, check_mode=check_mode, diff=True))
    assert any(out.get("failed") for out in outputs) and any(out["changed"] for out in outputs)
    for out in outputs:
        assert_no_key(out, "a", "b", "c", "chain")


def test_scrub_removes_key_lines():
    request = haproxy_ssl_cert.CertRequest({"path": SITE, "pem": fixture("b"), "persist": False})
    line = key_lines("b")[3]
    assert request.scrub("HAProxy said: %s" % line) == "HAProxy said: [private key]"


@pytest.mark.parametrize("version", VERSIONS)
def test_transaction_opened_by_someone_else_after_the_read(capsys, version):
    """Between the module's read and its set, someone opens a transaction on another file."""
    fake = FAKES.reset(lb1=ssl_lab(version=version))["/lb1.sock"]

    def open_other(haproxy):
        if len(haproxy.sessions) == 1:  # just before the write connection
            haproxy.ssl.transaction = (OTHER, haproxy.ssl.files[SITE])

    fake.on_session = open_other
    out = run(capsys, args())
    assert out["failed"] is True
    assert fake.ssl.serving(SITE) == A_FP and fake.ssl.serving(OTHER) == B_FP
    assert COMMIT not in fake.writes
    if version.startswith("2.6"):
        # 2.6 took the payload into the other file's transaction: the module never commits it, and aborts it
        assert ("HAProxy did not take the certificate for '%s' (HAProxy: Transaction updated for certificate %s!); "
                "not committed" % (SITE, OTHER)) in out["msg"]
        assert "sent 'abort ssl cert %s' (HAProxy: Transaction aborted for certificate '%s'!)" % (OTHER, OTHER) in out["msg"]
        assert fake.ssl.transaction is None
    else:
        assert "The ongoing transaction is about '%s' but you are trying to set '%s'" % (OTHER, SITE) in out["msg"]
        # the other file's transaction is not this module's to abort: HAProxy refuses, and says so
        assert ("then '%s' was refused (HAProxy: The ongoing transaction is about '%s' but you are trying to abort a "
                "transaction for '%s')" % (ABORT, OTHER, SITE)) in out["msg"]
        assert fake.ssl.transaction[0] == OTHER
    assert "\n" not in out["msg"]
