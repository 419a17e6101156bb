"""``recover_recording``: every intact record of a cut or corrupted file, in a clean file."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core.recording import RecordingWriter, read_recording
from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Note,
    Record,
    Summary,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.core.transform import recover_recording
from harness.errors import UsageError

HEADER = Header("2024-01-15T10:00:00+00:00", "test", "0.0", {"plan": "MEGA"})
RECORDS: list[Record] = [
    HttpExchange(1, "GET", "https://api.example/v1/ws/new", 200, b'{"status":200}'),
    WsOpen(2, 1, "wss://ws.example/ws", 101),
    WsMessage(3, 1, Direction.CLIENT_TO_SERVER, b'{"action":"subscribe","channel":"MAIN"}'),
    *(
        WsMessage(10 + i, 1, Direction.SERVER_TO_CLIENT, b'{"type":"goal","n":%d}' % i)
        for i in range(12)
    ),
    Note(40, "renewal", "renewed", {"ttl": 1500}),
    WsClose(50, 1, 1000, "bye", Initiator.CLIENT),
]


def _build() -> tuple[bytes, list[int]]:
    """The file and the byte offset where each record (then the summary, then the end) starts."""
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(HEADER)
    starts = []
    for record in RECORDS:
        starts.append(stream.tell())
        writer.add(record)
    starts.append(stream.tell())
    writer.finish()
    starts.append(stream.tell())
    return stream.getvalue(), starts


DATA, STARTS = _build()


def _recover(data: bytes) -> list[Record]:
    with tempfile.TemporaryDirectory() as tmp:
        source, dest = Path(tmp) / "in.msgpack", Path(tmp) / "out.msgpack"
        source.write_bytes(data)
        report = recover_recording(source, dest)
        _, records, damage = read_recording(dest)
        assert damage is None, "the output is a clean file"
        assert report.records_written == len(records)  # the summary counts, as verify counts it
        return [r for r in records if not isinstance(r, Summary)]


def _intact(changed: set[int], cut: int) -> list[Record]:
    return [
        record
        for index, record in enumerate(RECORDS)
        if STARTS[index + 1] <= cut
        and not any(STARTS[index] <= p < STARTS[index + 1] for p in changed)
    ]


def _is_subsequence(part: list[Record], whole: list[Record]) -> bool:
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


after_header = st.integers(STARTS[0], len(DATA) - 1)


@given(
    st.lists(st.tuples(after_header, st.integers(1, 255)), max_size=6),
    st.integers(STARTS[0], len(DATA)),
)
def test_every_intact_record_is_kept(changes: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(DATA)
    for position, xor in changes:
        data[position] ^= xor
    recovered = _recover(bytes(data[:cut]))
    assert _is_subsequence(_intact({p for p, _ in changes if p < cut}, cut), recovered)
    assert _is_subsequence(recovered, RECORDS)


def test_one_damaged_record_at_every_offset_loses_only_that_record() -> None:
    for index in range(len(RECORDS)):
        for position in range(STARTS[index], STARTS[index + 1], 3):
            data = bytearray(DATA)
            data[position] ^= 0xFF
            assert _recover(bytes(data)) == RECORDS[:index] + RECORDS[index + 1 :], position


def test_a_whole_file_is_copied_as_it_is(tmp_path: Path) -> None:
    source, dest = tmp_path / "in.msgpack", tmp_path / "out.msgpack"
    source.write_bytes(DATA)
    report = recover_recording(source, dest)
    assert dest.read_bytes() == DATA
    assert not report.damage


def test_recover_never_overwrites(tmp_path: Path) -> None:
    source, dest = tmp_path / "in.msgpack", tmp_path / "out.msgpack"
    source.write_bytes(DATA)
    dest.write_bytes(b"precious")
    with pytest.raises(UsageError, match="--force"):
        recover_recording(source, dest)
    assert dest.read_bytes() == b"precious"
    with pytest.raises(UsageError, match="must differ"):
        recover_recording(source, source, force=True)
    recover_recording(source, dest, force=True)
    assert dest.read_bytes() == DATA
