# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""PEM blocks, the DER walk of a certificate, and the payload framing of the transport."""

import base64
import hashlib

import pytest

from ansible_collections.lbops.haproxy.plugins.module_utils import _pem as pem
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import (
    MAX_PAYLOAD_BYTES,
    Payload,
    _strip_payload_prompts,
    encode_commands,
    payload_lines,
)
from ansible_collections.lbops.haproxy.tests.unit.plugins.module_utils.fake_ssl import fixture, part

# -- DER, built by hand -------------------------------------------------------------


def tlv(tag, content):
    length = len(content)
    if length < 0x80:
        head = bytes([length])
    else:
        size = (length.bit_length() + 7) // 8
        head = bytes([0x80 | size]) + length.to_bytes(size, "big")
    return bytes([tag]) + head + content


def name(*pairs):
    oids = {"CN": b"\x55\x04\x03", "O": b"\x55\x04\x0a", "DC": b"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19",
            "odd": b"\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x09"}
    rdns = b"".join(tlv(0x31, tlv(0x30, tlv(0x06, oids[kind]) + tlv(tag, value))) for kind, tag, value in pairs)
    return tlv(0x30, rdns)


def certificate(serial=b"\x05", not_after=(0x17, b"491231235959Z"), subject=None, version=True):
    tbs = (tlv(0xa0, tlv(0x02, b"\x02")) if version else b"") + tlv(0x02, serial) + tlv(0x30, tlv(0x06, b"\x2a\x86\x48"))
    tbs += name(("CN", 0x0c, b"issuer")) + tlv(0x30, tlv(0x17, b"200101000000Z") + tlv(not_after[0], not_after[1]))
    tbs += subject if subject is not None else name(("CN", 0x0c, b"x"))
    tbs += tlv(0x30, tlv(0x30, b"") + tlv(0x03, b"\x00"))
    return tlv(0x30, tlv(0x30, tbs) + tlv(0x30, tlv(0x06, b"\x2a\x86\x48")) + tlv(0x03, b"\x00\x01"))


@pytest.mark.parametrize("content, shown", [
    (b"\x05", "05"),
    (b"\x00", "00"),
    (b"\x00\x80\x00\x01", "800001"),       # the sign byte DER adds is not shown
    (b"\x00\xff\x00\xff\x00\xff\x00\xff", "FF00FF00FF00FF"),  # fixture b's, as HAProxy showed it
    (b"\x7f" + b"\x10" * 19, "7F" + "10" * 19),  # 20 bytes, the longest RFC 5280 allows
    (b"\xff", "01"),                        # a negative serial (non-conforming): its magnitude
])
def test_serial(content, shown):
    assert pem.certificate_facts(certificate(serial=content))["serial"] == shown


@pytest.mark.parametrize("when, shown", [
    ((0x17, b"491231235959Z"), "Dec 31 23:59:59 2049 GMT"),
    ((0x17, b"500101000000Z"), "Jan  1 00:00:00 1950 GMT"),
    ((0x18, b"21261108102021Z"), "Nov  8 10:20:21 2126 GMT"),
    ((0x18, b"20300615120000.5Z"), "Jun 15 12:00:00.5 2030 GMT"),
])
def test_not_after(when, shown):
    assert pem.certificate_facts(certificate(not_after=when))["not_after"] == shown


def test_subject_and_fingerprint():
    subject = name(("DC", 0x16, b"org"), ("O", 0x13, b"Test, Inc./x=y"), ("CN", 0x0c, "café".encode()),
                   ("odd", 0x0c, b"v"))
    der = certificate(subject=subject, version=False)
    facts = pem.certificate_facts(der)
    assert facts["subject"] == "/DC=org/O=Test, Inc./x=y/CN=café/1.3.6.1.4.1.311.60.2.1.9=v"
    assert facts["fingerprint"] == hashlib.sha1(der).hexdigest().upper()  # noqa: S324


