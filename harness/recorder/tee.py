"""The one path from the recorder to the file: every record goes through redaction first.

:class:`Tee` learns secrets from each record (token answers, URLs, credential headers) *before*
scrubbing and writing it, so a token is never written even in the record that reveals it.  It
also keeps the live counters the status display shows.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.core.protocol import FrameInfo
from harness.core.records import Direction, Note, NoteKind, Record, WsMessage
from harness.core.redact import Redactor


class RecordSink(Protocol):
    """Where records go: a :class:`~harness.core.recording.RecordingWriter` or a pending output."""

    def add(self, record: Record) -> None: ...


@dataclass
class LiveStats:
    """Counters for the status display; mutated by the recorder, read by the display."""

    frames_in: int = 0
    events: int = 0  # server frames that are events (not replies, not unreadable)
    frames_out: int = 0
    bytes_in: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    by_event: Counter[str] = field(default_factory=Counter)
    records: int = 0
    reconnects: int = 0
    renewals: int = 0
    errors: int = 0
    open_connections: int = 0
    next_renewal_at: float | None = None  # monotonic seconds (time.monotonic)
    last_error: str = ""

    def count_frame(self, info: FrameInfo | None, size: int) -> None:
        self.frames_in += 1
        self.bytes_in += size
        if info is None:
            self.by_event["(not json)"] += 1
            return
        if info.is_event:
            self.events += 1
        self.by_channel[str(info.channel) if info.channel is not None else "-"] += 1
        self.by_event[info.event_type or info.type] += 1


class Tee:
    """Writes records through a :class:`Redactor` into a :class:`RecordSink`.

    ``t_ns`` values are monotonic nanoseconds since the tee was created (the session start).
    """

    def __init__(
        self,
        writer: RecordSink,
        redactor: Redactor,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        stats: LiveStats | None = None,
    ) -> None:
        self.writer = writer
        self.redactor = redactor
        self.stats = stats if stats is not None else LiveStats()
        self._clock_ns = clock_ns
        self._t0 = clock_ns()

    def now_ns(self) -> int:
        """Nanoseconds since the session started."""
        return self._clock_ns() - self._t0

    def add(self, record: Record) -> None:
        """Learn secrets from ``record``, scrub it, write it."""
        self.writer.add(self.redactor.redact(record))
        self.stats.records += 1

    def message(
        self,
        conn_id: int,
        direction: Direction,
        payload: bytes,
        *,
        is_text: bool = True,
        info: FrameInfo | None = None,
        t_ns: int | None = None,
    ) -> None:
        """Record one WebSocket message; server frames also feed the live counters."""
        when = self.now_ns() if t_ns is None else t_ns
        self.add(WsMessage(when, conn_id, direction, payload, is_text))
        if direction is Direction.SERVER_TO_CLIENT:
            self.stats.count_frame(info, len(payload))
        else:
            self.stats.frames_out += 1

    def note(
        self, kind: NoteKind, message: str = "", data: Mapping[str, Any] | None = None
    ) -> None:
        """Record something the recorder did or saw (renewal, reconnect, error...)."""
        if kind is NoteKind.ERROR:
            self.stats.errors += 1
            self.stats.last_error = self.redactor.scrub_text(message)
        self.add(Note(self.now_ns(), kind, message, dict(data or {})))
