"""Hypothesis strategies for testing consumers of the feed (see :mod:`harness.core.strategies`).

``@given(events())``, ``@given(streams())``, ``@given(hostile_frames())``; ``matches()`` for
whole simulated matches; ``mutations(feed, seed)`` for seeded damage to a real recording.
"""

from __future__ import annotations

from harness.core.strategies import (
    HostileFrame,
    StreamFrame,
    events,
    hostile_frames,
    matches,
    mutations,
    stream_feed,
    streams,
)

__all__ = [
    "HostileFrame",
    "StreamFrame",
    "events",
    "hostile_frames",
    "matches",
    "mutations",
    "stream_feed",
    "streams",
]