@pytest.mark.parametrize("der, why", [
    (b"", "truncated element"),
    (b"\x30\x05\x00", "element longer than its container"),
    (b"\x30\x85\x00\x00\x00\x00\x01", "bad length"),
    (tlv(0x30, tlv(0x02, b"\x01")), "not a Certificate"),
    (tlv(0x30, tlv(0x30, tlv(0x02, b"\x01")) + tlv(0x30, b"") + tlv(0x03, b"")), "not a TBSCertificate"),
    (certificate(not_after=(0x17, b"20300615120000Z")), "bad time"),
    (certificate(not_after=(0x18, b"491331235959Z")), "bad time"),
    (certificate(not_after=(0x17, b"491331235959Z")), "bad month"),
    (certificate() + b"\x00", "not one SEQUENCE"),
])
def test_not_a_certificate(der, why):
    with pytest.raises(InvalidInput) as caught:
        pem.certificate_facts(der)
    assert why in str(caught.value)


def test_fixtures_as_openssl_computed_them():
    """What openssl x509 printed for the test certificates (serial, SHA-1 fingerprint, notAfter)."""
    facts = pem.Bundle(pem.parse_blocks(fixture("a"), "a")).leaf
    assert facts == {"subject": "/CN=test-a.lbops.invalid", "serial": "1A2B3C4D5E6F7081",
                     "fingerprint": "E8DD8200830C1F190BDF511D9456E293FC1EDBCE", "not_after": "Nov  8 10:20:21 2126 GMT"}
    assert pem.Bundle(pem.parse_blocks(fixture("b"), "b")).leaf["serial"] == "FF00FF00FF00FF"


# -- PEM text ---------------------------------------------------------------------


def test_blocks_skip_text_between_them_and_crlf():
    text = "Bag Attributes\r\n    localKeyID: 01\r\n" + part("a", "cert").replace("\n", "\r\n") + "\r\nsubject=x\r\n" + part("a", "key")
    blocks = pem.parse_blocks(text, "pem")
    assert [block.label for block in blocks] == ["CERTIFICATE", "PRIVATE KEY"]
    assert blocks == pem.parse_blocks(fixture("a"), "pem")


def test_canonical_pem_round_trips():
    bundle = pem.Bundle(pem.parse_blocks(part("chain", "key") + part("chain", "cert"), "pem"))
    text = bundle.pem()
    assert text == part("chain", "cert") + part("chain", "key")  # certificates first, in their order, then the key
    assert all(len(line) <= 64 for line in text.splitlines())
    assert pem.parse_blocks(text, "pem") == bundle.blocks


@pytest.mark.parametrize("text, message", [
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n", "block 1 begins as CERTIFICATE and ends as PRIVATE KEY"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n", "has a PEM block that does not end (after block 0)"),
    ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", "has PEM headers"),
    ("-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n", "is not valid base64"),
    ("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n", "is empty"),
    (part("a", "cert") + "-----END CERTIFICATE-----\n", "has a PEM block that does not end (after block 1)"),
    (42, "must be PEM text"),
])
def test_bad_blocks(text, message):
    with pytest.raises(InvalidInput) as caught:
        pem.parse_blocks(text, "pem")
    assert message in str(caught.value)


def test_bundle_checks_the_key_is_der_and_never_shows_it():
    broken = "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % base64.b64encode(b"\x04\x03abc").decode()
    with pytest.raises(InvalidInput) as caught:
        pem.Bundle(pem.parse_blocks(part("a", "cert") + broken, "pem"))
    assert str(caught.value) == "the private key is not DER: not one SEQUENCE"
    bundle = pem.Bundle(pem.parse_blocks(fixture("a"), "pem"))
    assert base64.b64encode(bundle.keys[0].der).decode()[:30] not in repr(bundle.keys)


