"""The mock server: REST token endpoints and the replayed WebSocket feed on one port (trio)."""

from __future__ import annotations

from harness.server.config import ServerConfig, ServerStats
from harness.server.journal import Journal, JournalEntry
from harness.server.mock import MockServer, open_mock_server, serve_mock

__all__ = [
    "Journal",
    "JournalEntry",
    "MockServer",
    "ServerConfig",
    "ServerStats",
    "open_mock_server",
    "serve_mock",
]
