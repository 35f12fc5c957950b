"""Throwaway TLS material for the embedded servers.

No Java class: Java's ``TlsHelper`` loads certificates it is given; tests
and demos need one made on the spot.  :func:`self_signed_tls` makes a
self-signed certificate for one host with the ``cryptography`` package when
it is installed, else with the ``openssl`` command, and returns matching
server and client contexts.  When neither tool can make one it raises
:class:`~codec.errors.ConfigError` (TLS was asked for and cannot be had).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import ssl as _ssl
import subprocess
import tempfile

from ..codec.errors import ConfigError

__all__ = ["self_signed_tls"]


def self_signed_tls(host: str = "127.0.0.1") -> tuple[_ssl.SSLContext, _ssl.SSLContext]:
    """(server context, client context) for a throwaway self-signed
    certificate for ``host`` (an IP address or a DNS name, put in the
    certificate's subjectAltName), valid for a day, made now with the
    ``cryptography`` package or else the ``openssl`` command.

    The client context verifies the server against that certificate, host
    name included, so a client connecting to ``host`` accepts it.  Raises
    :class:`~codec.errors.ConfigError` when neither tool can make it.
    """
    with tempfile.TemporaryDirectory(prefix="rmqwire-tls-") as directory:
        cert = os.path.join(directory, "cert.pem")
        key = os.path.join(directory, "key.pem")
        try:
            _with_cryptography(host, cert, key)
        except ImportError:
            _with_openssl(host, cert, key)
        server = _ssl.create_default_context(_ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert, key)
        client = _ssl.create_default_context(cafile=cert)
    return server, client


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _with_openssl(host: str, cert: str, key: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ConfigError("a self-signed certificate needs the cryptography package or the openssl command")
    try:
        done = subprocess.run(
            [
                openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", f"/CN={host}",
                "-addext", f"subjectAltName={'IP' if _is_ip(host) else 'DNS'}:{host}",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"openssl could not make a certificate: {exc}") from None
    if done.returncode != 0:
        raise ConfigError(f"openssl could not make a certificate: {done.stderr.decode(errors='replace')[:300]}")


def _with_cryptography(host: str, cert: str, key: str) -> None:
    import datetime

    from cryptography import x509  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found, unused-ignore]
    from cryptography.x509.oid import NameOID  # type: ignore[import-not-found, unused-ignore]

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    alt = x509.IPAddress(ipaddress.ip_address(host)) if _is_ip(host) else x509.DNSName(host)
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), False)
        .sign(private, hashes.SHA256())
    )
    with open(key, "wb") as f:
        f.write(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with open(cert, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
