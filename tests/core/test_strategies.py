"""``harness.strategies``: valid events in their documented shapes, streams that shrink,
hostile frames the session survives, seeded mutations, coherent matches."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from harness.core.envelopes import compact_json
from harness.core.loading import read_feed
from harness.core.mock.ws_session import Refused, WsSession
from harness.core.protocol import PLAN_CHANNELS, Channel, Plan, classify_frame
from harness.errors import UsageError
from harness.recordings import default_recording_path
from harness.strategies import (
    StreamFrame,
    events,
    hostile_frames,
    matches,
    mutations,
    stream_feed,
    streams,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "events"


def _shape(value: Any) -> Any:
    """Keys and JSON types, recursively (a list by its first element); null matches anything."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _same_shape(example: Any, fixture: Any) -> bool:
    if fixture is None or example is None:
        return True
    if isinstance(fixture, dict):
        return (
            isinstance(example, dict)
            and example.keys() == fixture.keys()
            and all(_same_shape(example[k], fixture[k]) for k in fixture)
        )
    if isinstance(fixture, list):
        return isinstance(example, list) and all(_same_shape(e, fixture[0]) for e in example)
    return type(example) is type(fixture)


DOCUMENTED = sorted((p.parent.name.upper(), p.stem) for p in FIXTURES.glob("*/*.json"))


@pytest.mark.parametrize(("channel", "event_type"), DOCUMENTED)
@settings(max_examples=20)
@given(data=st.data())
def test_every_documented_event_is_drawn_valid_in_its_fixtures_shape(
    channel: str, event_type: str, data: st.DataObject
) -> None:
    event = data.draw(events(channel, event_type))
    info = classify_frame(compact_json(event))
    assert info is not None
    assert info.is_event
    assert (info.channel, info.event_type) == (Channel(channel), event_type)
    fixture_file = FIXTURES / channel.lower() / f"{event_type}.json"
    fixture = json.loads(fixture_file.read_text(encoding="utf-8"))
    assert _same_shape(event, fixture), (event, fixture)


def test_an_event_nobody_documents_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no documented penalty event on MAIN"):
        events("MAIN", "penalty")


@settings(max_examples=30)
@given(streams())
def test_a_stream_is_in_send_order_and_replays_as_a_feed(stream: list[StreamFrame]) -> None:
    offsets = [frame.offset_s for frame in stream]
    assert offsets == sorted(offsets)
    assert len(stream_feed(stream).frames) == len(stream)


def test_a_stream_can_hold_a_delayed_frame_and_the_knob_turns_it_off() -> None:
    def has_a_stall(stream: list[StreamFrame]) -> bool:
        offsets = [0.0] + [frame.offset_s for frame in stream]
        return any(2.0 < b - a <= 20.0 for a, b in itertools.pairwise(offsets))

    calm = streams(max_size=5, lulls=False, duplicates=False, reorder=False)
    assert has_a_stall(find(calm, has_a_stall))
    with pytest.raises(NoSuchExample):
        find(
            streams(max_size=5, lulls=False, duplicates=False, reorder=False, delay=False),
            has_a_stall,
            settings=settings(max_examples=100, database=None),
        )


@pytest.mark.slow
def test_a_failing_stream_shrinks_to_the_frame_that_fails() -> None:
    def buggy_consumer_fails(stream: list[StreamFrame]) -> bool:
        return any(frame.event["type"] == "halftime" for frame in stream)

    stream = streams(channels=["MAIN"], max_size=10)
    smallest = find(stream, buggy_consumer_fails, settings=settings(database=None))
    assert len(smallest) <= 3
    assert buggy_consumer_fails(smallest)


@settings(max_examples=60)
@given(hostile_frames())
def test_the_session_refuses_every_hostile_frame_and_survives(frame: Any) -> None:
    session = WsSession(PLAN_CHANNELS[Plan.MEGA], 2)
    event = session.receive(frame.payload, is_text=frame.is_text, now_ms=0)
    assert isinstance(event, Refused), frame.why
    assert session.subscriptions == frozenset()


def test_mutations_are_seeded() -> None:
    feed = read_feed(default_recording_path())
    first, again, other = mutations(feed, 7), mutations(feed, 7), mutations(feed, 8)
    assert [f.payload for f in first.frames] == [f.payload for f in again.frames]
    assert [f.payload for f in first.frames] != [f.payload for f in other.frames]
    assert 0.8 * len(feed.frames) < len(first.frames) < 1.2 * len(feed.frames)
    assert first.duration_ns >= feed.duration_ns


@settings(max_examples=3)
@given(matches())
def test_a_match_runs_kick_off_to_full_time_with_consistent_scores(frames: list[Any]) -> None:
    main = [json.loads(f.payload) for f in frames if f.info.channel is Channel.MAIN]
    assert main[0]["type"] == "match_start"
    assert main[-1]["type"] == "match_end"
    goals = [e for e in main if e["type"] == "goal"]
    final = main[-1]["data"]["finalScore"]
    assert sum(map(int, final.split(";"))) == len(goals)
    if goals:
        assert goals[-1]["data"]["score"] == final
