"""The replay timeline: which recorded event frame is due when, as pure data.

Time is data here and sleeping is I/O (STYLE principle 8): :func:`iter_schedule` yields
``(due_ns, frame)`` pairs relative to the start of one replay timeline, and only the server
sleeps.  Every due time is computed from the frame's absolute offset in the recording, never by
adding up per-gap sleeps, so a replay of many hours does not drift by a single nanosecond.

A server reads one lap of the replay through :class:`LapView` (frame ``i``, its compressed
position): a :class:`Lap` in memory, or a lap read from disk as it goes
(:class:`harness.core.feed_stream.StreamedLap`, for recordings of any size), the same frames
either way.  The rules live once: the duplicate rule in :class:`Deduplicator`, ``--max-gap`` in
:class:`LapClock`.

Policy (``docs/protocol.md`` section 12, "Replay routing"):

- The feed holds server->client *event* frames only; replies (``subscribed``, ``pong``,
  errors) are produced live by the session, never replayed.
- A recorder that held several connections may have received one frame on each of them; the
  same bytes within :data:`DUPLICATE_WINDOW_NS` are kept once, so a replay client gets the frame
  once per matching subscription, as live.
- The feed starts at the recording's first ``subscribe`` command (a timeline starts at a
  client's first subscription), or at the first event when the recording holds no subscribe.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from harness.core.durations import format_seconds
from harness.core.protocol import FrameInfo, Subscribe, classify_frame, parse_command
from harness.core.records import Direction, Record, WsMessage
from harness.errors import HarnessError, UsageError

DUPLICATE_WINDOW_NS = 2_000_000_000
"""Identical frames this close together are one frame seen on several recorded connections."""

MIN_LAP_NS = 1_000_000_000
"""Shortest loop lap in recording time, so a feed of one instant loops once a second, not hot."""


@dataclass(frozen=True, slots=True)
class FeedFrame:
    """One recorded event frame: when it came (relative to the feed start) and its exact bytes."""

    offset_ns: int
    payload: bytes
    info: FrameInfo


@dataclass(frozen=True, slots=True)
class Feed:
    """The event frames of a recording in time order, and how long the recording ran.

    ``duration_ns`` is the end of the recorded session relative to the feed start (its last
    record), at least the last frame's offset: a quiet tail is part of the recording and of
    every loop lap.
    """

    frames: tuple[FeedFrame, ...]
    duration_ns: int

    def lap(self, options: ReplayOptions) -> Lap:
        """The lap ``options`` replay (:func:`compressed_lap`)."""
        return compressed_lap(self, options)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Record],
        classify: Callable[[bytes], FrameInfo | None] = classify_frame,
    ) -> Feed:
        """Build the feed from a recording's records (any order; sorted by time here).

        ``classify``: :func:`~harness.core.protocol.classify_frame`, or one that answers the
        same (a caller that classified the frame already, as ``info`` does).  The cyclic
        garbage collector is paused meanwhile (:func:`collection_paused`)."""
        with collection_paused():
            return cls._build(records, classify)

    @classmethod
    def _build(
        cls, records: Iterable[Record], classify: Callable[[bytes], FrameInfo | None]
    ) -> Feed:
        events: list[tuple[int, bytes, FrameInfo]] = []
        infos: dict[FrameInfo, FrameInfo] = {}  # one object per distinct value: far fewer
        first_subscribe: int | None = None
        last_t = 0
        for record in records:
            last_t = max(last_t, record.t_ns)
            if not isinstance(record, WsMessage) or not record.is_text:
                continue
            if record.direction is Direction.CLIENT_TO_SERVER:
                if is_subscribe(record.payload) and (
                    first_subscribe is None or record.t_ns < first_subscribe
                ):
                    first_subscribe = record.t_ns
                continue
            info = classify(record.payload)
            if info is not None and info.is_event:
                events.append((record.t_ns, record.payload, infos.setdefault(info, info)))
        events.sort(key=lambda event: event[0])
        events = _drop_duplicates(events)
        start = first_subscribe if first_subscribe is not None else (events[0][0] if events else 0)
        frames = tuple(FeedFrame(max(0, t - start), payload, info) for t, payload, info in events)
        end = max(0, last_t - start)
        duration = max(end, frames[-1].offset_ns if frames else 0)
        return cls(frames=frames, duration_ns=duration)


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (as it was before, after it).

    Building a feed allocates millions of objects none of which form cycles; each allocation
    burst would otherwise start collections that walk every object built so far (a quarter of
    the load time of a large recording).  Reference counting still frees what the block drops;
    the rare cycle made meanwhile is collected after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def is_subscribe(payload: bytes) -> bool:
    """The payload is a valid ``subscribe`` command (where a feed starts)."""
    try:
        return isinstance(parse_command(payload), Subscribe)
    except HarnessError:
        return False


def _drop_duplicates(
    events: list[tuple[int, bytes, FrameInfo]],
) -> list[tuple[int, bytes, FrameInfo]]:
    """Keep the first of identical payloads less than :data:`DUPLICATE_WINDOW_NS` apart."""
    keep = Deduplicator().keep
    return [event for event in events if keep(event[0], event[1])]


class Deduplicator:
    """The duplicate rule, one frame at a time (frames in time order): :meth:`keep` is False
    for a payload identical to one kept less than :data:`DUPLICATE_WINDOW_NS` before.

    After a False, :attr:`matched` is ``(time, number)`` of the kept frame it repeats (numbers
    count the frames kept, from 0), so a reader that re-reads a stretch of the feed later can
    :meth:`seed` exactly the earlier frames that stretch repeats
    (:mod:`harness.core.feed_stream`)."""

    __slots__ = ("_last_seen", "_recent", "kept", "matched")

    def __init__(self) -> None:
        self._recent: deque[tuple[int, bytes]] = deque()
        self._last_seen: dict[bytes, tuple[int, int]] = {}
        self.kept = 0
        self.matched: tuple[int, int] = (0, 0)

    def seed(self, t: int, payload: bytes) -> None:
        """A frame kept earlier, before the frames to come (seed in time order)."""
        self._last_seen[payload] = (t, -1)
        self._recent.append((t, payload))

    def keep(self, t: int, payload: bytes) -> bool:
        recent, last_seen = self._recent, self._last_seen
        while recent and t - recent[0][0] >= DUPLICATE_WINDOW_NS:
            old_t, old_payload = recent.popleft()
            seen = last_seen.get(old_payload)
            if seen is not None and seen[0] == old_t:
                del last_seen[old_payload]
        seen = last_seen.get(payload)
        if seen is not None:
            self.matched = seen
            return False
        last_seen[payload] = (t, self.kept)
        recent.append((t, payload))
        self.kept += 1
        return True


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How to replay a feed.

    ``speed``: recorded gaps are divided by it (10 = ten times faster); ``None`` is "max": every
    frame is due at once and sending waits only for the reader.  ``max_gap_ns`` shortens every
    lull longer than it to exactly it, in recording time (before ``speed``).  ``start_at_ns``
    skips the frames before that offset.  ``loop`` replays the feed again from ``start_at_ns``
    after its end, forever.  ``rebase_time`` asks the server to rewrite each frame's ``ts`` to
    the time it is sent (see :func:`rebase_ts`).
    """

    speed: float | None = 1.0
    max_gap_ns: int | None = None
    start_at_ns: int = 0
    loop: bool = False
    rebase_time: bool = False

    def __post_init__(self) -> None:
        if self.speed is not None and not (math.isfinite(self.speed) and self.speed > 0):
            raise UsageError(f"speed must be a number > 0 (or max), got {self.speed!r}")
        if self.max_gap_ns is not None and self.max_gap_ns <= 0:
            raise UsageError(f"max gap must be > 0, got {self.max_gap_ns} ns")
        if self.start_at_ns < 0:
            raise UsageError(f"start-at must be >= 0, got {self.start_at_ns} ns")


