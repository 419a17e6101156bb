"""The file of a live recording: nothing touched until the session really started, never lost.

Policy (``harness record``; the file rules are :mod:`harness.core.safe_output`):

* Until :meth:`RecordingOutput.start` (the token was granted and the plan fits, or the proxy
  listens), records stay in memory and no file exists: a session that fails its pre-flight
  checks leaves the target exactly as it was.
* From ``start`` on, records go to ``FILE.partial`` in format 2.0 blocks (one write + flush
  each) as soon as a block is full, and at most :data:`IDLE_FLUSH_S` after they happen (a trio
  system task flushes the pending block), so a killed recorder leaves a readable
  ``FILE.partial`` missing at most the last 100 ms or one block of records.
* :meth:`RecordingOutput.close` finishes a started file (summary) and renames it to ``FILE``,
  after an error too: what was recorded is kept.  A file never started is not created at all.
* A write error (disk full, file size limit) never raises into the recorder: it is kept in
  :attr:`RecordingOutput.error`, later records are dropped, and ``on_write_error`` is called
  so the session stops; the records written before it stay readable.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import trio

from harness.core.recording import RecordingWriter
from harness.core.records import Header, Record
from harness.core.redact import Redactor
from harness.core.safe_output import commit, create_partial, discard, partial_path
from harness.core.stream import stream_records
from harness.errors import RecorderError
from harness.recorder.tee import Tee

IDLE_FLUSH_S = 0.1
"""Longest a record waits in the pending block of a live recording before reaching the file."""


def redacting_output(
    path: str | os.PathLike[str], header: Header, secrets: Iterable[str], *, force: bool
) -> tuple[RecordingOutput, Tee]:
    """The one way a live session reaches a file: header scrubbed, every record through the tee.

    ``secrets`` are known before the session (the API token); the tee learns the rest as they
    appear.  The header is written with ``redacted`` true only because it went through here.
    """
    redactor = Redactor(secrets)
    output = RecordingOutput(path, redactor.scrub_header(header), force=force)
    return output, Tee(output, redactor)


def write_stream(
    path: str | os.PathLike[str],
    frames: Sequence[tuple[int, bytes]],
    *,
    tool: tuple[str, str],
    created_at: str,
    source: Mapping[str, Any],
    force: bool,
    end_ns: int | None = None,
) -> None:
    """Write ``(offset_ns, payload)`` frames as a recording that ``harness replay`` plays
    (:func:`~harness.core.stream.stream_records`), by the same rules as a live session's file:
    redacted, through ``FILE.partial`` renamed into place, an existing FILE refused unless
    ``force``.  ``tool`` is the header's tool name and version.  Raises the write error."""
    header = Header(created_at, *tool, {"synthetic": True, **source})
    output, tee = redacting_output(path, header, [], force=force)
    output.start()
    records = stream_records(frames, end_ns=end_ns)
    for record in records:
        tee.add(record)
    output.close(t_ns=records[-1].t_ns)
    if output.error is not None:
        raise output.error


class RecordingOutput:
    """A :class:`~harness.recorder.tee.RecordSink` that reaches its file only once started."""

    def __init__(self, path: str | os.PathLike[str], header: Header, *, force: bool) -> None:
        self.path = Path(path)
        self.partial = partial_path(path)
        self.force = force
        self.error: RecorderError | None = None
        self.on_write_error: Callable[[str], None] | None = None
        self._header = header
        self._pending: list[Record] = []
        self._stream: BinaryIO | None = None
        self._writer: RecordingWriter | None = None
        self._closed = False

    @property
    def started(self) -> bool:
        return self._stream is not None

    def size(self) -> int:
        """Bytes written so far (0 before the start)."""
        return self._stream.tell() if self._stream is not None else 0

    def start(self) -> None:
        """Create ``FILE.partial``, write the header and every record held so far; inside a
        trio run, start flushing the pending block every :data:`IDLE_FLUSH_S`."""
        if self._stream is not None:
            return
        self._stream = create_partial(self.path, force=self.force)
        self._writer = RecordingWriter(self._stream, index=True, blocks=True)
        self._guarded(self._writer.start, self._header)
        pending, self._pending = self._pending, []
        for record in pending:
            self.add(record)
        with contextlib.suppress(RuntimeError):  # not in a trio run: a batch, flushed at close
            trio.lowlevel.spawn_system_task(self._flush_when_idle, name="recording flush")

    def add(self, record: Record) -> None:
        if self._writer is None:
            self._pending.append(record)
        elif self.error is None:
            self._guarded(self._writer.add, record)

    def flush(self) -> None:
        """Hand the records held for the next block to the OS now."""
        if self._writer is not None and self.error is None and not self._closed:
            self._guarded(self._writer.flush)

    async def _flush_when_idle(self) -> None:
        while not self._closed:
            await trio.sleep(IDLE_FLUSH_S)
            self.flush()

    def close(self, *, t_ns: int) -> None:
        """Finish and rename a started file into place; create nothing for one never started."""
        stream, writer = self._stream, self._writer
        if stream is None or writer is None:
            self._pending.clear()
            return
        if self._closed:
            return
        self._closed = True
        if self.error is None:
            self._guarded(writer.finish, t_ns=t_ns)
        try:
            stream.close()
        except OSError as exc:  # the buffer could not be flushed
            self._failed(exc)
        if self.error is not None and writer.written == 0:
            discard(self.path)  # not even the first record made it: nothing to keep
            return
        commit(self.path, force=self.force)

    def _guarded(self, function: Callable[..., object], *args: object, **kwargs: object) -> bool:
        """Call ``function``; an OSError becomes :attr:`error` (False) instead of raising."""
        try:
            function(*args, **kwargs)
        except OSError as exc:
            self._failed(exc)
            return False
        return True

    def _failed(self, exc: OSError) -> None:
        if self.error is None:
            reason = exc.strerror or str(exc)
            self.error = RecorderError(f"cannot write {self.partial}: {reason}")
            if self.on_write_error is not None:
                self.on_write_error(f"write failed: {reason}")
