"""Pure timeline rules: the settle window, the catch-up of a late subscription, lap arithmetic
and the seekable schedule cursor (:mod:`harness.core.timeline`, :mod:`harness.core.schedule`)."""

from __future__ import annotations

import itertools
import json

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from harness.core.protocol import Topic, classify_frame
from harness.core.schedule import (
    MIN_LAP_NS,
    Feed,
    FeedFrame,
    ReplayOptions,
    ScheduleCursor,
    compressed_lap,
    iter_schedule,
)
from harness.core.timeline import SettleWindow, catch_up_frames, covers
from harness.errors import UsageError


def frame(offset_s: float, channel: str, match: str, n: int) -> FeedFrame:
    if channel == "MAIN":
        body = {"type": "goal", "channel": "MAIN", "matchId": match, "leagueId": "l1"}
    else:
        body = {"type": "event", "channel": channel, "scope": "match", "id": match}
        body["eventType"] = "stats_update"
    payload = json.dumps({**body, "data": {"n": n}}).encode()
    info = classify_frame(payload)
    assert info is not None
    return FeedFrame(round(offset_s * 1e9), payload, info)


LAP = (
    frame(0.0, "MAIN", "m1", 0),
    frame(0.1, "STATS", "m1", 1),
    frame(0.2, "MAIN", "m2", 2),
    frame(0.3, "STATS", "m2", 3),
    frame(0.4, "STATS", "m1", 4),
)
MAIN_ALL = Topic.parse("MAIN:all")
MAIN_M1 = Topic.parse("MAIN:match:m1")
STATS_M1 = Topic.parse("STATS:match:m1")


def numbers(frames: list[FeedFrame]) -> list[int]:
    return [json.loads(f.payload)["data"]["n"] for f in frames]


# --- settle window ------------------------------------------------------------------------------


def test_settle_window_starts_once_subscriptions_are_quiet() -> None:
    window = SettleWindow(0.05, 1.0)
    assert window.start_due() is None
    assert not window.settled(100.0)
    window.changed(10.0)
    assert window.start_due() == pytest.approx(10.05)
    window.changed(10.04)  # a second subscribe inside the window moves the start
    assert window.start_due() == pytest.approx(10.09)
    assert not window.settled(10.08)
    assert window.settled(10.09)


def test_settle_window_starts_at_most_max_after_the_first_subscription() -> None:
    window = SettleWindow(0.05, 1.0)
    for step in range(100):  # a client that never stops changing its subscriptions
        window.changed(step * 0.04)
    assert window.start_due() == pytest.approx(1.0)


@pytest.mark.parametrize(("settle", "most"), [(-0.1, 1.0), (2.0, 1.0)])
def test_settle_window_bounds_are_checked(settle: float, most: float) -> None:
    with pytest.raises(UsageError, match="settle window"):
        SettleWindow(settle, most)


async def _start_time(window: SettleWindow, changes: list[float]) -> float:
    """Drive the window as the server does: changes at the given times, a starter sleeping to
    the start due; the virtual time it started at."""
    started = 0.0

    async def starter() -> None:
        nonlocal started
        while not window.settled(trio.current_time()):
            due = window.start_due()
            await trio.sleep_until(due if due is not None else trio.current_time() + 0.001)
        started = trio.current_time()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(starter)
        origin = trio.current_time()
        for at in changes:
            await trio.sleep_until(origin + at)
            window.changed(trio.current_time())
    return started - origin


async def test_settle_window_on_a_virtual_clock(autojump_clock: trio.testing.MockClock) -> None:
    assert await _start_time(SettleWindow(0.05, 1.0), [0.0, 0.03, 0.06]) == pytest.approx(0.11)
    steady = [step * 0.04 for step in range(50)]
    assert await _start_time(SettleWindow(0.05, 1.0), steady) == pytest.approx(1.0)


# --- catch-up -----------------------------------------------------------------------------------


def test_a_topic_added_later_catches_up_the_frames_already_passed() -> None:
    got = list(catch_up_frames(LAP[:4], {MAIN_ALL}, {MAIN_ALL, STATS_M1}))
    assert numbers(got) == [1]  # frame 4 is not passed yet: the timeline sends it


