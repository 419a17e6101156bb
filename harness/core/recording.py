"""Recording files, formats 1.x and 2.0: one msgpack stream of checksummed frames.

Layout (``docs/recording-format.md`` is the specification)::

    "soccer-ws-harness-recording"        msgpack str, the magic
    [0, crc, bin(Header fields)]         the header record
    [kind, crc, bin(record fields)] ...  1.x: records, appended as they happen
    [9, crc, bin(block)] ...             2.0: blocks of records (:mod:`._blocks`)
    [8, crc, bin(index)]                 optional (1.1, 2.0), :mod:`.index`
    [7, crc, bin(Summary fields)]        optional, written by a clean close

``crc`` is ``zlib.crc32(body, crc32(kind as 4 big-endian bytes))``, so a damaged kind or body is
detected.  Policies, and why:

* Crash safety: the writer hands each record (1.x) or block (2.0) to the OS at once (write +
  flush, no fsync), so a killed process leaves a file whose whole frames all read back.
* Speed (2.0): one checksum and one decode per block, and :meth:`RecordingReader.ws_texts`
  builds no record objects for a block of text messages.
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
import itertools
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, BinaryIO

import msgpack

from harness.errors import HarnessError, RecordingFormatError, UsageError

from ._blocks import (
    BLOCK_BYTES,
    BLOCK_KIND,
    BLOCK_OVERHEAD,
    BLOCK_RECORDS,
    BLOCK_VERSION,
    BlockError,
    Checked,
    Columns,
    block_body,
    check_columns,
    decode_rows,
    position,
    split_position,
    text_block_body,
    text_messages,
    unpack_block,
)
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
    Direction,
    Header,
    Record,
    RecordFieldError,
    Summary,
    WsMessage,
)

KNOWN_MAJORS = (FORMAT_VERSION[0], BLOCK_VERSION[0])
"""Major format versions this reader reads: 1 (a frame per record) and 2 (blocks)."""

WsText = tuple[int, int, Direction, int, bytes]
"""``(position, t_ns, direction, conn_id, payload)`` of one text message (:meth:`ws_texts`)."""

__all__ = [
    "BLOCK_VERSION",
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

    Format 1.x: each record is one ``write`` followed by ``flush``: on an ``open(path, "wb")``
    stream that hands it to the OS, which is what makes a killed recorder's file readable.
    Format 2.0 (``blocks``; ``None``: when the header says 2.0): records are held and written
    as one block (one write + flush) of at most 64 KiB or 4,096 records, or sooner by
    :meth:`flush` (the recorder calls it when idle).  ``index``: end the file with its index
    (:mod:`harness.core.index`; a 1.0 header then says 1.1); ``None``: when the header
    already says 1.1 or later (a file reproduced as it was), always in 2.0.
    """

    def __init__(
        self,
        stream: IO[bytes],
        *,
        index: bool | None = False,
        index_every: int = INDEX_EVERY,
        blocks: bool | None = None,
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
        self._blocks_wanted = blocks
        self._blocked = False
        self._kinds = bytearray()  # the pending block (format 2.0)
        self._records: list[Record] = []
        self._bodies: list[bytes | None] = []  # None: a text message, written by columns
        self._texts_only = True
        self._pending_bytes = 0
        self._in_blocks = 0  # records written in blocks so far
        self.written = 0
        """Records (after the header) whose bytes were handed to the stream so far."""

    def start(self, header: Header) -> None:
        """Write the magic and the header record."""
        if self._started:
            raise UsageError("recording already started")
        self._started = True
        blocked = self._blocks_wanted
        if blocked is None:
            blocked = header.format_version[0] >= BLOCK_VERSION[0]
        wanted = self._index_wanted
        if wanted is None:  # as the header says: a file reproduced as it was
            wanted = blocked or tuple(header.format_version) >= INDEX_VERSION
        if blocked:
            self._blocked = True
            if header.format_version[0] < BLOCK_VERSION[0]:
                header = dataclasses.replace(header, format_version=BLOCK_VERSION)
        elif wanted and header.format_version == FORMAT_VERSION:
            header = dataclasses.replace(header, format_version=INDEX_VERSION)
        if wanted:
            self._index = IndexBuilder(self._index_every)
        self._emit(MAGIC + self._frame(Header.KIND, header.fields()))

    @property
    def pending(self) -> int:
        """Records held for the next block, not yet handed to the OS (format 2.0)."""
        return len(self._kinds)

    def flush(self) -> None:
        """Write the pending block now, if any (format 2.0; nothing to do in 1.x)."""
        if not self._kinds:
            return
        if self._texts_only:
            body = text_block_body(self._in_blocks, self._records)  # type: ignore[arg-type]
        else:
            bodies = [
                self._pack(record.fields()) if encoded is None else encoded
                for encoded, record in zip(self._bodies, self._records, strict=True)
            ]
            body = block_body(self._in_blocks, bytes(self._kinds), bodies)
        frame: bytes = self._pack([BLOCK_KIND, zlib.crc32(body, _BLOCK_SEED), body])
        count = len(self._kinds)
        self._in_blocks += count
        self._kinds, self._records, self._bodies = bytearray(), [], []
        self._pending_bytes, self._texts_only = 0, True
        self._emit(frame)
        self.written += count

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
        if self._blocked:
            self._add_to_block(kind, record)
        else:
            if self._index is not None:
                self._index.add(self._offset, record.t_ns)
            self._emit(self._frame(kind, record.fields()))
            self.written += 1
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
        self.flush()
        if self._index is not None:  # just before the summary, which stays the last frame
            self._emit(index_frame(self._index.build(), self._offset))
        self._emit(self._frame(Summary.KIND, summary.fields()))
        self._summary = summary
        return summary

    def _add_to_block(self, kind: int, record: Record) -> None:
        """Hold one record for the block; a block that would pass 64 KiB is written first.

        A text message of plain types is encoded at the flush (by columns if the block holds
        only such messages); any other record now, which checks its size."""
        body: bytes | None = None
        if type(record) is WsMessage and _text_column_fit(record):
            size = len(record.payload) + _TEXT_OVERHEAD
            if size > MAX_RECORD_BYTES - BLOCK_OVERHEAD:
                self._body(kind, record.fields(), MAX_RECORD_BYTES - BLOCK_OVERHEAD)  # refuses
        else:
            body = self._body(kind, record.fields(), MAX_RECORD_BYTES - BLOCK_OVERHEAD)
            size = len(body)
        if self._kinds and self._pending_bytes + size > BLOCK_BYTES:
            self.flush()
        if self._index is not None:  # the pending block starts where the file ends now
            self._index.add(self._offset, record.t_ns)
        self._kinds.append(kind)
        self._records.append(record)
        self._bodies.append(body)
        self._pending_bytes += size
        if body is not None:
            self._texts_only = False
        if len(self._kinds) >= BLOCK_RECORDS:
            self.flush()

    def _body(self, kind: int, fields: list[Any], limit: int) -> bytes:
        try:
            body: bytes = self._pack(fields)
        except (TypeError, ValueError, OverflowError) as exc:
            raise UsageError(f"cannot encode {KIND_NAMES[kind]} record: {exc}") from None
        if len(body) > limit:
            raise UsageError(
                f"{KIND_NAMES[kind]} record of {len(body)} bytes exceeds the "
                f"{limit} byte limit of recording format v{1 if limit == MAX_RECORD_BYTES else 2}"
            )
        return body

    def _frame(self, kind: int, fields: list[Any]) -> bytes:
        body = self._body(kind, fields, MAX_RECORD_BYTES)
        frame: bytes = self._pack([kind, zlib.crc32(body, _SEEDS[kind]), body])
        return frame

    def _emit(self, data: bytes) -> None:
        self._write(data)
        self._flush()
        self._offset += len(data)


_INT64 = 1 << 63
_TEXT_OVERHEAD = 24
"""A text message's bytes in a text block besides its payload, at most (two int64, a bin32
header, a fixint direction)."""


def _text_column_fit(record: WsMessage) -> bool:
    """A plain text message that a text block holds as it is: its integers fit an int64, so
    packing the columns at the flush cannot fail (any other record is packed, and so checked,
    when added)."""
    return (
        record.is_text is True
        and type(record.direction) is Direction
        and -_INT64 <= record.t_ns < _INT64
        and -_INT64 <= record.conn_id < _INT64
    )


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


_BLOCK_SEED = zlib.crc32(BLOCK_KIND.to_bytes(4, "big"))
_WS_KIND = WsMessage.KIND


@contextlib.contextmanager
def open_writer(
    path: str | os.PathLike[str],
    header: Header,
    *,
    index: bool | None = False,
    blocks: bool | None = None,
) -> Iterator[RecordingWriter]:
    """Create (or replace) ``path``, write the header; on exit write the summary and close.

    The summary is written on an exception too (best effort), so a recorder that failed still
    leaves a complete file.  ``index``: end the file with its index (:mod:`harness.core.index`);
    ``blocks``: write format 2.0 (``None``: as the header says), see :class:`RecordingWriter`.
    """
    try:
        stream = open(path, "wb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise UsageError(f"cannot create recording {os.fspath(path)}: {exc.strerror}") from None
    with stream:
        writer = RecordingWriter(stream, index=index, blocks=blocks)
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

    A record's *position* (:meth:`positions`, :meth:`start_at`) is its byte offset in a 1.x
    file; in a 2.0 file it is ``frame offset << 16 | its number in the frame`` (a block holds
    many; :meth:`frame_offset` gives the byte offset back).
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
        self.blocked = False
        """True for a format 2.0 file (records in blocks)."""
        self.latest_t_ns = 0
        """The latest time of the records read so far (2.0 files; any kind, text or not)."""
        self._skip = 0  # records of the first frame to skip after start_at (2.0)
        self._expected: int | None = None  # the next block's ``first`` if nothing was lost
        self._recount: int | None = None  # damage count when a resync awaits the next block
        self._read_magic()
        self.header: Header = self._read_header()

    def __iter__(self) -> Iterator[Record]:
        self._begin()
        if self.blocked:
            return itertools.chain.from_iterable(
                _known(records) for _, records in self._block_records()
            )
        return self._iterate()

    def _begin(self) -> None:
        if self._iterated:
            raise UsageError("a recording reader iterates once; open the file again")
        self._iterated = True

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
        if major not in KNOWN_MAJORS:
            newer = "a newer" if major > KNOWN_MAJORS[-1] else "an older"
            known = " and ".join(f"{m}.x" for m in KNOWN_MAJORS)
            raise self._fail(
                f"made by {newer} harness: format {major}.{minor}, this reader knows {known}"
            )
        self.blocked = major == BLOCK_VERSION[0]

    @property
    def position(self) -> int:
        """Byte offset just past the last frame read (where the next one starts, if whole)."""
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
            except (_Damage, ValueError, msgpack.UnpackException) as exc:
                stop: tuple[str, bool] | None = _damage_reason(exc), False
            else:
                stop = self._cut_short(offset)
            if stop is None:
                return
            reason, truncated = stop
            if not self._resync(self._origin + offset, reason, truncated):
                return

    def _cut_short(self, offset: int) -> tuple[str, bool] | None:
        """At the end of the bytes read, with the last whole record ending at ``offset``:
        ``(reason, truncated)`` when the file ends inside a record, else ``None``."""
        left = self._source.consumed - offset
        if left <= 0:
            return None
        return f"the file ends inside a record ({left} bytes)", True

    def start_at(self, offset: int) -> None:
        """Read from position ``offset`` (one :meth:`positions` yielded, or an index entry's
        offset in a 1.x file) instead of the first record: that record comes next; only before
        iterating, on a seekable stream."""
        if self._iterated or self._base is None:
            raise UsageError("a reader starts elsewhere only before iterating a seekable file")
        if self.blocked:
            offset, self._skip = split_position(offset)
        self._restart(offset)

    def start_at_time(self, t_ns: int, index: RecordingIndex) -> None:
        """Skip, by ``index``, records that all come before ``t_ns`` (some earlier ones may
        still follow: the caller filters by time)."""
        offset = index.offset_before(t_ns)
        if offset is not None:
            self.start_at(position(offset, 0) if self.blocked else offset)

    def frame_offset(self, at: int) -> int:
        """The byte offset of the frame that holds the record at position ``at`` (an index
        entry's offset: where a reader can start)."""
        return split_position(at)[0] if self.blocked else at

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
        """``(position, record)`` for each record read; :meth:`start_at` of a position yields
        that record next.  1.x: the byte offset where the record starts, or earlier when skipped
        bytes came before it; 2.0: see the class docstring."""
        if self.blocked:
            self._begin()
            return itertools.chain.from_iterable(
                _numbered(base, records) for base, records in self._block_records()
            )
        return self._offsets()

    def _offsets(self) -> Iterator[tuple[int, Record]]:
        records = iter(self)
        while True:
            offset = self.position
            record = next(records, None)
            if record is None:
                return
            yield offset, record

    def ws_texts(self, others: Callable[[Record], object] | None = None) -> Iterator[WsText]:
        """``(position, t_ns, direction, conn_id, payload)`` of each text WebSocket message,
        without building record objects where a block holds only such messages (the hot path
        of a 2.0 file; checksums and field types are checked as for :meth:`positions`).  Other
        records are read (and checked) and handed to ``others``, in file order, if given;
        :attr:`latest_t_ns` follows them all."""
        if not self.blocked:
            return self._texts_of(self.positions(), others)
        self._begin()
        return itertools.chain.from_iterable(self._text_blocks(others))

    def _texts_of(
        self, positions: Iterable[tuple[int, Record]], others: Callable[[Record], object] | None
    ) -> Iterator[WsText]:
        for at, record in positions:
            if record.t_ns > self.latest_t_ns:
                self.latest_t_ns = record.t_ns
            if type(record) is WsMessage and record.is_text:
                yield at, record.t_ns, record.direction, record.conn_id, record.payload
            elif others is not None:
                others(record)

    def _text_blocks(self, others: Callable[[Record], object] | None) -> Iterator[Iterable[WsText]]:
        for base, end, kinds, rows, columns, in_block in self._frames():
            if columns is None:
                records = self._decoded(base, end, kinds, rows, columns, in_block)
                if records:
                    yield self._texts_of(_numbered(base, records), others)
                continue
            checked = self._checked(base, end, columns)
            if checked is not None:
                ts, conns, directions, payloads = checked
                count = len(ts)
                self.records_read += count
                latest = max(ts)
                if latest > self.latest_t_ns:
                    self.latest_t_ns = latest
                yield zip(range(base, base + count), ts, directions, conns, payloads, strict=False)

    def _block_records(self) -> Iterator[tuple[int, list[Record | None]]]:
        """``(position of the first, records)`` of each readable frame of a 2.0 file (``None``
        for a record of an unknown kind, counted in :attr:`skipped`)."""
        for base, end, kinds, rows, columns, in_block in self._frames():
            records = self._decoded(base, end, kinds, rows, columns, in_block)
            if records:
                latest = max((r.t_ns for r in records if r is not None), default=0)
                if latest > self.latest_t_ns:
                    self.latest_t_ns = latest
                yield base, records

    def _checked(self, base: int, end: int, columns: Columns) -> Checked | None:
        """A text block's checked columns, or ``None`` (logged as damage)."""
        try:
            return check_columns(columns)
        except BlockError as exc:
            self._bad_frame(base, end, str(exc), len(columns[0]))
            return None

    def _bad_frame(self, base: int, end: int, reason: str, lost: int) -> None:
        at = split_position(base)[0]
        self.damage.add(Damage(at, self.records_read, reason, False, end, max(lost, 1)))

    def _decoded(
        self,
        base: int,
        end: int,
        kinds: bytes,
        rows: tuple[Any, ...] | None,
        columns: Columns | None,
        in_block: bool,
    ) -> list[Record | None] | None:
        """The frame's records, or ``None`` (logged as damage) when one does not fit."""
        if columns is not None:
            checked = self._checked(base, end, columns)
            if checked is None:
                return None
            records = text_messages(checked)
            self.records_read += len(records)
            return records
        assert rows is not None
        try:
            records = decode_rows(kinds, rows, in_block)
        except BlockError as exc:
            self._bad_frame(base, end, str(exc), len(kinds))
            return None
        if None in records:
            for kind, record in zip(kinds, records, strict=True):
                if record is None:
                    self.skipped[kind] = self.skipped.get(kind, 0) + 1
            self.records_read += len(records) - records.count(None)
        else:
            self.records_read += len(records)
        return records

    def _frames(self) -> Iterator[_Frame]:
        """Each readable frame of a 2.0 file as ``(position of its first record, end offset,
        kinds, rows, columns, in a block)``: a block (of rows of fields, or text columns), or a
        record in a frame of its own (the summary).
        Damaged frames are logged and skipped (resynchronising as in 1.x); the index is taken
        in passing."""
        crc32, seed = zlib.crc32, _BLOCK_SEED
        while True:
            unpacker, tell = self._unpacker, self._unpacker.tell
            offset = tell()
            try:
                for frame in unpacker:
                    end = tell()
                    try:
                        kind, crc, body = frame
                        in_block = kind == BLOCK_KIND and crc32(body, seed) == crc
                    except Exception:  # the careful path below names the damage
                        in_block = False
                    try:
                        columns: Columns | None = None
                        if in_block:
                            first, kinds, rows, columns = unpack_block(body)
                            self._counted(first, len(kinds))
                        else:
                            kinds, rows = self._single(frame)
                    except BlockError as exc:
                        at, offset = self._origin + offset, end
                        self.damage.add(
                            Damage(at, self.records_read, str(exc), False, self._origin + end)
                        )
                        continue
                    start, offset = offset, end
                    skip, self._skip = self._skip, 0
                    if skip:
                        kinds = kinds[skip:]
                        if rows is not None:
                            rows = rows[skip:]
                        if columns is not None:
                            columns = _sliced(columns, skip)
                    if not kinds:
                        continue
                    base = position(self._origin + start, skip)
                    yield base, self._origin + end, kinds, rows, columns, in_block
            except (_Damage, ValueError, msgpack.UnpackException) as exc:
                stop: tuple[str, bool] | None = _damage_reason(exc), False
            else:
                stop = self._cut_short(offset)
            if stop is None:
                return
            reason, truncated = stop
            self._skip = 0
            if not self._resync(self._origin + offset, reason, truncated):
                return
            self._recount = self.damage.count

    def _counted(self, first: int, count: int) -> None:
        """Records lost before this block, once known from its ``first`` (after a resync)."""
        expected, self._expected = self._expected, first + count
        if self._recount is not None:
            if self._recount == self.damage.count and expected is not None and first > expected:
                self.damage.recount_last(first - expected)
            self._recount = None

    def _single(self, frame: Any) -> tuple[bytes, tuple[Any, ...]]:
        """A frame of one record (checked by :func:`_unframe`): the index (taken, no records),
        a known kind, or an unknown one (counted in :attr:`skipped`)."""
        kind, body = _unframe(frame)
        if kind == INDEX_KIND:
            self.index = _index_record(frame)
            return b"", ()
        if kind == Header.KIND:
            raise _Damage("a second header record")
        if kind not in RECORD_TYPES:
            self.skipped[kind] = self.skipped.get(kind, 0) + 1
            return b"", ()
        try:
            values = _unpack_body(body)
        except ValueError as exc:
            raise _Damage(f"malformed {KIND_NAMES[kind]} record body: {exc}") from None
        return bytes([kind]), (values,)

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


def _damage_reason(exc: Exception) -> str:
    """What a reading loop met, in the words of a damage report."""
    if isinstance(exc, _Damage):
        return str(exc)
    if isinstance(exc, msgpack.BufferFull):
        return f"record exceeds the {MAX_RECORD_BYTES} byte limit"
    return f"malformed msgpack ({exc})"


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
        (reader.frame_offset(at), record.t_ns)
        for at, record in reader.positions()
        if type(record) is not Summary  # as the writer: the records before the index
    )


_Frame = tuple[int, int, bytes, tuple[Any, ...] | None, "Columns | None", bool]


def _sliced(columns: Columns, skip: int) -> Columns:
    ts, conns, directions, payloads = columns
    return ts[skip:], conns[skip:], directions[skip:], payloads[skip:]


def _known(records: list[Record | None]) -> list[Record]:
    """A frame's records, those of unknown kinds left out."""
    if None not in records:
        return records  # type: ignore[return-value]  # no None among them
    return [record for record in records if record is not None]


def _numbered(base: int, records: list[Record | None]) -> Iterable[tuple[int, Record]]:
    """``(position, record)`` of a frame's records from ``base``, unknown kinds left out."""
    numbered = zip(range(base, base + len(records)), records, strict=True)
    if None not in records:
        return numbered  # type: ignore[return-value]  # no None among them
    return [(at, record) for at, record in numbered if record is not None]


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
