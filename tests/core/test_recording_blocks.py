"""Format 2.0: records in checksummed blocks (``docs/recording-format.md`` §4.1)."""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack
import pytest

from harness.core._blocks import BLOCK_KIND, BLOCK_RECORDS, block_body, position
from harness.core.recording import (
    MAGIC,
    RecordingReader,
    RecordingWriter,
    read_recording,
    recording_index,
)
from harness.core.records import (
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
from harness.errors import UsageError

HEADER = Header("2024-01-15T10:00:00+00:00", "test", "0.0", {"plan": "MEGA"})
IN, OUT = Direction.SERVER_TO_CLIENT, Direction.CLIENT_TO_SERVER


def _mixed(count: int) -> list[Record]:
    """Mostly text messages, with every other kind now and then (in the first 300 of each
    thousand: the rest make blocks of text messages only)."""
    records: list[Record] = [
        HttpExchange(0, "GET", "https://x/v1/ws/new", 200, b"{}", (("a", "b"),)),
        WsOpen(1, 1, "wss://x", 101),
    ]
    for i in range(count):
        t = 10 + i * 1000
        if i % 1000 >= 300:
            records.append(WsMessage(t, 2, IN, b'{"type":"event","i":%d}' % i + b"z" * 250))
        elif i % 97 == 5:
            records.append(Note(t, "plan", "m", {"connections": [["MAIN:all"]], "n": {"x": [1]}}))
        elif i % 89 == 7:
            records.append(WsMessage(t, 1, IN, bytes([i % 256]) * 3, is_text=False))
        elif i % 83 == 9:
            records.append(WsControl(t, 1, OUT, "ping", b"p"))
        else:
            direction = OUT if i % 50 == 0 else IN
            records.append(WsMessage(t, 1, direction, b'{"type":"event","i":%d}' % i + b"x" * 200))
    records.append(WsClose(count * 1000 + 20, 1, 1000, "bye", Initiator.CLIENT))
    return records


def _write(records: Sequence[Record], **options: Any) -> bytes:
    stream = io.BytesIO()
    writer = RecordingWriter(stream, blocks=True, **options)
    writer.start(HEADER)
    for record in records:
        writer.add(record)
    writer.finish()
    return stream.getvalue()


def _reader(data: bytes) -> RecordingReader:
    return RecordingReader(io.BytesIO(data))


def _blocks(data: bytes) -> list[tuple[int, int, Any]]:
    """``(offset, end, body values)`` of each block frame of a clean file."""
    unpacker = msgpack.Unpacker(io.BytesIO(data), use_list=False)
    found, offset = [], 0
    for frame in unpacker:
        end = unpacker.tell()
        if type(frame) is tuple and frame[0] == BLOCK_KIND:
            found.append((offset, end, msgpack.unpackb(frame[2], use_list=False)))
        offset = end
    return found


RECORDS = _mixed(3000)
DATA = _write(RECORDS, index=True)


def test_every_record_reads_back_from_a_2_0_file() -> None:
    reader = _reader(DATA)
    assert reader.blocked
    assert reader.header.format_version == (2, 0)
    records = list(reader)
    assert records[:-1] == RECORDS
    assert isinstance(records[-1], Summary)
    assert records[-1].counts["ws_message"] == sum(isinstance(r, WsMessage) for r in RECORDS)
    assert (reader.tail, reader.damage.count, reader.skipped) == (None, 0, {})
    note = next(r for r in records if isinstance(r, Note))
    assert note.data == {"connections": [["MAIN:all"]], "n": {"x": [1]}}  # lists, as 1.x reads
    assert reader.latest_t_ns == records[-1].t_ns


def test_blocks_hold_many_records_text_blocks_by_columns() -> None:
    blocks = _blocks(DATA)
    assert 10 < len(blocks) < len(RECORDS) // 50
    assert {len(values) for _, _, values in blocks} == {3, 6}  # rows and text columns
    firsts = [values[0] for _, _, values in blocks]
    counts = [len(values[1]) if len(values) == 3 else values[1] for _, _, values in blocks]
    assert firsts == [sum(counts[:i]) for i in range(len(counts))]
    assert sum(counts) == len(RECORDS)
    assert all(end - offset < 64 * 1024 + 64 for offset, end, _ in blocks)


def test_a_block_holds_at_most_4096_records_and_flush_writes_it_early() -> None:
    stream = io.BytesIO()
    writer = RecordingWriter(stream, blocks=True)
    writer.start(HEADER)
    size = len(stream.getvalue())
    for i in range(BLOCK_RECORDS + 1):
        writer.add(WsControl(i, 1, OUT, "ping"))
    assert (writer.pending, writer.written) == (1, BLOCK_RECORDS)
    writer.flush()
    assert (writer.pending, writer.written) == (0, BLOCK_RECORDS + 1)
    assert len(stream.getvalue()) > size
    writer.finish()
    assert [len(values[2]) for _, _, values in _blocks(stream.getvalue())] == [BLOCK_RECORDS, 1]


def test_positions_resume_at_the_same_record() -> None:
    pairs = list(_reader(DATA).positions())
    assert [record for _, record in pairs][:-1] == RECORDS
    assert [at for at, _ in pairs] == sorted({at for at, _ in pairs})
    for at, record in pairs[::37] + pairs[-2:]:
        reader = _reader(DATA)
        reader.start_at(at)
        following = list(reader.positions())
        assert following[0] == (at, record)
        assert following == pairs[pairs.index((at, record)) :]
    assert {_reader(DATA).frame_offset(at) for at, _ in pairs[:-1]} == {
        offset for offset, _, _ in _blocks(DATA)
    }


def test_ws_texts_are_the_text_messages_of_positions() -> None:
    reader = _reader(DATA)
    texts = list(reader.ws_texts())
    expected = [
        (at, r.t_ns, r.direction, r.conn_id, r.payload)
        for at, r in _reader(DATA).positions()
        if isinstance(r, WsMessage) and r.is_text
    ]
    assert texts == expected
    assert all(type(direction) is Direction for _, _, direction, _, _ in texts)
    assert reader.records_read == len(RECORDS) + 1
    assert reader.latest_t_ns == RECORDS[-1].t_ns  # the close, not a text message


@pytest.mark.parametrize("blocks", [True, False], ids=["format-2", "format-1"])
def test_ws_texts_hand_every_other_record_to_others_in_file_order(blocks: bool) -> None:
    stream = io.BytesIO()
    writer = RecordingWriter(stream, blocks=blocks)
    writer.start(HEADER)
    for record in RECORDS:
        writer.add(record)
    writer.finish()
    order: list[Record | bytes] = []
    reader = RecordingReader(io.BytesIO(stream.getvalue()))
    order += (text[4] for text in reader.ws_texts(order.append))
    everything = list(RecordingReader(io.BytesIO(stream.getvalue())))
    expected = [r.payload if isinstance(r, WsMessage) and r.is_text else r for r in everything]
    assert order == expected


def test_ws_texts_of_a_1_x_file_are_the_same_messages() -> None:
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(HEADER)
    for record in RECORDS:
        writer.add(record)
    writer.finish()
    reader = RecordingReader(io.BytesIO(stream.getvalue()))
    assert not reader.blocked
    texts = [t[1:] for t in reader.ws_texts()]
    assert texts == [t[1:] for t in _reader(DATA).ws_texts()]


def test_the_index_points_at_block_starts_and_equals_a_rebuild() -> None:
    index = _reader(DATA).trailing_index()
    assert index is not None
    starts = {offset for offset, _, _ in _blocks(DATA)}
    assert {offset for _, offset in index.entries} <= starts
    rebuilt_reader = _reader(DATA)
    rebuilt_reader.trailing_index = lambda: None  # type: ignore[method-assign]
    assert recording_index(rebuilt_reader) == index
    target = RECORDS[2500].t_ns
    reader = _reader(DATA)
    reader.start_at_time(target, index)
    later = [r for r in reader if r.t_ns >= target]
    assert later[:-1] == [r for r in RECORDS if r.t_ns >= target]


def test_a_damaged_block_loses_its_records_and_reading_resumes_at_the_next() -> None:
    blocks = _blocks(DATA)
    offset, end, values = blocks[5]
    lost = len(values[1]) if len(values) == 3 else values[1]
    broken = bytearray(DATA)
    broken[(offset + end) // 2] ^= 0x10
    reader = _reader(bytes(broken))
    records = list(reader)
    first = values[0]
    assert records[:-1] == RECORDS[:first] + RECORDS[first + lost :]
    [damage] = reader.damage.regions
    assert (damage.offset, damage.resumed_at, damage.records_lost) == (offset, end, lost)
    assert damage.records_read == first
    assert "checksum mismatch in a block" in damage.reason
    assert reader.tail is None


def test_a_file_cut_inside_a_block_keeps_the_blocks_before() -> None:
    blocks = _blocks(DATA)
    offset, end, values = blocks[-2]
    reader = _reader(DATA[: end - 10])
    records = list(reader)
    assert records == RECORDS[: values[0]]
    assert reader.tail is not None
    assert reader.tail.truncated
    assert reader.tail.offset == offset


def _file_with_block(body: bytes, then: Sequence[Record]) -> bytes:
    """A 2.0 file whose first block has the given body, then ``then`` in blocks as usual."""
    stream = io.BytesIO()
    writer = RecordingWriter(stream, blocks=True)
    writer.start(HEADER)
    head = stream.getvalue()
    frame: bytes = msgpack.packb([BLOCK_KIND, zlib.crc32(body, zlib.crc32(b"\0\0\0\x09")), body])
    rest = io.BytesIO()
    tail_writer = RecordingWriter(rest, blocks=True)
    tail_writer.start(HEADER)
    skip = len(rest.getvalue())
    for record in then:
        tail_writer.add(record)
    tail_writer.finish()
    return head + frame + rest.getvalue()[skip:]


GOOD = [WsMessage(100, 1, IN, b"ok")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (block_body(0, b"\x03", [msgpack.packb([1, 1, 1, "text", True])]), "bad ws_message"),
        (block_body(0, b"\x00", [msgpack.packb(HEADER.fields())]), "a header record inside"),
        (block_body(0, b"\x03\x03", [msgpack.packb([1, 1, 1, b"x", True])]), "do not match"),
        (msgpack.packb([0, 1, [1], [1], [1], ["str"]]), "text block"),
        (msgpack.packb([0, 1, [1.5], [1], [1], [b"x"]]), "text block"),
        (msgpack.packb([0, 1, [1], [1], [7], [b"x"]]), "not a direction"),
        (msgpack.packb([0, 2, [1], [1], [1], [b"x"]]), "different lengths"),
        (msgpack.packb([-1, b"", []]), "not a count"),
    ],
)
def test_a_block_whose_checksum_holds_but_whose_records_do_not_fit_is_damage(
    body: bytes, reason: str
) -> None:
    reader = _reader(_file_with_block(body, GOOD))
    records = list(reader)
    assert records[:-1] == GOOD
    [damage] = reader.damage.regions
    assert reason in damage.reason
    assert damage.resumed_at is not None
    assert reader.tail is None


def test_records_of_an_unknown_kind_in_a_block_are_skipped_and_counted() -> None:
    message = msgpack.packb([1, 1, 1, b"x", True])
    body = block_body(0, b"\x03\x2a\x03", [message, msgpack.packb(["new"]), message])
    reader = _reader(_file_with_block(body, GOOD))
    pairs = list(reader.positions())
    assert [r for _, r in pairs][:-1] == [WsMessage(1, 1, IN, b"x")] * 2 + GOOD
    assert pairs[1][0] == pairs[0][0] + 2  # the unknown one keeps its number
    assert reader.skipped == {42: 1}


def test_the_writer_follows_the_header_and_refuses_what_a_block_cannot_hold() -> None:
    stream = io.BytesIO()
    writer = RecordingWriter(stream)  # blocks=None: as the header says
    writer.start(Header("t", "x", "1", format_version=(2, 0)))
    writer.add(WsMessage(1, 1, IN, b"x"))
    writer.finish()
    assert _reader(stream.getvalue()).blocked
    writer = RecordingWriter(io.BytesIO(), blocks=True)
    writer.start(HEADER)
    with pytest.raises(UsageError, match="exceeds"):
        writer.add(WsMessage(1, 1, IN, b"x" * (16 * 1024 * 1024)))


def test_a_large_record_gets_a_block_of_its_own(tmp_path: Path) -> None:
    big = WsMessage(5, 1, IN, b"y" * 200_000)
    records = [WsMessage(1, 1, IN, b"a"), big, WsMessage(9, 1, IN, b"b")]
    path = tmp_path / "r.msgpack"
    path.write_bytes(_write(records))
    assert [values[1] for _, _, values in _blocks(path.read_bytes())] == [1, 1, 1]
    assert read_recording(path)[1][:-1] == records


def test_a_position_names_its_frame_and_number() -> None:
    assert position(1000, 0) == 1000 << 16
    assert _reader(DATA).frame_offset(position(1234, 17)) == 1234
    assert DATA.startswith(MAGIC)


def test_a_position_past_its_block_resumes_at_the_next_block() -> None:
    (offset, _, values), (following, _, _) = _blocks(DATA)[-2:]
    assert len(values) == 6  # a text block
    reader = _reader(DATA)
    reader.start_at(position(offset, values[1]))  # one past its last record
    texts = list(reader.ws_texts())
    assert texts[0][0] == position(following, 0)
