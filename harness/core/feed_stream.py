"""A feed read from disk as it is replayed: any size of recording, in constant memory.

:class:`StreamedFeed` is the :class:`~harness.core.schedule.Feed` of a large recording without
holding its frames: each :class:`StreamedLap` (one per ``--start-at`` / ``--max-gap``) reads the
file forward in blocks of :data:`BLOCK_FRAMES` frames as timelines reach them, keeps the latest
:data:`CACHED_BLOCKS` blocks, and re-reads an older one from where it began (a seek back, a
loop's next lap, a catch-up).  The frames, their order, their offsets and the duplicate rule are
those of :meth:`Feed.from_records <harness.core.schedule.Feed.from_records>`, with one
assumption: the records are in time order, as every writer of this package writes them (a
recorder appends what it receives as it receives it).

Re-reading a block gives exactly the frames of the first read: the duplicate rule looks back
:data:`~harness.core.schedule.DUPLICATE_WINDOW_NS`, so each block keeps the few earlier frames
that frames in it repeat (its *seed*), learnt while the first read went on.

``--start-at`` does not read what comes before: the file's index (section 5.1 of
``docs/recording-format.md``; rebuilt by one pass when a file lacks it) gives where to start,
two duplicate windows early so the rule sees the frames a frame at the start may repeat.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from harness.core.damage import DamageLog
from harness.core.index import RecordingIndex
from harness.core.protocol import FrameInfo, classify_frame
from harness.core.recording import RecordingReader, open_reader, recording_index
from harness.core.records import Direction, Record, WsMessage
from harness.core.schedule import (
    DUPLICATE_WINDOW_NS,
    Deduplicator,
    Feed,
    FeedFrame,
    LapClock,
    ReplayOptions,
    is_subscribe,
)

BLOCK_FRAMES = 1024
"""Frames read at a time, and the unit a lap keeps in memory or re-reads."""

CACHED_BLOCKS = 16
"""Blocks a lap keeps (about 8 MiB of frames of 300 bytes)."""

READ_INLINE_BYTES = 8 * 1024 * 1024
"""A seek further ahead of what a lap has read than this (by the index) jumps there instead
(:meth:`StreamedFeed.lap` ``from_ns``) of reading everything in between."""

HEAD_RECORDS = 100_000
"""Records read at open to find the feed's start (the first ``subscribe``) and to show the
caller (``observe``: the profile learner) what the service said."""

Observer = Callable[[Record], object]


class StreamedFeed:
    """The feed of the recording at ``path``, read from disk (see the module docstring).

    ``start_t_ns``: the recording time the feed's offsets count from; ``duration_ns``: as
    :class:`~harness.core.schedule.Feed`.  ``observe`` sees the first :data:`HEAD_RECORDS`
    records and every record after the index's last entry (the file's end)."""

    def __init__(self, path: str | os.PathLike[str], observe: Observer | None = None) -> None:
        self.path = Path(path)
        self.infos: dict[FrameInfo, FrameInfo] = {}
        """One object per distinct :class:`FrameInfo` (routing interns them by identity)."""
        self.damage = DamageLog()
        """Damage met by the reads at open: the first :data:`HEAD_RECORDS` records, the end,
        and every record when the file has no index to read (the rest is skipped unreported
        while replaying, as a file read whole skips it)."""
        with open_reader(self.path) as reader:
            self.header = reader.header
            self.start_t_ns, head_last_t = _feed_start(reader, observe)
            head_end = reader.position
        self._note_damage(reader)
        with open_reader(self.path) as reader:
            self.index: RecordingIndex = recording_index(reader)
        self._note_damage(reader)
        tail_last_t = self._tail_end(head_end, observe)
        last_t = max(self.index.end_ns, head_last_t, tail_last_t)
        self.duration_ns = max(0, last_t - self.start_t_ns)
        """The recording's end relative to the feed start (its last record)."""

    def lap(self, options: ReplayOptions, from_ns: int | None = None) -> StreamedLap:
        """A new lap of ``options`` (its ``start_at`` and ``max_gap``), read from the file as
        it is used: one per server, as a lap is used from one thread at a time.

        ``from_ns``: the rest of the lap from that offset on, as a seek far ahead reads it
        (:meth:`StreamedLap.near`): its frames are those of the lap from there, numbered from
        0, and their positions count from ``from_ns - start_at`` (the lap's own positions
        without ``max_gap``; with it, the gaps before ``from_ns`` count uncut)."""
        return StreamedLap(self, options.start_at_ns, options.max_gap_ns, from_ns)

    def candidates(
        self, resume: int | None = None, from_t_ns: int | None = None
    ) -> Generator[tuple[int, int, bytes, FrameInfo]]:
        """``(position, t_ns, payload, info)`` of each recorded event frame, duplicates
        included: from reader position ``resume``, or by the index from recording time
        ``from_t_ns`` (some earlier frames may come first), or from the first record."""
        infos, classify, server = self.infos, classify_frame, Direction.SERVER_TO_CLIENT
        with open_reader(self.path) as reader:
            if resume is not None:
                reader.start_at(resume)
            elif from_t_ns is not None:
                reader.start_at_time(from_t_ns, self.index)
            for position, t_ns, direction, _, payload in reader.ws_texts():
                if direction == server:
                    info = classify(payload)
                    if info is not None and info.is_event:
                        yield position, t_ns, payload, infos.setdefault(info, info)

    def _note_damage(self, reader: RecordingReader) -> None:
        known = {(damage.offset, damage.resumed_at) for damage in self.damage.regions}
        for damage in reader.damage.regions:
            if (damage.offset, damage.resumed_at) not in known:
                self.damage.add(damage)

    def _tail_end(self, head_end: int, observe: Observer | None) -> int:
        """The latest time of the records after the index's last entry; those the head did not
        reach (past ``head_end``) are observed."""
        index = self.index
        last = 0
        with open_reader(self.path) as reader:
            reader.start_at_time(index.end_ns + 1, index)  # from the last entry
            for position, record in reader.positions():
                last = max(last, record.t_ns)
                if observe is not None and reader.frame_offset(position) >= head_end:
                    observe(record)
        self._note_damage(reader)
        return last


