"""soccer-ws-harness: record and replay the Soccer Football API real-time feed for offline tests."""

from __future__ import annotations

from harness._version import __version__
from harness.errors import (
    HarnessError,
    ProtocolViolation,
    RecordingFormatError,
    ReplayDivergence,
    UsageError,
)

__all__ = [
    "HarnessError",
    "ProtocolViolation",
    "RecordingFormatError",
    "ReplayDivergence",
    "UsageError",
    "__version__",
]
