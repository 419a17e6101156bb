"""Hypothesis strategies for the feed: valid events, whole matches, streams, hostile frames.

Valid by construction: every event is a variant of a template the match simulator wrote (one
per channel and event type, so each has its documented shape, as the fixtures under
``fixtures/events`` do), with each value redrawn in the format the template's value has (ids
keep an ``rt-`` prefix, ``"1;0"`` pairs stay pairs of counts, prices stay prices).  Fields
that decide routing or meaning (``type``, ``channel``, ``scope``, ``eventType``, ``status``)
are kept, so :func:`~harness.core.protocol.classify_frame` reads every example as the event of
its channel.  Streams are lists, so hypothesis shrinks a failing stream to a short one.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from hypothesis import strategies as st

from harness.core.envelopes import compact_json
from harness.core.protocol import Channel, FrameInfo, classify_frame
from harness.core.schedule import Feed, FeedFrame
from harness.core.synth import SynthOptions, synthesize
from harness.errors import UsageError

KEPT_KEYS = frozenset({"type", "channel", "scope", "eventType", "status", "seasonName"})
"""Fields whose value is part of what the event is: never redrawn."""
ID_KEYS = frozenset({"matchId", "leagueId", "id", "eventId"})
REALTIME_PREFIX = "rt-"
_PAIR = re.compile(r"^\d+;\d+$")
_PRICES = re.compile(r"^\d+\.\d+(;\d+\.\d+)*$")
_DECIMALS = re.compile(r"^\d+\.\d+;\d+\.\d+$")
_DIGITS = re.compile(r"^\d+$")
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NAME_ALPHABET = string.ascii_letters + string.digits + " .-'"


@cache
def templates() -> Mapping[tuple[Channel, str], dict[str, Any]]:
    """One simulated event per ``(channel, event type)``: the shapes every example keeps."""
    _header, records = synthesize(SynthOptions(matches=1))
    found: dict[tuple[Channel, str], dict[str, Any]] = {}
    for frame in Feed.from_records(records).frames:
        info = frame.info
        if info.channel is not None and info.event_type is not None:
            key = (info.channel, info.event_type)
            found.setdefault(key, _json(frame.payload))
    return found


def events(
    channel: Channel | str | None = None, event_type: str | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Every documented event of ``channel`` (all six when None), or only ``event_type`` ones
    (``"goal"``, ``"stats_update"``, ``"batch_update"``...), as a JSON object."""
    wanted = None if channel is None else Channel(channel)
    shapes = [
        shape
        for (c, kind), shape in sorted(templates().items())
        if wanted in (None, c) and event_type in (None, kind)
    ]
    if not shapes:
        raise UsageError(f"no documented {event_type} event on {wanted or 'any channel'}")
    return st.one_of([_variant(shape) for shape in shapes])


def matches(*, max_seed: int = 2**31) -> st.SearchStrategy[list[FeedFrame]]:
    """A whole simulated match on all six channels, kick-off to full time, in time order.

    Coherent because the simulator wrote it: scores follow the goals, stats and odds evolve
    with the play.  Drawn by seed, so it does not shrink; use :func:`streams` for that.
    """
    return st.integers(0, max_seed).map(_simulated_match)


