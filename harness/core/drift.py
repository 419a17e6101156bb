"""``harness diff``: has the feed drifted between two recordings?

Each recording is read once into a :class:`FeedProfile` (bounded: one entry per frame key,
field path, format, channel and close code, not per frame).  Two profiles are compared:

* **event types** (frame keys, :func:`~harness.core.shapes.frame_key`) and **fields** that
  appear or vanish, exactly;
* **value formats** of each field that appear or vanish, counting a format only where it makes
  up a real part of the field's values (:attr:`Thresholds.format_share`), so a rare spelling in
  one simulation is not drift;
* **rates per channel** (event frames per hour), **gaps** (the longest silence per channel),
  **renewal** cadence (median time between renewals) and **close behaviour** (close codes by
  who closed, and reconnects), each with the tolerance of :class:`Thresholds`.

Two recordings of the same simulation with different seeds differ in their matches, scores and
timings, never in their shapes; the thresholds are chosen so they stay quiet while a renamed
field, a new event type, a changed value format or a new close code is found
(``tests/core/test_drift.py``).
"""

from __future__ import annotations

import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.core.damage import DamageLog
from harness.core.recording import open_reader
from harness.core.records import Direction, HttpExchange, Note, NoteKind, WsClose, WsMessage
from harness.core.shapes import MAX_PATHS_PER_KEY, fields, frame_key, parse_object

MAX_KEYS = 1000
"""Distinct frame keys profiled (a hostile recording cannot grow the profile unbounded)."""
MAX_RENEWALS = 10_000


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every tolerance of ``diff``, in one place (README "Toolbox" quotes them).

    ``format_share``: a value format counts for a field when at least this share of the field's
    values has it (0.02: 2 %).  ``rate_ratio``: a channel's events per hour drift when one
    recording has more than this factor of the other's (2.0), counted only when both have at
    least ``min_events`` (20) on it.  ``gap_ratio`` / ``gap_min_s``: the longest silence on a
    channel drifts when it is more than 3x the other's and at least 300 s longer.
    ``renewal_tolerance``: the median time between renewals drifts by more than 25 %.
    ``reconnect_ratio``: reconnects per hour differ by more than 2x (and by more than 2).
    """

    format_share: float = 0.02
    rate_ratio: float = 2.0
    min_events: int = 20
    gap_ratio: float = 3.0
    gap_min_s: float = 300.0
    renewal_tolerance: float = 0.25
    reconnect_ratio: float = 2.0


THRESHOLDS = Thresholds()


@dataclass
class FeedProfile:
    """What ``diff`` compares, read from one recording in one pass."""

    path: str
    duration_ns: int = 0
    frames: Counter[str] = field(default_factory=Counter)
    shapes: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    channel_events: Counter[str] = field(default_factory=Counter)
    longest_gap_ns: dict[str, int] = field(default_factory=dict)
    renewals: list[int] = field(default_factory=list)
    closes: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    damage: DamageLog = field(default_factory=DamageLog)
    _last_event: dict[str, int] = field(default_factory=dict)

    def rate_per_hour(self, channel: str) -> float:
        hours = max(self.duration_ns, 1) / 3.6e12
        return self.channel_events[channel] / hours

    def renewal_interval_s(self) -> float | None:
        gaps = [(b - a) / 1e9 for a, b in zip(self.renewals, self.renewals[1:], strict=False)]
        return statistics.median(gaps) if gaps else None

    def frame(self, t_ns: int, obj: dict[str, Any]) -> None:
        key = frame_key(obj)
        if key not in self.shapes and len(self.shapes) >= MAX_KEYS:
            return
        self.frames[key] += 1
        shape = self.shapes.setdefault(key, {})
        for path, fmt, _ in fields(obj):
            formats = shape.get(path)
            if formats is None:
                if len(shape) >= MAX_PATHS_PER_KEY:
                    continue
                formats = shape[path] = Counter()
            formats[fmt] += 1
        channel = key.partition("/")[0]
        if channel in ("reply", "?"):
            return
        self.channel_events[channel] += 1
        last = self._last_event.get(channel)
        if last is not None:
            self.longest_gap_ns[channel] = max(self.longest_gap_ns.get(channel, 0), t_ns - last)
        self._last_event[channel] = t_ns


def _is_renewal(record: HttpExchange | Note) -> bool:
    if isinstance(record, Note):
        return record.kind == NoteKind.RENEWAL
    try:
        return urlsplit(record.url).path.rstrip("/").endswith("/ws/renew")
    except ValueError:
        return False


def profile_recording(path: str | os.PathLike[str]) -> FeedProfile:
    """Read ``path`` once into a :class:`FeedProfile`."""
    with open_reader(path) as reader:
        profile = FeedProfile(os.fspath(path), damage=reader.damage)
        first: int | None = None
        for record in reader:
            first = record.t_ns if first is None else first
            profile.duration_ns = max(profile.duration_ns, record.t_ns - first)
            if isinstance(record, WsMessage):
                if record.direction is Direction.SERVER_TO_CLIENT and record.is_text:
                    obj = parse_object(record.payload)
                    if obj is not None:
                        profile.frame(record.t_ns, obj)
            elif isinstance(record, HttpExchange):
                if _is_renewal(record) and len(profile.renewals) < MAX_RENEWALS:
                    profile.renewals.append(record.t_ns)
            elif isinstance(record, WsClose):
                code = "no code" if record.code is None else str(record.code)
                profile.closes[f"{code} by {record.initiator.name.lower()}"] += 1
            elif isinstance(record, Note) and record.kind == NoteKind.RECONNECT:
                profile.reconnects += 1
    return profile


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference: what it is about, and how each recording has it."""

    check: str
    subject: str
    a: str
    b: str

    def describe(self) -> str:
        return f"{self.check:<13} {self.subject}: {self.a} -> {self.b}"

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "a": self.a, "b": self.b}


