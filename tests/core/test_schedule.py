"""The replay schedule: the feed, due times, compression, skipping, looping, rebasing ts."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from harness.core.protocol import classify_frame
from harness.core.records import Direction, Record, Summary, WsMessage
from harness.core.schedule import (
    DUPLICATE_WINDOW_NS,
    MIN_LAP_NS,
    Feed,
    FeedFrame,
    ReplayOptions,
    iter_schedule,
    rebase_ts,
)
from harness.errors import UsageError

S = 1_000_000_000


def _main(match: str, ts: int = 1705312800000, kind: str = "goal") -> bytes:
    frame = {"type": kind, "channel": "MAIN", "matchId": match, "leagueId": "L1", "ts": ts}
    return json.dumps(frame | {"data": {"score": "1;0"}}, separators=(",", ":")).encode()


def _in(t_ns: int, payload: bytes, conn: int = 1) -> WsMessage:
    return WsMessage(t_ns, conn, Direction.SERVER_TO_CLIENT, payload)


def _out(t_ns: int, payload: bytes, conn: int = 1) -> WsMessage:
    return WsMessage(t_ns, conn, Direction.CLIENT_TO_SERVER, payload)


SUBSCRIBE = b'{"action":"subscribe","channel":"MAIN","scope":"all"}'


def _feed(offsets_s: list[float], duration_s: float | None = None) -> Feed:
    frames = []
    for index, offset in enumerate(offsets_s):
        payload = _main(f"m{index}")
        info = classify_frame(payload)
        assert info is not None
        frames.append(FeedFrame(round(offset * S), payload, info))
    end = duration_s if duration_s is not None else (offsets_s[-1] if offsets_s else 0)
    return Feed(tuple(frames), round(end * S))


def _dues(feed: Feed, options: ReplayOptions, limit: int | None = None) -> list[int]:
    return [due for due, _ in itertools.islice(iter_schedule(feed, options), limit)]


# --- Feed.from_records ----------------------------------------------------------------------


def test_feed_keeps_only_server_events_in_time_order_from_the_first_subscribe() -> None:
    records: list[Record] = [
        _out(10 * S, SUBSCRIBE),
        _in(10 * S + 5, b'{"type":"subscribed","channel":"MAIN","scope":"all","id":null}'),
        _in(13 * S, _main("b")),
        _in(12 * S, _main("a")),
        _out(14 * S, b'{"action":"ping"}'),
        _in(14 * S + 1, b'{"type":"pong","ts":1705312800000}'),
        _in(15 * S, b'{"type":"error","code":"INVALID_COMMAND","message":"x"}'),
        _in(16 * S, b"not json"),
        Summary(20 * S, 20 * S),
    ]
    feed = Feed.from_records(records)
    assert [(f.offset_ns, f.info.match_id) for f in feed.frames] == [(2 * S, "a"), (3 * S, "b")]
    assert feed.frames[0].payload == _main("a")
    assert feed.duration_ns == 10 * S  # up to the last record, quiet tail included


def test_feed_starts_at_the_first_event_without_any_subscribe() -> None:
    feed = Feed.from_records([_in(7 * S, _main("a")), _in(9 * S, _main("b"))])
    assert [f.offset_ns for f in feed.frames] == [0, 2 * S]
    assert feed.duration_ns == 2 * S


def test_feed_keeps_a_frame_seen_on_several_connections_once() -> None:
    same = _main("a")
    feed = Feed.from_records(
        [
            _out(0, SUBSCRIBE),
            _in(1 * S, same, conn=1),
            _in(1 * S + 3_000_000, same, conn=2),
            _in(1 * S + DUPLICATE_WINDOW_NS + 1, same, conn=1),  # much later: a new frame
            _in(1 * S + 4_000_000, _main("b"), conn=2),
        ]
    )
    assert [(f.offset_ns, f.info.match_id) for f in feed.frames] == [
        (1 * S, "a"),
        (1 * S + 4_000_000, "b"),
        (1 * S + DUPLICATE_WINDOW_NS + 1, "a"),
    ]


def test_empty_feed() -> None:
    feed = Feed.from_records([])
    assert feed == Feed((), 0)
    assert _dues(feed, ReplayOptions(loop=True)) == []


# --- iter_schedule (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("speed", "expected"),
    [
        (1.0, [1 * S, 3 * S, 3 * S, 10 * S]),
        (10.0, [S // 10, 3 * S // 10, 3 * S // 10, S]),
        (0.5, [2 * S, 6 * S, 6 * S, 20 * S]),
        (None, [0, 0, 0, 0]),
    ],
)
def test_dues_are_recorded_offsets_divided_by_speed(
    speed: float | None, expected: list[int]
) -> None:
    feed = _feed([1, 3, 3, 10])
    assert _dues(feed, ReplayOptions(speed=speed)) == expected


def test_frames_come_in_feed_order() -> None:
    feed = _feed([1, 2, 3])
    frames = [frame for _, frame in iter_schedule(feed, ReplayOptions())]
    assert frames == list(feed.frames)


def test_max_gap_shortens_only_the_long_lulls_before_speed() -> None:
    feed = _feed([1, 2, 602, 603], duration_s=1000)
    options = ReplayOptions(speed=2.0, max_gap_ns=5 * S)
    assert _dues(feed, options) == [S // 2, S, 7 * S // 2, 4 * S]


def test_start_at_skips_earlier_frames_and_counts_from_there() -> None:
    feed = _feed([1, 5, 9])
    assert _dues(feed, ReplayOptions(start_at_ns=4 * S)) == [1 * S, 5 * S]
    assert _dues(feed, ReplayOptions(start_at_ns=4 * S, speed=4.0)) == [S // 4, 5 * S // 4]
    assert _dues(feed, ReplayOptions(start_at_ns=5 * S)) == [0, 4 * S]


def test_start_at_past_the_end_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="past the end"):
        iter_schedule(_feed([1, 2]), ReplayOptions(start_at_ns=3 * S))


def test_loop_continues_after_each_lap_end() -> None:
    feed = _feed([1, 3], duration_s=5)
    assert _dues(feed, ReplayOptions(loop=True), limit=6) == [
        S,
        3 * S,
        6 * S,
        8 * S,
        11 * S,
        13 * S,
    ]
    # A lap restarts at start_at; its length is the (compressed) time from there to the end.
    options = ReplayOptions(loop=True, start_at_ns=2 * S, max_gap_ns=S)
    assert _dues(feed, options, limit=3) == [S, 3 * S, 5 * S]


def test_loop_of_a_single_instant_is_not_a_hot_loop() -> None:
    feed = _feed([0])
    assert _dues(feed, ReplayOptions(loop=True), limit=3) == [0, MIN_LAP_NS, 2 * MIN_LAP_NS]


def test_loop_with_no_frame_after_start_at_ends() -> None:
    feed = _feed([1, 2], duration_s=10)
    assert _dues(feed, ReplayOptions(loop=True, start_at_ns=5 * S)) == []


def test_loop_at_max_speed_keeps_yielding() -> None:
    feed = _feed([1, 2])
    assert _dues(feed, ReplayOptions(speed=None, loop=True), limit=7) == [0] * 7


@pytest.mark.parametrize(
    "options",
    [
        {"speed": 0.0},
        {"speed": -1.0},
        {"speed": float("nan")},
        {"speed": float("inf")},
        {"max_gap_ns": 0},
        {"start_at_ns": -1},
    ],
)
def test_bad_options_are_usage_errors(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        ReplayOptions(**options)


def test_no_drift_over_many_frames() -> None:
    gap = 333_333_333  # not a multiple of the speed: rounding per gap would accumulate
    count = 20_000
    feed = Feed(tuple(FeedFrame(i * gap, b"{}", _info()) for i in range(count)), count * gap)
    dues = _dues(feed, ReplayOptions(speed=3.0))
    assert dues[-1] == round((count - 1) * gap / 3)
    assert all(abs(due - i * gap / 3) <= 0.5 for i, due in enumerate(dues))


def _info() -> Any:
    info = classify_frame(_main("x"))
    assert info is not None
    return info


# --- driving the schedule with a virtual clock, as the server does --------------------------


async def _play(feed: Feed, options: ReplayOptions, limit: int) -> list[tuple[float, str]]:
    sent: list[tuple[float, str]] = []
    start = trio.current_time()
    for due, frame in itertools.islice(iter_schedule(feed, options), limit):
        await trio.sleep_until(start + due / 1e9)
        sent.append((trio.current_time() - start, frame.info.match_id or ""))
    return sent


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (ReplayOptions(), [(1.0, "m0"), (3.5, "m1"), (9.0, "m2")]),
        (ReplayOptions(speed=10.0), [(0.1, "m0"), (0.35, "m1"), (0.9, "m2")]),
        (ReplayOptions(speed=None), [(0.0, "m0"), (0.0, "m1"), (0.0, "m2")]),
        (ReplayOptions(max_gap_ns=2 * S), [(1.0, "m0"), (3.0, "m1"), (5.0, "m2")]),
        (ReplayOptions(start_at_ns=3 * S), [(0.5, "m1"), (6.0, "m2")]),
        (
            ReplayOptions(loop=True, speed=2.0),
            [(0.5, "m0"), (1.75, "m1"), (4.5, "m2"), (5.5, "m0"), (6.75, "m1")],
        ),
    ],
)
async def test_virtual_clock_replay(
    autojump_clock: trio.testing.MockClock,
    options: ReplayOptions,
    expected: list[tuple[float, str]],
) -> None:
    feed = _feed([1, 3.5, 9], duration_s=10)
    sent = await _play(feed, options, limit=5)
    assert [name for _, name in sent] == [name for _, name in expected]
    assert [t for t, _ in sent] == pytest.approx([t for t, _ in expected], abs=1e-9)


async def test_virtual_clock_replay_does_not_drift(autojump_clock: trio.testing.MockClock) -> None:
    gap, count = 70_000_007, 5_000  # 70 ms and 7 ns, at speed 7
    feed = Feed(tuple(FeedFrame(i * gap, b"{}", _info()) for i in range(count)), count * gap)
    start = trio.current_time()
    last_due = 0
    for due, _ in iter_schedule(feed, ReplayOptions(speed=7.0)):
        await trio.sleep_until(start + due / 1e9)
        last_due = due
    assert last_due == (count - 1) * gap // 7
    assert trio.current_time() == start + (count - 1) * gap / 7 / 1e9


# --- rebase_ts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"type":"goal","ts":1705312800000,"data":{}}', b'{"type":"goal","ts":42,"data":{}}'),
        (b'{ "ts" : 1 , "a": [1, 2] }', b'{ "ts" : 42 , "a": [1, 2] }'),
        (b'{"data":{"ts":1},"ts":5}', b'{"data":{"ts":1},"ts":42}'),
        (b'{"data":{"ts":1}}', b'{"data":{"ts":1}}'),
        (b'{"note":"\\"ts\\":1","x":"{"}', b'{"note":"\\"ts\\":1","x":"{"}'),
        (b'{"ts":1.5}', b'{"ts":1.5}'),
        (b'{"ts":"1"}', b'{"ts":"1"}'),
        (b'[{"ts":1}]', b'[{"ts":1}]'),
        (b"not json", b"not json"),
        (b'{"a":"\xc3\xa9","ts":-3}', b'{"a":"\xc3\xa9","ts":42}'),
    ],
)
def test_rebase_ts_rewrites_only_the_top_level_integer(payload: bytes, expected: bytes) -> None:
    assert rebase_ts(payload, 42) == expected


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=10,
)


@given(
    body=st.dictionaries(st.text(max_size=5), _json_values, max_size=5),
    ts=st.integers(0, 2**53),
    new_ts=st.integers(0, 2**53),
    indent=st.sampled_from([None, 1]),
)
def test_rebase_ts_round_trip(
    body: dict[str, Any], ts: int, new_ts: int, indent: int | None
) -> None:
    obj = body | {"ts": ts}
    payload = json.dumps(obj, indent=indent).encode()
    assert json.loads(rebase_ts(payload, new_ts)) == obj | {"ts": new_ts}
    without = {k: v for k, v in body.items() if k != "ts"}
    plain = json.dumps(without).encode()
    assert rebase_ts(plain, new_ts) == plain
