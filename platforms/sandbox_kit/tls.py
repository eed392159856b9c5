"""A self-signed certificate for localhost, made once per process, for the gRPC emulators.

gRPC reads ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` once per process, so every emulator in a
process shares one certificate, and the variable is set before the first channel is made.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOTS_ENV = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"


@dataclass(frozen=True)
class Certificate:
    """PEM material and the file clients trust."""

    cert_pem: bytes
    key_pem: bytes
    cert_path: Path


_lock = threading.Lock()
_shared: Certificate | None = None


def shared_certificate(set_env: bool = True) -> Certificate:
    """The process-wide localhost certificate; sets ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = _make_certificate()
        if set_env and os.environ.get(ROOTS_ENV) != str(_shared.cert_path):
            os.environ[ROOTS_ENV] = str(_shared.cert_path)
        return _shared


def _make_certificate() -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "closedloop sandbox")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    folder = Path(tempfile.mkdtemp(prefix="closedloop-sandbox-tls-"))
    path = folder / "sandbox-ca.pem"
    path.write_bytes(cert_pem)
    return Certificate(cert_pem=cert_pem, key_pem=key_pem, cert_path=path)
