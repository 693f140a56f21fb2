"""Test-only TLS certificates for the scenario `ha_pair` (self-signed, 2 days, RSA 2048).

Used by converge.yml (the pair's first certificate: python3 tls_cert.py OUT.pem) and by
test_ha_pair.py (the certificate it rotates to). Needs the `cryptography` package,
which ansible-core depends on (the Molecule virtual environment has it).
"""

import datetime
import hashlib
import os
import ssl
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

COMMON_NAME = "lab.test"


def make_pem(common_name=COMMON_NAME):
    """PEM text of a new self-signed certificate followed by its private key, and its serial (hex)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return pem.decode("ascii"), format(cert.serial_number, "X")


def fingerprint_of_pem(pem):
    """SHA-256 fingerprint (hex) of the first certificate of a PEM text."""
    start = pem.index("-----BEGIN CERTIFICATE-----")
    end = pem.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem[start:end])).hexdigest()


def write_pem(path, pem):
    """Write a PEM (it holds a private key) readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(pem)


if __name__ == "__main__":
    write_pem(sys.argv[1], make_pem()[0])
