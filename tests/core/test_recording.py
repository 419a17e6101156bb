"""Recording files: round trips, writer lifecycle, reader errors, limits and versioning."""

from __future__ import annotations

import io
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core.recording import (
    MAGIC,
    MAX_RECORD_BYTES,
    READ_CHUNK_BYTES,
    RecordingReader,
    RecordingWriter,
    open_reader,
    open_writer,
    read_recording,
    record_crc,
)
from harness.core.records import (
    FORMAT_NAME,
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Note,
    Record,
    Summary,
    WsClose,
    WsControl,
    WsMessage,
    WsOpen,
)
from harness.errors import RecordingFormatError, UsageError

HEADER = Header("2024-01-15T10:00:00+00:00", "test", "0.0", {"plan": "MEGA"})

# ---------------------------------------------------------------- strategies

t_ns = st.integers(0, 2**63 - 1)
conn = st.integers(0, 2**31)
text = st.text(max_size=20)
blob = st.binary(max_size=64)
direction = st.sampled_from(Direction)
json_scalar = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | text
json_value = st.recursive(
    json_scalar | st.floats(allow_nan=False) | blob,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
headers = st.lists(st.tuples(text, text), max_size=3).map(tuple)

records: st.SearchStrategy[Record] = st.one_of(
    st.builds(
        HttpExchange,
        t_ns,
        st.sampled_from(["GET", "POST"]),
        text,
        st.integers(0, 599),
        blob,
        headers,
        headers,
        st.none() | text,
        t_ns,
    ),
    st.builds(WsOpen, t_ns, conn, text, st.integers(0, 599), st.none() | text),
    st.builds(WsMessage, t_ns, conn, direction, blob, st.booleans()),
    st.builds(WsControl, t_ns, conn, direction, st.sampled_from(["ping", "pong"]), blob),
    st.builds(
        WsClose, t_ns, conn, st.none() | st.integers(0, 4999), text, st.sampled_from(Initiator)
    ),
    st.builds(Note, t_ns, text, text, st.dictionaries(text, json_value, max_size=4)),
)
header_strategy = st.builds(
    Header, text, text, text, st.dictionaries(text, json_value, max_size=4), st.booleans()
)


def write(header: Header, items: list[Record], *, finish: bool = True) -> bytes:
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(header)
    for record in items:
        writer.add(record)
    if finish:
        writer.finish()
    return stream.getvalue()


def read(data: bytes) -> RecordingReader:
    return RecordingReader(io.BytesIO(data))


def frame(kind: int, fields: Any, *, crc: int | None = None) -> bytes:
    body = msgpack.packb(fields)
    return bytes(msgpack.packb([kind, record_crc(kind, body) if crc is None else crc, body]))


# ---------------------------------------------------------------- round trips


@given(header_strategy, st.lists(records, max_size=12))
def test_any_records_written_read_back_equal(header: Header, items: list[Record]) -> None:
    reader = read(write(header, items))
    back = list(reader)
    assert reader.header == header
    assert back[:-1] == items
    assert isinstance(back[-1], Summary)
    assert reader.tail is None
    assert reader.records_read == len(items) + 1


def test_summary_counts_kinds_and_defaults_to_the_last_time() -> None:
    items: list[Record] = [
        WsOpen(5, 1, "wss://x", 101),
        WsMessage(9, 1, Direction.SERVER_TO_CLIENT, b"{}"),
        WsMessage(7, 1, Direction.SERVER_TO_CLIENT, b"{}"),
    ]
    *_, summary = read(write(HEADER, items))
    assert summary == Summary(9, 9, {"ws_open": 1, "ws_message": 2})


def test_a_file_without_summary_is_whole() -> None:
    message = WsMessage(1, 1, Direction.SERVER_TO_CLIENT, b"x")
    reader = read(write(HEADER, [message], finish=False))
    assert list(reader) == [message]
    assert reader.tail is None


def test_records_filters_by_type() -> None:
    items: list[Record] = [
        WsOpen(1, 1, "u", 101),
        WsMessage(2, 1, Direction.SERVER_TO_CLIENT, b"m"),
    ]
    reader = read(write(HEADER, items))
    assert list(reader.records(WsMessage)) == items[1:]


def test_a_reader_iterates_once() -> None:
    reader = read(write(HEADER, []))
    list(reader)
    with pytest.raises(UsageError, match="iterates once"):
        iter(reader)


def test_file_helpers_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.msgpack"
    message = WsMessage(1, 1, Direction.SERVER_TO_CLIENT, b"x")
    with open_writer(path, HEADER) as writer:
        writer.add(message)
    header, items, tail = read_recording(path)
    assert (header, items[0], type(items[1]), tail) == (HEADER, message, Summary, None)


def test_open_writer_finishes_the_file_when_the_body_raises(tmp_path: Path) -> None:
    path = tmp_path / "r.msgpack"

    def record_then_fail() -> None:
        with open_writer(path, HEADER) as writer:
            writer.add(WsOpen(3, 1, "u", 101))
            raise RuntimeError("recorder failed")

    with pytest.raises(RuntimeError, match="recorder failed"):
        record_then_fail()
    _, items, tail = read_recording(path)
    assert items == [WsOpen(3, 1, "u", 101), Summary(3, 3, {"ws_open": 1})]
    assert tail is None


# ---------------------------------------------------------------- writer misuse


def test_writer_lifecycle_is_enforced() -> None:
    writer = RecordingWriter(io.BytesIO())
    with pytest.raises(UsageError, match="not started"):
        writer.add(WsOpen(1, 1, "u", 101))
    with pytest.raises(UsageError, match="never started"):
        writer.finish()
    writer.start(HEADER)
    with pytest.raises(UsageError, match="already started"):
        writer.start(HEADER)
    with pytest.raises(UsageError, match="finish"):
        writer.add(Summary(1, 1, {}))
    with pytest.raises(UsageError, match="start"):
        writer.add(HEADER)  # type: ignore[arg-type]
    summary = writer.finish(t_ns=4)
    assert writer.finish() is summary
    with pytest.raises(UsageError, match="finished"):
        writer.add(WsOpen(1, 1, "u", 101))


@pytest.mark.parametrize(
    "record",
    [
        Note(1, "x", "", {1: "int key"}),  # type: ignore[dict-item]
        Note(1, "x", "", {"obj": object()}),
        WsMessage(1, 1, Direction.SERVER_TO_CLIENT, "text, not bytes"),  # type: ignore[arg-type]
        WsMessage(1, 1, Direction.SERVER_TO_CLIENT, b"x" * (MAX_RECORD_BYTES + 1)),
    ],
    ids=["int-key", "object", "str-payload", "oversize"],
)
def test_writer_refuses_records_a_reader_could_not_read(record: Record) -> None:
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(HEADER)
    size = len(stream.getvalue())
    with pytest.raises(UsageError, match="record"):
        writer.add(record)
    assert len(stream.getvalue()) == size


def test_open_writer_reports_an_uncreatable_path(tmp_path: Path) -> None:
    with (
        pytest.raises(UsageError, match="cannot create recording"),
        open_writer(tmp_path / "missing-dir" / "r.msgpack", HEADER),
    ):
        pass


# ---------------------------------------------------------------- not a recording


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"hello world\n", "not a soccer-ws-harness recording"),
        (b"\xdd\xff\xff\xff\xff", "not a soccer-ws-harness recording"),
        (MAGIC[:10], "truncated recording"),
        (MAGIC, "truncated recording"),
        (MAGIC + frame(3, [1, 1, 1, b"x", True]), "first record is not a header"),
        (MAGIC + frame(0, HEADER.fields(), crc=5), "checksum mismatch"),
        (MAGIC + frame(0, ["other-format", [1, 0]]), "unknown format name"),
        (MAGIC + frame(0, [FORMAT_NAME, "1.0"]), "bad format version"),
        (MAGIC + frame(0, [FORMAT_NAME, [1, 0], "t"]), "corrupt header"),
        (
            MAGIC + frame(0, [FORMAT_NAME, [3, 0], "t"]),
            r"newer harness: format 3\.0, .* 1\.x and 2\.x",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_unreadable_starts_are_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(RecordingFormatError, match=message):
        read(data)


def test_open_reader_reports_missing_files_and_directories(tmp_path: Path) -> None:
    with pytest.raises(RecordingFormatError, match="no such file"), open_reader(tmp_path / "x"):
        pass
    with pytest.raises(RecordingFormatError, match="is a directory"), open_reader(tmp_path):
        pass


# ---------------------------------------------------------------- evolution and limits


def test_unknown_kinds_with_a_valid_crc_are_skipped() -> None:
    message = WsMessage(2, 1, Direction.SERVER_TO_CLIENT, b"m")
    data = write(HEADER, [], finish=False) + frame(42, [1, "future"]) + frame(3, message.fields())
    reader = read(data)
    assert list(reader) == [message]
    assert reader.skipped == {42: 1}
    assert reader.tail is None


def test_extra_trailing_fields_are_ignored() -> None:
    message = WsMessage(2, 1, Direction.SERVER_TO_CLIENT, b"m")
    data = write(HEADER, [], finish=False) + frame(3, [*message.fields(), "newer field"])
    assert list(read(data)) == [message]


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (frame(3, [1, 1, 5, b"x", True]), "bad ws_message record"),
        (frame(3, {"not": "a list"}), "not a list of fields"),
        (frame(6, [1, "n", "", {"t": msgpack.ExtType(5, b"x")}]), "extension type"),
        (frame(3, [1, 1, 1, b"x", True], crc=7), "checksum mismatch"),
        (frame(2**33, [1], crc=0), "bad record kind"),
        (frame(0, HEADER.fields()), "a second header"),
        (b"\xc1", "malformed msgpack"),
        (b"\x81\x01\x02", "malformed msgpack"),
    ],
)
def test_damage_after_the_header_is_skipped_and_reading_resumes(tail: bytes, reason: str) -> None:
    message = WsMessage(2, 1, Direction.SERVER_TO_CLIENT, b"m")
    data = write(HEADER, [message], finish=False)
    reader = read(data + tail + frame(3, message.fields()))
    assert list(reader) == [message, message]
    assert reader.tail is None
    [damage] = reader.damage.regions
    assert damage.offset == len(data)
    assert damage.resumed_at == len(data) + len(tail)
    assert damage.records_read == 1
    assert damage.records_lost == 1
    assert not damage.truncated
    assert reason in damage.reason
    assert "tail" not in damage.describe()


