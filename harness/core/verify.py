"""``harness verify``: is a recording whole, ordered, consistent, and does it speak the protocol?

One streaming pass (constant memory but for one entry per connection) checks:

* integrity: every damaged stretch the reader skipped (checksums, malformed frames) and a
  truncated end (``docs/recording-format.md`` §6);
* order: ``t_ns`` never negative and never going back, the summary last and its counts right;
* connections: WebSocket records only on a connection a ``ws_open`` record opened, and none
  after its ``ws_close``;
* the protocol: every server text frame is a JSON object that
  :func:`~harness.core.protocol.classify_frame` reads as an event or a reply (section 7.1, 12);
  every client frame is a command :func:`~harness.core.protocol.parse_command` accepts.

Each problem names the record index (0: the first record after the header, counting records
read) and the byte offset where that record starts.
"""

from __future__ import annotations

import enum
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.core.damage import DamageLog
from harness.core.protocol import REPLY_TYPES, classify_frame, parse_command
from harness.core.recording import RecordingReader, open_reader
from harness.core.records import (
    KIND_NAMES,
    Direction,
    Record,
    Summary,
    WsClose,
    WsControl,
    WsMessage,
    WsOpen,
)
from harness.errors import ProtocolViolation

MAX_LISTED_PROBLEMS = 1000
"""Problems kept one by one; beyond that only the counts grow (constant memory)."""


