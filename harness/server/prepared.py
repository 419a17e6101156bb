"""A feed prepared for fast replay: routes interned, wire bytes cached, batches joined.

:class:`PreparedFeed` interns every recorded frame's :class:`FrameInfo` to a small integer and
builds its wire bytes when it is sent (the latest :data:`WIRE_CACHE` kept, not every frame's:
a copy of the whole feed would double the server's memory), so a delivery costs two cached
lookups and one list append per subscriber; at ``--speed max`` whole lap batches are joined
once and shared by every timeline and subscriber.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from harness.core.feed_stream import FeedSource
from harness.core.protocol import ECHO_CHANNELS, FrameInfo, Topic
from harness.core.schedule import Feed, FeedFrame, LapView, ReplayOptions
from harness.server.frames import text_frame

WIRE_CACHE = 4096
"""Wire bytes of the most recently sent frames kept by a :class:`PreparedFeed`."""

JUMPED_LAPS = 4
"""Laps begun at a far seek's target that a prepared feed keeps (each keeps a few blocks)."""

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
    """A feed (in memory or streamed from disk) with each frame's routing kind interned and its
    wire bytes built when sent."""

    def __init__(self, feed: FeedSource) -> None:
        self.feed = feed
        self._routes: dict[FrameInfo, int] = {}
        self._route_of_id: dict[int, tuple[FrameInfo, int]] = {}
        self.route_infos: list[FrameInfo] = []
        """The :class:`FrameInfo` of each route id (grows as a streamed feed is read)."""
        # Wire bytes on demand, the latest few kept: timelines (one per token) send the same
        # frames at about the same time.  lru_cache is thread safe (pytest plugin servers), and
        # a payload's hash is computed once per bytes object.
        self._text_frame = functools.lru_cache(maxsize=WIRE_CACHE)(text_frame)
        self._laps: dict[tuple[int, int | None], LapView] = {}
        self._batches: dict[int, tuple[LapView, LapBatches]] = {}
        self._jumped: dict[tuple[int, int | None, int], LapView] = {}
        self._lock = threading.Lock()
        self.echo_topics: frozenset[Topic] | None = None
        """The echo topics the feed holds (``None`` for a streamed feed: not known)."""
        if isinstance(feed, Feed):
            for frame in feed.frames:
                self.route(frame.info)
            self.echo_topics = frozenset(
                frame.info.topic
                for frame in feed.frames
                if frame.info.channel in ECHO_CHANNELS and frame.info.topic is not None
            )

    @property
    def duration_ns(self) -> int:
        return self.feed.duration_ns

    @property
    def frame_count(self) -> int | None:
        """Event frames in the feed (``None``: a streamed feed no lap from its start has read
        to the end yet)."""
        feed = self.feed
        if isinstance(feed, Feed):
            return len(feed.frames)
        sizes = [lap.size for (start_at, _), lap in self._laps.items() if not start_at]
        return next((size for size in sizes if size is not None), None)

    def route(self, info: FrameInfo) -> int:
        """The route id of ``info`` (by identity first: feeds intern their infos)."""
        known = self._route_of_id.get(id(info))
        if known is not None and known[0] is info:
            return known[1]
        with self._lock:
            route = self._routes.get(info)
            if route is None:
                route = self._routes[info] = len(self.route_infos)
                self.route_infos.append(info)
            self._route_of_id[id(info)] = (info, route)  # holds info: its id stays its own
            return route

    def wire(self, frame: FeedFrame) -> tuple[bytes, int]:
        """``(wire bytes, route id)`` of a frame of this feed."""
        return self._text_frame(frame.payload), self.route(frame.info)

    def lap(self, options: ReplayOptions) -> LapView:
        """The lap of ``options`` (its start-at and max-gap), built once and shared by the
        timelines of every server of this prepared feed."""
        key = (options.start_at_ns, options.max_gap_ns)
        with self._lock:
            lap = self._laps.get(key)
            if lap is None:
                lap = self._laps[key] = self.feed.lap(options)
            return lap

    def lap_from(self, options: ReplayOptions, from_ns: int) -> LapView:
        """The rest of a streamed lap from a far seek's target (the latest
        :data:`JUMPED_LAPS` kept, shared by the timelines that seek there together)."""
        feed = self.feed
        assert not isinstance(feed, Feed)  # a lap in memory is always near
        key = (options.start_at_ns, options.max_gap_ns, from_ns)
        with self._lock:
            lap = self._jumped.pop(key, None) or feed.lap(options, from_ns)
            self._jumped[key] = lap
            while len(self._jumped) > JUMPED_LAPS:
                del self._jumped[next(iter(self._jumped))]
            return lap

    def lap_batches(self, lap: LapView) -> LapBatches:
        """``lap`` (one of this feed's) as ``--speed max`` batches, cached per lap."""
        with self._lock:
            cached = self._batches.pop(id(lap), None)
            batches = cached[1] if cached is not None else LapBatches(lap, self.route)
            self._batches[id(lap)] = (lap, batches)  # holds lap: its id stays its own
            while len(self._batches) > 2 * JUMPED_LAPS:
                del self._batches[next(iter(self._batches))]
            return batches