def check_start_at(options: ReplayOptions, duration_ns: int) -> None:
    """:class:`UsageError` when ``--start-at`` lies past the end of the recording."""
    if options.start_at_ns > duration_ns:
        raise UsageError(
            f"start-at {format_seconds(options.start_at_ns)} is past the end of the recording "
            f"({format_seconds(duration_ns)})"
        )


def iter_schedule(feed: Feed, options: ReplayOptions) -> Iterator[tuple[int, FeedFrame]]:
    """Yield ``(due_ns, frame)``: when to send each frame, relative to the timeline start.

    The frame at offset ``o`` (``o >= start_at``) is due at ``compressed(o) / speed`` where
    ``compressed`` measures recording time from ``start_at`` with every gap longer than
    ``max_gap`` cut to ``max_gap``.  With ``loop``, lap ``k`` adds ``k`` lap lengths (the
    compressed time from ``start_at`` to the feed's end, at least :data:`MIN_LAP_NS`); a lap with
    no frames ends the schedule instead of spinning.  Raises :class:`UsageError` at once when
    ``start_at`` lies past the end of the feed.
    """
    check_start_at(options, feed.duration_ns)
    lap = compressed_lap(feed, options)
    return _schedule(lap, options)


class LapView(Protocol):
    """One lap of the replay as :class:`ScheduleCursor` reads it: frame ``i`` of the lap and
    its compressed position.  :class:`Lap` holds it in memory; a lap streamed from disk
    (:class:`harness.core.feed_stream.StreamedLap`) reads it as it goes, so its ``size`` and
    ``length_ns`` are ``None`` until it has read to the end.  Every method may read on (the
    streamed lap blocks while it does); :meth:`known` never does."""

    @property
    def size(self) -> int | None:
        """Frames in the lap (``None``: not read to the end yet)."""

    @property
    def length_ns(self) -> int | None:
        """Compressed length of the lap, at least :data:`MIN_LAP_NS` (``None``: not known yet)."""

    def known(self) -> int:
        """Frames readable without reading the file."""

    def has(self, index: int) -> bool:
        """Frame ``index`` exists (reads until it knows)."""

    def frame(self, index: int) -> FeedFrame:
        """Frame ``index`` (one that exists)."""

    def position_ns(self, index: int) -> int:
        """Compressed time of frame ``index`` from ``start_at`` (``max_gap`` applied)."""

    def index_at_offset(self, offset_ns: int) -> int:
        """The first frame at or after recording offset ``offset_ns`` (the size: none)."""

    def index_at_position(self, position_ns: int) -> int:
        """The first frame at or after compressed position ``position_ns`` (the size: none)."""

    def near(self, offset_ns: int) -> bool:
        """Finding the frame at recording offset ``offset_ns`` reads little or nothing (a
        seek further away jumps: :meth:`harness.core.feed_stream.StreamedFeed.lap`)."""


