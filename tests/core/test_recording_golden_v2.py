"""Golden bytes pin recording format 2.0: the same records must always give the same file.

``tests/data/golden/v2-small.msgpack`` was written by :func:`write_golden`: the v1 golden
records in one block of rows, then two text messages in a block of columns, the index and the
summary.  If this test fails, format 2.0 changed: that breaks every recording already on disk.
Only a deliberate format change may regenerate it (``HARNESS_REGEN_GOLDEN=1 pytest
tests/core/test_recording_golden_v2.py``) together with a version bump and a note in
``docs/recording-format.md``.
"""

from __future__ import annotations

import dataclasses
import io
import os
import zlib
from pathlib import Path

import msgpack

from harness.core.recording import MAGIC, RecordingReader, RecordingWriter, read_recording
from harness.core.records import Direction, Record, WsMessage
from tests.core.test_recording_golden import EVENT, HEADER, RECORDS

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "v2-small.msgpack"

TEXTS: list[Record] = [
    WsMessage(7_500_000, 1, Direction.SERVER_TO_CLIENT, EVENT),
    WsMessage(7_600_000, 2, Direction.CLIENT_TO_SERVER, b'{"action":"ping"}'),
]


def write_golden() -> bytes:
    """The golden file's bytes: fixed records, a flush between the two blocks, fixed summary."""
    stream = io.BytesIO()
    writer = RecordingWriter(stream, blocks=True, index=True)
    writer.start(HEADER)
    for record in RECORDS:
        writer.add(record)
    writer.flush()
    for record in TEXTS:
        writer.add(record)
    writer.finish(t_ns=8_000_000)
    return stream.getvalue()


def test_writing_the_golden_records_gives_the_golden_bytes() -> None:
    data = write_golden()
    if os.environ.get("HARNESS_REGEN_GOLDEN") == "1":
        GOLDEN.write_bytes(data)
    assert data == GOLDEN.read_bytes()


def test_golden_file_reads_back_as_its_records() -> None:
    header, records, tail = read_recording(GOLDEN)
    assert header == dataclasses.replace(HEADER, format_version=(2, 0))
    assert records[:-1] == RECORDS + TEXTS
    assert tail is None
    reader = RecordingReader(io.BytesIO(GOLDEN.read_bytes()))
    assert reader.trailing_index() is not None


def test_golden_layout_matches_the_spec() -> None:
    # docs/recording-format.md section 4.1: after the header, [9, crc, bin body] block frames.
    data = GOLDEN.read_bytes()
    assert data.startswith(MAGIC)
    unpacker = msgpack.Unpacker(io.BytesIO(data[len(MAGIC) :]), use_list=False)
    header, rows, columns, index, summary = unpacker
    assert [frame[0] for frame in (header, rows, columns, index, summary)] == [0, 9, 9, 8, 7]
    for kind, crc, body in (rows, columns):
        assert crc == zlib.crc32(body, zlib.crc32(kind.to_bytes(4, "big")))
    first, kinds, fields = msgpack.unpackb(rows[2])
    assert (first, kinds) == (0, bytes(r.KIND for r in RECORDS))
    assert fields == [msgpack.unpackb(msgpack.packb(r.fields())) for r in RECORDS]
    assert rows[2][0] == 0x93  # [first, kinds, records]
    assert columns[2][0] == 0x96  # [first, n, t_ns[], conn_id[], direction[], payload[]]
    assert msgpack.unpackb(columns[2]) == [
        len(RECORDS),
        2,
        [7_500_000, 7_600_000],
        [1, 2],
        [1, 0],
        [EVENT, b'{"action":"ping"}'],
    ]


def test_golden_file_is_small() -> None:
    assert 300 <= GOLDEN.stat().st_size <= 1400
