"""The trailing index (format 1.1, kind 8): written at close, skipped by 1.0 readers, rebuilt
for files without one, and a seek by it misses no record."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

import harness.core.recording as recording
from harness.core.index import INDEX_KIND, IndexBuilder, read_trailing_index
from harness.core.recording import RecordingReader, RecordingWriter, recording_index
from harness.core.records import Direction, Header, Note, Record, WsMessage

HEADER = Header("2024-01-15T10:00:00+00:00", "test", "0")


def _records(times: list[int]) -> list[Record]:
    return [
        WsMessage(t, 1, Direction.SERVER_TO_CLIENT, b'{"type":"goal","seq":%d}' % i)
        if i % 5
        else Note(t, "renewal", "n", {"i": i})
        for i, t in enumerate(times)
    ]


def _file(records: list[Record], *, index: bool, every: int = 1024) -> bytes:
    stream = io.BytesIO()
    writer = RecordingWriter(stream, index=index, index_every=every)
    writer.start(HEADER)
    for record in records:
        writer.add(record)
    writer.finish()
    return stream.getvalue()


def _read(data: bytes) -> tuple[RecordingReader, list[Record]]:
    reader = RecordingReader(io.BytesIO(data))
    return reader, list(reader)


def _index_start(data: bytes) -> int:
    """Where the index frame starts: the trailer just before the summary frame (the last
    ``0x93`` followed by the summary kind, for these files)."""
    summary = data.rindex(b"\x93\x07")
    start = int.from_bytes(data[summary - 8 : summary], "big")
    assert data[start + 1] == INDEX_KIND
    return start


RECORDS = _records([i * 1_000 for i in range(3000)])


def test_an_indexed_file_reads_back_the_same_records_and_says_1_1() -> None:
    plain_reader, plain = _read(_file(RECORDS, index=False))
    reader, records = _read(_file(RECORDS, index=True))
    assert records == plain
    assert reader.header.format_version == (1, 1)
    assert plain_reader.header.format_version == (1, 0)
    assert reader.index is not None
    assert plain_reader.index is None
    assert reader.index.records == len(RECORDS)  # the summary follows it
    assert reader.records_read == plain_reader.records_read
    assert not reader.damage
    assert not reader.skipped


def test_a_1_0_reader_skips_the_index_as_an_unknown_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "INDEX_KIND", -1)  # as if kind 8 were unknown
    _, plain = _read(_file(RECORDS, index=False))
    reader, records = _read(_file(RECORDS, index=True))
    assert records == plain
    assert reader.skipped == {INDEX_KIND: 1}
    assert reader.index is None
    assert not reader.damage


def test_the_index_is_found_from_the_end_without_reading_the_records() -> None:
    data = _file(RECORDS, index=True)
    reader, _ = _read(data)
    found = read_trailing_index(io.BytesIO(data))
    assert found == reader.index
    assert found is not None
    assert len(found.entries) == len(RECORDS) // 1024 + 1
    assert read_trailing_index(io.BytesIO(_file(RECORDS, index=False))) is None


def test_an_index_less_file_gets_the_same_index_rebuilt() -> None:
    written = recording_index(RecordingReader(io.BytesIO(_file(RECORDS, index=True))))
    rebuilt = recording_index(RecordingReader(io.BytesIO(_file(RECORDS, index=False))))
    assert rebuilt == written


@given(
    times=st.lists(st.integers(0, 50_000), min_size=1, max_size=300),
    target=st.integers(0, 60_000),
    indexed=st.booleans(),
)
def test_reading_from_the_index_misses_no_record_at_or_after_the_time(
    times: list[int], target: int, indexed: bool
) -> None:
    records = _records(times)  # times in any order
    data = _file(records, index=indexed, every=7)
    _, everything = _read(data)
    index = recording_index(RecordingReader(io.BytesIO(data)))
    reader = RecordingReader(io.BytesIO(data))
    reader.start_at_time(target, index)
    tail = list(reader)
    assert [r for r in tail if r.t_ns >= target] == [r for r in everything if r.t_ns >= target]
    skipped = len(everything) - len(tail)
    assert skipped >= 0
    assert all(r.t_ns < target for r in everything[:skipped])


def test_a_file_cut_inside_the_index_keeps_every_record() -> None:
    data = _file(RECORDS, index=True)
    _, whole = _read(data)
    index = read_trailing_index(io.BytesIO(data))
    assert index is not None
    start = _index_start(data)
    summary = data.rindex(b"\x93\x07")
    for cut in [*range(start + 1, summary), *range(summary + 1, len(data))]:
        reader, records = _read(data[:cut])
        assert records == whole[:-1]  # the summary follows the index
        assert reader.tail is not None
        assert reader.tail.truncated
        assert read_trailing_index(io.BytesIO(data[:cut])) is None
        assert recording_index(RecordingReader(io.BytesIO(data[:cut]))).entries == index.entries


def test_a_damaged_index_is_damage_not_an_index() -> None:
    data = bytearray(_file(RECORDS, index=True))
    data[_index_start(bytes(data)) + 12] ^= 0x55
    reader, records = _read(bytes(data))
    _, whole = _read(_file(RECORDS, index=False))
    assert records == whole
    assert reader.index is None
    assert reader.damage
    assert read_trailing_index(io.BytesIO(bytes(data))) is None


def test_a_long_file_keeps_a_bounded_index() -> None:
    builder = IndexBuilder(every=2, max_entries=10)
    for i in range(1000):
        builder.add(i * 10, i)
    index = builder.build()
    count, every = len(index.entries), index.every
    assert 5 <= count <= 10
    assert index.records == 1000
    assert (count - 1) * every < 1000 <= count * every
    assert index.entries == tuple((max(0, k * every - 1), k * every * 10) for k in range(count))


def test_a_reader_starts_elsewhere_only_before_iterating() -> None:
    reader = RecordingReader(io.BytesIO(_file(RECORDS, index=True)))
    next(iter(reader))
    with pytest.raises(Exception, match="only before iterating"):
        reader.start_at(100)
