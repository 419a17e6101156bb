"""Hypothesis strategies for the feed: valid events, whole matches, streams, hostile frames.

The frames are those of :mod:`harness.core.variants` (valid by construction: variants of the
simulator's templates, each value redrawn in its format), drawn through hypothesis so examples
shrink; ``harness fuzz`` draws the same rules from a seeded ``random.Random``.  Streams are
lists, so hypothesis shrinks a failing stream to a short one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

from harness.core.faults import CLOCKS, Fault, FaultTimeline, draw_fault
from harness.core.protocol import Channel
from harness.core.schedule import Feed, FeedFrame
from harness.core.stream import StreamFrame, feed_of, frames_feed
from harness.core.synth import SynthOptions, synthesize
from harness.core.variants import (
    HOSTILE_KINDS,
    UNICODE_EDGES,
    HostileFrame,
    hostile_frame,
    mutated_value,
    shapes,
    variant,
)

__all__ = [
    "UNICODE_EDGES",
    "FaultTimeline",
    "HostileFrame",
    "StreamFrame",
    "events",
    "fault_timelines",
    "hostile_frames",
    "matches",
    "mutations",
    "stream_feed",
    "streams",
]

T = TypeVar("T")
DELAY_MS = (2_001, 10_000)
"""How late ``streams(delay=True)`` sends its delayed frame (beyond any usual gap of 0-2 s)."""


class _HypothesisDraw:
    """The :class:`~harness.core.variants.Draw` of one hypothesis example."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def choice(self, options: Sequence[T]) -> T:
        return self._draw(st.sampled_from(options))

    def real(self, low: float, high: float) -> float:
        return self._draw(st.floats(low, high, allow_nan=False))

    def text(self, alphabet: str | None, min_size: int, max_size: int) -> str:
        if alphabet is None:
            return self._draw(st.text(min_size=min_size, max_size=max_size))
        return self._draw(st.text(alphabet, min_size=min_size, max_size=max_size))

    def binary(self, max_size: int) -> bytes:
        return self._draw(st.binary(max_size=max_size))


@st.composite
def _variant(draw: st.DrawFn, template: Mapping[str, Any]) -> dict[str, Any]:
    return variant(_HypothesisDraw(draw), template)


@st.composite
def _hostile(draw: st.DrawFn, kind: str) -> HostileFrame:
    return hostile_frame(_HypothesisDraw(draw), kind)