def test_catch_up_leaves_out_what_the_previous_subscriptions_already_got() -> None:
    got = list(catch_up_frames(LAP[:5], {MAIN_M1}, {MAIN_ALL}))
    assert numbers(got) == [2]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (frozenset(), {MAIN_ALL}),  # a first subscription (or a reconnect) starts where it is
        ({MAIN_ALL, STATS_M1}, {MAIN_ALL}),  # an unsubscribe
        ({MAIN_ALL}, frozenset()),
    ],
)
def test_no_catch_up(before: set[Topic], after: set[Topic]) -> None:
    assert list(catch_up_frames(LAP[:5], before, after)) == []


def test_covers_is_section_12_routing() -> None:
    assert covers({MAIN_ALL}, LAP[2].info)
    assert not covers({MAIN_M1}, LAP[2].info)
    assert covers({STATS_M1}, LAP[4].info)
    assert not covers(set(), LAP[0].info)


@pytest.mark.parametrize(
    ("passed", "expected"), [(0, 0), (1, 1), (4, 4), (5, 5), (6, 1), (10, 5), (11, 1)]
)
def test_passed_in_lap_counts_the_lap_of_the_last_frame_passed(passed: int, expected: int) -> None:
    cursor = ScheduleCursor(compressed_lap(FEED, ReplayOptions(loop=True)), ReplayOptions())
    assert cursor.passed_in_lap(passed) == expected


def test_passed_in_lap_of_an_empty_lap() -> None:
    cursor = ScheduleCursor(compressed_lap(Feed((), 0), ReplayOptions()), ReplayOptions())
    assert cursor.passed_in_lap(3) == 0


# --- schedule cursor ----------------------------------------------------------------------------

FEED = Feed(frames=LAP, duration_ns=500_000_000)


@pytest.mark.parametrize(
    "options",
    [
        ReplayOptions(speed=1.0),
        ReplayOptions(speed=3.0, loop=True),
        ReplayOptions(speed=0.5, loop=True, max_gap_ns=50_000_000, start_at_ns=100_000_000),
        ReplayOptions(speed=None, loop=True),
    ],
)
def test_cursor_walks_the_same_schedule_as_iter_schedule(options: ReplayOptions) -> None:
    cursor = ScheduleCursor(compressed_lap(FEED, options), options)
    expected = list(itertools.islice(iter_schedule(FEED, options), 40))
    walked: list[tuple[int, FeedFrame]] = []
    while not cursor.done and len(walked) < 40:
        walked.append(cursor.advance())
    assert walked == expected


@given(
    elapsed_ns=st.integers(min_value=-10, max_value=10_000_000_000),
    speed=st.sampled_from([0.3, 1.0, 7.0]),
    loop=st.booleans(),
)
def test_position_at_is_the_first_frame_due_then(elapsed_ns: int, speed: float, loop: bool) -> None:
    options = ReplayOptions(speed=speed, loop=loop, max_gap_ns=150_000_000)
    cursor = ScheduleCursor(compressed_lap(FEED, options), options)
    dues = [due for due, _ in itertools.islice(iter_schedule(FEED, options), 2000)]
    expected = sum(1 for due in dues if due < elapsed_ns)
    assert cursor.position_at(elapsed_ns) == expected


def test_seek_skips_what_was_due_and_never_goes_back() -> None:
    options = ReplayOptions(speed=1.0, loop=True)
    cursor = ScheduleCursor(compressed_lap(FEED, options), options)
    assert cursor.seek(250_000_000) == 3
    assert cursor.seek(0) == 3
    assert cursor.seek(10 * MIN_LAP_NS + 1) == 51  # ten laps (of 1 s at least) later: frame 1
    assert cursor.advance()[1] is LAP[1]


def test_seek_past_the_end_without_loop_ends_the_cursor() -> None:
    options = ReplayOptions(speed=1.0)
    cursor = ScheduleCursor(compressed_lap(FEED, options), options)
    cursor.seek(10**12)
    assert cursor.done
    assert cursor.index == len(LAP)


def test_at_max_speed_nothing_follows_the_clock() -> None:
    options = ReplayOptions(speed=None, loop=True)
    cursor = ScheduleCursor(compressed_lap(FEED, options), options)
    cursor.advance()
    assert cursor.position_at(10**12) == 1
