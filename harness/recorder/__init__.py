"""The recorder: live client sessions and the recording proxy, both writing through redaction.

I/O layer (trio, httpx, trio-websocket) over the pure rules in :mod:`harness.recorder.policy`,
:mod:`harness.core.redact`, :mod:`harness.core.backoff` and :mod:`harness.core.record_plan`.
"""

from __future__ import annotations

from harness.errors import RecorderError
from harness.recorder.connection import LinkTiming
from harness.recorder.live import LiveRecorder, RecorderOptions, RecordResult
from harness.recorder.proxy import ProxyOptions, ProxyRecorder
from harness.recorder.tee import LiveStats, Tee

__all__ = [
    "LinkTiming",
    "LiveRecorder",
    "LiveStats",
    "ProxyOptions",
    "ProxyRecorder",
    "RecordResult",
    "RecorderError",
    "RecorderOptions",
    "Tee",
]
