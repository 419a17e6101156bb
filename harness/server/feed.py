"""Replay timelines: recorded event frames sent to the subscribers of one WS token, on time.

``docs/protocol.md`` section 12, "Replay routing": one timeline per WS token, starting at its
first subscription; a reconnect with the same token resumes where the feed is now (frames due
while no connection was open are missed, as live); ``--broadcast`` shares one timeline.  The
start is timed by the settle window and a topic added later is caught up, both rules of
:mod:`harness.core.timeline` (catch-up only on per-token timelines, not ``--broadcast``).

Parking: a timeline with no attached connection holding a subscription waits on one event and
costs nothing (issue 8: 100 timelines left behind took a server to 100 % CPU).  A timed one
resumes where the feed is now (:meth:`~harness.core.schedule.ScheduleCursor.seek`, no stepping
through the frames in between); at ``--speed max`` it resumes where it paused.

Design for throughput: :class:`PreparedFeed` builds every recorded frame's wire bytes once and
interns its :class:`FrameInfo` to a small integer, so a delivery costs one cached dict lookup and
one list append per subscriber.  Timing: due times come from
:func:`~harness.core.schedule.iter_schedule` (absolute, relative to the timeline start) and are
slept to with ``trio.sleep_until``, so nothing drifts.

Slow readers (section 12): in timed replay a subscriber with more than the profile's
``slow_reader_max_queued_bytes`` queued is closed with ``slow_reader_close_code`` (1008) and the
rest go on.  At ``--speed max`` (flow control) the timeline waits for every attached subscriber
to drain below the low-water mark; one that makes no progress for ``stall_timeout_s`` is closed
the same way, so a stuck client cannot stall the others for ever.  A catch-up is flow
controlled the same way, whatever the speed.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import trio

from harness.core.profile import BehaviourProfile
from harness.core.protocol import ECHO_CHANNELS, FrameInfo, Topic
from harness.core.schedule import (
    Feed,
    FeedFrame,
    ReplayOptions,
    ScheduleCursor,
    compressed_lap,
    iter_schedule,
    passed_in_lap,
    rebase_ts,
)
from harness.core.timeline import SettleWindow, catch_up_frames
from harness.server.connection import HIGH_WATER, WsConnection
from harness.server.frames import text_frame
from harness.server.journal import Journal

CHECKPOINT_EVERY = 512
"""Timed replay of frames all due at once: let other tasks run at least every this many."""
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
    """A feed with each frame's wire bytes built once and its routing kind interned."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        routes: dict[FrameInfo, int] = {}
        self._by_id: dict[int, tuple[bytes, int]] = {}
        for frame in feed.frames:
            route = routes.setdefault(frame.info, len(routes))
            self._by_id[id(frame)] = (text_frame(frame.payload), route)
        self.route_infos: tuple[FrameInfo, ...] = tuple(routes)
        self._batches: dict[ReplayOptions, tuple[Batch, ...]] = {}
        self.echo_topics: frozenset[Topic] = frozenset(
            frame.info.topic
            for frame in feed.frames
            if frame.info.channel in ECHO_CHANNELS and frame.info.topic is not None
        )

    def wire(self, frame: FeedFrame) -> tuple[bytes, int]:
        """``(wire bytes, route id)`` of a frame of this feed."""
        return self._by_id[id(frame)]

    def schedule(self, options: ReplayOptions) -> Iterator[tuple[int, FeedFrame]]:
        return iter_schedule(self.feed, options)

    def lap_batches(self, options: ReplayOptions) -> tuple[Batch, ...]:
        """One lap of the ``--speed max`` schedule as batches (cached per options)."""
        lap = dataclasses.replace(options, loop=False)
        cached = self._batches.get(lap)
        if cached is None:
            cached = self._batches[lap] = tuple(self._build_batches(lap))
        return cached

    def _build_batches(self, lap: ReplayOptions) -> Iterator[Batch]:
        pending: list[tuple[bytes, int, int]] = []
        size = 0
        for _, frame in iter_schedule(self.feed, lap):
            wire, route = self._by_id[id(frame)]
            pending.append((wire, route, frame.offset_ns))
            size += len(wire)
            if len(pending) >= BATCH_FRAMES or size >= BATCH_BYTES:
                yield _batch(pending)
                pending, size = [], 0
        if pending:
            yield _batch(pending)


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


