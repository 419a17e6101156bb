"""``take_inventory``: the figures of ``harness info``, for library users."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from harness import default_recording_path, take_inventory
from harness.core.inventory import Inventory, event_key
from harness.core.recording import read_recording
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
WINDOW_S = DUPLICATE_WINDOW_NS // 10**9


@given(
    st.lists(
        st.tuples(
            st.integers(0, 4 * WINDOW_S).map(lambda s: s * 10**9 // 2),  # steps of half a second
            st.integers(1, 3),
            st.sampled_from(PAYLOADS),
        ),
        max_size=40,
    )
)
def test_distinct_events_are_what_the_feed_of_every_record_serves(
    frames: list[tuple[int, int, bytes]],
) -> None:
    """Only repeated payloads go through the feed: the counts are those of the whole feed, for
    frames in any order, on several connections, repeated inside and outside the window."""
    records = [WsMessage(t, conn, Direction.SERVER_TO_CLIENT, p) for t, conn, p in frames]
    inventory = Inventory(Header("2024-01-15T10:00:00+00:00", "test", "0", {}))
    inventory.add_all(records)
    inventory.count_distinct()
    served = Feed.from_records(records).frames
    assert inventory.distinct_events == Counter(event_key(frame.info) for frame in served)
    assert inventory.distinct_frames == len(served)
