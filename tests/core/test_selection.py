"""``cut`` and ``filter``: smaller recordings that still replay."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from harness import default_recording_path
from harness.core.loading import read_feed
from harness.core.protocol import Channel, classify_frame
from harness.core.recording import read_recording
from harness.core.records import Direction, HttpExchange, Record, Summary, WsMessage, WsOpen
from harness.core.selection import FrameFilter, cut_records, filter_records
from harness.core.transform import select_records
from harness.core.verify import verify_recording

BUNDLED = default_recording_path()
RECORDS = read_recording(BUNDLED)[1]
S = 1_000_000_000
MIN = 60 * S


def _events(records: list[Record]) -> list[WsMessage]:
    return [
        r
        for r in records
        if isinstance(r, WsMessage)
        and r.direction is Direction.SERVER_TO_CLIENT
        and (info := classify_frame(r.payload)) is not None
        and info.is_event
    ]


def test_a_cut_keeps_the_window_and_the_context_moved_to_its_start() -> None:
    start, end = 30 * MIN, 60 * MIN
    kept = list(cut_records(RECORDS, start_ns=start, end_ns=end))
    window = [r for r in RECORDS if start <= r.t_ns < end]
    context = kept[: len(kept) - len(window)]
    assert kept[len(context) :] == window
    assert all(r.t_ns == start for r in context)
    assert sum(isinstance(r, WsOpen) for r in context) == 4
    messages = [r for r in context if isinstance(r, WsMessage)]
    commands = [r for r in messages if r.direction is Direction.CLIENT_TO_SERVER]
    assert len(commands) == 16  # every subscription, with its reply
    assert len(messages) == 32
    assert any(isinstance(r, HttpExchange) and "/v1/ws/new" in r.url for r in context)
    assert not any(isinstance(r, Summary) for r in kept)


def test_a_cut_without_bounds_is_the_whole_recording() -> None:
    assert list(cut_records(RECORDS)) == RECORDS


def test_a_cut_file_replays_its_window_from_the_start(tmp_path: Path) -> None:
    out = tmp_path / "cut.msgpack"
    start, end = 30 * MIN, 40 * MIN

    def select(records: Iterable[Record]) -> Iterator[Record]:
        return cut_records(records, start_ns=start, end_ns=end)

    select_records(BUNDLED, out, select, command="cut")
    assert verify_recording(out).ok
    feed = read_feed(out)
    whole = read_feed(BUNDLED)
    first_subscribe = min(
        r.t_ns for r in RECORDS if isinstance(r, WsMessage) and b'"subscribe"' in r.payload
    )
    expected = [f.payload for f in whole.frames if start <= f.offset_ns + first_subscribe < end]
    assert [f.payload for f in feed.frames] == expected
    assert feed.frames[0].offset_ns < 60 * S  # replay starts at the window, not 30 min earlier


def test_a_filter_keeps_the_frames_asked_for_and_their_subscriptions() -> None:
    criteria = FrameFilter(channels=frozenset({Channel.MAIN}), types=frozenset({"goal"}))
    kept = list(filter_records(RECORDS, criteria))
    events = _events(kept)
    assert events
    for event in events:
        info = classify_frame(event.payload)
        assert info is not None
        assert (info.channel, info.event_type) == (Channel.MAIN, "goal")
    subscribes = [
        r
        for r in kept
        if isinstance(r, WsMessage)
        and r.direction is Direction.CLIENT_TO_SERVER
        and b'"subscribe"' in r.payload
    ]
    assert subscribes
    assert all(b'"MAIN"' in r.payload for r in subscribes)
    assert sum(isinstance(r, WsOpen) for r in kept) == 4


def test_a_match_filter_drops_subscriptions_to_other_matches() -> None:
    match_ids = {
        info.match_id
        for r in _events(RECORDS)
        if (info := classify_frame(r.payload)) is not None and info.match_id
    }
    wanted = sorted(match_ids)[0]
    kept = list(filter_records(RECORDS, FrameFilter(matches=frozenset({wanted}))))
    for event in _events(kept):
        info = classify_frame(event.payload)
        assert info is not None
        assert info.match_id == wanted
    assert len(_events(kept)) < len(_events(RECORDS))
