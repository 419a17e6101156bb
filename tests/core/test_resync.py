"""Resynchronisation: one damaged byte loses one record, not the rest (format v1, §6)."""

from __future__ import annotations

import io
import random
import zlib

import pytest

from harness import default_recording_path
from harness.core.damage import MAX_LISTED_DAMAGE, Damage, DamageLog
from harness.core.recording import RecordingReader, RecordingWriter, read_recording
from harness.core.records import Direction, Header, Record, WsMessage

HEADER = Header("2024-01-15T10:00:00+00:00", "test", "0.0", {})
MESSAGES: list[Record] = [
    WsMessage(i, 1, Direction.SERVER_TO_CLIENT, b"event %d" % i) for i in range(10)
]


def _write(records: list[Record]) -> tuple[bytes, list[int]]:
    """The file's bytes and where each record starts."""
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(HEADER)
    starts = []
    for record in records:
        starts.append(stream.tell())
        writer.add(record)
    return stream.getvalue(), starts


def _read(data: bytes) -> tuple[list[Record], RecordingReader]:
    reader = RecordingReader(io.BytesIO(data))
    return list(reader), reader


def test_a_flipped_byte_at_a_quarter_of_the_bundled_file_loses_one_block() -> None:
    # The bundled file is format 2.0: the byte falls in a block, whose records are all lost
    data = bytearray(default_recording_path().read_bytes())
    _, original, _ = read_recording(default_recording_path())
    data[len(data) // 4] ^= 0x40
    records, reader = _read(bytes(data))
    [damage] = reader.damage.regions
    kept, lost = damage.records_read, damage.records_lost
    assert 1 < lost <= 4096
    assert records == original[:kept] + original[kept + lost :]
    assert damage.offset < len(data) // 4 < damage.resumed_at  # type: ignore[operator]
    assert reader.tail is None
    assert "tail" not in reader.damage.describe()


def test_a_damaged_length_pointing_past_the_end_loses_only_its_record() -> None:
    data, starts = _write(MESSAGES)
    broken = bytearray(data)
    # Frame: 93, kind, ce + 4 crc bytes, c4 len, body: make the body claim 255 bytes.
    length_at = starts[3] + 1 + 1 + 5 + 1
    assert broken[length_at - 1] == 0xC4
    broken[length_at] = 0xFF
    records, reader = _read(bytes(broken))
    assert records == MESSAGES[:3] + MESSAGES[4:]
    [damage] = reader.damage.regions
    assert (damage.offset, damage.resumed_at, damage.truncated) == (starts[3], starts[4], False)


def test_mid_file_damage_and_a_cut_end_are_both_reported() -> None:
    data, starts = _write(MESSAGES)
    broken = bytearray(data[:-2])
    broken[starts[2] + 12] ^= 0xFF
    records, reader = _read(bytes(broken))
    assert records == MESSAGES[:2] + MESSAGES[3:9]
    first, last = reader.damage.regions
    assert first.resumed_at == starts[3]
    assert (last.is_tail, last.truncated, last.offset) == (True, True, starts[9])
    assert reader.tail == last
    line = reader.damage.describe()
    assert "2 damaged stretches, 2 records lost, truncated at the end" in line
    assert f"byte {starts[2]}-{starts[3]}" in line


def test_consecutive_damaged_records_are_one_stretch_counting_each_record() -> None:
    data, starts = _write(MESSAGES)
    broken = bytearray(data)
    for index in (4, 5, 6):
        broken[starts[index] + 12] ^= 0xFF
    records, reader = _read(bytes(broken))
    assert records == MESSAGES[:4] + MESSAGES[7:]
    [damage] = reader.damage.regions
    assert (damage.offset, damage.resumed_at, damage.records_lost) == (starts[4], starts[7], 3)
    assert damage.records_read == 4


def test_garbage_between_records_is_skipped() -> None:
    data, starts = _write(MESSAGES)
    garbage = b"\x93\x93\xdc\x00\x03\x01\x02\xc4\x05" * 50
    records, reader = _read(data[: starts[5]] + garbage + data[starts[5] :])
    assert records == MESSAGES
    [damage] = reader.damage.regions
    assert (damage.offset, damage.resumed_at) == (starts[5], starts[5] + len(garbage))


class _Pipe(io.BytesIO):
    """A stream that cannot seek, like a pipe."""

    def seekable(self) -> bool:
        return False


def test_a_stream_that_cannot_seek_stops_at_the_damage() -> None:
    data, starts = _write(MESSAGES)
    broken = bytearray(data)
    broken[starts[5] + 12] ^= 0xFF
    reader = RecordingReader(_Pipe(bytes(broken)))
    assert list(reader) == MESSAGES[:5]
    assert reader.tail is not None
    assert reader.tail.offset == starts[5]


def test_the_damage_log_stays_bounded_but_counts_everything() -> None:
    log = DamageLog()
    for index in range(MAX_LISTED_DAMAGE + 10):
        log.add(Damage(index * 10, index, "checksum mismatch", False, index * 10 + 5))
    assert len(log.regions) == MAX_LISTED_DAMAGE
    assert log.count == MAX_LISTED_DAMAGE + 10
    assert log.bytes_skipped == 5 * log.count
    assert "and 1,007 more" in log.describe()


def test_fake_frame_headers_claiming_long_bodies_cost_no_checksum_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Garbage packed with frame headers (bin32 bodies of about 1 MiB): the reader resumes at
    the next record without a CRC over each claimed body (before: 500 MiB of CRC here)."""
    rng = random.Random(7)
    records: list[Record] = [
        WsMessage(i, 1, Direction.SERVER_TO_CLIENT, b"%d" % i + bytes(300)) for i in range(5000)
    ]
    data, starts = _write(records)
    fakes = b"".join(
        b"\x93\x00\x00\xc6"
        + (1_000_000 + rng.randrange(1000)).to_bytes(4, "big")
        + bytes(rng.choice(range(0x20, 0x7F)) for _ in range(12))
        for _ in range(500)
    )
    packed = data[: starts[10]] + fakes + data[starts[10] :]
    checked = [0]
    real_crc32 = zlib.crc32

    def counting_crc32(data: bytes, value: int = 0) -> int:
        checked[0] += len(data)
        return real_crc32(data, value)

    monkeypatch.setattr(zlib, "crc32", counting_crc32)  # the resync and the reader both count
    got, reader = _read(packed)
    assert got == records
    [damage] = reader.damage.regions
    assert (damage.offset, damage.resumed_at) == (starts[10], starts[10] + len(fakes))
    assert checked[0] < 20 * 1_000_000  # a few claimed bodies end just before a lead byte
