"""TLS and mTLS for the gRPC port, with certificates re-read on SIGHUP.

grpcio's dynamic server credentials ask :meth:`ServerTls.fetch` for the
configuration at every new TLS handshake; it answers None (keep the current
one) unless a reload was asked for, then reads the files again. Connections
already open keep the certificates they were made with: rotation drops none.
A reload that fails (a missing or unreadable file, or a key that is not the
certificate's, as when the certificate was replaced and the key not yet) is
logged and the previous certificates stay in use.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..settings import TlsConfigError as TlsConfigError

log = logging.getLogger("statehouse.tls")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM files of the server's TLS configuration."""

    cert: Path
    key: Path
    #: When set, clients must present a certificate signed by this CA (mTLS).
    client_ca: Path | None = None


class ServerTls:
    """The server's credentials, whose certificates can be reloaded while serving."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._reload = threading.Event()
        self._lock = threading.Lock()
        initial = self._read()
        self.credentials = grpc.dynamic_ssl_server_credentials(
            initial,
            self.fetch,  # type: ignore[arg-type]  # None means "keep the current one"
            require_client_authentication=files.client_ca is not None,
        )

    def _read(self) -> grpc.ServerCertificateConfiguration:
        try:
            key = self.files.key.read_bytes()
            cert = self.files.cert.read_bytes()
            ca = self.files.client_ca.read_bytes() if self.files.client_ca else None
        except OSError as exc:
            raise TlsConfigError(f"cannot read a TLS file: {exc}") from exc
        for name, data in (("--tls-cert", cert), ("--tls-key", key), ("--tls-client-ca", ca)):
            if data is not None and b"-----BEGIN" not in data:
                raise TlsConfigError(f"{name} is not a PEM file")
        _check_pair(cert, key)
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def request_reload(self) -> None:
        """Re-read the files at the next handshake (the SIGHUP handler)."""
        log.info("TLS certificates will be re-read at the next connection")
        self._reload.set()

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """grpcio's callback, at each new handshake (on one of its threads)."""
        if not self._reload.is_set():
            return None
        with self._lock:
            if not self._reload.is_set():
                return None
            self._reload.clear()
            try:
                config = self._read()
            except TlsConfigError as exc:
                log.error("TLS reload failed, keeping the previous certificates: %s", exc)
                return None
        log.info("TLS certificates reloaded from %s", self.files.cert)
        return config


def _check_pair(cert: bytes, key: bytes) -> None:
    """Refuse a key that is not the one of the chain's first certificate.

    grpcio would take the pair, fail every handshake's set-up with it and log
    "Invalid private key" instead of keeping the previous certificates.
    """
    try:
        leaf = x509.load_pem_x509_certificates(cert)[0]
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError, IndexError) as exc:
        raise TlsConfigError(f"cannot load --tls-cert and --tls-key: {exc}") from exc
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*spki) != private.public_key().public_bytes(*spki):
        raise TlsConfigError("--tls-key is not the key of the certificate of --tls-cert")