@dataclass(frozen=True, slots=True)
class Lap:
    """One lap of the replay in memory: the frames from ``start_at``, each frame's compressed
    recording time from ``start_at`` (``max_gap`` applied, ``speed`` not), and the lap's length
    (a :class:`LapView`)."""

    frames: tuple[FeedFrame, ...]
    positions_ns: tuple[int, ...]
    length_ns: int

    @property
    def size(self) -> int:
        return len(self.frames)

    def known(self) -> int:
        return len(self.frames)

    def has(self, index: int) -> bool:
        return 0 <= index < len(self.frames)

    def frame(self, index: int) -> FeedFrame:
        return self.frames[index]

    def position_ns(self, index: int) -> int:
        return self.positions_ns[index]

    def index_at_offset(self, offset_ns: int) -> int:
        return bisect.bisect_left(self.frames, offset_ns, key=_offset_of)

    def index_at_position(self, position_ns: int) -> int:
        return bisect.bisect_left(self.positions_ns, position_ns)

    def near(self, offset_ns: int) -> bool:
        return True


def all_frames(lap: LapView) -> Iterator[FeedFrame]:
    """Every frame of ``lap`` in order (a streamed lap reads them as they are taken)."""
    index = 0
    while lap.has(index):
        yield lap.frame(index)
        index += 1


