# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The certificate commands as HAProxy 2.6, 3.0 and 3.2 answered them, through the real transport and client.

fixtures/ssl/replies/<version>.json was captured from live instances by fixtures/ssl/capture.py: for
each scenario, the bytes sent (the commands one per line, each payload after its command, ended by an
empty line) and the bytes HAProxy answered. Each test replays a scenario on a Unix socket, checks that
the transport sends exactly the captured bytes, and asserts what the client makes of the answers: the
``+ `` prompts 2.6 and 3.0 print for each payload line are gone, and what ``show ssl cert`` shows of a
certificate equals what the module computes from its PEM (serial, fingerprint, subject, notAfter).
"""

import json
import os
import socket
import threading

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _pem as pem
from ansible_collections.lbops.haproxy.plugins.module_utils._client import RuntimeClient, interpret
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback, Payload, Session, Target

SSL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ssl")
VERSIONS = ("2.6", "3.0", "3.2")


def capture(version):
    with open(os.path.join(SSL, "replies", version + ".json")) as handle:
        return json.load(handle)


def bundle(name):
    with open(os.path.join(SSL, name + ".pem")) as handle:
        return pem.Bundle(pem.parse_blocks(handle.read(), name))


def payload_text(spec):
    """The payload a scenario sent, rebuilt as capture.py built it."""
    if spec == "garbage":
        return "garbage\n"
    if "+" not in spec:
        return bundle(spec).pem()
    cert, key = (item.split(".")[0] for item in spec.split("+"))
    return bundle(cert).certificates[0].pem() + bundle(key).keys[0].pem()


class Replay(object):
    def __init__(self, path, reply):
        self.reply = reply.encode("utf-8")
        self.received = b""
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.thread = threading.Thread(target=self.serve)
        self.thread.daemon = True
        self.thread.start()

    def serve(self):
        conn, _dummy = self.server.accept()
        conn.settimeout(5)
        try:
            while not self.received.endswith(b"quit\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                self.received += chunk
            conn.sendall(self.reply)
        finally:
            conn.close()
            self.server.close()


def replay(tmp_path, version, scenario):
    """(replies of the real Session, bytes it sent, the scenario)."""
    data = capture(version)["scenarios"][scenario]
    path = str(tmp_path / "s.sock")
    server = Replay(path, data["reply"])
    commands = [Payload(command, payload_text(data["payloads"][command])) if command in data["payloads"] else command
                for command in data["commands"]]
    replies = []
    for reply in Session(Target(path), 5.0).run(commands):
        replies.append(reply if isinstance(reply, Feedback) else list(reply))
    server.thread.join(5)
    return replies, server.received, data


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario", ("read", "rotate", "mismatch", "garbage", "subject", "chain", "restore"))
def test_transport_sends_what_was_captured(tmp_path, version, scenario):
    replies, sent, data = replay(tmp_path, version, scenario)
    assert sent.decode("utf-8") == data["sent"]
    assert len(replies) == len(data["commands"])
    for reply in replies:  # no '+ ' prompt of a payload is left at the start of a reply
        first = reply.text if isinstance(reply, Feedback) else (reply[0] if reply else "")
        assert not first.startswith("+ ")


@pytest.mark.parametrize("version", VERSIONS)
def test_reads(tmp_path, version):
    replies, _sent, data = replay(tmp_path, version, "read")
    path = capture(version)["path"]
    assert pem.parse_cert_list(replies[0]) == {"files": [path], "transaction": []}
    shown = pem.parse_cert_detail(replies[1])
    assert shown["filename"] == path
    assert shown["status"] == "Used"
    assert dict((key, shown[key]) for key in ("subject", "serial", "fingerprint", "not_after")) == bundle("a").leaf
    # a file HAProxy does not serve
    assert isinstance(replies[2], Feedback) and replies[2].severity == 3
    assert replies[2].text == "Can't display the certificate: Not found or the certificate is a bundle!"


@pytest.mark.parametrize("version", VERSIONS)
def test_rotate(tmp_path, version):
    replies, _sent, data = replay(tmp_path, version, "rotate")
    path = capture(version)["path"]
    commands = data["commands"]
    created = interpret(commands[0], replies[0])
    assert created.ok and created.text == "Transaction created for certificate %s!" % path
    assert pem.parse_cert_list(replies[1]) == {"files": [path], "transaction": [path]}
    pending = pem.parse_cert_detail(replies[2])
    # a transaction's status: 2.6 and 3.0 say Unused, 3.2 Uncommitted
    assert pending["status"] == ("Uncommitted" if version == "3.2" else "Unused")
    assert pending["filename"] == "*" + path
    assert pending["fingerprint"] == bundle("b").leaf["fingerprint"]
    committed = interpret(commands[3], replies[3])
    assert committed.ok and committed.severity is None  # a data reply, no severity
    assert committed.text == "Committing %s.\nSuccess!" % path
    after = pem.parse_cert_detail(replies[4])
    assert dict((key, after[key]) for key in ("subject", "serial", "fingerprint", "not_after")) == bundle("b").leaf
    nothing = interpret(commands[5], replies[5])
    assert not nothing.ok and nothing.text == "No ongoing transaction!"


@pytest.mark.parametrize("version", VERSIONS)
def test_mismatched_key_is_refused_at_the_commit(tmp_path, version):
    replies, _sent, data = replay(tmp_path, version, "mismatch")
    path = capture(version)["path"]
    assert interpret(data["commands"][0], replies[0]).ok  # the set takes it
    refused = interpret(data["commands"][1], replies[1])
    assert not refused.ok
    assert refused.text == "inconsistencies between private key and certificate loaded '%s'.\nCan't commit %s!" % (path, path)
    assert str(refused.error) == ("HAProxy refused 'commit ssl cert %s': inconsistencies between private key and certificate "
                                  "loaded '%s'. Can't commit %s!" % (path, path, path))
    aborted = interpret(data["commands"][2], replies[2])
    assert aborted.ok and aborted.text == "Transaction aborted for certificate '%s'!" % path
    # b (committed by the rotate scenario) is still served
    assert pem.parse_cert_detail(replies[3])["fingerprint"] == bundle("b").leaf["fingerprint"]


@pytest.mark.parametrize("version", VERSIONS)
def test_garbage_payload(tmp_path, version):
    replies, _sent, data = replay(tmp_path, version, "garbage")
    path = capture(version)["path"]
    refused = interpret(data["commands"][0], replies[0])
    assert not refused.ok
    # 2.6 does not say why OpenSSL refused it; 3.0 and 3.2 add OpenSSL's reason
    reason = "" if version == "2.6" else ": no start line"
    assert refused.text == ("unable to load certificate from file '%s'%s.\nCan't load the payload\nCan't update %s!"
                            % (path, reason, path))
    assert pem.parse_cert_list(replies[1])["transaction"] == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario, name", [("subject", "c"), ("chain", "chain")])
def test_facts_computed_from_the_pem_are_haproxys(tmp_path, version, scenario, name):
    """UTF-8 subject, a serial with its sign byte, a chain: the module's DER walk gives what HAProxy shows."""
    replies, _sent, _data = replay(tmp_path, version, scenario)
    shown = pem.parse_cert_detail(replies[1])
    assert dict((key, shown[key]) for key in ("subject", "serial", "fingerprint", "not_after")) == bundle(name).leaf


def test_client_write_with_a_payload(tmp_path):
    """RuntimeClient.write sends the payload and reports the command alone."""
    replies, _sent, data = replay(tmp_path, "2.6", "restore")
    assert replies[0].text.startswith("Transaction created")
    path = str(tmp_path / "t.sock")
    server = Replay(path, data["reply"])
    client = RuntimeClient(path)
    outcomes = client.write([Payload(data["commands"][0], bundle("a").pem())] + data["commands"][1:])
    server.thread.join(5)
    assert server.received.decode() == data["sent"]
    assert [outcome.command for outcome in outcomes] == data["commands"]
    assert all(outcome.command.__class__ is str for outcome in outcomes)  # the plain command line, no payload
    assert all(outcome.ok for outcome in outcomes)
    assert outcomes[1].text.endswith("Success!")
    assert "PRIVATE KEY" not in repr(outcomes)
