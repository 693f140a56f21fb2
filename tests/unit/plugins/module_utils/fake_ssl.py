# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The certificate commands of the fake HAProxy (an extension of fake_haproxy.FakeHAProxy).

``show ssl cert [<file>|*<file>]``, ``set ssl cert <file> <<`` (its payload: the
command's ``.text``, a ``Payload``), ``commit ssl cert <file>`` and ``abort ssl cert <file>``,
answered as HAProxy 2.6, 3.0 and 3.2 answer them (captured in
fixtures/ssl/replies/<version>.json): one transaction for the whole process, a
key that does not match its certificate refused at the commit, not at the set; 2.6's
set on a file while another file's transaction is open, which puts the payload into that transaction;
3.2's extra ``Crt filename``/``Key filename``... lines and its ``Uncommitted``
status of a transaction (2.6 and 3.0: ``Unused``).

What it shows of a certificate (serial, subject, end of validity) comes from
the table below, copied from what HAProxy showed for the test certificates of
fixtures/ssl, and not from the module's own DER walk; the fingerprint is the
SHA-1 of the DER, computed here.
"""

import base64
import hashlib
import os
import re

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import ConnectError
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import Feedback, payload_of
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_haproxy import FakeHAProxy

SSL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ssl")
SITE = "/etc/haproxy/certs/site.pem"
OTHER = "/etc/haproxy/certs/other.pem"
# What HAProxy 2.6, 3.0 and 3.2 showed for the test certificates (fixtures/ssl/replies), by fingerprint.
SHOWN = {
    "E8DD8200830C1F190BDF511D9456E293FC1EDBCE": ("1A2B3C4D5E6F7081", "/CN=test-a.lbops.invalid", "Nov  8 10:20:21 2126 GMT"),
    "F6553612FAC667FF723E9477F67B9DF1A3BB9D63": ("FF00FF00FF00FF", "/CN=test-b.lbops.invalid/O=lbops tests",
                                                 "Nov  8 10:20:21 2126 GMT"),
    "965EFB95FE7586A66D3F5735C7BC3D72E82C5E4C": (
        "80000000000000000001",
        "/C=FR/ST=\u00cele-de-France/L=Paris/O=Test, Inc./OU=x=y/CN=caf\u00e9.lbops.invalid/emailAddress=ops@lbops.invalid",
        "Nov  8 10:20:21 2126 GMT"),
    "763F15508573EC70042095BD8D613F5CEF28E99B": ("05", "/CN=chain.lbops.invalid", "Nov  8 10:20:22 2126 GMT"),
}
_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----\n(.*?)\n-----END \1-----", re.S)


def fixture(name):
    """The text of fixtures/ssl/<name>.pem (test-only certificates and keys)."""
    with open(os.path.join(SSL_DIR, name + ".pem")) as handle:
        return handle.read()


def blocks(text):
    return [(label, base64.b64decode(body.replace("\n", ""))) for label, body in _BLOCK.findall(text.replace("\r\n", "\n"))]


def part(name, which):
    """The certificate(s) (``which="cert"``) or the key (``"key"``) of a fixture, as PEM text."""
    text = fixture(name)
    out = []
    for match in _BLOCK.finditer(text):
        if (match.group(1) == "CERTIFICATE") == (which == "cert"):
            out.append(match.group(0) + "\n")
    return "".join(out)


def fingerprint(der):
    return hashlib.sha1(der).hexdigest().upper()  # noqa: S324


# The key of each test certificate (by fingerprint): a commit with another key is refused.
KEY_OF = {}
for _name in ("a", "b", "c", "chain"):
    _found = blocks(fixture(_name))
    KEY_OF[fingerprint(_found[0][1])] = [der for label, der in _found if label.endswith("PRIVATE KEY")][0]


class Ckch(object):
    """A certificate, its chain and its key, as HAProxy holds them for one file."""

    def __init__(self, cert, key, chain=()):
        self.cert, self.key, self.chain = cert, key, list(chain)

    @classmethod
    def from_pem(cls, text, old=None):
        found = blocks(text)
        certs = [der for label, der in found if label == "CERTIFICATE"]
        keys = [der for label, der in found if label.endswith("PRIVATE KEY")]
        if not certs:
            return None
        return cls(certs[0], keys[0] if keys else (old.key if old else None), certs[1:])

    @property
    def fingerprint(self):
        return fingerprint(self.cert)


class SslStore(object):
    """The certificate files of one process and its one transaction."""

    def __init__(self, haproxy):
        self.haproxy = haproxy
        self.files = {}
        self.transaction = None      # (path, Ckch)
        self.commit_failure = None   # text of a commit that fails in the middle ("Failed!")
        self.break_on = None         # a command whose answer never comes (the connection breaks)
        self.received = []           # (command, payload) of every set

    def serve(self, path, name):
        self.files[path] = Ckch.from_pem(fixture(name))

    def serving(self, path):
        return self.files[path].fingerprint

    def detail(self, path, ckch, status):
        serial, subject, not_after = SHOWN[ckch.fingerprint]
        lines = ["Filename: %s" % path]
        if self.haproxy.major_minor >= (3, 2):
            bare = path.lstrip("*")
            lines += ["Crt filename: %s" % bare, "Key filename: %s" % bare, "OCSP filename: %s.ocsp" % bare,
                      "SCTL filename: %s.sctl" % bare]
        lines += ["Status: %s" % status, "Serial: %s" % serial, "notBefore: Dec  2 10:20:21 2026 GMT",
                  "notAfter: %s" % not_after, "Subject Alternative Name: ", "Algorithm: RSA2048",
                  "SHA1 FingerPrint: %s" % ckch.fingerprint, "Subject: %s" % subject, "Issuer: %s" % subject]
        for der in ckch.chain:
            lines += ["Chain Subject: %s" % SHOWN.get(fingerprint(der), ("", "/CN=?", ""))[1], "Chain Issuer: /CN=?"]
        lines.append("OCSP Response Key: ")
        return iter(lines)

    def answer(self, haproxy, command, words):
        if words[1:3] != ["ssl", "cert"]:
            return None
        if self.break_on == command:
            raise ConnectError("connection lost while reading the answer to %s: Connection reset by peer" % command)
        verb = words[0]
        if verb == "show":
            return self.show(words[3:])
        refusal = haproxy.write_attempt(command)
        if refusal is not None:
            return refusal
        path = words[3] if len(words) > 3 else ""
        if verb == "set":
            return self.set(command, path)
        if verb == "commit":
            return self.commit(path)
        if verb == "abort":
            if self.transaction is None:
                return Feedback(3, "No ongoing transaction!")
            if self.transaction[0] != path:
                return Feedback(3, "The ongoing transaction is about '%s' but you are trying to abort a transaction for '%s'"
                                % (self.transaction[0], path))
            self.transaction = None
            return Feedback(5, "Transaction aborted for certificate '%s'!" % path)
        return None

    def show(self, rest):
        if not rest:
            lines = []
            if self.transaction is not None:
                lines += ["# transaction", "*%s" % self.transaction[0]]
            return iter(lines + ["# filename"] + sorted(self.files))
        path = rest[0]
        if path.startswith("*"):
            if self.transaction is None or self.transaction[0] != path[1:]:
                return Feedback(3, "Can't display the certificate: Not found or the certificate is a bundle!")
            status = "Uncommitted" if self.haproxy.major_minor >= (3, 2) else "Unused"
            return self.detail(path, self.transaction[1], status)
        if path not in self.files:
            return Feedback(3, "Can't display the certificate: Not found or the certificate is a bundle!")
        return self.detail(path, self.files[path], "Used")

    def set(self, command, path):
        payload = payload_of(command)
        self.received.append((str(command), payload))
        if self.transaction is not None and self.transaction[0] != path and self.haproxy.major_minor < (3, 0):
            # 2.6: the payload goes into the open transaction of the other file
            other = self.transaction[0]
            self.transaction = (other, Ckch.from_pem(payload or "", self.files[other]))
            return Feedback(5, "Transaction updated for certificate %s!" % other)
        if self.transaction is not None and self.transaction[0] != path:
            return Feedback(3, "The ongoing transaction is about '%s' but you are trying to set '%s'\nCan't update %s!"
                            % (self.transaction[0], path, path))
        if path not in self.files:
            return Feedback(3, "Can't replace a certificate which is not referenced by the configuration!\nCan't update %s!" % path)
        ckch = Ckch.from_pem(payload or "", self.files[path])
        if ckch is None:
            return Feedback(3, "unable to load certificate from file '%s': no start line.\nCan't load the payload\nCan't update %s!"
                            % (path, path))
        word = "updated" if self.transaction is not None else "created"
        self.transaction = (path, ckch)
        return Feedback(5, "Transaction %s for certificate %s!" % (word, path))

    def commit(self, path):
        if self.transaction is None:
            return Feedback(3, "No ongoing transaction!")
        if self.transaction[0] != path:
            return Feedback(3, "The ongoing transaction is about '%s' but you are trying to set '%s'\nCan't commit %s!"
                            % (self.transaction[0], path, path))
        ckch = self.transaction[1]
        if KEY_OF.get(ckch.fingerprint) != ckch.key:
            return Feedback(3, "inconsistencies between private key and certificate loaded '%s'.\nCan't commit %s!" % (path, path))
        if self.commit_failure is not None:
            return iter(["Committing %s" % path, "%sFailed!" % self.commit_failure])
        self.files[path] = ckch
        self.transaction = None
        return iter(["Committing %s." % path, "Success!"])


def ssl_lab(level="admin", version="2.6.12-1+deb12u3", serving="a"):
    """A fake HAProxy that serves fixture ``serving`` from SITE and b from OTHER; its store is ``haproxy.ssl``."""
    haproxy = FakeHAProxy(level, version)
    haproxy.ssl = SslStore(haproxy)
    haproxy.ssl.serve(SITE, serving)
    haproxy.ssl.serve(OTHER, "b")
    haproxy.extensions.append(haproxy.ssl.answer)
    return haproxy
