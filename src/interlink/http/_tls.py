"""TLS settings for a client: server CA and the client certificate for mutual TLS.

Certificates and keys may be given as file paths or as PEM text/bytes (service records
store PEM, not paths). ``ssl`` only loads a certificate chain from files, so PEM material is
written to a private temporary file (mode 0600), loaded, and removed at once.
"""

from __future__ import annotations

import errno
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MutualTLS", "ssl_context", "PEMOrPath"]

PEMOrPath = str | bytes | os.PathLike[str]


def _is_pem(value: PEMOrPath) -> bool:
    if isinstance(value, bytes):
        return b"-----BEGIN" in value
    return isinstance(value, str) and "-----BEGIN" in value


def _pem_text(value: PEMOrPath) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, repr=False)
class MutualTLS:
    """A client certificate and its key (paths or PEM), plus an optional server CA.

    ``ca`` replaces the system trust store for this client when given.
    """

    cert: PEMOrPath
    key: PEMOrPath | None = None
    ca: PEMOrPath | None = None
    key_password: str | None = None

    def __repr__(self) -> str:  # the key never appears in logs
        return "MutualTLS(cert=..., key=<hidden>, ca=%s)" % ("..." if self.ca else None)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl_context(ca=self.ca, cert=self.cert, key=self.key, key_password=self.key_password)


def _must_exist(value: PEMOrPath | None, what: str) -> None:
    """requests names the missing file; ``ssl`` raises a bare ENOENT. Say which file."""
    if value is not None and not _is_pem(value) and not os.path.exists(os.fspath(value)):
        raise FileNotFoundError(errno.ENOENT, f"could not find the TLS {what} file", os.fspath(value))


def ssl_context(
    *,
    ca: PEMOrPath | None = None,
    cert: PEMOrPath | None = None,
    key: PEMOrPath | None = None,
    key_password: str | None = None,
    verify: bool = True,
    system: bool = False,
) -> ssl.SSLContext:
    """An ``SSLContext`` verifying the server (against ``ca`` or the system store) and
    presenting ``cert``/``key`` when given. ``system=True`` trusts the system store *and*
    ``ca`` (token requests to a public identity provider from a client with a private CA)."""
    _must_exist(ca, "CA")
    _must_exist(cert, "certificate")
    _must_exist(key, "key")
    if ca is None:
        context = ssl.create_default_context()
    elif system:
        context = ssl.create_default_context()
        if _is_pem(ca):
            context.load_verify_locations(cadata=_pem_text(ca))
        else:
            context.load_verify_locations(cafile=os.fspath(ca))
    elif _is_pem(ca):
        context = ssl.create_default_context(cadata=_pem_text(ca))
    else:
        context = ssl.create_default_context(cafile=os.fspath(ca))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        _load_chain(context, cert, key, key_password)
    return context


def _load_chain(context: ssl.SSLContext, cert: PEMOrPath, key: PEMOrPath | None, password: str | None) -> None:
    if not _is_pem(cert) and (key is None or not _is_pem(key)):
        context.load_cert_chain(os.fspath(cert), os.fspath(key) if key is not None else None, password)
        return
    with tempfile.TemporaryDirectory(prefix="interlink-tls-") as directory:
        os.chmod(directory, 0o700)
        cert_path = _materialise(Path(directory) / "cert.pem", cert)
        key_path = _materialise(Path(directory) / "key.pem", key) if key is not None else None
        context.load_cert_chain(cert_path, key_path, password)


def _materialise(path: Path, value: PEMOrPath) -> str | bytes:
    if not _is_pem(value):
        return os.fspath(value)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_pem_text(value))
    return os.fspath(path)