def _offset_of(frame: FeedFrame) -> int:
    return frame.offset_ns


@dataclass(slots=True)
class LapClock:
    """Compressed recording time, frame after frame: the one home of the ``--max-gap`` rule
    (every gap longer than ``max_gap_ns`` counts as exactly ``max_gap_ns``)."""

    start_at_ns: int
    max_gap_ns: int | None
    previous_ns: int = -1
    position_ns: int = 0

    def __post_init__(self) -> None:
        if self.previous_ns < 0:
            self.previous_ns = self.start_at_ns

    def step(self, offset_ns: int) -> int:
        """The compressed position of the next frame, at ``offset_ns``."""
        self.position_ns += self._gap(offset_ns - self.previous_ns)
        self.previous_ns = offset_ns
        return self.position_ns

    def length(self, duration_ns: int) -> int:
        """The lap's length when the recording ends at ``duration_ns`` (after the last step)."""
        return max(self.position_ns + self._gap(duration_ns - self.previous_ns), MIN_LAP_NS)

    def _gap(self, gap: int) -> int:
        limit = self.max_gap_ns
        return gap if limit is None else min(gap, limit)


def compressed_lap(feed: Feed, options: ReplayOptions) -> Lap:
    """The lap :func:`iter_schedule` repeats (see there)."""
    frames = tuple(f for f in feed.frames if f.offset_ns >= options.start_at_ns)
    clock = LapClock(options.start_at_ns, options.max_gap_ns)
    positions = tuple(clock.step(frame.offset_ns) for frame in frames)
    return Lap(frames, positions, clock.length(feed.duration_ns))


def _schedule(lap: Lap, options: ReplayOptions) -> Iterator[tuple[int, FeedFrame]]:
    if not lap.frames:
        return
    speed = options.speed
    lap_index = 0
    while True:
        base = lap_index * lap.length_ns
        for position, frame in zip(lap.positions_ns, lap.frames, strict=True):
            due = 0 if speed is None else round((base + position) / speed)
            yield due, frame
        if not options.loop:
            return
        lap_index += 1