SPAN_FRAMES = 1024
"""Batches never cross a multiple of this many frames, so where they start is found by
reading only the frames of one span."""

BATCH_CACHE = 64
"""Joined batches kept per lap (about 4 MiB at most); a longer lap keeps the batches its
timelines are sending, and joins the others again when it loops."""


class LapBatches:
    """The ``--speed max`` batches of one lap: consecutive frames, at most
    :data:`BATCH_FRAMES` and ending at the frame that reaches :data:`BATCH_BYTES`, within a
    span of :data:`SPAN_FRAMES`.  Where they start and their joined bytes are worked out when a
    timeline first reaches them (the latest kept, not a second copy of the whole feed)."""

    def __init__(self, lap: LapView, route: Callable[[FrameInfo], int]) -> None:
        self._lap = lap
        self._route = route
        self._starts = functools.lru_cache(maxsize=BATCH_CACHE)(self._span_starts)
        self._build = functools.lru_cache(maxsize=BATCH_CACHE)(self._join)

    def at(self, within: int) -> Batch | None:
        """The batch that starts at frame ``within`` of the lap, if one does."""
        span, _ = divmod(within, SPAN_FRAMES)
        starts = self._starts(span)
        k = bisect.bisect_left(starts, within)
        if k == len(starts) or starts[k] != within:
            return None
        end = starts[k + 1] if k + 1 < len(starts) else (span + 1) * SPAN_FRAMES
        return self._build(within, end)

    def _span_starts(self, span: int) -> tuple[int, ...]:
        lap = self._lap
        starts: list[int] = []
        count = size = 0
        index = span * SPAN_FRAMES
        while index < (span + 1) * SPAN_FRAMES and lap.has(index):
            if not count:
                starts.append(index)
            count += 1
            size += _wire_length(len(lap.frame(index).payload))
            if count >= BATCH_FRAMES or size >= BATCH_BYTES:
                count, size = 0, 0
            index += 1
        return tuple(starts)

    def _join(self, start: int, end: int) -> Batch:
        lap, route = self._lap, self._route
        frames = []
        index = start
        while index < end and lap.has(index):
            frame = lap.frame(index)
            frames.append((text_frame(frame.payload), route(frame.info), frame.offset_ns))
            index += 1
        return _batch(frames)


def _wire_length(payload_length: int) -> int:
    """Bytes of the text frame of a payload this long (as :func:`.frames.data_frame` builds)."""
    header = 2 if payload_length < 126 else 4 if payload_length < 1 << 16 else 10
    return header + payload_length


_SHARED: dict[int, PreparedFeed] = {}
_SHARED_LOCK = threading.Lock()
SHARED_FEEDS = 16
"""Prepared feeds kept by :func:`shared_prepared_feed` (the most recently used)."""


def shared_prepared_feed(feed: FeedSource) -> PreparedFeed:
    """The :class:`PreparedFeed` of ``feed``, built once and shared by every server of it.

    A test suite starts one server per test on the same few feeds (the pytest plugin): building
    each frame's wire bytes and the ``--speed max`` batches again each time would cost more than
    the server's start.  Everything in a prepared feed is immutable once built."""
    with _SHARED_LOCK:  # servers of one feed may run in several threads (pytest plugin)
        if not isinstance(feed, Feed):  # a streamed lap is read in one thread: not shared
            return PreparedFeed(feed)
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
