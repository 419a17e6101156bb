"""Hypothesis strategies for testing consumers of the feed (see :mod:`harness.core.strategies`).

``@given(events())``, ``@given(streams())``, ``@given(hostile_frames())``; ``matches()`` for
whole simulated matches; ``mutations(feed, seed)`` for seeded damage to a real recording;
``fault_timelines()`` for what goes wrong and when (``soccer_server.inject``).
"""

from __future__ import annotations

from harness.core.strategies import (
    FaultTimeline,
    HostileFrame,
    StreamFrame,
    events,
    fault_timelines,
    hostile_frames,
    matches,
    mutations,
    stream_feed,
    streams,
)

__all__ = [
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
