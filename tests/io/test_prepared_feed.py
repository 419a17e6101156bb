"""PreparedFeed builds wire bytes and ``--speed max`` batches on demand, the same as all at once."""

from __future__ import annotations

import json

import pytest

import harness.server.prepared as prepared_module
from harness.core.schedule import Feed, ReplayOptions, all_frames
from harness.core.stream import feed_of
from harness.server.frames import text_frame
from harness.server.prepared import (
    BATCH_BYTES,
    BATCH_FRAMES,
    SPAN_FRAMES,
    Batch,
    LapBatches,
    PreparedFeed,
)


def _payload(seq: int, size: int) -> bytes:
    event = {"type": "goal", "channel": "MAIN", "matchId": str(seq % 7), "pad": "x" * size}
    return json.dumps(event).encode()


def _feed(count: int) -> PreparedFeed:
    sizes = [10, 200, 5_000, 70_000]  # every frame header length, batches cut by bytes too
    frames = [(i * 1000, _payload(i, sizes[i % 4] if i % 50 == 0 else 100)) for i in range(count)]
    return PreparedFeed(feed_of(frames))


def _eager(prepared: PreparedFeed, options: ReplayOptions) -> list[list[bytes]]:
    """The batches as the rule says, built from every frame at once."""
    batches: list[list[bytes]] = []
    pending: list[bytes] = []
    size = 0
    for index, frame in enumerate(all_frames(prepared.lap(options))):
        if index % SPAN_FRAMES == 0 and pending:
            batches.append(pending)
            pending, size = [], 0
        pending.append(text_frame(frame.payload))
        size += len(pending[-1])
        if len(pending) >= BATCH_FRAMES or size >= BATCH_BYTES:
            batches.append(pending)
            pending, size = [], 0
    if pending:
        batches.append(pending)
    return batches


def _walk(batches: LapBatches, frames: int) -> list[Batch]:
    """Every batch of a lap of ``frames``, from the first, as ``--speed max`` sends them."""
    found, index = [], 0
    while index < frames:
        batch = batches.at(index)
        assert batch is not None, index
        assert batches.at(index + 1) is None or len(batch.wires) == 1
        found.append(batch)
        index += len(batch.wires)
    return found


def test_lazy_batches_are_the_batches_of_the_rule() -> None:
    prepared = _feed(3_000)
    options = ReplayOptions(speed=None, start_at_ns=7_000)
    batches = prepared.lap_batches(prepared.lap(options))
    expected = _eager(prepared, options)
    got = _walk(batches, sum(map(len, expected)))
    assert [list(batch.wires) for batch in got] == expected
    assert all(batch.joined == b"".join(batch.wires) for batch in got)
    assert prepared.lap_batches(prepared.lap(options)) is batches  # cached per options


def test_only_the_latest_batches_are_kept_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared_module, "BATCH_CACHE", 4)
    prepared = _feed(BATCH_FRAMES * 10)
    batches = prepared.lap_batches(prepared.lap(ReplayOptions(speed=None)))
    walked = _walk(batches, BATCH_FRAMES * 10)
    assert len(walked) >= 10
    info = batches._build.cache_info()
    assert info.currsize == 4
    assert info.misses == len(walked)
    assert list(batches.at(0).wires) == _eager(prepared, ReplayOptions(speed=None))[0]  # type: ignore[union-attr]


def test_wire_bytes_are_built_when_sent() -> None:
    prepared = _feed(100)
    assert isinstance(prepared.feed, Feed)
    for frame in prepared.feed.frames:
        wire, route = prepared.wire(frame)
        assert wire == text_frame(frame.payload)
        assert prepared.route_infos[route] == frame.info
