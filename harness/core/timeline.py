"""Pure rules of a replay timeline: when it starts, and what a late subscription catches up.

What a client receives must not depend on how quickly it sends its subscriptions (a client that
subscribes to several topics one after the other receives every recorded frame of each, in
recorded order, at any speed).  Two rules give that, both plain values and functions here; the
server (:mod:`harness.server.timelines`) only sleeps and sends.

- :class:`SettleWindow`: a token's timeline starts once its subscriptions have been unchanged
  for ``subscription_settle_s`` (profile, default 50 ms), but at most
  ``subscription_settle_max_s`` (default 1 s) after the first subscription, so a client that
  sends its subscribe commands back to back gets one timeline start for all of them.
- Catch-up (:func:`catch_up_frames`): when a connection's subscriptions change after its
  timeline started (a topic added), the frames of the current lap that the new subscriptions
  receive (:func:`covers`) and the previous ones did not, and that the timeline has already
  passed, are sent to that connection first, in recorded order; the timeline sends nothing else
  meanwhile.  "Previous" is what the connection held just before the change; "current lap" is
  the lap of the last frame passed
  (:meth:`~harness.core.schedule.ScheduleCursor.passed_in_lap`).  Only the frames the replay
  holds count (those from ``--start-at``): the client gets exactly what one
  subscribing to every topic at once would have.  A connection that held nothing before (its
  first subscription, or a reconnect) catches nothing up: it starts where the feed is now, as
  live.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

from harness.core.protocol import FrameInfo, Topic, topic_matches
from harness.core.schedule import FeedFrame
from harness.errors import UsageError


@dataclass(slots=True)
class SettleWindow:
    """When a timeline starts: subscriptions unchanged for ``settle_s``, at most ``max_s``
    after the first one (times in seconds on any monotonic clock the caller passes in)."""

    settle_s: float
    max_s: float
    first_s: float | None = None
    last_s: float | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.settle_s <= self.max_s):
            raise UsageError(
                f"subscription settle window must satisfy 0 <= settle ({self.settle_s:g}s)"
                f" <= max ({self.max_s:g}s)"
            )

    @property
    def opened(self) -> bool:
        """A subscription has been seen: the window is running (or over)."""
        return self.first_s is not None

    def changed(self, now_s: float) -> None:
        """The subscriptions changed at ``now_s`` (the first call opens the window)."""
        if self.first_s is None:
            self.first_s = now_s
        self.last_s = now_s

    def start_due(self) -> float | None:
        """When the timeline starts as things stand, ``None`` before any subscription."""
        if self.first_s is None or self.last_s is None:
            return None
        return min(self.last_s + self.settle_s, self.first_s + self.max_s)

    def settled(self, now_s: float) -> bool:
        due = self.start_due()
        return due is not None and now_s >= due


def covers(topics: Collection[Topic], info: FrameInfo) -> bool:
    """Does a connection holding ``topics`` receive this event frame (section 12 routing)?"""
    return any(topic_matches(topic, info) for topic in topics)


def catch_up_frames(
    passed: Iterable[FeedFrame],
    before: Collection[Topic],
    after: Collection[Topic],
) -> Iterator[FeedFrame]:
    """The catch-up of a connection whose subscriptions went from ``before`` to ``after``: the
    frames ``passed`` (those of the lap behind the timeline, in order) that ``after`` covers
    and ``before`` did not.

    Nothing when ``before`` is empty (a first subscription starts where the feed is now)."""
    if not before or not after:
        return
    wanted: dict[FrameInfo, bool] = {}
    for frame in passed:
        want = wanted.get(frame.info)
        if want is None:
            want = wanted[frame.info] = covers(after, frame.info) and not covers(before, frame.info)
        if want:
            yield frame
