"""PreparedFeed builds wire bytes and ``--speed max`` batches on demand, the same as all at once."""

from __future__ import annotations

import json

import pytest

import harness.server.prepared as prepared_module
from harness.core.schedule import ReplayOptions
from harness.core.stream import feed_of
from harness.server.frames import text_frame
from harness.server.prepared import BATCH_BYTES, BATCH_FRAMES, PreparedFeed


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
    for _, frame in prepared.schedule(options):
        pending.append(text_frame(frame.payload))
        size += len(pending[-1])
        if len(pending) >= BATCH_FRAMES or size >= BATCH_BYTES:
            batches.append(pending)
            pending, size = [], 0
    if pending:
        batches.append(pending)
    return batches


def test_lazy_batches_are_the_batches_of_the_rule() -> None:
    prepared = _feed(3_000)
    options = ReplayOptions(speed=None, start_at_ns=7_000)
    batches = prepared.lap_batches(options)
    expected = _eager(prepared, options)
    assert len(batches) == len(expected)
    for k, wires in enumerate(expected):
        batch = batches[k]
        assert list(batch.wires) == wires
        assert batch.joined == b"".join(wires)
        assert batches.starts[k] == sum(map(len, expected[:k]))
    assert prepared.lap_batches(options) is batches  # cached per options


def test_only_the_latest_batches_are_kept_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared_module, "BATCH_CACHE", 4)
    prepared = _feed(BATCH_FRAMES * 10)
    batches = prepared.lap_batches(ReplayOptions(speed=None))
    assert len(batches) >= 10
    for k in range(len(batches)):
        batches[k]
    info = batches._build.cache_info()
    assert info.currsize == 4
    assert info.misses == len(batches)
    assert list(batches[0].wires) == _eager(prepared, ReplayOptions(speed=None))[0]


def test_wire_bytes_are_built_when_sent() -> None:
    prepared = _feed(100)
    for frame in prepared.feed.frames:
        wire, route = prepared.wire(frame)
        assert wire == text_frame(frame.payload)
        assert prepared.route_infos[route] == frame.info