class ScheduleCursor:
    """The schedule of :func:`iter_schedule` as a position that can jump to a time.

    ``index`` counts the frames passed so far over every lap: frame ``index % n`` of lap
    ``index // n`` (``n`` frames a lap) is the next.  The due times are those of
    :func:`iter_schedule`; :meth:`seek` moves to the first frame due at or after a time, so a
    timeline that slept through a stretch resumes "where the feed is now" without stepping
    through the frames in between (a jump costs the same after a minute or a week).  The lap is
    any :class:`LapView`: while a streamed lap's size is unknown the cursor is in its first lap.
    """

    def __init__(self, lap: LapView, options: ReplayOptions) -> None:
        self.lap = lap
        self.speed = options.speed
        self.loop = options.loop
        self.index = 0

    @property
    def done(self) -> bool:
        """No frame left: an empty lap, or the end of the last lap without ``loop``."""
        if self.loop:
            return not self.lap.has(0)
        return not self.lap.has(self.index)

    @property
    def first_lap_passed(self) -> bool:
        """Every frame of the first lap has been passed."""
        size = self.lap.size
        return size is not None and self.index >= size

    def lap_of(self, index: int) -> tuple[int, int]:
        """``(lap number, index within the lap)`` of frame ``index``."""
        lap = self.lap
        size = lap.size
        if size is None and lap.has(index):
            return 0, index
        assert lap.size is not None  # has() read to the end
        return divmod(index, lap.size) if lap.size else (0, index)

    def passed_in_lap(self, passed: int) -> int:
        """How many frames of the current lap (the lap of the last frame passed) are behind.

        After the last frame of a lap the whole lap is behind (not none of the next one), so a
        finished replay without ``--loop`` counts all its frames."""
        if passed <= 0 or not self.lap.has(0):
            return 0
        return self.lap_of(passed - 1)[1] + 1

    def due_ns(self, index: int) -> int:
        """When frame ``index`` is due, relative to the timeline start."""
        return self._due(*self.lap_of(index))

    def _due(self, lap: int, within: int) -> int:
        if self.speed is None:
            return 0
        base = lap * (self.lap.length_ns or 0)  # known once a lap is over
        return round((base + self.lap.position_ns(within)) / self.speed)

    def frame(self, index: int) -> FeedFrame:
        return self.lap.frame(self.lap_of(index)[1])

    def advance(self) -> tuple[int, FeedFrame]:
        """The next frame and its due time; moves past it (call only when not :attr:`done`)."""
        lap, within = self.lap_of(self.index)
        self.index += 1
        return self._due(lap, within), self.lap.frame(within)

    def position_at(self, elapsed_ns: int) -> int:
        """Index of the first frame due at or after ``elapsed_ns`` (never before :attr:`index`;
        the lap's end without ``loop``).  At ``--speed max`` nothing follows the clock: the
        current index."""
        if self.done or self.speed is None:
            return self.index
        lap = self.lap
        target = max(0, elapsed_ns) * self.speed
        index = lap.index_at_position(math.ceil(target))
        size, length = lap.size, lap.length_ns
        if self.loop and size is not None and length is not None and index >= size:
            laps, within = divmod(target, length)
            index = int(laps) * size + lap.index_at_position(math.ceil(within))
        while index > 0 and self.due_ns(index - 1) >= elapsed_ns:
            index -= 1  # rounding of due times: at most a step or two
        while self._exists(index) and self.due_ns(index) < elapsed_ns:
            index += 1
        return max(index, self.index)

    def _exists(self, index: int) -> bool:
        return self.lap.has(0) if self.loop else self.lap.has(index)

    def seek(self, elapsed_ns: int) -> int:
        """Skip the frames due before ``elapsed_ns`` (missed, as live); the new index."""
        self.index = self.position_at(elapsed_ns)
        return self.index


# --- --rebase-time ------------------------------------------------------------------------------

_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]', re.DOTALL)
_INT_VALUE = re.compile(rb"\s*:\s*(-?\d+)(?=\s*[,}])")


def rebase_ts(payload: bytes, ts_ms: int) -> bytes:
    """Rewrite the top-level ``"ts"`` integer of a JSON object frame to ``ts_ms``.

    Only the digits change; every other byte stays as recorded (key order, spacing, escapes), so
    a replayed frame differs from the recording in its timestamp alone.  A ``ts`` nested in
    ``data``, inside a string, or not an integer is left alone, as are frames without one.
    """
    if not payload.lstrip().startswith(b"{"):
        return payload
    replacement = str(ts_ms).encode()
    pieces: list[bytes] = []
    copied_to = 0
    depth = 0
    for token in _TOKEN.finditer(payload):
        text = token.group()
        if text in (b"{", b"["):
            depth += 1
        elif text in (b"}", b"]"):
            depth -= 1
        elif depth == 1 and text == b'"ts"':
            value = _INT_VALUE.match(payload, token.end())
            if value is not None:
                pieces += (payload[copied_to : value.start(1)], replacement)
                copied_to = value.end(1)
    if not pieces:
        return payload
    pieces.append(payload[copied_to:])
    return b"".join(pieces)
