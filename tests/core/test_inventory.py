"""``take_inventory``: the figures of ``harness info``, for library users."""

from __future__ import annotations

from harness import default_recording_path, take_inventory
from harness.core.recording import read_recording
from harness.core.schedule import Feed


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
