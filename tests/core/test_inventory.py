"""``take_inventory``: the figures of ``harness info``, for library users."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness import default_recording_path, take_inventory
from harness.core.inventory import Inventory, _Repeats, event_key
from harness.core.recording import open_writer, read_recording
from harness.core.records import Direction, Header, WsMessage
from harness.core.schedule import DUPLICATE_WINDOW_NS, Feed


def test_the_bundled_recording_counts_as_replay_serves_it() -> None:
    path = default_recording_path()
    inventory = take_inventory(path)
    replayed = Feed.from_records(read_recording(path)[1])
    assert inventory.distinct_frames == len(replayed.frames) == 4039
    assert sum(inventory.events.values()) > inventory.distinct_frames  # several connections
    assert inventory.header.source["synthetic"] is True
    assert inventory.duration_ns == 7200 * 10**9
    assert inventory.renewal_notes == inventory.renew_calls > 0
    assert inventory.tail is None
    assert inventory.summary is not None


PAYLOADS = [
    b'{"type":"goal","channel":"MAIN","matchId":"1"}',
    b'{"type":"goal","channel":"MAIN","matchId":"2"}',
    b'{"type":"event","channel":"STATS","scope":"match","id":"1","eventType":"stats_update"}',
    b'{"type":"card","channel":"MAIN_REALTIME","matchId":1}',
    b'{"type":"pong","ts":1}',
    b"not json",
]
"""Four event frames, a reply and a frame that is not JSON."""
QUARTER = DUPLICATE_WINDOW_NS // 4

frames_strategy = st.lists(
    st.tuples(
        st.integers(0, 6).map(lambda q: q * QUARTER),  # gap after the previous frame
        st.integers(-5, 5).map(lambda q: q * QUARTER),  # out of order by up to 1.25 windows
        st.integers(1, 3),
        st.sampled_from(PAYLOADS),
    ),
    max_size=40,
)


def _records(frames: list[tuple[int, int, int, bytes]]) -> list[WsMessage]:
    records, t_ns = [], 10 * DUPLICATE_WINDOW_NS
    for gap, jitter, conn, payload in frames:
        t_ns += gap
        records.append(WsMessage(t_ns + jitter, conn, Direction.SERVER_TO_CLIENT, payload))
    return records


LATE_PARTNER = [  # the second PAYLOADS[0] is half a window after the first, two windows on
    (0, 0, 1, PAYLOADS[1]),
    (3 * QUARTER, 0, 1, PAYLOADS[0]),
    (QUARTER, 0, 1, PAYLOADS[1]),
    (4 * QUARTER, 0, 1, PAYLOADS[1]),
    (0, -3 * QUARTER, 1, PAYLOADS[0]),
]


@pytest.mark.parametrize("window", [False, True])
@given(frames=frames_strategy)
@example(frames=LATE_PARTNER)
def test_distinct_events_are_what_the_feed_of_every_record_serves(
    window: bool, frames: list[tuple[int, int, int, bytes]]
) -> None:
    """Only the frames of repeated payloads go through the feed: the counts are those of the
    feed of every record, for frames in any order, on several connections, repeated inside and
    outside the duplicate window; with the sliding window, unless a frame came a window or more
    before the newest one (then ``unordered`` says so, and take_inventory counts again)."""
    records = _records(frames)
    inventory = Inventory(Header("2024-01-15T10:00:00+00:00", "test", "0", {}))
    inventory._repeats = _Repeats(window=window)
    inventory.add_all(records)
    times = [r.t_ns for r in records if r.payload in PAYLOADS[:4]]  # the event frames
    newest = itertools.accumulate(times, max)
    late = any(t_ns <= top - DUPLICATE_WINDOW_NS for t_ns, top in zip(times, newest, strict=True))
    assert inventory._repeats.unordered == (window and late)
    if inventory._repeats.unordered:
        return
    inventory.count_distinct()
    served = Feed.from_records(records).frames
    assert inventory.distinct_events == Counter(event_key(frame.info) for frame in served)
    assert inventory.distinct_frames == len(served)


def test_a_file_far_out_of_time_order_is_counted_again_without_the_window(tmp_path: Path) -> None:
    payload = PAYLOADS[0]
    times = [50 * DUPLICATE_WINDOW_NS, 0, 50 * DUPLICATE_WINDOW_NS + 1, 1]
    path = tmp_path / "unordered.msgpack"
    with open_writer(path, Header("2024-01-15T10:00:00+00:00", "test", "0", {})) as writer:
        for t_ns in times:
            writer.add(WsMessage(t_ns, 1, Direction.SERVER_TO_CLIENT, payload))
    inventory = take_inventory(path)
    assert inventory.distinct_frames == 2
    assert sum(inventory.events.values()) == 4
    assert inventory.first_t_ns == 0