def _feed_start(reader: RecordingReader, observe: Observer | None) -> tuple[int, int]:
    """``(the feed's start, the latest time seen)`` from the first :data:`HEAD_RECORDS` records
    (each observed): the first ``subscribe``, else the first event frame's time (as
    ``Feed.from_records`` for a recording in time order); without either there, the first event
    frame's after them."""
    subscribe: int | None = None
    first_event: int | None = None
    last = 0
    for count, record in enumerate(reader):
        last = max(last, record.t_ns)
        if observe is not None:
            observe(record)
        if type(record) is WsMessage and record.is_text:
            if record.direction is Direction.CLIENT_TO_SERVER:
                if subscribe is None and is_subscribe(record.payload):
                    subscribe = record.t_ns
            elif first_event is None:
                info = classify_frame(record.payload)
                if info is not None and info.is_event:
                    first_event = record.t_ns
        if count + 1 >= HEAD_RECORDS and (subscribe is not None or first_event is not None):
            break
    start = subscribe if subscribe is not None else first_event
    return (start if start is not None else 0), last


@dataclass(slots=True)
class _Block:
    """Where block ``k`` of a lap begins, enough to read it again exactly."""

    resume: int
    """Reader position of its first frame's record."""
    first_kept: int
    """Its first frame's number among the frames the duplicate rule kept (from the reading's
    start)."""
    clock: LapClock
    """The lap clock just before its first frame."""
    first_offset_ns: int
    first_position_ns: int
    seed: dict[bytes, int] = field(default_factory=dict)
    """Earlier kept frames (payload -> time) that frames of the block repeat."""


