"""``harness merge``: one timeline from several recordings.

Two passes over each input, both streaming (constant memory: one record per input is held,
plus the carried context of a cut, which is bounded by the session's connections):

1. a scan: header, first and last record time, highest connection id, summary or not;
2. the write: every record of every input, its time shifted and its connection id renumbered.

**Times.**  By default inputs are aligned by their wall-clock start (the header's
``created_at``): an input that started 10 s after the earliest one has 10 s added to every
``t_ns``.  With ``concat`` they play one after another, in the order given: an input starts where
the previous one ended (its last record), or keeps its own times when it already starts later
(a piece of a cut session keeps the session's times).

**Connections.**  Connection ids are renumbered so no two inputs share one: each input's ids are
moved past the highest id of the inputs before it (a note's ``data["conn"]`` moves with them).
Every record is kept, token calls and subscriptions included, so the result replays.

**Pieces of one session** (what ``cut`` makes): an input whose header equals the previous one's,
on the same time base, that starts at or after its end, and whose first records are exactly the
context ``cut`` carries into a window (:class:`~harness.core.selection.CutContext` of everything
written so far), continues it: that carried context is dropped and its connection ids are kept.
So ``merge --concat`` of ``cut --end T`` and ``cut --start T`` of one file is that file byte for
byte (with a summary when the original had one).  Anything else is merged as separate sessions.

**Header.**  When every header is equal, that one; otherwise the first input's (in time order
when aligned), with the earliest start, ``redacted`` only when every input was, and
``source["merged_from"]`` listing each input's ``created_at``.  A summary is written when any
input had one.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from harness.core.damage import DamageLog
from harness.core.recording import RecordingWriter, open_reader
from harness.core.records import (
    Header,
    Note,
    Record,
    Summary,
    WsClose,
    WsControl,
    WsMessage,
    WsOpen,
)
from harness.core.safe_output import check_distinct, check_output, safe_output
from harness.core.selection import CutContext
from harness.errors import UsageError

_CONN_RECORDS = (WsOpen, WsMessage, WsControl, WsClose)


@dataclasses.dataclass
class MergeInput:
    """What the scan learnt about one input, and how the write moves it."""

    path: str
    header: Header
    first_ns: int = 0
    last_ns: int = 0
    max_conn: int = 0
    has_summary: bool = False
    records: int = 0
    offset_ns: int = 0
    """Added to every ``t_ns``."""
    conn_base: int = 0
    """Added to every connection id."""
    continues: bool = False
    """A piece of the session before it (see the module docstring): ids kept, context dropped."""
    damage: DamageLog = dataclasses.field(default_factory=DamageLog)

    @property
    def start_ns(self) -> int:
        return self.first_ns + self.offset_ns

    @property
    def end_ns(self) -> int:
        return self.last_ns + self.offset_ns


@dataclasses.dataclass(frozen=True, slots=True)
class MergeReport:
    """What ``merge`` wrote: the inputs in the order merged, and the records written."""

    inputs: list[MergeInput]
    records_written: int
    interleaved: bool
    """True when inputs overlap in time, so their records were merged by time."""


def _scan(path: str) -> MergeInput:
    with open_reader(path) as reader:
        scanned = MergeInput(path, reader.header)
        first: int | None = None
        for record in reader:
            scanned.records += 1
            first = record.t_ns if first is None else min(first, record.t_ns)
            scanned.last_ns = max(scanned.last_ns, record.t_ns)
            if isinstance(record, _CONN_RECORDS):
                scanned.max_conn = max(scanned.max_conn, record.conn_id)
            elif isinstance(record, Summary):
                scanned.has_summary = True
        scanned.first_ns = first or 0
        scanned.damage = reader.damage
    return scanned


def _start_ns(scanned: MergeInput) -> int:
    """The wall-clock start in ns since the epoch (microsecond precision)."""
    text = scanned.header.created_at
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UsageError(
            f"{scanned.path}: cannot align by start time: header created_at {text!r} is not an"
            " ISO 8601 UTC time (use --concat)"
        )
    delta = moment - datetime.fromtimestamp(0, moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _place(inputs: list[MergeInput], concat: bool) -> list[MergeInput]:
    """Set each input's time offset; return them in merge order."""
    if concat:
        end: int | None = None
        for item in inputs:
            item.offset_ns = 0 if end is None else max(0, end - item.first_ns)
            end = item.end_ns if end is None else max(end, item.end_ns)
        return list(inputs)
    starts = [_start_ns(item) for item in inputs]
    for item, start in zip(inputs, starts, strict=True):
        item.offset_ns = start - min(starts)
    return sorted(inputs, key=lambda item: item.start_ns)  # stable: ties keep the given order


def _sequential(ordered: Sequence[MergeInput]) -> bool:
    """No input starts before the ones before it have ended."""
    end: int | None = None
    for item in ordered:
        if end is not None and item.start_ns < end:
            return False
        end = item.end_ns if end is None else max(end, item.end_ns)
    return True