def _formats(counter: Counter[str], share: float) -> set[str]:
    total = sum(counter.values())
    return {fmt for fmt, count in counter.items() if count >= share * total}


def _shape_drift(a: FeedProfile, b: FeedProfile, limits: Thresholds) -> list[Drift]:
    found: list[Drift] = []
    for key in sorted(set(a.shapes) | set(b.shapes)):
        if key not in a.shapes or key not in b.shapes:
            seen = (f"{a.frames[key]:,} frames", f"{b.frames[key]:,} frames")
            found.append(Drift("event-type", key, *(s if s[0] != "0" else "none" for s in seen)))
            continue
        shape_a, shape_b = a.shapes[key], b.shapes[key]
        for path in sorted(set(shape_a) | set(shape_b), key=list(shape_a | shape_b).index):
            if path not in shape_a or path not in shape_b:
                found.append(
                    Drift("field", f"{key} {path}",
                          "present" if path in shape_a else "absent",
                          "present" if path in shape_b else "absent")
                )  # fmt: skip
                continue
            formats_a = _formats(shape_a[path], limits.format_share)
            formats_b = _formats(shape_b[path], limits.format_share)
            new = formats_b - set(shape_a[path]) - {"null"}
            gone = formats_a - set(shape_b[path]) - {"null"}
            if new or gone:
                found.append(
                    Drift("value-format", f"{key} {path}",
                          ", ".join(sorted(formats_a)), ", ".join(sorted(formats_b)))
                )  # fmt: skip
    return found


def _ratio(x: float, y: float) -> float:
    low, high = sorted((x, y))
    return high / low if low > 0 else float("inf")


def _timing_drift(a: FeedProfile, b: FeedProfile, limits: Thresholds) -> list[Drift]:
    found: list[Drift] = []
    for channel in sorted(set(a.channel_events) & set(b.channel_events)):
        if min(a.channel_events[channel], b.channel_events[channel]) < limits.min_events:
            continue
        rate_a, rate_b = a.rate_per_hour(channel), b.rate_per_hour(channel)
        if _ratio(rate_a, rate_b) > limits.rate_ratio:
            found.append(Drift("rate", channel, f"{rate_a:,.0f}/h", f"{rate_b:,.0f}/h"))
        gap_a = a.longest_gap_ns.get(channel, 0) / 1e9
        gap_b = b.longest_gap_ns.get(channel, 0) / 1e9
        if _ratio(gap_a, gap_b) > limits.gap_ratio and abs(gap_a - gap_b) >= limits.gap_min_s:
            found.append(Drift("gap", channel, f"longest {gap_a:,.0f}s", f"longest {gap_b:,.0f}s"))
    every_a, every_b = a.renewal_interval_s(), b.renewal_interval_s()
    if (every_a is None) != (every_b is None) or (
        every_a is not None
        and every_b is not None
        and abs(every_b - every_a) > limits.renewal_tolerance * every_a
    ):
        found.append(Drift("renewal", "median interval", _every(every_a), _every(every_b)))
    for close in sorted(set(a.closes) ^ set(b.closes)):
        found.append(Drift("close", close, f"{a.closes[close]:,}x", f"{b.closes[close]:,}x"))
    per_hour_a = a.reconnects / max(a.duration_ns / 3.6e12, 1e-9)
    per_hour_b = b.reconnects / max(b.duration_ns / 3.6e12, 1e-9)
    if (
        abs(a.reconnects - b.reconnects) > 2
        and _ratio(per_hour_a, per_hour_b) > limits.reconnect_ratio
    ):
        found.append(Drift("reconnects", "per hour", f"{per_hour_a:.1f}", f"{per_hour_b:.1f}"))
    return found


def _every(seconds: float | None) -> str:
    return "no renewals" if seconds is None else f"every {seconds:,.0f}s"


@dataclass(frozen=True, slots=True)
class DiffReport:
    """The drift between recording ``a`` and recording ``b``."""

    a: FeedProfile
    b: FeedProfile
    drifts: list[Drift]

    @property
    def ok(self) -> bool:
        return not self.drifts

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.path,
            "b": self.b.path,
            "ok": self.ok,
            "drifts": [d.to_json() for d in self.drifts],
        }


def diff_profiles(a: FeedProfile, b: FeedProfile, limits: Thresholds = THRESHOLDS) -> DiffReport:
    return DiffReport(a, b, _shape_drift(a, b, limits) + _timing_drift(a, b, limits))


def diff_recordings(
    a: str | os.PathLike[str], b: str | os.PathLike[str], limits: Thresholds = THRESHOLDS
) -> DiffReport:
    """Profile both recordings (one pass each) and compare them (module docstring)."""
    return diff_profiles(profile_recording(a), profile_recording(b), limits)
