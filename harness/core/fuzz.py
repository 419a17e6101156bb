"""``harness fuzz``'s frames: a seeded, lazy, endless generator of feed frames.

The same :class:`FuzzOptions` give the same frames, byte for byte and in the same order, on
every run and machine: every choice comes from one ``random.Random(seed)`` through
:class:`~harness.core.variants.RandomDraw`, with integer arithmetic for times (no clock, no
hashing, no transcendental functions whose last bit may differ between C libraries).

Profiles:

- ``valid``: only well-formed frames, variants of the simulator's templates
  (:mod:`harness.core.variants`), so each passes the protocol model; ids come from a small pool
  of matches in a few leagues (so a consumer sees several events of each match, and a
  ``STATS:match:ID`` subscription gets frames); ``ts`` is the stream time (epoch ms from
  :data:`EPOCH_MS`).  What live feeds do rarely is mixed in: bursts (frames at one instant),
  lulls, a frame sent twice, two neighbours swapped (``ts`` goes back).
- ``hostile``: the same, with :data:`HOSTILE_SHARE` of the frames replaced by hostile ones
  (malformed JSON, empty, huge, damaged events, unicode edge cases; text frames only, since
  the mock's feed sends text frames).

- ``chaos``: the hostile frames, and a fault timeline generated from the same seed
  (:func:`fault_timeline`, :func:`harness.core.faults.chaos_timeline`) on recording time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from harness.core.envelopes import compact_json
from harness.core.faults import FaultTimeline, chaos_timeline
from harness.core.protocol import Channel
from harness.core.schedule import Feed
from harness.core.stream import feed_of
from harness.core.synth.recording import DEFAULT_START
from harness.core.variants import (
    HOSTILE_KINDS,
    RandomDraw,
    event_id,
    hostile_frame,
    shapes,
    variant,
)
from harness.errors import UsageError

PROFILES = ("valid", "hostile", "chaos")
DEFAULT_RATE = 10.0
MAX_RATE = 100_000.0
MATCHES = 6
EPOCH_MS = round(DEFAULT_START.timestamp() * 1000)
"""``ts`` of a frame at stream time 0 (the simulator's start, 2024-01-15 14:00 UTC)."""
HOSTILE_SHARE = 0.2
HUGE_SHARE = 0.01
"""Of the hostile frames, how many are huge (each up to ~1 MB: rare, so memory stays small)."""
BURST, LULL, DUPLICATE, SWAP = 0.03, 0.01, 0.02, 0.02
"""Per frame, the chance it starts a burst, follows a lull, is sent twice, is swapped."""
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class FuzzOptions:
    """What to generate: ``rate`` frames per second on average, of ``channels`` (all six when
    empty), by ``profile`` (see the module doc)."""

    seed: int
    profile: str = "valid"
    rate: float = DEFAULT_RATE
    channels: tuple[Channel, ...] = ()

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise UsageError(f"unknown profile {self.profile!r}: use {' or '.join(PROFILES)}")
        if not 0 < self.rate <= MAX_RATE:
            raise UsageError(f"rate must be > 0 and <= {MAX_RATE:g} frames/s, got {self.rate:g}")

    @property
    def mean_gap_ns(self) -> int:
        return max(1, round(NS / self.rate))


@dataclass(frozen=True, slots=True)
class _Match:
    match_id: str
    league_id: str
    rt_match_id: str
    rt_league_id: str


def generate(options: FuzzOptions) -> Iterator[tuple[int, bytes]]:
    """``(offset_ns, payload)`` for ever, offsets never going back; lazy (constant memory)."""
    rng = random.Random(options.seed)
    draw = RandomDraw(rng)
    pool = _pool(draw)
    templates = [s for c in options.channels for s in shapes(c)] if options.channels else shapes()
    clock = _Clock(rng, options.mean_gap_ns)

    def frame(at_ns: int) -> bytes:
        return _frame(draw, options.profile, templates, pool, at_ns)

    while True:
        now = clock.advance()
        first = frame(now)
        roll = rng.random()
        if roll < DUPLICATE:  # the same bytes twice, at one instant
            yield now, first
            yield now, first
        elif roll < DUPLICATE + SWAP:  # neighbours swapped: ts goes back
            later = clock.advance()
            yield now, frame(later)
            yield later, first
        else:
            yield now, first


class _Clock:
    """Send times: gaps uniform in [0, 2 x mean] (integers only), bursts at one instant,
    lulls of 20 gaps."""

    def __init__(self, rng: random.Random, mean_gap_ns: int) -> None:
        self.rng, self.mean, self.now, self.burst = rng, mean_gap_ns, 0, 0

    def advance(self) -> int:
        rng = self.rng
        if self.burst:
            self.burst -= 1
            return self.now
        gap = rng.randint(0, 2 * self.mean)
        if rng.random() < LULL:
            gap *= 20
        self.now += gap
        if rng.random() < BURST:
            self.burst = rng.randint(2, 8)
        return self.now


def _frame(
    draw: RandomDraw,
    profile: str,
    templates: list[dict[str, Any]],
    pool: list[_Match],
    now_ns: int,
) -> bytes:
    if profile != "valid" and draw.rng.random() < HOSTILE_SHARE:
        return hostile_frame(draw, _hostile_kind(draw)).payload
    event = variant(draw, draw.choice(templates))
    _place(event, draw.choice(pool), draw, pool)
    event["ts"] = EPOCH_MS + now_ns // 1_000_000
    return compact_json(event)


def _hostile_kind(draw: RandomDraw) -> str:
    if draw.rng.random() < HUGE_SHARE:
        return "huge"
    return draw.choice([kind for kind in HOSTILE_KINDS if kind not in ("huge", "binary")])


def _pool(draw: RandomDraw) -> list[_Match]:
    """:data:`MATCHES` matches over half as many leagues, with REST and realtime ids."""
    leagues = [(event_id(draw), event_id(draw, True)) for _ in range((MATCHES + 1) // 2)]
    pool = []
    for index in range(MATCHES):
        league, rt_league = leagues[index % len(leagues)]
        pool.append(_Match(event_id(draw), league, event_id(draw, True), rt_league))
    return pool


def _place(event: dict[str, Any], match: _Match, draw: RandomDraw, pool: list[_Match]) -> None:
    """Give the event the ids of ``match`` (the realtime source's own on MAIN_REALTIME)."""
    channel = event["channel"]
    realtime = channel == Channel.MAIN_REALTIME
    if "matchId" in event:
        event["matchId"] = match.rt_match_id if realtime else match.match_id
        event["leagueId"] = match.rt_league_id if realtime else match.league_id
        championship = event.get("data", {}).get("championship")
        if isinstance(championship, dict):
            championship["id"] = event["leagueId"]
    elif event.get("scope") == "match":
        event["id"] = match.match_id
    elif event.get("scope") == "league":
        event["id"] = match.league_id
    if isinstance(event.get("data"), list):  # a batch_update: one entry per match
        for entry in event["data"]:
            other = draw.choice(pool)
            entry["matchId"], entry["leagueId"] = other.match_id, other.league_id


def fuzz_frames(options: FuzzOptions, duration_ns: int) -> list[tuple[int, bytes]]:
    """The frames generated before ``duration_ns``."""
    out = []
    for offset, payload in generate(options):
        if offset >= duration_ns:
            break
        out.append((offset, payload))
    return out


def fuzz_feed(options: FuzzOptions, duration_ns: int) -> Feed:
    """:func:`fuzz_frames` as a feed the mock serves (every frame kept), ``duration_ns`` long."""
    return feed_of(fuzz_frames(options, duration_ns), duration_ns)


def first_frames(options: FuzzOptions, count: int) -> list[bytes]:
    """The first ``count`` payloads (for tests and previews)."""
    return [payload for _, payload in islice(generate(options), count)]


def fault_timeline(options: FuzzOptions, duration_ns: int) -> FaultTimeline | None:
    """The ``chaos`` profile's fault timeline over the stream, from the seed (None for the
    other profiles)."""
    if options.profile != "chaos":
        return None
    return chaos_timeline(options.seed, duration_ns / NS)