def events(
    channel: Channel | str | None = None, event_type: str | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Every documented event of ``channel`` (all six when None), or only ``event_type`` ones
    (``"goal"``, ``"stats_update"``, ``"batch_update"``...), as a JSON object."""
    return st.one_of([_variant(shape) for shape in shapes(channel, event_type)])


def matches(*, max_seed: int = 2**31) -> st.SearchStrategy[list[FeedFrame]]:
    """A whole simulated match on all six channels, kick-off to full time, in time order.

    Coherent because the simulator wrote it: scores follow the goals, stats and odds evolve
    with the play.  Drawn by seed, so it does not shrink; use :func:`streams` for that.
    """
    return st.integers(0, max_seed).map(_simulated_match)


@st.composite
def streams(
    draw: st.DrawFn,
    *,
    channels: Sequence[Channel | str] | None = None,
    min_size: int = 1,
    max_size: int = 50,
    bursts: bool = True,
    lulls: bool = True,
    duplicates: bool = True,
    reorder: bool = True,
    delay: bool = True,
) -> list[StreamFrame]:
    """A feed of events of ``channels`` (all when None) with what live feeds do rarely.

    ``bursts``: runs of frames at the same instant; ``lulls``: gaps of minutes;
    ``duplicates``: a frame sent twice; ``reorder``: neighbours swapped, so ``ts`` goes back;
    ``delay``: one frame comes 2-10 s late (a stall, shorter than a lull), the rest after it.
    Offsets never decrease (they are when the server sends); ``ts`` inside may.
    """
    pool = st.one_of([events(c) for c in channels]) if channels else events()
    gap_ms = st.integers(0, 2_000)
    if bursts:
        gap_ms = st.one_of(st.just(0), gap_ms)
    if lulls:
        gap_ms = st.one_of(gap_ms, st.integers(60_000, 600_000))
    picked = draw(st.lists(st.tuples(gap_ms, pool), min_size=min_size, max_size=max_size))
    if duplicates and len(picked) > 0 and draw(st.booleans()):
        at = draw(st.integers(0, len(picked) - 1))
        picked.insert(at + 1, (0, picked[at][1]))
    if reorder and len(picked) > 1 and draw(st.booleans()):
        at = draw(st.integers(0, len(picked) - 2))
        (gap_a, a), (gap_b, b) = picked[at], picked[at + 1]
        picked[at], picked[at + 1] = (gap_a, b), (gap_b, a)
    if delay and len(picked) > 0 and draw(st.booleans()):
        at = draw(st.integers(0, len(picked) - 1))
        gap, late = picked[at]
        picked[at] = (gap + draw(st.integers(DELAY_MS[0], DELAY_MS[1])), late)
    frames: list[StreamFrame] = []
    now_ms = 0
    for gap, event in picked:
        now_ms += gap
        frames.append(StreamFrame(now_ms / 1000, event))
    return frames


def stream_feed(frames: Sequence[StreamFrame]) -> Feed:
    """A generated stream as a replayable feed, every frame kept (duplicates too)."""
    return frames_feed(frames)


def hostile_frames() -> st.SearchStrategy[HostileFrame]:
    """Malformed JSON, wrong types, missing and extra fields, unknown event types, huge and
    empty frames, unicode edge cases, binary frames."""
    return st.one_of([_hostile(kind) for kind in HOSTILE_KINDS])


def mutations(feed: Feed, seed: int, *, rate: float = 0.05) -> Feed:
    """A seeded mutation of a recorded feed: frames dropped, duplicated, delayed, swapped,
    burst together, and values changed; the same seed gives the same feed."""
    rng = random.Random(seed)
    out: list[tuple[int, bytes]] = []
    for frame in feed.frames:
        roll = rng.random()
        if roll < rate:
            continue  # dropped
        payload = mutated_value(frame.payload, rng) if roll < 2 * rate else frame.payload
        offset = frame.offset_ns
        if roll > 1 - rate:
            offset += rng.randint(1, 30) * 10**9  # delayed
        out.append((offset, payload))
        if 2 * rate <= roll < 3 * rate:
            out.append((offset, payload))  # duplicated
    if len(out) > 1:
        for _ in range(max(1, round(len(out) * rate))):
            at = rng.randrange(len(out) - 1)
            (a, pa), (b, pb) = out[at], out[at + 1]
            out[at], out[at + 1] = (a, pb), (b, pa)  # swapped: ts goes back
    return feed_of(sorted(out), feed.duration_ns)


def _simulated_match(seed: int) -> list[FeedFrame]:
    _header, records = synthesize(SynthOptions(seed=seed, matches=1))
    return list(Feed.from_records(records).frames)


def fault_timelines(
    *, max_faults: int = 4, max_at_s: float = 30.0, clocks: Sequence[str] = CLOCKS
) -> st.SearchStrategy[FaultTimeline]:
    """Fault timelines of up to ``max_faults`` entries of every kind, starting within
    ``max_at_s`` seconds on one of ``clocks``; each is what :func:`parse_faults` accepts, so
    ``soccer_server.inject(timeline)`` runs it.  Shrinks towards fewer, earlier, shorter faults."""
    return st.builds(
        FaultTimeline,
        st.lists(_fault(max_at_s, tuple(clocks)), max_size=max_faults).map(tuple),
        st.integers(0, 2**32 - 1),
    )


@st.composite
def _fault(draw: st.DrawFn, max_at_s: float, clocks: tuple[str, ...]) -> Fault:
    return draw_fault(_HypothesisDraw(draw), max_at_s=max_at_s, clocks=clocks)
