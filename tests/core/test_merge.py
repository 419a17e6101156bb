"""``merge``: one timeline from several recordings; cut + merge gives the original back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness import default_recording_path, load_recording
from harness.core.loading import read_feed
from harness.core.merge import merge_recordings
from harness.core.recording import open_writer, read_recording
from harness.core.records import Record, WsClose, WsControl, WsMessage, WsOpen
from harness.core.selection import cut_records
from harness.core.synth import SynthOptions, synthesize
from harness.core.transform import select_records
from harness.core.verify import verify_recording
from harness.errors import UsageError

BUNDLED = default_recording_path()
S = 1_000_000_000
MIN = 60 * S


def _cut(source: Path, dest: Path, start: int | None, end: int | None) -> Path:
    def select(records: Iterable[Record]) -> Iterator[Record]:
        return cut_records(records, start_ns=start, end_ns=end)

    select_records(source, dest, select, command="cut")
    return dest


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("at_min", [0.5, 17, 40, 61.25, 119])
def test_the_two_halves_of_a_cut_merge_back_byte_for_byte(
    tmp_path: Path, at_min: float, concat: bool
) -> None:
    at = round(at_min * MIN)
    first = _cut(BUNDLED, tmp_path / "a.msgpack", None, at)
    second = _cut(BUNDLED, tmp_path / "b.msgpack", at, None)
    out = tmp_path / "m.msgpack"
    report = merge_recordings([first, second], out, concat=concat)
    assert [item.continues for item in report.inputs] == [False, True]
    assert out.read_bytes() == BUNDLED.read_bytes()


def test_three_pieces_merge_back_too(tmp_path: Path) -> None:
    pieces = [
        _cut(BUNDLED, tmp_path / "1.msgpack", None, 30 * MIN),
        _cut(BUNDLED, tmp_path / "2.msgpack", 30 * MIN, 75 * MIN),
        _cut(BUNDLED, tmp_path / "3.msgpack", 75 * MIN, None),
    ]
    out = tmp_path / "m.msgpack"
    merge_recordings(pieces, out, concat=True)
    assert out.read_bytes() == BUNDLED.read_bytes()


def test_pieces_with_a_gap_are_separate_sessions_that_still_verify(tmp_path: Path) -> None:
    # Given the pieces [0, 30m) and [50m, end): what happened in between is missing
    first = _cut(BUNDLED, tmp_path / "a.msgpack", None, 30 * MIN)
    second = _cut(BUNDLED, tmp_path / "b.msgpack", 50 * MIN, None)
    out = tmp_path / "m.msgpack"
    report = merge_recordings([first, second], out, concat=True)
    # Then the second piece is not taken for a continuation (its carried context differs)
    assert [item.continues for item in report.inputs] == [False, False]
    assert report.inputs[1].conn_base == 4
    assert verify_recording(out).ok


def _synth(path: Path, seed: int, start: datetime, minutes: int = 20) -> Path:
    header, records = synthesize(
        SynthOptions(seed=seed, matches=2, duration_ns=minutes * MIN, start=start)
    )
    with open_writer(path, header) as writer:
        for record in records:
            writer.add(record)
    return path


def _conn_ids(records: list[Record]) -> set[int]:
    return {r.conn_id for r in records if isinstance(r, WsOpen | WsMessage | WsControl | WsClose)}


def test_aligned_by_start_time_with_connections_renumbered(tmp_path: Path) -> None:
    a = _synth(tmp_path / "a.msgpack", 1, datetime(2024, 1, 15, 14, 0, tzinfo=UTC))
    b = _synth(tmp_path / "b.msgpack", 2, datetime(2024, 1, 15, 14, 5, tzinfo=UTC))
    out = tmp_path / "m.msgpack"
    report = merge_recordings([b, a], out)  # order given does not matter when aligned
    assert report.interleaved
    assert [Path(item.path).name for item in report.inputs] == ["a.msgpack", "b.msgpack"]
    assert [item.offset_ns for item in report.inputs] == [0, 5 * MIN]
    header, records, damage = read_recording(out)
    assert damage is None
    assert header.created_at == "2024-01-15T14:00:00Z"
    assert header.source["merged_from"] == ["2024-01-15T14:00:00Z", "2024-01-15T14:05:00Z"]
    sizes = [len(read_recording(path)[1]) for path in (a, b)]
    assert _conn_ids(records) == set(range(1, 9))
    times = [r.t_ns for r in records]
    assert times == sorted(times)
    assert times[-1] == report.inputs[1].end_ns > 24 * MIN
    assert len(records) == sum(sizes) - 1  # every record; one summary instead of two
    assert verify_recording(out).ok
    assert read_feed(out).frames  # it replays


def test_concat_plays_one_after_another(tmp_path: Path) -> None:
    start = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
    a = _synth(tmp_path / "a.msgpack", 1, start)
    b = _synth(tmp_path / "b.msgpack", 2, start)
    out = tmp_path / "m.msgpack"
    report = merge_recordings([a, b], out, concat=True)
    assert not report.interleaved
    last_of_a = read_recording(a)[1][-1].t_ns
    assert [item.offset_ns for item in report.inputs] == [0, last_of_a]
    assert verify_recording(out).ok
    whole = load_recording(out).feed
    assert whole.duration_ns > load_recording(a).feed.duration_ns + 15 * MIN


def test_bad_merges_are_one_line_errors(tmp_path: Path) -> None:
    a = _synth(tmp_path / "a.msgpack", 1, datetime(2024, 1, 15, 14, 0, tzinfo=UTC), minutes=2)
    with pytest.raises(UsageError, match="at least two recordings"):
        merge_recordings([a], tmp_path / "o.msgpack")
    with pytest.raises(UsageError, match="-o must differ from the input"):
        merge_recordings([a, BUNDLED], a)
    header, records, _ = read_recording(a)
    odd = tmp_path / "odd.msgpack"
    with open_writer(
        odd, header.__class__(created_at="yesterday", tool="t", tool_version="1")
    ) as w:
        for record in records[:-1]:  # the writer adds its own summary
            w.add(record)
    with pytest.raises(UsageError, match="'yesterday' is not an ISO 8601 UTC time"):
        merge_recordings([a, odd], tmp_path / "o.msgpack")
    assert not (tmp_path / "o.msgpack").exists()
    merge_recordings([a, odd], tmp_path / "o.msgpack", concat=True)  # --concat needs no start
