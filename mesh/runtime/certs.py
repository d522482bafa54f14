"""A development CA with server and per-service client certificates (``liftos certs``).

``make_dev_certs(out)`` writes, keys 0600 in a 0700 directory:

- ``ca.pem`` / ``ca.key``: the CA (``LIFTOS_TLS_CA`` for clients, ``LIFTOS_TLS_CLIENT_CA``
  for servers that require client certificates);
- ``server.pem`` / ``server.key``: one server certificate for every service, valid for
  localhost, 127.0.0.1, ::1 and the extra host names given (``LIFTOS_TLS_CERT/KEY``);
- ``<service>.pem`` / ``<service>.key`` for each service, CN ``liftos-<service>``: what that
  service presents to its peers (``LIFTOS_TLS_CLIENT_CERT/KEY``), and with
  ``LIFTOS_TLS_CERT_PRINCIPALS=1`` the principal it stands for;
- ``client.pem`` / ``client.key``, CN ``liftos-client``: for the CLI, the SDK and grpcurl
  (it stands for no principal: users still send their API key).

For development and tests: a production deployment gets its certificates from its own PKI.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mesh.runtime.auth import CERT_CN_PREFIX
from mesh.runtime.config import SERVICES

VALID_DAYS = 365
CLIENT_NAME = "client"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LiftOS dev"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)


def _save(out: Path, stem: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    _write(out / f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM), 0o644)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(out / f"{stem}.key", pem, 0o600)


def _issue(
    subject: str,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    server_names: Sequence[str] = (),
    client: bool = False,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server_names:
        alt: list[x509.GeneralName] = []
        for name in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return key, builder.sign(issuer_key, hashes.SHA256())


def make_dev_certs(out: Path, hosts: Sequence[str] = ()) -> list[Path]:
    """Write the CA, the server certificate and the client certificates; returns the files."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("LiftOS dev CA")
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _save(out, "ca", ca_key, ca)
    names = list(dict.fromkeys(["localhost", "127.0.0.1", "::1", *hosts]))
    _save(out, "server", *_issue(names[0], ca_name, ca_key, server_names=names))
    for who in (*SERVICES, CLIENT_NAME):
        _save(out, who, *_issue(f"{CERT_CN_PREFIX}{who}", ca_name, ca_key, client=True))
    return sorted(out.iterdir())
