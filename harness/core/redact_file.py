"""Redacting an existing recording: ``harness redact``.

Two passes over the input: the first learns every secret the recording reveals (token answers,
URLs, credential headers) on top of the ones the user names, the second writes every record
scrubbed.  Learning everything first means a token is replaced even in records that come before
the one revealing it.  The output is a new file (an existing one only with ``force``), written
through :mod:`harness.core.safe_output`; the input is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from harness.core.damage import DamageLog
from harness.core.recording import RecordingWriter, open_reader
from harness.core.records import Summary
from harness.core.redact import Redactor
from harness.core.safe_output import check_distinct, check_output, safe_output
from harness.errors import UsageError


@dataclass(frozen=True, slots=True)
class RedactReport:
    """What a redaction did: records written, distinct secrets replaced, input damage skipped."""

    records: int
    secrets: int
    damage: DamageLog


def redact_recording(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    secrets: Iterable[str] = (),
    *,
    force: bool = False,
) -> RedactReport:
    """Write ``source`` to ``dest`` with every known and learned secret replaced."""
    check_distinct(source, dest, "redact")
    check_output(dest, force=force)
    redactor = Redactor(secrets)
    with open_reader(source) as reader:
        redactor.learn_record(reader.header)
        for record in reader:
            redactor.learn_record(record)
    written, last_summary = 0, None
    with open_reader(source) as reader:
        header = redactor.scrub_header(reader.header)
        with safe_output(dest, force=force) as stream:
            writer = RecordingWriter(stream, index=None)  # as the header says
            try:
                writer.start(header)
                for record in reader:
                    if isinstance(record, Summary):
                        last_summary = record
                        continue
                    writer.add(redactor.scrub_record(record))
                    written += 1
                writer.flush()  # the last block (2.0), with a summary or not
                if last_summary is not None:
                    writer.finish(t_ns=last_summary.t_ns)
            except OSError as exc:
                raise UsageError(f"cannot write {os.fspath(dest)}: {exc.strerror}") from None
        damage = reader.damage
    return RedactReport(written, len(redactor.placeholders), damage)
