"""A feed prepared for fast replay: routes interned, wire bytes cached, batches joined.

:class:`PreparedFeed` interns every recorded frame's :class:`FrameInfo` to a small integer and
builds its wire bytes when it is sent (the latest :data:`WIRE_CACHE` kept, not every frame's:
a copy of the whole feed would double the server's memory), so a delivery costs two cached
lookups and one list append per subscriber; at ``--speed max`` whole lap batches are joined
once and shared by every timeline and subscriber.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from harness.core.protocol import ECHO_CHANNELS, FrameInfo, Topic
from harness.core.schedule import Feed, FeedFrame, ReplayOptions, iter_schedule
from harness.server.frames import text_frame

WIRE_CACHE = 4096
"""Wire bytes of the most recently sent frames kept by a :class:`PreparedFeed`."""

BATCH_FRAMES = 256
BATCH_BYTES = 64 * 1024
"""At ``--speed max`` consecutive frames are joined into batches of at most this many frames
and bytes, built once per feed and shared by every timeline and subscriber."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive frames of one lap at ``--speed max``: their wire bytes joined once."""

    joined: bytes
    wires: tuple[bytes, ...]
    routes: tuple[int, ...]
    distinct_routes: tuple[int, ...]
    last_offset_ns: int


class PreparedFeed:
    """A feed with each frame's routing kind interned and its wire bytes built when sent."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        routes: dict[FrameInfo, int] = {}
        self._routes: dict[int, int] = {
            id(frame): routes.setdefault(frame.info, len(routes)) for frame in feed.frames
        }
        # Wire bytes on demand, the latest few kept: timelines (one per token) send the same
        # frames at about the same time.  lru_cache is thread safe (pytest plugin servers), and
        # a payload's hash is computed once per bytes object.
        self._text_frame = functools.lru_cache(maxsize=WIRE_CACHE)(text_frame)
        self.route_infos: tuple[FrameInfo, ...] = tuple(routes)
        self._batches: dict[ReplayOptions, LapBatches] = {}
        self.echo_topics: frozenset[Topic] = frozenset(
            frame.info.topic
            for frame in feed.frames
            if frame.info.channel in ECHO_CHANNELS and frame.info.topic is not None
        )

    def wire(self, frame: FeedFrame) -> tuple[bytes, int]:
        """``(wire bytes, route id)`` of a frame of this feed."""
        return self._text_frame(frame.payload), self._routes[id(frame)]

    def schedule(self, options: ReplayOptions) -> Iterator[tuple[int, FeedFrame]]:
        return iter_schedule(self.feed, options)

    def lap_batches(self, options: ReplayOptions) -> LapBatches:
        """One lap of the ``--speed max`` schedule as batches (cached per options)."""
        lap = dataclasses.replace(options, loop=False)
        cached = self._batches.get(lap)
        if cached is None:
            frames = [frame for _, frame in iter_schedule(self.feed, lap)]
            cached = self._batches[lap] = LapBatches(frames, self._routes)
        return cached


BATCH_CACHE = 1024
"""Joined batches kept per lap (about 64 MiB at most): a feed of up to some 200,000 frames is
joined once and replayed lap after lap from memory (as the pytest plugin's servers of one
feed do); a longer one keeps the batches its timelines are sending."""


class LapBatches:
    """The batches of one lap: where each starts is known at once, its bytes are joined when a
    timeline first sends it (the latest :data:`BATCH_CACHE` kept, not a second copy of the
    whole feed).  A batch is at most :data:`BATCH_FRAMES` frames and ends at the frame that
    reaches :data:`BATCH_BYTES`."""

    def __init__(self, frames: list[FeedFrame], routes: dict[int, int]) -> None:
        self._frames = frames
        self._routes = routes
        starts, count, size = [], 0, 0
        for index, frame in enumerate(frames):
            if not count:
                starts.append(index)
            count += 1
            size += _wire_length(len(frame.payload))
            if count >= BATCH_FRAMES or size >= BATCH_BYTES:
                count, size = 0, 0
        self.starts: tuple[int, ...] = tuple(starts)
        """Index within the lap of each batch's first frame."""
        self._build = functools.lru_cache(maxsize=BATCH_CACHE)(self._join)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, k: int) -> Batch:
        return self._build(k)

    def _join(self, k: int) -> Batch:
        end = self.starts[k + 1] if k + 1 < len(self.starts) else len(self._frames)
        routes = self._routes
        return _batch(
            [
                (text_frame(frame.payload), routes[id(frame)], frame.offset_ns)
                for frame in self._frames[self.starts[k] : end]
            ]
        )


def _wire_length(payload_length: int) -> int:
    """Bytes of the text frame of a payload this long (as :func:`.frames.data_frame` builds)."""
    header = 2 if payload_length < 126 else 4 if payload_length < 1 << 16 else 10
    return header + payload_length


_SHARED: dict[int, PreparedFeed] = {}
_SHARED_LOCK = threading.Lock()
SHARED_FEEDS = 16
"""Prepared feeds kept by :func:`shared_prepared_feed` (the most recently used)."""


def shared_prepared_feed(feed: Feed) -> PreparedFeed:
    """The :class:`PreparedFeed` of ``feed``, built once and shared by every server of it.

    A test suite starts one server per test on the same few feeds (the pytest plugin): building
    each frame's wire bytes and the ``--speed max`` batches again each time would cost more than
    the server's start.  Everything in a prepared feed is immutable once built."""
    with _SHARED_LOCK:  # servers of one feed may run in several threads (pytest plugin)
        prepared = _SHARED.pop(id(feed), None)
        if prepared is None or prepared.feed is not feed:
            prepared = PreparedFeed(feed)
        _SHARED[id(feed)] = prepared
        while len(_SHARED) > SHARED_FEEDS:
            del _SHARED[next(iter(_SHARED))]
        return prepared


def _batch(frames: list[tuple[bytes, int, int]]) -> Batch:
    wires = tuple(wire for wire, _, _ in frames)
    routes = tuple(route for _, route, _ in frames)
    return Batch(b"".join(wires), wires, routes, tuple(dict.fromkeys(routes)), frames[-1][2])
