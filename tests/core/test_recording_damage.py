"""Cut and corrupted files: every intact original record, the damage reported, nothing else.

The representative file is the golden one (every record kind, a few hundred bytes), so cutting
it at every byte offset stays fast.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core.recording import RecordingReader, RecordingWriter, read_recording
from harness.core.records import Record
from harness.errors import RecordingFormatError

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "v1-small.msgpack"
DATA = GOLDEN.read_bytes()
HEADER, RECORDS, _ = read_recording(GOLDEN)


def _boundaries() -> list[int]:
    """Byte offsets where each record ends (the first: where the header ends)."""
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(HEADER)
    ends = [stream.tell()]
    for record in RECORDS[:-1]:
        writer.add(record)
        ends.append(stream.tell())
    writer.finish(t_ns=RECORDS[-1].t_ns)
    ends.append(stream.tell())
    assert stream.getvalue() == DATA
    return ends


ENDS = _boundaries()


def read_all(data: bytes) -> tuple[list[Record], RecordingReader]:
    reader = RecordingReader(io.BytesIO(data))
    return list(reader), reader


def test_a_file_cut_at_every_byte_reads_back_as_a_prefix() -> None:
    header_end = ENDS[0]
    for cut in range(len(DATA) + 1):
        data = DATA[:cut]
        if cut < header_end:
            with pytest.raises(RecordingFormatError, match=r"empty file|truncated recording"):
                read_all(data)
            continue
        records, reader = read_all(data)
        whole = sum(1 for end in ENDS[1:] if end <= cut)
        assert records == RECORDS[:whole], cut
        if cut in ENDS:
            assert reader.tail is None, cut
        else:
            assert reader.tail is not None, cut
            assert reader.tail.truncated, cut
            assert reader.tail.offset == ENDS[whole], cut
            assert reader.tail.records_read == whole, cut


def _check_corrupted(data: bytes, positions: list[int]) -> None:
    try:
        records, reader = read_all(data)
    except RecordingFormatError:
        assert min(positions) < ENDS[0], "only damage in the magic or header may refuse the file"
        return
    # Never silently different data: the records read are original ones, in order, and
    # resynchronisation keeps every record whose bytes were not touched.
    damaged = {i for i in range(len(RECORDS)) for p in positions if ENDS[i] <= p < ENDS[i + 1]}
    intact = [r for i, r in enumerate(RECORDS) if i not in damaged]
    assert _is_subsequence(records, RECORDS)
    assert _is_subsequence(intact, records)
    assert bool(reader.damage) == (len(records) < len(RECORDS))
    for damage in reader.damage.regions:
        assert damage.offset in ENDS
        assert damage.offset <= max(positions)
        assert damage.resumed_at is None or damage.resumed_at in ENDS
        assert damage.records_lost >= 1


def _is_subsequence(part: list[Record], whole: list[Record]) -> bool:
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


@given(st.integers(0, len(DATA) - 1), st.integers(1, 255))
def test_one_corrupted_byte_is_reported_never_read_back_wrong(position: int, xor: int) -> None:
    data = bytearray(DATA)
    data[position] ^= xor
    _check_corrupted(bytes(data), [position])


@given(st.lists(st.tuples(st.integers(0, len(DATA) - 1), st.integers(1, 255)), min_size=1))
def test_random_corruption_is_reported_never_read_back_wrong(
    changes: list[tuple[int, int]],
) -> None:
    data = bytearray(DATA)
    for position, xor in changes:
        data[position] ^= xor
    _check_corrupted(bytes(data), [position for position, _ in changes])


def test_every_single_bit_flip_is_caught() -> None:
    # Exhaustive over the golden file: no flipped bit goes unnoticed or changes a record.
    for position in range(len(DATA)):
        for bit in range(8):
            data = bytearray(DATA)
            data[position] ^= 1 << bit
            _check_corrupted(bytes(data), [position])