class Check(enum.StrEnum):
    """What a problem is about (the ``check`` field of ``verify --json``)."""

    DAMAGE = "damage"
    TRUNCATED = "truncated"
    TIME = "time-order"
    SUMMARY = "summary"
    CONNECTION = "connection"
    SERVER_FRAME = "server-frame"
    CLIENT_COMMAND = "client-command"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, and where: record index and byte offset (``None`` when unknown)."""

    check: Check
    message: str
    index: int | None = None
    offset: int | None = None

    def where(self) -> str:
        parts = [
            f"record {self.index}" if self.index is not None else "",
            f"byte {self.offset}" if self.offset is not None else "",
        ]
        return ", ".join(p for p in parts if p) or "file"

    def to_json(self) -> dict[str, Any]:
        return {
            "check": str(self.check),
            "index": self.index,
            "offset": self.offset,
            "message": self.message,
        }


@dataclass
class VerifyReport:
    """Everything ``verify`` found in one file."""

    path: str
    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    damage: DamageLog = field(default_factory=DamageLog)

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def problem_count(self) -> int:
        return sum(self.counts.values())

    def add(self, problem: Problem) -> None:
        self.counts[str(problem.check)] += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(problem)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "ok": self.ok,
            "records": self.records,
            "problem_count": self.problem_count,
            "counts": dict(sorted(self.counts.items())),
            "damage": {
                "stretches": self.damage.count,
                "records_lost": self.damage.records_lost,
                "bytes_skipped": self.damage.bytes_skipped,
            },
            "problems": [p.to_json() for p in self.problems],
            "problems_listed": len(self.problems),
        }


class _Checker:
    """The per-record rules: pure, fed one record at a time with its index and offset."""

    def __init__(self) -> None:
        self.last_t_ns = 0
        self.opened: set[int] = set()
        self.closed: set[int] = set()
        self.kinds: Counter[str] = Counter()
        self.summary_at: int | None = None

    def check(self, index: int, offset: int | None, record: Record) -> Iterator[Problem]:
        def problem(check: Check, message: str) -> Problem:
            return Problem(check, message, index, offset)

        name = KIND_NAMES[record.KIND]
        if self.summary_at is not None:
            yield problem(Check.SUMMARY, f"a {name} record after the summary")
        if record.t_ns < 0:
            yield problem(Check.TIME, f"negative time {record.t_ns} ns")
        elif record.t_ns < self.last_t_ns:
            yield problem(Check.TIME, f"time goes back: {record.t_ns} ns after {self.last_t_ns} ns")
        self.last_t_ns = max(self.last_t_ns, record.t_ns)
        if isinstance(record, Summary):
            self.summary_at = index
            yield from (problem(Check.SUMMARY, m) for m in self._summary(record))
            return
        self.kinds[name] += 1
        if isinstance(record, WsOpen):
            yield from (problem(Check.CONNECTION, m) for m in self._open(record))
        elif isinstance(record, WsMessage | WsControl | WsClose):
            yield from (problem(Check.CONNECTION, m) for m in self._on_connection(record, name))
        if isinstance(record, WsMessage):
            yield from self._message(record, problem)

    def _summary(self, summary: Summary) -> Iterator[str]:
        if summary.duration_ns != summary.t_ns:
            yield f"duration {summary.duration_ns} ns differs from its time {summary.t_ns} ns"
        counted = {k: v for k, v in self.kinds.items() if v}
        if dict(summary.counts) != counted:
            yield f"counts {dict(summary.counts)} differ from the records read {counted}"

    def _open(self, record: WsOpen) -> Iterator[str]:
        if record.conn_id in self.opened or record.conn_id in self.closed:
            yield f"connection #{record.conn_id} opened twice"
        if record.status == 101:
            self.opened.add(record.conn_id)
        else:
            self.closed.add(record.conn_id)  # refused: nothing may follow on it

    def _on_connection(self, record: WsMessage | WsControl | WsClose, name: str) -> Iterator[str]:
        conn = record.conn_id
        if conn in self.closed:
            yield f"{name} on connection #{conn}, which is closed or was refused"
        elif conn not in self.opened:
            yield f"{name} on unknown connection #{conn} (no ws_open record)"
        if isinstance(record, WsClose):
            self.opened.discard(conn)
            self.closed.add(conn)

    def _message(self, record: WsMessage, problem: Any) -> Iterator[Problem]:
        if record.direction is Direction.CLIENT_TO_SERVER:
            try:
                parse_command(record.payload, is_text=record.is_text)
            except ProtocolViolation as exc:
                yield problem(Check.CLIENT_COMMAND, f"command refused by the protocol: {exc}")
            return
        reason = server_frame_problem(record.payload, is_text=record.is_text)
        if reason is not None:
            yield problem(Check.SERVER_FRAME, reason)


def server_frame_problem(payload: bytes, *, is_text: bool) -> str | None:
    """Why a server frame does not fit the protocol model (sections 7.1, 12), else ``None``."""
    if not is_text:
        return "binary frame (the service sends text frames only)"
    info = classify_frame(payload)
    if info is None:
        return "not a JSON object"
    if info.type in REPLY_TYPES:
        if info.type in ("subscribed", "unsubscribed") and info.topic is None:
            return f"{info.type} reply names no valid channel/scope"
        return None
    if info.is_event:
        return None
    if not info.type:
        return 'no "type" field'
    if info.channel is None:
        return f"{info.type!r} frame with no known channel"
    return f"{info.type!r} frame with no event name"


def verify_recording(path: str | os.PathLike[str]) -> VerifyReport:
    """Read ``path`` once and check every record (see the module docstring)."""
    with open_reader(path) as reader:
        report = VerifyReport(os.fspath(path), damage=reader.damage)
        checker = _Checker()
        for index, (offset, record) in enumerate(_with_offsets(reader)):
            for problem in checker.check(index, offset, record):
                report.add(problem)
            report.records = index + 1
        _report_damage(report, reader.damage)
    return report


def _with_offsets(reader: RecordingReader) -> Iterator[tuple[int | None, Record]]:
    """Each record with the byte offset where it starts (``None`` after a skipped unknown kind);
    in a 2.0 file, where its block starts."""
    if reader.blocked:
        offset = reader.frame_offset
        for at, record in reader.positions():
            yield offset(at), record
        return
    start: int | None = reader.position
    damage, skipped = reader.damage.count, sum(reader.skipped.values())
    for record in reader:
        if reader.damage.count != damage:
            damage = reader.damage.count
            last = reader.damage.regions[-1] if reader.damage.regions else None
            start = last.resumed_at if last is not None else None
        if sum(reader.skipped.values()) != skipped:
            skipped, start = sum(reader.skipped.values()), None
        yield start, record
        start = reader.position


def _report_damage(report: VerifyReport, damage: DamageLog) -> None:
    """Damage goes first in the listing: it explains the other problems near it."""
    found = [
        Problem(
            Check.TRUNCATED if d.truncated else Check.DAMAGE, d.describe(), d.records_read, d.offset
        )
        for d in damage.regions
    ]
    report.counts[str(Check.DAMAGE)] += damage.count - len(found)
    report.counts.update(str(problem.check) for problem in found)
    report.counts = +report.counts  # drop zero counts
    report.problems[:0] = found
    del report.problems[MAX_LISTED_PROBLEMS:]


with_offsets = _with_offsets
"""Each record with the byte offset where it starts (shared with ``check``)."""