def test_parameters_are_kept_after_the_key():
    params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    bundle = pem.Bundle(pem.parse_blocks(params + fixture("c"), "pem"))
    assert [block.label for block in bundle.blocks] == ["CERTIFICATE", "PRIVATE KEY", "EC PARAMETERS"]


def test_show_ssl_cert_list():
    lines = ["# transaction", "*/etc/a.pem", "# filename", "/etc/a.pem", "@store/b", ""]
    assert pem.parse_cert_list(lines) == {"files": ["/etc/a.pem", "@store/b"], "transaction": ["/etc/a.pem"]}
    assert pem.parse_cert_list(["# filename"]) == {"files": [], "transaction": []}


def test_show_ssl_cert_detail_keeps_the_leaf():
    lines = ["Filename: /a.pem", "Status: Used", "Serial: 05", "notAfter: Jan  1 00:00:00 2030 GMT",
             "Subject Alternative Name: ", "SHA1 FingerPrint: AB", "Subject: /CN=a", "Issuer: /CN=ca",
             "Chain Subject: /CN=ca", "Subject: /CN=not the leaf"]
    assert pem.parse_cert_detail(lines) == {"filename": "/a.pem", "status": "Used", "serial": "05",
                                            "not_after": "Jan  1 00:00:00 2030 GMT", "fingerprint": "AB",
                                            "subject": "/CN=a"}


# -- payloads in the transport -------------------------------------------------------


def test_encode_a_payload():
    data = encode_commands([Payload("set ssl cert /a.pem <<", "L1\nL2\n"), "commit ssl cert /a.pem"])
    assert data == (b"prompt\nset severity-output number\nset ssl cert /a.pem <<\nL1\nL2\n\n"
                    b"commit ssl cert /a.pem\nquit\n")


@pytest.mark.parametrize("command, text, message", [
    ("set ssl cert /a <<", None, "announces a payload but has none"),
    ("set ssl cert /a", "x", "must end with '<<'"),
    ("set ssl cert /a <<", "L1\n\nL2", "contains an empty line"),
    ("set ssl cert /a <<", "\n", "is empty"),
    ("set ssl cert /a <<", "L1\r\nL2", "carriage return"),
    ("set ssl cert /a <<", "L\x00", "NUL"),
    ("set ssl cert /a <<", "x" * MAX_PAYLOAD_BYTES, "more than HAProxy reads in one command"),
])
def test_payload_refusals_never_quote_the_payload(command, text, message):
    with pytest.raises(InvalidInput) as caught:
        encode_commands([command if text is None else Payload(command, text)])
    assert message in str(caught.value)
    assert str(caught.value).endswith("nothing was sent")
    if text and text.strip():
        assert text.strip() not in str(caught.value)


def test_repeated_payload_commands_each_send_their_own_payload():
    """The same command line twice in a batch, each with its own payload (the chunks of a big map)."""
    first, second = Payload("add map @5 #0 <<", "a 1\nb 2\n"), Payload("add map @5 #0 <<", "c 3\n")
    data = encode_commands([first, second, "commit map @5 #0"])
    assert data == (b"prompt\nset severity-output number\nadd map @5 #0 <<\na 1\nb 2\n\n"
                    b"add map @5 #0 <<\nc 3\n\ncommit map @5 #0\nquit\n")
    assert first == second == "add map @5 #0 <<"  # equal as command lines, each with its text
    assert (first.text, second.text) == ("a 1\nb 2\n", "c 3\n")
    assert "a 1" not in repr(first) and str(first) == "add map @5 #0 <<" and str(first).__class__ is str


def test_payload_prompts():
    assert payload_lines("L1\nL2\n") == 3
    assert _strip_payload_prompts("+ + + [5]: Transaction created", 3) == "[5]: Transaction created"
    assert _strip_payload_prompts("[5]: Transaction created", 3) == "[5]: Transaction created"  # 3.2
    assert _strip_payload_prompts("+ + + + x", 3) == "+ x"  # never more than its payload drew
