"""``--tls``: a throwaway certificate authority (trustme) so the mock serves https:// and wss://.

The CA and a certificate for ``127.0.0.1``/``localhost`` (and the bind host) live only for the
server's lifetime; the CA's PEM file is written to a temporary directory so clients (and the
CLI, which prints its path) can trust it, and removed when the server stops.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The server-side SSL context and the path of the CA file clients should trust."""

    context: ssl.SSLContext
    ca_path: str

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this CA (for tests and in-process clients)."""
        return ssl.create_default_context(cafile=self.ca_path)


@contextmanager
def throwaway_tls(host: str) -> Iterator[ServerTls]:
    """A fresh CA and server certificate, valid while the context is open."""
    ca = trustme.CA(organization_name="soccer-ws-harness mock CA")
    names = sorted({"127.0.0.1", "localhost", host} - {"", "0.0.0.0", "::"})
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    with tempfile.TemporaryDirectory(prefix="harness-tls-") as directory:
        ca_path = Path(directory) / "mock-ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        yield ServerTls(context, str(ca_path))
