# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""PEM blocks and the few facts of an X.509 certificate that HAProxy shows.

No dependency: the module runs on the target host, where the ``cryptography``
package may be missing. A certificate's DER is walked just far enough to find
what ``show ssl cert`` prints (2.6 to 3.2): ``Serial`` (the INTEGER's magnitude
in upper-case hexadecimal, no sign byte), ``SHA1 FingerPrint`` (SHA-1 of the
DER), ``Subject`` (HAProxy's ``ssl_sock_get_dn_oneline``: ``/<short name>=<bytes>``) and ``notAfter``
(``ASN1_TIME_print``: ``Jan  1 10:14:27 2027 GMT``).

Nothing here ever puts the text of a block in a message: a block may be a
private key.
"""

import base64
import binascii
import hashlib
import re

from ansible_collections.lbops.haproxy.plugins.module_utils._errors import InvalidInput

CERTIFICATE = "CERTIFICATE"
KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY")
ENCRYPTED_KEY_LABELS = ("ENCRYPTED PRIVATE KEY",)
PARAMETER_LABELS = ("EC PARAMETERS", "DH PARAMETERS", "X9.42 DH PARAMETERS")
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 .]+)-----\n(.*?)\n?-----END ([A-Z0-9 .]+)-----", re.S)
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\n]*\Z")

# Attribute types of a Name, as OpenSSL's OBJ_nid2sn names them (HAProxy's ssl_sock_get_dn_oneline).
# A type missing here is shown as its dotted OID (OpenSSL may know a name for it).
NAME_TYPES = {
    "2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L",
    "2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "title",
    "2.5.4.13": "description", "2.5.4.15": "businessCategory", "2.5.4.17": "postalCode", "2.5.4.41": "name",
    "2.5.4.42": "GN", "2.5.4.43": "initials", "2.5.4.44": "generationQualifier", "2.5.4.45": "x500UniqueIdentifier",
    "2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym", "2.5.4.72": "role", "2.5.4.97": "organizationIdentifier",
    "1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC", "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
    "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST", "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Block(object):
    """One PEM block: its label and its DER bytes (never shown)."""

    __slots__ = ("label", "der")

    def __init__(self, label, der):
        self.label = label
        self.der = der

    def pem(self):
        text = base64.b64encode(self.der).decode("ascii")
        lines = [text[index:index + 64] for index in range(0, len(text), 64)]
        return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (self.label, "\n".join(lines), self.label)

    def __eq__(self, other):
        return isinstance(other, Block) and (self.label, self.der) == (other.label, other.der)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.label, self.der))

    def __repr__(self):
        return "Block(%r, %d bytes)" % (self.label, len(self.der))


def parse_blocks(text, what):
    """The PEM blocks of ``text`` (``what`` names it in messages).

    Text between blocks (comments, the ``Bag Attributes`` of ``openssl pkcs12``)
    is skipped, as OpenSSL does; a block that begins and never ends is refused.
    """
    if not isinstance(text, str):
        raise InvalidInput("%s must be PEM text" % what)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks, position = [], 0
    for number, match in enumerate(_BLOCK.finditer(text), 1):
        if "-----BEGIN " in text[position:match.start()] or "-----END " in text[position:match.start()]:
            raise InvalidInput("%s has a PEM block that does not end (before block %d)" % (what, number))
        position = match.end()
        label, body, end = match.group(1), match.group(2), match.group(3)
        if label != end:
            raise InvalidInput("%s: block %d begins as %s and ends as %s" % (what, number, label, end))
        if ":" in body:
            raise InvalidInput("%s: block %d (%s) has PEM headers (an encrypted key?): HAProxy cannot take a passphrase"
                               " through the runtime API" % (what, number, label))
        body = "\n".join(line.strip() for line in body.split("\n"))
        if not _BASE64.match(body):
            raise InvalidInput("%s: block %d (%s) is not base64" % (what, number, label))
        try:
            der = base64.b64decode(body.replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("%s: block %d (%s) is not valid base64" % (what, number, label))
        if not der:
            raise InvalidInput("%s: block %d (%s) is empty" % (what, number, label))
        blocks.append(Block(label, der))
    if "-----BEGIN " in text[position:] or "-----END " in text[position:]:
        raise InvalidInput("%s has a PEM block that does not end (after block %d)" % (what, len(blocks)))
    if not blocks:
        raise InvalidInput("%s holds no PEM block" % what)
    return blocks


class Bundle(object):
    """What a module sends as ``set ssl cert``'s payload: certificates, at most one key, parameters."""

    def __init__(self, blocks):
        self.certificates = [block for block in blocks if block.label == CERTIFICATE]
        self.keys = [block for block in blocks if block.label in KEY_LABELS]
        self.parameters = [block for block in blocks if block.label in PARAMETER_LABELS]
        for block in blocks:
            if block.label in ENCRYPTED_KEY_LABELS:
                raise InvalidInput("the private key is encrypted: HAProxy cannot take a passphrase through the runtime API")
            if block not in self.certificates + self.keys + self.parameters:
                raise InvalidInput("unexpected PEM block '%s' (expected CERTIFICATE, a private key, EC or DH PARAMETERS)"
                                   % block.label)
        if not self.certificates:
            raise InvalidInput("no CERTIFICATE block given")
        if len(self.keys) > 1:
            raise InvalidInput("%d private keys given, expected one" % len(self.keys))
        # The leaf certificate first (HAProxy takes the first one as the certificate, the others as its chain).
        self.leaf = certificate_facts(self.certificates[0].der)
        for index, block in enumerate(self.certificates[1:], 2):
            certificate_facts(block.der, "certificate %d" % index)
        for block in self.keys:
            check_der(block.der, "the private key")

    @property
    def has_key(self):
        return bool(self.keys)

    @property
    def blocks(self):
        return self.certificates + self.keys + self.parameters

    def pem(self):
        """The payload and the file's content: the certificates as given, then the key, then parameters."""
        return "".join(block.pem() for block in self.blocks)

    def secret_texts(self):
        """The texts that must never be shown (the key's base64 lines and its whole PEM)."""
        texts = []
        for block in self.keys:
            pem = block.pem()
            texts.append(pem)
            texts.extend(line for line in pem.splitlines() if len(line) >= 16 and not line.startswith("-----"))
        return texts


# -- DER ----------------------------------------------------------------------


class DerError(ValueError):
    pass


def _tlv(data, offset, end):
    """``(tag, content_start, content_end)`` of the element at ``offset`` (bounded by ``end``)."""
    if offset + 2 > end:
        raise DerError("truncated element")
    tag = data[offset]
    if tag & 0x1f == 0x1f:
        raise DerError("high tag numbers are not used in certificates")
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7f
        if count == 0 or count > 4 or offset + count > end:
            raise DerError("bad length")
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    if offset + length > end:
        raise DerError("element longer than its container")
    return tag, offset, offset + length


def _children(data, start, end):
    items = []
    while start < end:
        tag, content, stop = _tlv(data, start, end)
        items.append((tag, content, stop))
        start = stop
    return items


def check_der(der, what):
    """Refuse bytes that are not one DER SEQUENCE (a key, a certificate)."""
    try:
        tag, _content, stop = _tlv(der, 0, len(der))
    except DerError as exc:
        raise InvalidInput("%s is not DER: %s" % (what, exc))
    if tag != 0x30 or stop != len(der):
        raise InvalidInput("%s is not DER: not one SEQUENCE" % what)


def _oid(data):
    if not data:
        raise DerError("empty OID")
    numbers, value = [], 0
    for byte in data:
        value = (value << 7) | (byte & 0x7f)
        if not byte & 0x80:
            numbers.append(value)
            value = 0
    if data[-1] & 0x80:
        raise DerError("truncated OID")
    first = numbers[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(number) for number in head + numbers[1:])


def serial_text(content):
    """An INTEGER's content as ``show ssl cert`` prints the serial: magnitude, upper-case hex, no sign byte."""
    if not content:
        raise DerError("empty serial")
    number = int.from_bytes(content, "big", signed=True)
    magnitude = abs(number)
    size = max(1, (magnitude.bit_length() + 7) // 8)
    return magnitude.to_bytes(size, "big").hex().upper()


def name_text(data, start, end):
    """A Name as HAProxy's ``ssl_sock_get_dn_oneline`` writes it: ``/CN=x/O=y``, each value's bytes unescaped."""
    out = []
    for tag, content, stop in _children(data, start, end):  # RelativeDistinguishedName (SET)
        if tag != 0x31:
            raise DerError("bad name")
        for tag2, content2, stop2 in _children(data, content, stop):  # AttributeTypeAndValue
            parts = _children(data, content2, stop2)
            if tag2 != 0x30 or len(parts) != 2 or parts[0][0] != 0x06:
                raise DerError("bad name attribute")
            oid = _oid(data[parts[0][1]:parts[0][2]])
            # The value's bytes as they are (a UTF8String's UTF-8), decoded as the transport decodes replies.
            text = data[parts[1][1]:parts[1][2]].decode("utf-8", "surrogateescape")
            out.append("/%s=%s" % (NAME_TYPES.get(oid, oid), text))
    return "".join(out)


def time_text(tag, content):
    """A UTCTime or GeneralizedTime as ``ASN1_TIME_print`` writes it: ``Jan  1 10:14:27 2027 GMT``."""
    text = content.decode("ascii", "replace")
    match = re.match(r"^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z\Z", text)
    if not match or (tag == 0x17) != (len(match.group(1)) == 2):
        raise DerError("bad time %r" % text)
    year = int(match.group(1))
    if tag == 0x17:
        year += 2000 if year < 50 else 1900
    month = int(match.group(2))
    if not 1 <= month <= 12:
        raise DerError("bad month")
    return "%s %2d %s:%s:%s%s %d GMT" % (_MONTHS[month - 1], int(match.group(3)), match.group(4), match.group(5),
                                         match.group(6), match.group(7) or "", year)


def certificate_facts(der, what="the certificate"):
    """``{subject, serial, fingerprint, not_after}`` of a certificate's DER, as HAProxy shows them."""
    try:
        tag, content, stop = _tlv(der, 0, len(der))
        if tag != 0x30 or stop != len(der):
            raise DerError("not one SEQUENCE")
        parts = _children(der, content, stop)
        if len(parts) != 3 or parts[0][0] != 0x30:
            raise DerError("not a Certificate (tbsCertificate, signatureAlgorithm, signature)")
        fields = _children(der, parts[0][1], parts[0][2])
        if fields and fields[0][0] == 0xa0:  # [0] EXPLICIT version
            fields = fields[1:]
        if len(fields) < 6 or fields[0][0] != 0x02 or fields[3][0] != 0x30 or fields[4][0] != 0x30 or fields[5][0] != 0x30:
            raise DerError("not a TBSCertificate")
        validity = _children(der, fields[3][1], fields[3][2])
        if len(validity) != 2 or validity[1][0] not in (0x17, 0x18):
            raise DerError("bad validity")
        facts = {
            "subject": name_text(der, fields[4][1], fields[4][2]),
            "serial": serial_text(der[fields[0][1]:fields[0][2]]),
            "fingerprint": hashlib.sha1(der).hexdigest().upper(),  # noqa: S324 - the fingerprint HAProxy shows
            "not_after": time_text(validity[1][0], der[validity[1][1]:validity[1][2]]),
        }
    except (DerError, IndexError) as exc:
        raise InvalidInput("%s is not an X.509 certificate HAProxy could load (%s)" % (what, exc))
    return facts


# -- 'show ssl cert' --------------------------------------------------------


def parse_cert_list(lines):
    """``show ssl cert``: ``{"files": [...], "transaction": [...]}`` (the file of an open transaction, ``*`` taken off)."""
    files, transaction, section = [], [], None
    for line in lines:
        if line.startswith("#"):
            section = "transaction" if "transaction" in line else "files"
            continue
        if not line.strip():
            continue
        if section == "transaction":
            transaction.append(line.strip()[1:] if line.strip().startswith("*") else line.strip())
        else:
            files.append(line.strip())
    return {"files": files, "transaction": transaction}


_DETAIL_FIELDS = {"Filename": "filename", "Status": "status", "Serial": "serial", "notAfter": "not_after",
                  "SHA1 FingerPrint": "fingerprint", "Subject": "subject"}


def parse_cert_detail(lines):
    """``show ssl cert <file>``: the first certificate's fields (2.6 to 3.2 print the same names)."""
    facts = {}
    for line in lines:
        name, sep, value = line.partition(": ")
        if not sep and line.endswith(":"):
            name, value = line[:-1], ""
        key = _DETAIL_FIELDS.get(name)
        if key and key not in facts:  # a chain's certificates follow, with their own fields
            facts[key] = value.strip()
    return facts