class StreamedLap:
    """One lap of a :class:`StreamedFeed`, read as it is needed: a
    :class:`~harness.core.schedule.LapView` (see the module docstring).  Not thread safe."""

    def __init__(
        self,
        feed: StreamedFeed,
        start_at_ns: int,
        max_gap_ns: int | None,
        from_ns: int | None = None,
    ) -> None:
        self._feed = feed
        self._start_at = start_at_ns if from_ns is None else max(from_ns, start_at_ns)
        self._max_gap = max_gap_ns
        self._blocks: list[_Block] = []
        self._first_offsets: list[int] = []
        self._first_positions: list[int] = []
        self._cache: OrderedDict[int, tuple[list[FeedFrame], list[int]]] = OrderedDict()
        self._count = 0
        self.size: int | None = None
        self.length_ns: int | None = None
        self._last_offset = -1
        self._last_position = -1
        self._dedup = Deduplicator()
        base = self._start_at - start_at_ns
        self._clock = LapClock(self._start_at, max_gap_ns, position_ns=base)
        warm_up = self._start_at - 2 * DUPLICATE_WINDOW_NS  # what a frame there may repeat
        self._source = feed.candidates(from_t_ns=feed.start_t_ns + warm_up if warm_up > 0 else None)

    def _offset_before(self, offset_ns: int) -> int | None:
        """Where to read from to see every record from feed offset ``offset_ns`` on (``None``:
        the first record)."""
        if offset_ns <= 0:
            return None
        return self._feed.index.offset_before(self._feed.start_t_ns + offset_ns)

    def near(self, offset_ns: int) -> bool:
        """Finding the frame at ``offset_ns`` reads at most :data:`READ_INLINE_BYTES` more."""
        if self.size is not None or offset_ns <= self._last_offset:
            return True
        here = self._offset_before(max(self._last_offset, self._start_at)) or 0
        there = self._offset_before(offset_ns) or 0
        return there - here <= READ_INLINE_BYTES

    # --- LapView ---------------------------------------------------------------------------------

    def known(self) -> int:
        return self._count

    def has(self, index: int) -> bool:
        while index >= self._count and self.size is None:
            self._read_block()
        return 0 <= index < self._count

    def frame(self, index: int) -> FeedFrame:
        block, within = divmod(index, BLOCK_FRAMES)
        return self._frames_of(block)[0][within]

    def position_ns(self, index: int) -> int:
        block, within = divmod(index, BLOCK_FRAMES)
        return self._frames_of(block)[1][within]

    def index_at_offset(self, offset_ns: int) -> int:
        while self.size is None and self._last_offset < offset_ns:
            self._read_block()
        block = bisect_left(self._first_offsets, offset_ns) - 1
        if block < 0:
            return 0
        frames = self._frames_of(block)[0]
        return block * BLOCK_FRAMES + bisect_left(frames, offset_ns, key=_offset_of)

    def index_at_position(self, position_ns: int) -> int:
        while self.size is None and self._last_position < position_ns:
            self._read_block()
        block = bisect_left(self._first_positions, position_ns) - 1
        if block < 0:
            return 0
        positions = self._frames_of(block)[1]
        return block * BLOCK_FRAMES + bisect_left(positions, position_ns)

    # --- reading ---------------------------------------------------------------------------------

    def _frames_of(self, block: int) -> tuple[list[FeedFrame], list[int]]:
        cached = self._cache.get(block)
        if cached is not None:
            return cached
        while block >= len(self._blocks) and self.size is None:
            self._read_block()
        cached = self._cache.get(block)
        if cached is None:
            cached = self._read_again(self._blocks[block])
            self._keep(block, cached)
        return cached

    def _keep(self, block: int, frames: tuple[list[FeedFrame], list[int]]) -> None:
        self._cache[block] = frames
        while len(self._cache) > CACHED_BLOCKS:
            self._cache.popitem(last=False)

    def _read_block(self) -> None:
        """Read the next block from where the first reading is (the end: size and length)."""
        if self.size is not None:
            return
        frames: list[FeedFrame] = []
        positions: list[int] = []
        start, start_at = self._feed.start_t_ns, self._start_at
        dedup, clock = self._dedup, self._clock
        for resume, t, payload, info in self._source:
            if not dedup.keep(t, payload):
                self._learn_seed(payload)
                continue
            offset = max(0, t - start)
            if offset < start_at:
                continue
            if not frames:
                self._begin_block(resume, offset)
            frames.append(FeedFrame(offset, payload, info))
            positions.append(clock.step(offset))
            if len(frames) == BLOCK_FRAMES:
                break
        if frames:
            self._keep(len(self._blocks) - 1, (frames, positions))
            self._count += len(frames)
            self._last_offset, self._last_position = frames[-1].offset_ns, positions[-1]
        if len(frames) < BLOCK_FRAMES:
            self.length_ns = clock.length(self._feed.duration_ns)
            self.size = self._count

    def _begin_block(self, resume: int, offset: int) -> None:
        before = dataclasses.replace(self._clock)
        first_position = dataclasses.replace(before).step(offset)
        self._blocks.append(_Block(resume, self._dedup.kept - 1, before, offset, first_position))
        self._first_offsets.append(offset)
        self._first_positions.append(first_position)

    def _learn_seed(self, payload: bytes) -> None:
        """A duplicate was dropped: every block begun after the frame it repeats keeps it."""
        t, number = self._dedup.matched
        for block in reversed(self._blocks):
            if block.first_kept <= number:
                break
            block.seed[payload] = t

    def _read_again(self, block: _Block) -> tuple[list[FeedFrame], list[int]]:
        """A block read again from its start, exactly as the first reading found it."""
        dedup = Deduplicator()
        for payload, t in sorted(block.seed.items(), key=lambda item: item[1]):
            dedup.seed(t, payload)
        clock = dataclasses.replace(block.clock)
        start = self._feed.start_t_ns
        frames: list[FeedFrame] = []
        positions: list[int] = []
        with contextlib.closing(self._feed.candidates(block.resume)) as source:
            for _, t, payload, info in source:
                if dedup.keep(t, payload):
                    offset = max(0, t - start)
                    frames.append(FeedFrame(offset, payload, info))
                    positions.append(clock.step(offset))
                    if len(frames) == BLOCK_FRAMES:
                        break
        return frames, positions


def _offset_of(frame: FeedFrame) -> int:
    return frame.offset_ns


FeedSource: TypeAlias = Feed | StreamedFeed
"""What a server replays: a feed in memory, or one read from disk."""
