"""Recording files, format v1: one msgpack stream of checksummed records.

Layout (``docs/recording-format.md`` is the specification)::

    "soccer-ws-harness-recording"        msgpack str, the magic
    [0, crc, bin(Header fields)]         the header record
    [kind, crc, bin(record fields)] ...  records, appended as they happen
    [7, crc, bin(Summary fields)]        optional, written by a clean close

``crc`` is ``zlib.crc32(body, crc32(kind as 4 big-endian bytes))``, so a damaged kind or body is
detected.  Policies, and why:

* Crash safety: the writer hands each record to the OS at once (write + flush, no fsync), so a
  killed process leaves a file whose whole records all read back.
* The reader never raises for damage after the header: it resynchronises (skips to the next
  whole record whose checksum holds, :mod:`harness.core._resync`), so one damaged byte loses one
  record, and :attr:`RecordingReader.damage` says where, how much and why.  A damaged magic or
  header, or an unknown major version, is a :class:`~harness.errors.RecordingFormatError`:
  nothing to keep.
* Bounded: records over :data:`MAX_RECORD_BYTES` are refused on write and are damage on read;
  msgpack limits are set so no size field can make the reader allocate more than that.  Reading
  and writing use constant memory whatever the file length.
* Forward compatible: record kinds unknown to this reader (a newer minor version) are skipped
  when their checksum is valid; extra trailing fields of known kinds are ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO

import msgpack

from harness.errors import HarnessError, RecordingFormatError, UsageError

from ._framing import (
    _FAST_DECODERS,
    _SEEDS,
    MAGIC,
    MAGIC_TEXT,
    MAX_RECORD_BYTES,
    READ_CHUNK_BYTES,
    _CountingStream,
    _Damage,
    _decode,
    _fast_ws_message,
    _stream_unpacker,
    _unframe,
    _unpack_body,
    record_crc,
)
from ._resync import find_next_frame
from .damage import Damage, DamageLog, TailDamage
from .index import (
    INDEX_EVERY,
    INDEX_KIND,
    INDEX_VERSION,
    IndexBuilder,
    RecordingIndex,
    build_index,
    index_frame,
    read_trailing_index,
)
from .progress import watched
from .records import (
    FORMAT_NAME,
    FORMAT_VERSION,
    KIND_NAMES,
    RECORD_TYPES,
    Header,
    Record,
    RecordFieldError,
    Summary,
    WsMessage,
)

__all__ = [
    "MAGIC",
    "MAGIC_TEXT",
    "MAX_RECORD_BYTES",
    "READ_CHUNK_BYTES",
    "Damage",
    "DamageLog",
    "RecordingReader",
    "RecordingWriter",
    "TailDamage",
    "open_reader",
    "open_writer",
    "read_recording",
    "record_crc",
    "recording_index",
]


# --------------------------------------------------------------------------- writing


class RecordingWriter:
    """Writes one recording to a binary stream it does not own: ``start``, ``add``..., ``finish``.

    Each record is one ``write`` followed by ``flush``: on an ``open(path, "wb")`` stream that
    hands it to the OS, which is what makes a killed recorder's file readable.  ``index``: end
    the file with its index (:mod:`harness.core.index`; the header then says format 1.1);
    ``None``: when the header already says 1.1 or later (a file reproduced as it was).
    """

    def __init__(
        self, stream: IO[bytes], *, index: bool | None = False, index_every: int = INDEX_EVERY
    ) -> None:
        self._write = stream.write
        self._flush = stream.flush
        self._offset = 0
        self._index_wanted = index
        self._index_every = index_every
        self._index: IndexBuilder | None = None
        self._pack = msgpack.Packer(use_bin_type=True).pack
        self._counts: dict[str, int] = {}
        self._last_t_ns = 0
        self._started = False
        self._summary: Summary | None = None

    def start(self, header: Header) -> None:
        """Write the magic and the header record."""
        if self._started:
            raise UsageError("recording already started")
        self._started = True
        wanted = self._index_wanted
        if wanted is None:  # as the header says: a file reproduced as it was
            wanted = tuple(header.format_version) >= INDEX_VERSION
        if wanted:
            self._index = IndexBuilder(self._index_every)
            if header.format_version == FORMAT_VERSION:
                header = dataclasses.replace(header, format_version=INDEX_VERSION)
        self._emit(MAGIC + self._frame(Header.KIND, header.fields()))

    def add(self, record: Record) -> None:
        """Append one record and hand it to the OS now."""
        if not self._started or self._summary is not None:
            state = "finished" if self._summary is not None else "not started"
            raise UsageError(f"cannot add records to a recording that is {state}")
        kind = record.KIND
        if kind not in RECORD_TYPES or kind == Summary.KIND:
            raise UsageError(
                f"cannot add a {type(record).__name__}: start() writes the header, "
                "finish() the summary"
            )
        if type(record) is not WsMessage or not _plain_message(record):
            _check_readable(record)
        if self._index is not None:
            self._index.add(self._offset, record.t_ns)
        self._emit(self._frame(kind, record.fields()))
        name = KIND_NAMES[kind]
        self._counts[name] = self._counts.get(name, 0) + 1
        if record.t_ns > self._last_t_ns:
            self._last_t_ns = record.t_ns

    def finish(self, *, t_ns: int | None = None, summary: Summary | None = None) -> Summary:
        """Append the Summary (counts by kind name, duration) once; later calls return it again.

        ``t_ns`` defaults to the latest record time, which is also the duration (sessions start
        at 0).  ``summary`` writes that one as it is instead (``harness import`` reproducing a
        file; ``harness verify`` tells when its counts are wrong).
        """
        if self._summary is not None:
            return self._summary
        if not self._started:
            raise UsageError("cannot finish a recording that was never started")
        if summary is None:
            end = self._last_t_ns if t_ns is None else t_ns
            summary = Summary(t_ns=end, duration_ns=end, counts=dict(self._counts))
        else:
            _check_readable(summary)
        if self._index is not None:  # just before the summary, which stays the last frame
            self._emit(index_frame(self._index.build(), self._offset))
        self._emit(self._frame(Summary.KIND, summary.fields()))
        self._summary = summary
        return summary

    def _frame(self, kind: int, fields: list[Any]) -> bytes:
        try:
            body = self._pack(fields)
        except (TypeError, ValueError, OverflowError) as exc:
            raise UsageError(f"cannot encode {KIND_NAMES[kind]} record: {exc}") from None
        if len(body) > MAX_RECORD_BYTES:
            raise UsageError(
                f"{KIND_NAMES[kind]} record of {len(body)} bytes exceeds the "
                f"{MAX_RECORD_BYTES} byte limit of recording format v1"
            )
        frame: bytes = self._pack([kind, zlib.crc32(body, _SEEDS[kind]), body])
        return frame

    def _emit(self, data: bytes) -> None:
        self._write(data)
        self._flush()
        self._offset += len(data)


def _plain_message(record: WsMessage) -> bool:
    """The hot path: a message made of exact builtin types needs no read-back check."""
    return (
        type(record.payload) is bytes
        and type(record.t_ns) is int
        and type(record.conn_id) is int
        and type(record.is_text) is bool
    )


def _check_readable(record: Record) -> None:
    """Refuse a record this reader could not read back (e.g. non-string map keys, str payload)."""
    try:
        body = msgpack.packb(record.fields(), use_bin_type=True)
        type(record).from_fields(_unpack_body(body))
    except (TypeError, ValueError, OverflowError) as exc:
        raise UsageError(f"cannot write {KIND_NAMES[record.KIND]} record: {exc}") from None


@contextlib.contextmanager
def open_writer(
    path: str | os.PathLike[str], header: Header, *, index: bool = False
) -> Iterator[RecordingWriter]:
    """Create (or replace) ``path``, write the header; on exit write the summary and close.

    The summary is written on an exception too (best effort), so a recorder that failed still
    leaves a complete file.  ``index``: end the file with its index (:mod:`harness.core.index`).
    """
    try:
        stream = open(path, "wb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise UsageError(f"cannot create recording {os.fspath(path)}: {exc.strerror}") from None
    with stream:
        writer = RecordingWriter(stream, index=index)
        writer.start(header)
        try:
            yield writer
        except BaseException:
            with contextlib.suppress(OSError, HarnessError):
                writer.finish()
            raise
        writer.finish()


class RecordingReader:
    """Reads one recording from a binary stream it does not own.

    The magic and header are read and checked at construction (:class:`RecordingFormatError`
    when the stream is not a readable recording).  Iterating yields the records once, in file
    order, in constant memory; at the end :attr:`tail` is ``None`` for a whole file or a
    :class:`TailDamage`.  Byte offsets count from the stream position at construction.
    """

    def __init__(self, stream: BinaryIO | IO[bytes], *, path: str | None = None) -> None:
        self.path = path
        self.damage = DamageLog()
        """Every damaged stretch skipped so far (complete once iteration ends)."""
        self.skipped: dict[int, int] = {}
        """Records of kinds this reader does not know (a newer minor version), by kind."""
        self.records_read = 0
        self.index: RecordingIndex | None = None
        """The file's trailing index, once iteration has read it (see :mod:`.index`)."""
        self._source = _CountingStream(stream)
        self._unpacker = _stream_unpacker(self._source)
        self._stream = stream
        self._base = _position(stream)
        self._origin = 0
        self._iterated = False
        self._read_magic()
        self.header: Header = self._read_header()

    def __iter__(self) -> Iterator[Record]:
        if self._iterated:
            raise UsageError("a recording reader iterates once; open the file again")
        self._iterated = True
        return self._iterate()

    def records(self, *kinds: type[Record]) -> Iterator[Record]:
        """The records of the given types only (all records when none are given)."""
        if not kinds:
            return iter(self)
        return (record for record in self if isinstance(record, kinds))

    def _fail(self, message: str, offset: int | None = None) -> RecordingFormatError:
        return RecordingFormatError(message, path=self.path, offset=offset)

    def _read_magic(self) -> None:
        try:
            magic = next(self._unpacker, None)
        except (ValueError, msgpack.UnpackException):
            magic = None
        if magic == MAGIC_TEXT:
            return
        head = self._source.head
        if not head:
            raise self._fail("empty file, not a recording")
        if magic is None and MAGIC.startswith(head):
            raise self._fail("truncated recording: the file ends inside the header")
        raise self._fail("not a soccer-ws-harness recording (no magic at the start)")

    def _read_header(self) -> Header:
        offset = self._unpacker.tell()
        values = self._header_values(offset)
        self._check_version(values, offset)
        try:
            return Header.from_fields(values)
        except RecordFieldError as exc:
            raise self._fail(f"corrupt header: {exc}", offset) from None

    def _header_values(self, offset: int) -> Any:
        try:
            frame = next(self._unpacker, None)
        except (ValueError, msgpack.UnpackException) as exc:
            raise self._fail(f"corrupt header: malformed msgpack ({exc})", offset) from None
        if frame is None:
            raise self._fail("truncated recording: the file ends inside the header", offset)
        try:
            kind, body = _unframe(frame)
        except _Damage as exc:
            raise self._fail(f"corrupt header: {exc}", offset) from None
        if kind != Header.KIND:
            raise self._fail("corrupt header: the first record is not a header", offset)
        try:
            return _unpack_body(body)
        except ValueError as exc:
            raise self._fail(f"corrupt header: malformed msgpack ({exc})", offset) from None

    def _check_version(self, values: Any, offset: int) -> None:
        """Format name and major version; the ``[name, [major, minor], ...]`` prefix is stable."""
        if not isinstance(values, list) or len(values) < 2 or values[0] != FORMAT_NAME:
            raise self._fail("not a soccer-ws-harness recording (unknown format name)", offset)
        version = values[1]
        if (
            not isinstance(version, list)
            or len(version) != 2
            or not all(type(v) is int for v in version)
        ):
            raise self._fail(f"corrupt header: bad format version {version!r}", offset)
        major, minor = version
        if major != FORMAT_VERSION[0]:
            newer = "a newer" if major > FORMAT_VERSION[0] else "an older"
            raise self._fail(
                f"made by {newer} harness: format {major}.{minor}, "
                f"this reader knows {FORMAT_VERSION[0]}.x"
            )

    @property
    def position(self) -> int:
        """Byte offset just past the last record read (where the next one starts, if whole)."""
        consumed: int = self._unpacker.tell()
        return self._origin + consumed

    @property
    def tail(self) -> TailDamage | None:
        """Damage that runs to the end of the file (truncated or corrupt), else ``None``."""
        return self.damage.tail

    def _iterate(self) -> Iterator[Record]:
        """The hot loop: one optimistic decode per record, the careful path only on surprise.

        After damage it resynchronises (:meth:`_resync`) and goes on in this same loop, so a
        clean file pays nothing for it.
        """
        seeds, decoders, crc32 = _SEEDS, _FAST_DECODERS, zlib.crc32
        ws_kind, ws_seed = WsMessage.KIND, _SEEDS[WsMessage.KIND]
        while True:
            unpacker, tell = self._unpacker, self._unpacker.tell
            offset = tell()
            try:
                for frame in unpacker:
                    record: Record | None
                    try:
                        kind, crc, body = frame
                        if kind == ws_kind:  # most records: one dict lookup less
                            record = _fast_ws_message(body) if crc32(body, ws_seed) == crc else None
                        else:
                            record = (
                                decoders[kind](body) if crc32(body, seeds[kind]) == crc else None
                            )
                    except Exception:  # the careful path below names the damage
                        record = None
                    if record is None:
                        if type(frame) is tuple and frame and frame[0] == INDEX_KIND:
                            self.index = _index_record(frame)
                            offset = tell()
                            continue
                        record = _decode(frame)
                        if record is None:
                            self.skipped[frame[0]] = self.skipped.get(frame[0], 0) + 1
                            offset = tell()
                            continue
                    offset = tell()
                    self.records_read += 1
                    yield record
            except _Damage as exc:
                reason, truncated = str(exc), False
            except msgpack.BufferFull:
                reason, truncated = f"record exceeds the {MAX_RECORD_BYTES} byte limit", False
            except (ValueError, msgpack.UnpackException) as exc:
                reason, truncated = f"malformed msgpack ({exc})", False
            else:
                left = self._source.consumed - offset
                if left <= 0:
                    return
                reason, truncated = f"the file ends inside a record ({left} bytes)", True
            if not self._resync(self._origin + offset, reason, truncated):
                return

    def start_at(self, offset: int) -> None:
        """Read from byte ``offset`` (a record's start, e.g. from the index) instead of the first
        record; only before iterating, on a seekable stream."""
        if self._iterated or self._base is None:
            raise UsageError("a reader starts elsewhere only before iterating a seekable file")
        self._restart(offset)

    def start_at_time(self, t_ns: int, index: RecordingIndex) -> None:
        """Skip, by ``index``, records that all come before ``t_ns`` (some earlier ones may
        still follow: the caller filters by time)."""
        offset = index.offset_before(t_ns)
        if offset is not None:
            self.start_at(offset)

    def trailing_index(self) -> RecordingIndex | None:
        """The index at the end of the file, read without reading the records (``None``: the
        file has none, or the stream cannot seek)."""
        if self._base is None:
            return None
        stream = self._stream
        here = stream.tell()
        try:
            return read_trailing_index(stream, self._base)
        finally:
            stream.seek(here)

    def positions(self) -> Iterator[tuple[int, Record]]:
        """``(offset, record)`` for each record read: the offset is where the record starts, or
        earlier when skipped bytes came before it."""
        records = iter(self)
        while True:
            offset = self.position
            record = next(records, None)
            if record is None:
                return
            yield offset, record

    def _restart(self, offset: int) -> None:
        assert self._base is not None
        self._stream.seek(self._base + offset)
        self._source.consumed = 0
        self._unpacker = _stream_unpacker(self._source)
        self._origin = offset

    def _resync(self, offset: int, reason: str, truncated: bool) -> bool:
        """Log the damage at ``offset`` and go on at the next whole record; False at the end."""
        if self._base is None:  # not seekable: reading stops at the damage
            self.damage.add(Damage(offset, self.records_read, reason, truncated))
            return False
        seek = self._stream.seek
        seek(self._base + offset)
        resumed, lost = find_next_frame(self._stream.read, offset)
        if resumed is None:
            self.damage.add(Damage(offset, self.records_read, reason, truncated, None, lost))
            return False
        if truncated:
            reason = "a damaged length (the record would run past the end of the file)"
        self.damage.add(Damage(offset, self.records_read, reason, False, resumed, lost))
        self._restart(resumed)
        return True


