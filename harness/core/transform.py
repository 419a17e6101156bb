"""Recording to recording: ``recover`` (every intact record), ``cut`` (a time window), ``filter``.

One streaming copy loop (:func:`_copy`) under all three: the input is read once with the
resynchronising reader, the chosen records go through a :class:`RecordingWriter` to
``FILE.partial`` (:mod:`harness.core.safe_output`), renamed into place at the end.  The input is
never touched; an existing output only with ``force``.  The writer counts what it wrote, so the
output's summary is always right; a summary is written when the input had one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from harness.core.damage import DamageLog
from harness.core.recording import RecordingReader, RecordingWriter, open_reader
from harness.core.records import Record, Summary
from harness.core.safe_output import check_distinct, check_output, safe_output
from harness.errors import UsageError

Selection = Callable[[Iterable[Record]], Iterator[Record]]
"""Turns the input's records (a stream) into the output's, in order."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy did: records read and written, and the input's damage (what was lost)."""

    records_read: int
    records_written: int
    damage: DamageLog


class _Counted:
    """The reader's records, counted on the way through."""

    def __init__(self, reader: RecordingReader) -> None:
        self._reader = reader
        self.count = 0

    def __iter__(self) -> Iterator[Record]:
        for record in self._reader:
            self.count += 1
            yield record


def _copy(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    select: Selection,
    *,
    force: bool,
    command: str,
) -> CopyReport:
    check_distinct(source, dest, command)
    check_output(dest, force=force)
    with open_reader(source) as reader:
        counted = _Counted(reader)
        with safe_output(dest, force=force) as stream:
            writer = RecordingWriter(stream, index=None)  # as the header says
            written, summary = 0, None
            try:
                writer.start(reader.header)
                for record in select(counted):
                    if isinstance(record, Summary):
                        summary = record
                        continue
                    writer.add(record)
                    written += 1
                writer.flush()  # the last block (2.0), with a summary or not
                if summary is not None:
                    writer.finish(t_ns=summary.t_ns)
                    written += 1  # counted as every reader counts it
            except OSError as exc:
                raise UsageError(f"cannot write {os.fspath(dest)}: {exc.strerror}") from None
    return CopyReport(counted.count, written, reader.damage)


def recover_recording(
    source: str | os.PathLike[str], dest: str | os.PathLike[str], *, force: bool = False
) -> CopyReport:
    """Write every intact record of ``source`` (resynchronising past damage) to ``dest``."""
    return _copy(source, dest, iter, force=force, command="recover")


def select_records(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    select: Selection,
    *,
    force: bool = False,
    command: str = "filter",
) -> CopyReport:
    """Write the records ``select`` keeps (see :mod:`harness.core.selection`) to ``dest``."""
    return _copy(source, dest, select, force=force, command=command)
