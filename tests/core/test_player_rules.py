"""The player rules (harness.core.player): one anchor keeps timing drift-free across pauses,
seeks and speed changes; a seek lands on the first frame at or after its offset."""

from __future__ import annotations

import pytest

from harness.core.player import Transport, parse_speed, seek_target
from harness.core.protocol import classify_frame
from harness.core.schedule import Feed, FeedFrame, ReplayOptions, compressed_lap
from harness.errors import UsageError

S = 1_000_000_000


def feed(*offsets_s: float, duration_s: float) -> Feed:
    payload = b'{"type":"goal","channel":"MAIN","matchId":"m","leagueId":"l","ts":1}'
    info = classify_frame(payload)
    assert info is not None
    frames = tuple(FeedFrame(round(o * S), payload, info) for o in offsets_s)
    return Feed(frames, round(duration_s * S))


def test_due_times_follow_the_anchor_at_the_speed() -> None:
    transport = Transport(speed=2.0)
    transport.anchor(100.0, 0)
    assert transport.due_s(10 * S) == pytest.approx(105.0)
    assert transport.clock_ns(103.0) == 6 * S


def test_many_pauses_and_resumes_do_not_drift() -> None:
    # Given a transport paused and resumed 10,000 times, one second of play between each
    transport = Transport(speed=1.0)
    transport.anchor(0.0, 0)
    now = 0.0
    for _ in range(10_000):
        now += 1.0
        transport.pause(now, transport.clock_ns(now))
        now += 0.25  # paused: nothing moves
        assert transport.clock_ns(now) == transport.anchor_ns
        transport.resume(now)
    # Then exactly 10,000 s of recording have been played, to the nanosecond
    assert transport.clock_ns(now) == 10_000 * S


def test_a_speed_change_keeps_the_position() -> None:
    transport = Transport(speed=1.0)
    transport.anchor(0.0, 0)
    transport.set_speed(10.0, 5.0, transport.clock_ns(5.0))
    assert transport.clock_ns(5.0) == 5 * S
    assert transport.clock_ns(6.0) == 15 * S
    transport.set_speed(None, 6.0, transport.clock_ns(6.0))
    assert transport.clock_ns(1000.0) == 15 * S  # max: nothing follows the clock


def test_seek_lands_on_the_first_frame_at_or_after_the_offset() -> None:
    lap = compressed_lap(feed(1, 2, 3, duration_s=4), ReplayOptions())

    def seek(t_ns: int) -> tuple[int, int]:
        return seek_target(lap, t_ns, start_at_ns=0, max_gap_ns=None, duration_ns=4 * S)

    assert seek(round(2.5 * S)) == (2, round(2.5 * S))
    assert seek(2 * S) == (1, 2 * S)
    assert seek(0) == (0, 0)
    assert seek(4 * S) == (3, 4 * S)


def test_seek_positions_are_compressed_like_the_schedule() -> None:
    # Given frames at 10 s and 100 s from --start-at 5 s, gaps cut to 2 s
    options = ReplayOptions(start_at_ns=5 * S, max_gap_ns=2 * S)
    lap = compressed_lap(feed(10, 100, duration_s=100), options)

    def seek(t_ns: int) -> tuple[int, int]:
        return seek_target(lap, t_ns, start_at_ns=5 * S, max_gap_ns=2 * S, duration_ns=100 * S)

    # Then 50 s is 2 s (cut) past the 10 s frame, whose position is 2 s (cut) from the start
    assert seek(50 * S) == (1, 4 * S)
    assert seek(11 * S) == (1, 3 * S)


@pytest.mark.parametrize(("t_s", "words"), [(0.5, "before --start-at"), (9, "past the end")])
def test_seek_outside_the_recording_is_refused(t_s: float, words: str) -> None:
    lap = compressed_lap(feed(1, 2, duration_s=8), ReplayOptions(start_at_ns=S))
    with pytest.raises(UsageError, match=words):
        seek_target(lap, round(t_s * S), start_at_ns=S, max_gap_ns=None, duration_ns=8 * S)


@pytest.mark.parametrize(("text", "speed"), [("max", None), (" MAX ", None), ("2.5", 2.5)])
def test_parse_speed(text: str, speed: float | None) -> None:
    assert parse_speed(text) == speed


@pytest.mark.parametrize("text", ["0", "-1", "inf", "nan", "fast"])
def test_parse_speed_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="invalid speed"):
        parse_speed(text)
