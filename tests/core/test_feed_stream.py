"""A feed streamed from disk is the feed read into memory: same frames, positions and lengths,
whatever order its blocks are read in (:mod:`harness.core.feed_stream`)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.core import feed_stream
from harness.core.feed_stream import StreamedFeed
from harness.core.recording import open_writer
from harness.core.records import Direction, Header, Record, WsMessage
from harness.core.schedule import (
    DUPLICATE_WINDOW_NS,
    Feed,
    LapView,
    ReplayOptions,
    all_frames,
    compressed_lap,
)

S = 1_000_000_000
HEADER = Header("2024-01-15T10:00:00+00:00", "test", "0")


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 4 frames, 2 kept: every test reads blocks again, many times."""
    monkeypatch.setattr(feed_stream, "BLOCK_FRAMES", 4)
    monkeypatch.setattr(feed_stream, "CACHED_BLOCKS", 2)


def _event(n: int, match: int) -> bytes:
    body = {"type": "goal", "channel": "MAIN", "matchId": f"m{match}", "ts": n}
    return json.dumps(body).encode()


def _records(seed: int, count: int = 120) -> list[Record]:
    """A session of two recorded connections: most frames seen on both (a few ms apart),
    some repeated a second or so later, a few long lulls, a subscribe first."""
    rng = random.Random(seed)
    sub = b'{"action":"subscribe","channel":"MAIN","scope":"all"}'
    records: list[Record] = [WsMessage(3 * S, 1, Direction.CLIENT_TO_SERVER, sub)]
    t = 3 * S + rng.randrange(S)
    pending: list[tuple[int, bytes]] = []
    for n in range(count):
        t += rng.choice((1, 10, 300, 900)) * 1_000_000 + (60 * S if rng.random() < 0.05 else 0)
        payload = _event(n, rng.randrange(3))
        copies = [(t, payload)]
        if rng.random() < 0.6:
            copies.append((t + rng.randrange(1, 5_000_000), payload))
        if rng.random() < 0.1:
            pending.append((t + DUPLICATE_WINDOW_NS // 2 + rng.randrange(S), payload))
        pending += copies
        due = sorted(p for p in pending if p[0] <= t)
        pending = [p for p in pending if p[0] > t]
        for at, body in due:
            records.append(WsMessage(at, rng.choice((1, 2)), Direction.SERVER_TO_CLIENT, body))
    for at, body in sorted(pending):
        records.append(WsMessage(at, 2, Direction.SERVER_TO_CLIENT, body))
    records.append(WsMessage(t + 5 * S, 1, Direction.CLIENT_TO_SERVER, b'{"action":"ping"}'))
    return records


def _write(path: Path, records: list[Record], *, index: bool, blocks: bool = True) -> Path:
    with open_writer(path, HEADER, index=index, blocks=blocks) as writer:
        for record in records:
            writer.add(record)
    return path


def _as_list(lap: LapView) -> list[tuple[int, bytes, int]]:
    return [
        (frame.offset_ns, frame.payload, lap.position_ns(i))
        for i, frame in enumerate(all_frames(lap))
    ]


OPTIONS = [
    ReplayOptions(),
    ReplayOptions(max_gap_ns=2 * S),
    ReplayOptions(start_at_ns=40 * S),
    ReplayOptions(start_at_ns=70 * S, max_gap_ns=S // 2),
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("index", [True, False], ids=["indexed", "no-index"])
@pytest.mark.parametrize("blocks", [True, False], ids=["format-2", "format-1"])
def test_a_streamed_lap_is_the_lap_in_memory(
    tmp_path: Path, seed: int, index: bool, blocks: bool
) -> None:
    records = _records(seed)
    feed = Feed.from_records(records)
    path = _write(tmp_path / "r.msgpack", records, index=index, blocks=blocks)
    streamed = StreamedFeed(path)
    assert streamed.duration_ns == feed.duration_ns
    for options in OPTIONS:
        if options.start_at_ns > feed.duration_ns:
            continue
        lap, view = compressed_lap(feed, options), streamed.lap(options)
        assert _as_list(view) == _as_list(lap), options
        assert (view.size, view.length_ns) == (lap.size, lap.length_ns)


@pytest.mark.parametrize("seed", range(4))
def test_blocks_read_again_in_any_order_are_the_same(tmp_path: Path, seed: int) -> None:
    records = _records(seed, count=200)
    feed = Feed.from_records(records)
    streamed = StreamedFeed(_write(tmp_path / "r.msgpack", records, index=True))
    for options in OPTIONS[:2]:
        lap, view = compressed_lap(feed, options), streamed.lap(options)
        order = list(range(lap.size))
        random.Random(seed).shuffle(order)
        for i in order:
            assert view.has(i)
            assert view.frame(i) == lap.frame(i)
            assert view.position_ns(i) == lap.position_ns(i)
        assert not view.has(lap.size)


@pytest.mark.parametrize("seed", range(3))
def test_lookups_by_offset_and_position_agree(tmp_path: Path, seed: int) -> None:
    records = _records(seed)
    feed = Feed.from_records(records)
    rng = random.Random(seed)
    for options in OPTIONS:
        lap = compressed_lap(feed, options)
        end = lap.position_ns(lap.size - 1) + S
        for _ in range(30):
            view = StreamedFeed(_write(tmp_path / "r.msgpack", records, index=True)).lap(options)
            value = rng.randrange(end)
            assert view.index_at_offset(value) == lap.index_at_offset(value)
            assert view.index_at_position(value) == lap.index_at_position(value)


def test_the_seed_mechanism_is_what_keeps_re_reads_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the seeds a block read again keeps a frame the first reading dropped."""
    records = _records(1, count=200)
    feed = Feed.from_records(records)
    monkeypatch.setattr(feed_stream.StreamedLap, "_learn_seed", lambda self, payload: None)
    view = StreamedFeed(_write(tmp_path / "r.msgpack", records, index=True)).lap(ReplayOptions())
    lap = compressed_lap(feed, ReplayOptions())
    assert [view.frame(i) for i in range(lap.size)] == list(lap.frames)  # first reading
    assert [view.frame(i) for i in range(lap.size)] != list(lap.frames)  # read again