def test_a_size_field_cannot_allocate_unbounded_memory() -> None:
    # A bin32 claiming 4 GiB, followed by more bytes than the limit: damage, not a 4 GiB buffer.
    data = write(HEADER, [], finish=False)
    bogus = b"\x93\x03\x00\xc6\xff\xff\xff\xff" + bytes(MAX_RECORD_BYTES + 2**20)
    reader = read(data + bogus)
    assert list(reader) == []
    assert reader.tail is not None
    assert reader.tail.offset == len(data)
    assert "limit" in reader.tail.reason


def test_tail_describes_itself() -> None:
    data = write(HEADER, [WsOpen(1, 1, "u", 101)])
    reader = read(data[:-3])
    list(reader)
    assert reader.tail is not None
    assert reader.tail.describe().startswith("truncated tail at byte ")
    assert "kept 1 record before it" in reader.tail.describe()


def test_crc_binds_the_kind() -> None:
    body = msgpack.packb([1])
    assert record_crc(3, body) != record_crc(4, body)
    assert record_crc(3, body) == zlib.crc32(body, zlib.crc32(b"\x00\x00\x00\x03"))


message_fields = st.lists(
    st.one_of(st.integers(-2, 2**64 - 1), st.booleans(), st.binary(max_size=8), text, st.none()),
    min_size=4,
    max_size=6,
)


@given(
    st.one_of(
        message_fields, st.builds(WsMessage, t_ns, conn, direction, blob).map(lambda m: m.fields())
    )
)
def test_the_fast_message_path_agrees_with_from_fields(values: list[Any]) -> None:
    data = write(HEADER, [], finish=False) + frame(WsMessage.KIND, values)
    try:
        expected: list[Record] = [WsMessage.from_fields(values)]
    except ValueError:
        expected = []
    reader = read(data)
    assert list(reader) == expected
    assert (reader.tail is None) == bool(expected)


def test_reading_uses_constant_memory() -> None:
    message = WsMessage(1, 1, Direction.SERVER_TO_CLIENT, b"x" * 300)

    def peak_while_reading(count: int) -> int:
        data = write(HEADER, [message] * count)
        tracemalloc.start()
        try:
            assert sum(1 for _ in read(data)) == count + 1
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak_while_reading(2_000), peak_while_reading(20_000)
    assert large < small + 64 * 1024
    assert large < 2 * READ_CHUNK_BYTES + 1024 * 1024
