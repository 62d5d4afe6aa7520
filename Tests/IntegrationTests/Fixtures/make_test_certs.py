#!/usr/bin/env python3
"""Writes the TLS fixtures the integration tests need into the folder given as argument:

  ca.pem                 a test CA (trusted by the engine through --ca-file)
  valid.pem/.key         server certificate for 127.0.0.1, ::1, localhost and *.bench.test, signed by the CA
  expired.pem/.key       the same names, signed by the CA, expired yesterday
  selfsigned.pem/.key    self-signed, not trusted by anyone
  soon.pem/.key          the same names, signed by the CA, expiring in 3 days
  wrongname.pem/.key     signed by the CA, valid, but only for wrong.example (no loopback names)

Made fresh for every test run (nothing secret is committed), with Debian's python3-cryptography.
"""
import datetime
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def write(name, cert, private_key=None):
    (out / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if private_key is not None:
        (out / f"{name}.key").write_bytes(
            private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
        )


def name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


san = x509.SubjectAlternativeName(
    [
        x509.DNSName("localhost"),
        x509.DNSName("*.bench.test"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
)

ca_key = key()
ca = (
    x509.CertificateBuilder()
    .subject_name(name("Lookout Test CA"))
    .issuer_name(name("Lookout Test CA"))
    .public_key(ca_key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=30))
    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    .sign(ca_key, hashes.SHA256())
)
write("ca", ca)


def server(file_name, not_before, not_after, issuer_key, issuer_name, names=san):
    server_key = key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("lookout-test-server"))
        .issuer_name(issuer_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(names, critical=False)
        .sign(issuer_key or server_key, hashes.SHA256())
    )
    write(file_name, cert, server_key)


server("valid", now - datetime.timedelta(days=1), now + datetime.timedelta(days=20), ca_key, ca.subject)
server("expired", now - datetime.timedelta(days=10), now - datetime.timedelta(days=1), ca_key, ca.subject)
server("selfsigned", now - datetime.timedelta(days=1), now + datetime.timedelta(days=20), None, name("lookout-test-server"))
server("soon", now - datetime.timedelta(days=1), now + datetime.timedelta(days=3), ca_key, ca.subject)
server(
    "wrongname",
    now - datetime.timedelta(days=1),
    now + datetime.timedelta(days=20),
    ca_key,
    ca.subject,
    x509.SubjectAlternativeName([x509.DNSName("wrong.example")]),
)