def _may_continue(previous: MergeInput, item: MergeInput) -> bool:
    return item.header == previous.header and item.offset_ns == previous.offset_ns


def _header(ordered: Sequence[MergeInput]) -> Header:
    first = ordered[0].header
    if all(item.header == first for item in ordered):
        return first
    source = dict(first.source)
    source["merged_from"] = [item.header.created_at for item in ordered]
    return dataclasses.replace(
        first,
        source=source,
        redacted=all(item.header.redacted for item in ordered),
        created_at=first.created_at,
    )


def _moved(record: Record, offset_ns: int, conn_base: int) -> Record:
    if not offset_ns and not conn_base:
        return record
    if isinstance(record, _CONN_RECORDS):
        return dataclasses.replace(
            record, t_ns=record.t_ns + offset_ns, conn_id=record.conn_id + conn_base
        )
    if isinstance(record, Note) and conn_base and _is_id(record.data.get("conn")):
        data: dict[str, Any] = dict(record.data)
        data["conn"] += conn_base
        return dataclasses.replace(record, t_ns=record.t_ns + offset_ns, data=data)
    return dataclasses.replace(record, t_ns=record.t_ns + offset_ns)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Merger:
    """The write pass: yields the output's records (summaries dropped; the writer adds one)."""

    def __init__(self, ordered: list[MergeInput]) -> None:
        self.ordered = ordered
        self.interleaved = not _sequential(ordered)
        self.read: dict[str, int] = {}

    def _records(self, item: MergeInput) -> Iterator[Record]:
        with open_reader(item.path) as reader:
            for record in reader:
                if not isinstance(record, Summary):
                    yield record
            item.damage = reader.damage

    def records(self) -> Iterator[Record]:
        if self.interleaved:
            return self._by_time()
        return self._one_after_another()

    def _by_time(self) -> Iterator[Record]:
        base = 0
        streams = []
        for index, item in enumerate(self.ordered):
            item.conn_base, base = base, base + item.max_conn
            streams.append(self._keyed(index, item))
        for _, _, record in heapq.merge(*streams, key=lambda entry: (entry[0], entry[1])):
            yield record

    def _keyed(self, index: int, item: MergeInput) -> Iterator[tuple[int, int, Record]]:
        for record in self._records(item):
            moved = _moved(record, item.offset_ns, item.conn_base)
            yield moved.t_ns, index, moved

    def _one_after_another(self) -> Iterator[Record]:
        ordered = self.ordered
        track = any(_may_continue(a, b) for a, b in itertools.pairwise(ordered))
        context = CutContext() if track else None
        base = top = 0
        previous: MergeInput | None = None
        for item in ordered:
            records = self._records(item)
            if previous is not None and context is not None and _may_continue(previous, item):
                expected = context.records(item.start_ns)
                head = [next(records, None) for _ in expected]
                moved = [None if r is None else _moved(r, item.offset_ns, base) for r in head]
                item.continues = moved == expected
                if not item.continues:
                    base = top
                    records = _chain([r for r in head if r is not None], records)
            else:
                base = top
            item.conn_base = base
            top = max(top, base + item.max_conn)
            for record in records:
                moved_record = _moved(record, item.offset_ns, base)
                if context is not None:
                    context.add(moved_record)
                yield moved_record
            previous = item


def _chain(head: list[Record], rest: Iterator[Record]) -> Iterator[Record]:
    yield from head
    yield from rest


def merge_recordings(
    sources: Sequence[str | os.PathLike[str]],
    dest: str | os.PathLike[str],
    *,
    concat: bool = False,
    force: bool = False,
) -> MergeReport:
    """Write one recording of ``sources`` to ``dest`` (see the module docstring)."""
    if len(sources) < 2:
        raise UsageError("merge needs at least two recordings")
    for source in sources:
        check_distinct(source, dest, "merge")
    check_output(dest, force=force)
    inputs = [_scan(os.fspath(source)) for source in sources]
    ordered = _place(inputs, concat)
    merger = _Merger(ordered)
    summary_wanted = any(item.has_summary for item in ordered)
    summary_ns = max((item.end_ns for item in ordered if item.has_summary), default=0)
    written = 0
    with safe_output(dest, force=force) as stream:
        writer = RecordingWriter(stream, index=None)  # as the header says
        try:
            writer.start(_header(ordered))
            last = 0
            for record in merger.records():
                writer.add(record)
                last = max(last, record.t_ns)
                written += 1
            writer.flush()  # the last block (2.0), with a summary or not
            if summary_wanted:
                writer.finish(t_ns=max(last, summary_ns))
                written += 1
        except OSError as exc:
            raise UsageError(f"cannot write {os.fspath(dest)}: {exc.strerror}") from None
    return MergeReport(ordered, written, merger.interleaved)
