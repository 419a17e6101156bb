"""The optional index of a recording (formats 1.1 and 2.0, kind 8): recording time -> file offset.

``docs/recording-format.md`` section 5.1 is the specification.  A writer that keeps an index
(``RecordingWriter(stream, index=True)``: the recorder and ``harness synth``) notes the byte
offset of every :data:`INDEX_EVERY`-th record (in 2.0, of the block holding it: a block start,
where a reader can resume) and writes them at close as one frame just before
the summary (which stays the last frame).  The index body ends with the frame's own start
offset as a fixed-width ``uint64``, so a reader finds it from the file's last bytes without
reading the records (:func:`read_trailing_index`: the summary that ends the file, the 9 bytes
before it).  A file without one (a killed recorder, an older writer, any other tool) gets the
same index rebuilt by one pass over its records (:func:`build_index`).

Each entry is ``(t_ns, offset)``: every record that starts before ``offset`` has a time of at
most ``t_ns``.  So reading from the offset of the last entry whose ``t_ns`` is below a time
``T`` (:meth:`RecordingIndex.offset_before`) misses no record at or after ``T``, even when
records are not in time order.
"""

from __future__ import annotations

import bisect
import io
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import msgpack

from ._framing import MAX_RECORD_BYTES, record_crc
from ._resync import frame_at
from .records import Summary

SUMMARY_KIND = Summary.KIND

INDEX_KIND = 8
"""Record kind of the index (format 1.1); a 1.0 reader skips it as an unknown kind."""

INDEX_VERSION = (1, 1)
"""The format version a writer declares in the header of a file it gives an index."""

INDEX_EVERY = 1024
"""Records between two index entries."""

MAX_ENTRIES = 200_000
"""Entries kept at most (about 3 MiB of body): past it the writer keeps every other entry and
doubles its step, so an index of any file fits the 16 MiB record limit."""

_TRAILER = 9
"""The body's last field: ``0xcf`` and the frame's start offset, 8 big-endian bytes."""


@dataclass(frozen=True, slots=True)
class RecordingIndex:
    """Where to start reading for a recording time (see the module docstring).

    ``every``: records between two entries; ``entries``: ``(t_ns, offset)`` pairs in file
    order; ``records``: records indexed (all after the header, the summary included);
    ``end_ns``: the latest record time.
    """

    every: int
    entries: tuple[tuple[int, int], ...]
    records: int
    end_ns: int

    def offset_before(self, t_ns: int) -> int | None:
        """The offset to read from to see every record at or after ``t_ns`` (``None``: from
        the first record, the index has nothing earlier)."""
        at = entry_before(self.entries, t_ns)
        return self.entries[at][1] if at >= 0 else None

    def fields(self, offset: int) -> list[Any]:
        """The record's fields (the last one is the frame's own ``offset``)."""
        flat = [value for entry in self.entries for value in entry]
        return [self.end_ns, self.every, self.records, flat, offset]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> tuple[RecordingIndex, int]:
        """``(index, the frame offset it names)``; ``ValueError`` when the fields do not fit."""
        if not isinstance(values, list | tuple) or len(values) < 5:
            raise ValueError("not an index record")
        end_ns, every, records, flat, offset = values[:5]
        numbers = (end_ns, every, records, offset)
        if not all(type(v) is int and v >= 0 for v in numbers) or not every:
            raise ValueError("bad index fields")
        if (
            not isinstance(flat, list | tuple)
            or len(flat) % 2
            or not all(type(v) is int and v >= 0 for v in flat)
        ):
            raise ValueError("bad index entries")
        entries = tuple(zip(flat[0::2], flat[1::2], strict=True))
        times = [t for t, _ in entries]
        offsets = [o for _, o in entries]
        if times != sorted(times) or offsets != sorted(offsets):
            raise ValueError("index entries out of order")
        return cls(every, entries, records, end_ns), offset