@dataclass(frozen=True, slots=True)
class StreamFrame:
    """One frame of a generated stream: its offset from the stream start and its JSON."""

    offset_s: float
    event: dict[str, Any]

    @property
    def payload(self) -> bytes:
        return compact_json(self.event)


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
) -> list[StreamFrame]:
    """A feed of events of ``channels`` (all when None) with what live feeds do rarely.

    ``bursts``: runs of frames at the same instant; ``lulls``: gaps of minutes;
    ``duplicates``: a frame sent twice; ``reorder``: neighbours swapped, so ``ts`` goes back.
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
    frames: list[StreamFrame] = []
    now_ms = 0
    for gap, event in picked:
        now_ms += gap
        frames.append(StreamFrame(now_ms / 1000, event))
    return frames


def stream_feed(frames: Sequence[StreamFrame]) -> Feed:
    """A generated stream as a replayable feed, every frame kept (duplicates too)."""
    return _feed([(round(frame.offset_s * 1e9), frame.payload) for frame in frames])


@dataclass(frozen=True, slots=True)
class HostileFrame:
    """A frame a consumer must survive: ``payload`` as sent, in a text or a binary frame."""

    payload: bytes
    is_text: bool
    why: str


def hostile_frames() -> st.SearchStrategy[HostileFrame]:
    """Malformed JSON, wrong types, missing and extra fields, unknown event types, huge and
    empty frames, unicode edge cases, binary frames."""
    text = st.text(max_size=200)
    return st.one_of(
        text.map(lambda t: HostileFrame(("{" + t).encode(), True, "malformed JSON")),
        st.just(HostileFrame(b"", True, "empty frame")),
        st.integers(100_000, 1_000_000).map(
            lambda n: HostileFrame(b'{"type":"' + b"x" * n + b'"}', True, "huge frame")
        ),
        st.binary(max_size=200).map(lambda b: HostileFrame(b, False, "binary frame")),
        events().flatmap(_damaged),
        st.sampled_from(UNICODE_EDGES).map(
            lambda s: HostileFrame(compact_json({"type": s, "channel": "MAIN"}), True, "unicode")
        ),
    )


UNICODE_EDGES = ("\u0000", "\u202egoal", "goal\u0301", "\U0001f3c6", "\ufeffgoal", "\u2028", "")
"""A NUL, a right-to-left override, a combining mark, an emoji, a BOM, a line separator."""


def mutations(feed: Feed, seed: int, *, rate: float = 0.05) -> Feed:
    """A seeded mutation of a recorded feed: frames dropped, duplicated, delayed, swapped,
    burst together, and values changed; the same seed gives the same feed."""
    rng = random.Random(seed)
    out: list[tuple[int, bytes]] = []
    for frame in feed.frames:
        roll = rng.random()
        if roll < rate:
            continue  # dropped
        payload = _mutated_value(frame.payload, rng) if roll < 2 * rate else frame.payload
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
    return _feed(sorted(out), feed.duration_ns)


# --- value formats ----------------------------------------------------------------------------


def _variant(template: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({k: _like(k, v) for k, v in template.items()})


def _like(key: str, value: Any) -> st.SearchStrategy[Any]:
    """Values in the format of ``value`` (the template's value under ``key``)."""
    if key in KEPT_KEYS or value is None or isinstance(value, bool):
        return st.just(value)
    if key in ID_KEYS:
        return _ids(value.startswith(REALTIME_PREFIX) if isinstance(value, str) else False)
    if isinstance(value, dict):
        return _variant(value)
    if isinstance(value, list):
        return st.lists(_like(key, value[0]), min_size=1, max_size=4) if value else st.just([])
    if isinstance(value, int):
        return st.integers(1_600_000_000_000, 2_000_000_000_000) if key == "ts" else st.just(value)
    if isinstance(value, float):
        return st.floats(0, 1000, allow_nan=False)
    return _text_like(key, str(value))


def _text_like(key: str, value: str) -> st.SearchStrategy[str]:
    count = st.integers(0, 30)
    formats: list[tuple[re.Pattern[str], Callable[[], st.SearchStrategy[str]]]] = [
        (_PAIR, lambda: st.tuples(count, count).map(lambda p: f"{p[0]};{p[1]}")),
        (_DECIMALS, lambda: st.tuples(_decimal(), _decimal()).map(";".join)),
        (_PRICES, lambda: st.lists(_price(), min_size=len(value.split(";")),
                                   max_size=len(value.split(";"))).map(";".join)),
        (_DIGITS, lambda: st.integers(0, 130).map(str)),
        (_ISO, lambda: st.integers(1_600_000_000, 2_000_000_000).map(_iso)),
    ]  # fmt: skip
    for pattern, strategy in formats:
        if pattern.match(value):
            return strategy()
    if key == "team":
        return st.sampled_from(("A", "B"))
    if key in ("stat", "market"):
        return st.just(value)
    return st.text(NAME_ALPHABET, min_size=1, max_size=30)


def _ids(realtime: bool) -> st.SearchStrategy[str]:
    ident = st.integers(0x10000, 2**64 - 1).map(lambda n: f"{n:x}")
    return ident.map(lambda i: REALTIME_PREFIX + i) if realtime else ident


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal() -> st.SearchStrategy[str]:
    return st.integers(0, 500).map(lambda n: f"{n / 100:.2f}")


def _price() -> st.SearchStrategy[str]:
    return st.integers(101, 5000).map(lambda n: f"{n / 100:.2f}")


def _damaged(event: dict[str, Any]) -> st.SearchStrategy[HostileFrame]:
    """An event with one field dropped, retyped or added, or an unknown event type."""
    keys = sorted(event)

    def frame(body: dict[str, Any], why: str) -> HostileFrame:
        return HostileFrame(compact_json(body), True, why)

    return st.one_of(
        st.sampled_from(keys).map(
            lambda k: frame({x: v for x, v in event.items() if x != k}, f"missing {k}")
        ),
        st.tuples(st.sampled_from(keys), st.sampled_from((None, 0, [], {}, "", True))).map(
            lambda kv: frame({**event, kv[0]: kv[1]}, f"wrong type for {kv[0]}")
        ),
        st.just(frame({**event, "unexpected": {"x": 1}}, "extra field")),
        st.just(frame({**event, "type": "penalty_shootout"}, "unknown event type")),
    )


def _mutated_value(payload: bytes, rng: random.Random) -> bytes:
    """The frame with one top-level or ``data`` value replaced by an odd one of another type."""
    event = _json(payload)
    target = event["data"] if isinstance(event.get("data"), dict) and rng.random() < 0.7 else event
    keys = sorted(k for k in target if k not in ("type", "channel"))
    if keys:
        target[rng.choice(keys)] = rng.choice((None, -1, "", "?;?", [], 1e308))
    return compact_json(event)


def _simulated_match(seed: int) -> list[FeedFrame]:
    _header, records = synthesize(SynthOptions(seed=seed, matches=1))
    return list(Feed.from_records(records).frames)


def _feed(frames: Sequence[tuple[int, bytes]], duration_ns: int = 0) -> Feed:
    """Frames as a feed as they are: not deduplicated as a recording's frames are."""
    built = []
    for offset_ns, payload in frames:
        info = classify_frame(payload) or FrameInfo(type="")
        built.append(FeedFrame(offset_ns, payload, info))
    end = max((frame.offset_ns for frame in built), default=0)
    return Feed(tuple(built), max(end, duration_ns))


def _json(payload: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(payload)
    return value