def _index_record(frame: Any) -> RecordingIndex:
    """The index frame's record (:class:`_Damage` when its checksum or fields do not hold)."""
    _, body = _unframe(frame)
    try:
        return RecordingIndex.from_fields(_unpack_body(body))[0]
    except ValueError as exc:
        raise _Damage(f"bad index record: {exc}") from None


def recording_index(reader: RecordingReader) -> RecordingIndex:
    """The index of a freshly opened reader's file: its trailing index, else rebuilt by reading
    every record once (the reader is then used up)."""
    found = reader.trailing_index()
    if found is not None:
        return found
    return build_index(
        (offset, record.t_ns)
        for offset, record in reader.positions()
        if type(record) is not Summary  # as the writer: the records before the index
    )


def _position(stream: BinaryIO | IO[bytes]) -> int | None:
    """The stream's position if it can seek back there (resynchronisation needs it)."""
    try:
        return stream.tell() if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def open_reader(path: str | os.PathLike[str]) -> Iterator[RecordingReader]:
    """Open ``path`` and read its header; :class:`RecordingFormatError` when it is not readable."""
    name = os.fspath(path)
    with open_input(name, RecordingFormatError, "is a directory, not a recording") as stream:
        yield RecordingReader(stream, path=name)


def open_input(
    name: str, error: Callable[..., HarnessError], directory: str = "is a directory"
) -> BinaryIO:
    """``name`` opened for reading; a missing, unreadable or folder path raises ``error`` with
    one line naming the problem (every reader's rule: no ``OSError`` traceback)."""
    try:
        return watched(open(name, "rb"), name)
    except FileNotFoundError:
        raise error("no such file", path=name) from None
    except IsADirectoryError:
        raise error(directory, path=name) from None
    except OSError as exc:
        raise error(f"cannot open: {exc.strerror}", path=name) from None


def read_recording(
    path: str | os.PathLike[str],
) -> tuple[Header, list[Record], TailDamage | None]:
    """Read a whole recording into memory: header, records, and the first damage if any.

    ``reader.damage`` of :func:`open_reader` has every damaged stretch.
    """
    with open_reader(path) as reader:
        records = list(reader)
        return reader.header, records, reader.damage.first