class IndexBuilder:
    """Collects the entries as records are written or read: :meth:`add` once per record."""

    __slots__ = ("_countdown", "_entries", "_every", "_max_entries", "_t_max", "records")

    def __init__(self, every: int = INDEX_EVERY, max_entries: int = MAX_ENTRIES) -> None:
        self._every = every
        self._max_entries = max_entries
        self._entries: list[tuple[int, int]] = []
        self._countdown = 0
        self._t_max = 0
        self.records = 0

    def add(self, offset: int, t_ns: int) -> None:
        """A record of time ``t_ns`` starts at byte ``offset``."""
        if not self._countdown:
            self._entries.append((self._t_max, offset))
            self._countdown = self._every
            if len(self._entries) > self._max_entries:
                self._entries = self._entries[::2]
                self._every *= 2
                self._countdown = self._every - (self.records % self._every)
        self._countdown -= 1
        self.records += 1
        if t_ns > self._t_max:
            self._t_max = t_ns

    def build(self) -> RecordingIndex:
        return RecordingIndex(self._every, tuple(self._entries), self.records, self._t_max)


def index_frame(index: RecordingIndex, offset: int) -> bytes:
    """The whole index frame, to be written at byte ``offset`` (its body ends with it)."""
    end_ns, every, records, flat, _ = index.fields(offset)
    head = msgpack.packb([end_ns, every, records, flat])
    assert head[0] == 0x94  # fixarray of 4: the same array with a 5th element is 0x95
    body = b"\x95" + head[1:] + b"\xcf" + offset.to_bytes(8, "big")
    if len(body) > MAX_RECORD_BYTES:  # cannot happen within MAX_ENTRIES
        raise ValueError("index too large")
    framed: bytes = msgpack.packb([INDEX_KIND, record_crc(INDEX_KIND, body), body])
    return framed


def read_trailing_index(stream: IO[bytes], base: int = 0) -> RecordingIndex | None:
    """The index frame just before the summary that ends a seekable ``stream`` (offsets count
    from ``base``), or ``None`` when the file does not end with a whole summary right after a
    whole, valid index.  Reads only the file's last bytes and the index frame."""
    size = stream.seek(0, io.SEEK_END) - base
    window = min(size, SUMMARY_SEARCH_BYTES)
    stream.seek(base + size - window)
    tail = bytearray(stream.read(window))
    summary = _summary_start(tail)
    if summary is None or summary < _TRAILER:
        return None
    end = size - window + summary  # where the index frame must end
    trailer = tail[summary - _TRAILER : summary]
    if trailer[0] != 0xCF:
        return None
    offset = int.from_bytes(trailer[1:], "big")
    if not 0 <= offset < end - _TRAILER or end - offset > MAX_RECORD_BYTES + 32:
        return None
    stream.seek(base + offset)
    data = stream.read(end - offset)
    try:
        frame = msgpack.unpackb(data, use_list=False, raw=False, max_bin_len=MAX_RECORD_BYTES)
        kind, crc, body = frame
        if kind != INDEX_KIND or type(body) is not bytes or zlib.crc32(body, _SEED) != crc:
            return None
        index, named = RecordingIndex.from_fields(msgpack.unpackb(body, use_list=False))
    except (ValueError, TypeError, msgpack.UnpackException):
        return None  # unpackb also refuses bytes left over: the frame must end at ``end``
    return index if named == offset else None


SUMMARY_SEARCH_BYTES = 64 * 1024
"""How far from the end of a file the summary frame is looked for (it holds a few counts)."""


def _summary_start(tail: bytearray) -> int | None:
    """Where, in the file's last bytes, a whole summary frame whose checksum holds starts and
    runs exactly to the end."""
    pos = tail.find(0x93)
    while pos >= 0:
        header = frame_at(tail, pos)
        if header is not None:
            kind, crc, start, end = header
            whole = kind == SUMMARY_KIND and end == len(tail)
            if whole and zlib.crc32(tail[start:end], _SUMMARY_SEED) == crc:
                return pos
        pos = tail.find(0x93, pos + 1)
    return None


_SEED = zlib.crc32(INDEX_KIND.to_bytes(4, "big"))
_SUMMARY_SEED = zlib.crc32(SUMMARY_KIND.to_bytes(4, "big"))


def build_index(positions: Iterable[tuple[int, int]], every: int = INDEX_EVERY) -> RecordingIndex:
    """The index of records given as ``(offset, t_ns)`` in file order (a rebuild)."""
    builder = IndexBuilder(every)
    for offset, t_ns in positions:
        builder.add(offset, t_ns)
    return builder.build()


def entry_before(entries: Sequence[tuple[int, int]], t_ns: int) -> int:
    """Position in ``entries`` of the last entry whose time is below ``t_ns`` (-1: none)."""
    return bisect.bisect_left([t for t, _ in entries], t_ns) - 1
