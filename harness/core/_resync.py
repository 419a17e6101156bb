"""Resynchronisation: after a damaged record, find the next whole record (format v1, §6).

Private to :mod:`harness.core.recording`.  From the byte after the damage, every offset where a
record frame can start (a msgpack 3-array: ``0x93``, or its array16/array32 spellings) is tried:
the frame's ``[uint kind, uint crc, bin body]`` header must parse, the body must lie within the
file and the 16 MiB limit, the file must end or a frame start right after it, and the CRC must
hold.  The first offset that passes is where reading goes on.  The test before the CRC keeps a
stretch packed with fake frame headers, each claiming a long body, from costing a CRC of up to
16 MiB per byte scanned.  A false match needs a 32-bit checksum to hold by chance on bytes that
also spell a frame header.  Memory stays bounded: a window of one largest frame plus a read chunk.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable

from ._framing import MAX_RECORD_BYTES, READ_CHUNK_BYTES

_MAX_HEADER_BYTES = 5 + 9 + 9 + 5
"""Longest frame header: array32, two int64s, bin32."""

_LEAD = re.compile(rb"[\x93\xdc\xdd]")
_ARRAY3 = {0x93: 1, 0xDC: 3, 0xDD: 5}
_LEADS = frozenset(_ARRAY3)
_ARRAY3_PREFIX = {0xDC: b"\xdc\x00\x03", 0xDD: b"\xdd\x00\x00\x00\x03"}
_UINT_SIZES = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
_BIN_SIZES = {0xC4: 1, 0xC5: 2, 0xC6: 4}


def _uint(data: bytearray, pos: int) -> tuple[int, int] | None:
    """A msgpack integer in 0..2**32-1 at ``pos`` (any spelling): ``(value, next pos)``."""
    lead = data[pos]
    if lead <= 0x7F:
        return lead, pos + 1
    size = _UINT_SIZES.get(lead)
    if size is None:
        return None
    value = int.from_bytes(data[pos + 1 : pos + 1 + size], "big", signed=lead >= 0xD0)
    return (value, pos + 1 + size) if 0 <= value <= 0xFFFF_FFFF else None


def frame_at(data: bytearray, pos: int) -> tuple[int, int, int, int] | None:
    """Parse a frame header at ``pos``: ``(kind, crc, body start, body end)``, or ``None``.

    ``data`` must hold :data:`_MAX_HEADER_BYTES` bytes from ``pos`` or reach the end of file.
    """
    lead = data[pos]
    prefix = _ARRAY3_PREFIX.get(lead)
    if prefix is not None and data[pos : pos + len(prefix)] != prefix:
        return None
    at = pos + _ARRAY3.get(lead, 1)
    try:
        kind = _uint(data, at)
        if kind is None:
            return None
        crc = _uint(data, kind[1])
        if crc is None:
            return None
        at = crc[1]
        size = _BIN_SIZES.get(data[at])
    except IndexError:
        return None
    if size is None or at + 1 + size > len(data):
        return None
    length = int.from_bytes(data[at + 1 : at + 1 + size], "big")
    if length > MAX_RECORD_BYTES:
        return None
    start = at + 1 + size
    return kind[0], crc[0], start, start + length


class _Window:
    """The stream's bytes from ``start`` on, read as needed; earlier bytes are dropped."""

    def __init__(self, read: Callable[[int], bytes], start: int) -> None:
        self._read = read
        self.start = start
        self.data = bytearray()
        self.eof = False

    def fill(self, pos: int, count: int) -> None:
        """Drop what precedes ``pos`` (in large steps) and hold ``count`` bytes from it if any."""
        if pos - self.start > READ_CHUNK_BYTES:
            del self.data[: pos - self.start]
            self.start = pos
        need = pos - self.start + count
        while len(self.data) < need and not self.eof:
            chunk = self._read(max(READ_CHUNK_BYTES, need - len(self.data)))
            if chunk:
                self.data += chunk
            else:
                self.eof = True


def find_next_frame(read: Callable[[int], bytes], damaged_at: int) -> tuple[int | None, int]:
    """Scan a stream positioned at ``damaged_at`` for the next frame whose CRC holds.

    Returns ``(offset or None at end of file, records lost)``; the records lost are counted by
    following frame lengths from ``damaged_at`` through the skipped bytes (at least 1).
    """
    window = _Window(read, damaged_at)
    window.fill(damaged_at, _MAX_HEADER_BYTES)
    chain = _next_in_chain(window, damaged_at)
    lost, pos = 1, damaged_at + 1
    while True:
        window.fill(pos, _MAX_HEADER_BYTES)
        found = _LEAD.search(window.data, pos - window.start)
        if found is None:
            if window.eof:
                return None, lost
            pos = window.start + len(window.data)
            continue
        pos = window.start + found.start()
        window.fill(pos, _MAX_HEADER_BYTES)
        if _whole_frame_at(window, pos):
            return pos, lost
        if pos == chain:
            lost += 1
            chain = _next_in_chain(window, pos)
        pos += 1


def _next_in_chain(window: _Window, pos: int) -> int | None:
    rel = pos - window.start
    header = frame_at(window.data, rel) if rel < len(window.data) else None
    return None if header is None else window.start + header[3]


def _whole_frame_at(window: _Window, pos: int) -> bool:
    """True when a whole frame whose CRC holds starts at ``pos``."""
    header = frame_at(window.data, pos - window.start)
    if header is None:
        return False
    length = header[3] - (pos - window.start)
    window.fill(pos, length + 1)
    rel = pos - window.start
    if rel + length > len(window.data):
        return False  # its body would run past the end of the file
    if rel + length < len(window.data) and window.data[rel + length] not in _LEADS:
        return False  # neither the end of the file nor a frame follows it: no CRC to compute
    header = frame_at(window.data, rel)
    assert header is not None  # the same bytes as above
    kind, crc, start, end = header
    return zlib.crc32(window.data[start:end], zlib.crc32(kind.to_bytes(4, "big"))) == crc