class Timeline:
    """One replay of the feed to the connections attached to it (see module doc)."""

    def __init__(
        self,
        prepared: PreparedFeed,
        options: ReplayOptions,
        *,
        name: str,
        profile: BehaviourProfile,
        journal: Journal,
        stall_timeout_s: float,
        catch_up: bool = True,
        wall_clock: Callable[[], float],
    ) -> None:
        self.prepared = prepared
        self.options = options
        self.name = name
        self.profile = profile
        self.journal = journal
        self.stall_timeout_s = stall_timeout_s
        self.catch_up = catch_up
        self._wall_clock = wall_clock
        self.connections: dict[WsConnection, None] = {}
        self.window = SettleWindow(profile.subscription_settle_s, profile.subscription_settle_max_s)
        self.cursor = ScheduleCursor(compressed_lap(prepared.feed, options), options)
        self._started = trio.Event()
        self._membership = trio.Event()
        self._live = False
        self._catching_up = 0
        self._caught_up = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._start_time = 0.0
        self.scope = trio.CancelScope()
        self._position = 0
        self._position_ns = 0
        self.delivered = 0
        self.steps = 0
        """Times the timeline task woke to send (a frame or a batch): flat while parked."""
        self.parked = False
        self.ended = False

    @property
    def started(self) -> bool:
        return self._started.is_set()

    @property
    def position(self) -> int:
        """Frames passed over every lap; while a timed timeline is parked, where it is now."""
        if self.parked and self.options.speed is not None:
            return self.cursor.position_at(self._elapsed_ns())
        return self._position

    @property
    def position_ns(self) -> int:
        """Recording offset of the last frame passed (while parked: the one due last)."""
        if self.parked and self.options.speed is not None:
            passed = self.position
            return self.cursor.frame(passed - 1).offset_ns if passed else 0
        return self._position_ns

    def attach(self, conn: WsConnection) -> None:
        self.connections[conn] = None
        self._pulse()

    def detach(self, conn: WsConnection) -> None:
        self.connections.pop(conn, None)
        self._pulse()

    def subscriptions_changed(self, conn: WsConnection, before: frozenset[Topic]) -> None:
        """A connection's subscriptions changed: (re)time the start, or catch it up."""
        if conn.session.subscriptions or self.window.opened:
            self.window.changed(trio.current_time())
        self._pulse()
        if not (self.started and self.catch_up and self._nursery is not None):
            return
        lap = self.cursor.lap.frames
        passed = passed_in_lap(self.position, len(lap))
        frames = catch_up_frames(lap, passed, before, conn.session.subscriptions)
        if frames:
            self._catching_up += 1
            self._nursery.start_soon(self._send_catch_up, conn, frames)

    def _idle(self) -> bool:
        """No attached connection holds a subscription: nobody to send to (park)."""
        return not self._live

    def _pulse(self) -> None:
        self._live = any(conn.session.subscription_count for conn in self.connections)
        event, self._membership = self._membership, trio.Event()
        event.set()

    async def run(self) -> None:
        with self.scope:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._settle()
                await self._play()
                self.ended = True
                self.journal.add("note", f"timeline {self.name}: end of recording")
                await trio.sleep_forever()  # a late subscription may still be caught up

    async def _settle(self) -> None:
        """Section 12 start, as the settle window times it (:mod:`harness.core.timeline`)."""
        while not self.window.settled(trio.current_time()):
            due = self.window.start_due()
            if due is None:
                await self._membership.wait()
            else:
                await trio.sleep_until(due)
        self._start_time = trio.current_time()
        self.journal.add("note", f"timeline {self.name}: started")
        self._started.set()

    async def _play(self) -> None:
        if self.options.speed is None and not self.options.rebase_time:
            await self._run_batches()
        elif self.options.speed is None:
            await self._run_max()
        else:
            await self._run_timed()

    def _elapsed_ns(self) -> int:
        return round((trio.current_time() - self._start_time) * 1e9)

    async def _park(self, until: float = math.inf) -> None:
        """Wait, costing nothing, until a connection holds a subscription (or ``until``)."""
        self.parked = True
        try:
            with trio.move_on_at(until):
                while self._idle():
                    await self._membership.wait()
        finally:
            self.parked = False

    async def _gate(self) -> None:
        """Wait while a catch-up is being sent: the timeline sends nothing meanwhile."""
        while self._catching_up:
            await self._caught_up.wait()

    async def _run_timed(self) -> None:
        cursor = self.cursor
        limit = self.profile.slow_reader_max_queued_bytes
        last = cursor.lap_size - 1
        end = math.inf if self.options.loop or cursor.done else cursor.due_ns(last) / 1e9
        while not cursor.done:
            if self._idle():
                await self._park(until=self._start_time + end)
                # resume where the feed is now; nobody back by the end: the rest is missed
                cursor.seek(self._elapsed_ns() + (1 if self._idle() else 0))
                self._position = cursor.index
                continue
            await trio.sleep_until(self._start_time + cursor.due_ns(cursor.index) / 1e9)
            self.steps += 1
            if self._catching_up:
                await self._gate()
            if self._idle():
                continue
            _, frame = cursor.advance()
            for conn in self._deliver(frame, limit):
                self._close_slow(conn, f"more than {limit} bytes queued")

    async def _run_max(self) -> None:
        cursor = self.cursor
        since_checkpoint = 0
        while not cursor.done:
            if self._idle():
                await self._park()
            if self._catching_up:
                await self._gate()
            _, frame = cursor.advance()
            self.steps += 1
            behind = self._deliver(frame, HIGH_WATER)
            since_checkpoint += 1
            if behind:
                await self._wait_for(behind)
                since_checkpoint = 0
            elif since_checkpoint >= CHECKPOINT_EVERY:
                await trio.lowlevel.checkpoint()
                since_checkpoint = 0

    async def _run_batches(self) -> None:
        """``--speed max`` without ``--rebase-time``: whole pre-joined batches per subscriber."""
        batches = self.prepared.lap_batches(self.options)
        while batches:
            for batch in batches:
                while self._idle():
                    await self._park()
                if self._catching_up:
                    await self._gate()
                self.steps += 1
                behind = self._deliver_batch(batch)
                if behind:
                    await self._wait_for(behind)
                else:
                    await trio.lowlevel.checkpoint()
            if not self.options.loop:
                return

    def _deliver_batch(self, batch: Batch) -> list[WsConnection]:
        infos = self.prepared.route_infos
        over: list[WsConnection] = []
        for conn in self.connections:
            if not conn.accepting:
                continue
            wanted = [conn.wants_route(route, infos[route]) for route in batch.distinct_routes]
            if all(wanted):
                data, count = batch.joined, len(batch.wires)
            elif any(wanted):
                chosen = [
                    wire
                    for wire, route in zip(batch.wires, batch.routes, strict=True)
                    if conn.wants_route(route, infos[route])
                ]
                data, count = b"".join(chosen), len(chosen)
            else:
                continue
            conn.enqueue_event(data, count)
            self.delivered += count
            if conn.queued_bytes > HIGH_WATER:
                over.append(conn)
        self._position += len(batch.wires)
        self._position_ns = batch.last_offset_ns
        return over

    def _deliver(self, frame: FeedFrame, limit: int) -> list[WsConnection]:
        """Queue ``frame`` for every attached subscriber; return those now over ``limit``."""
        wire, route = self._wire(frame)
        info = frame.info
        over: list[WsConnection] = []
        for conn in self.connections:
            if conn.accepting and conn.wants_route(route, info):
                conn.enqueue_event(wire)
                self.delivered += 1
                if conn.queued_bytes > limit:
                    over.append(conn)
        self._position += 1
        self._position_ns = frame.offset_ns
        return over

    def _wire(self, frame: FeedFrame) -> tuple[bytes, int]:
        wire, route = self.prepared.wire(frame)
        if self.options.rebase_time:
            wire = text_frame(rebase_ts(frame.payload, int(self._wall_clock() * 1000)))
        return wire, route

    async def _send_catch_up(self, conn: WsConnection, frames: list[FeedFrame]) -> None:
        """Send a connection its catch-up (flow-controlled, in batches), then open the gate."""
        self.journal.add("note", f"timeline {self.name}: catch-up of {len(frames)}", conn.id)
        try:
            for start in range(0, len(frames), BATCH_FRAMES):
                if not conn.accepting:
                    return
                wires = [self._wire(frame)[0] for frame in frames[start : start + BATCH_FRAMES]]
                conn.enqueue_event(b"".join(wires), len(wires))
                self.delivered += len(wires)
                if conn.queued_bytes > HIGH_WATER:
                    await self._wait_for([conn])
                else:
                    await trio.lowlevel.checkpoint()
        finally:
            self._catching_up -= 1
            if not self._catching_up:
                event, self._caught_up = self._caught_up, trio.Event()
                event.set()

    async def _wait_for(self, behind: list[WsConnection]) -> None:
        """Flow control: wait for each lagging reader, closing one that stalls too long."""
        for conn in behind:
            with trio.move_on_after(self.stall_timeout_s) as waiting:
                await conn.wait_drained()
            if waiting.cancelled_caught:
                self._close_slow(conn, f"no progress for {self.stall_timeout_s:g}s")

    def _close_slow(self, conn: WsConnection, why: str) -> None:
        self.journal.add("note", f"slow reader closed: {why}", conn.id)
        conn.close(
            self.profile.slow_reader_close_code,
            self.profile.slow_reader_close_reason,
            drop_queued=True,
        )
