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

Design for throughput: :class:`PreparedFeed` interns each recorded frame's :class:`FrameInfo`
to a small integer and caches the wire bytes of the frames being sent, so a delivery costs two
cached lookups and one list append per subscriber (:mod:`harness.server.prepared`).  Timing:
due times come from the schedule (absolute positions in the recording) mapped to the clock by
the timeline's :class:`~harness.core.player.Transport`, whose anchor moves only at a start,
pause, resume, seek or speed change, so nothing drifts.

Recordings read from disk (:mod:`harness.core.feed_stream`): the lap reads the file as the
timeline reaches it (a timed timeline reads :data:`READ_AHEAD` frames ahead while it waits), and
a seek far ahead of what it has read plays the rest of the lap from there, read by the index,
then goes on from ``--start-at`` with ``--loop`` (:meth:`Timeline._jump`).

Player services (:mod:`harness.server.player`): a paused timeline parks like an idle one and
costs nothing; ``play_next`` sends the next frames itself; a seek or a speed change wakes the
timeline, which re-reads its transport.  Changing between a speed and ``max`` switches the
loop that plays (timed, per frame at max, or pre-joined batches at max), from where it is.

Slow readers (section 12): in timed replay a subscriber with more than the profile's
``slow_reader_max_queued_bytes`` queued is closed with ``slow_reader_close_code`` (1008) and the
rest go on.  At ``--speed max`` (flow control) the timeline waits for every attached subscriber
to drain below the low-water mark; one that makes no progress for ``stall_timeout_s`` is closed
the same way, so a stuck client cannot stall the others for ever.  A catch-up is flow
controlled the same way, whatever the speed.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator

import trio

from harness.core.player import check_seek, seek_target
from harness.core.profile import BehaviourProfile
from harness.core.protocol import Topic
from harness.core.schedule import (
    FeedFrame,
    LapView,
    ReplayOptions,
    ScheduleCursor,
    all_frames,
    rebase_ts,
)
from harness.core.timeline import SettleWindow, catch_up_frames
from harness.server.client import HIGH_WATER, ClientConnection
from harness.server.frames import text_frame
from harness.server.journal import Journal
from harness.server.player_state import PlayerState
from harness.server.prepared import BATCH_FRAMES, Batch, PreparedFeed

__all__ = ["CHECKPOINT_EVERY", "PreparedFeed", "Timeline"]

READ_AHEAD = 256
"""Frames a timed timeline has read ahead of the one it sends next, when it can."""

CHECKPOINT_EVERY = 512
"""Timed replay of frames all due at once: let other tasks run at least every this many."""


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
        player: PlayerState | None = None,
    ) -> None:
        self.prepared = prepared
        self.options = options
        self.name = name
        self.profile = profile
        self.journal = journal
        self.stall_timeout_s = stall_timeout_s
        self.catch_up = catch_up
        self._wall_clock = wall_clock
        self.player = player or PlayerState(options.speed)
        self.transport = self.player.new_transport()
        self.connections: dict[ClientConnection, None] = {}
        self.window = SettleWindow(profile.subscription_settle_s, profile.subscription_settle_max_s)
        self._cursor_options = dataclasses.replace(options, speed=1.0)
        self.cursor = ScheduleCursor(prepared.lap(options), self._cursor_options)
        """Due times in recording positions (speed 1): the transport maps them to the clock.
        After a far seek in a feed read from disk, the rest of the lap from there (then the
        next lap from ``--start-at``: :meth:`_jump`)."""
        self._started = trio.Event()
        self._membership = trio.Event()
        self._changes = 0
        self._live = False
        self._catching_up = 0
        self._caught_up = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._first_lap = False
        self._jumped_to: int | None = None
        self.scope = trio.CancelScope()
        self.delivered = 0
        self.steps = 0
        """Times the timeline task woke to send (a frame or a batch): flat while parked."""
        self.parked = False
        self.ended = False

    @property
    def started(self) -> bool:
        return self._started.is_set()

    @property
    def live(self) -> bool:
        """An attached connection holds a subscription."""
        return self._live

    @property
    def first_lap_passed(self) -> bool:
        """Every frame of the first lap has been passed (sent, or missed while nobody was
        subscribed, or skipped by a seek)."""
        return self.cursor.first_lap_passed

    @property
    def delivered_all(self) -> bool:
        """For ``wait_delivered``: started, and its subscribers (if any) got the first lap."""
        if not self.started:
            return False
        return not self._live or (self.first_lap_passed and not self._catching_up)

    @property
    def position(self) -> int:
        """Frames passed over every lap; while a timed timeline is parked, where it is now."""
        if self.parked and self.transport.timed:
            return self.cursor.position_at(self.transport.clock_ns(trio.current_time()))
        return self.cursor.index

    @property
    def position_ns(self) -> int:
        """Recording offset of the last frame passed (while parked: the one due last)."""
        passed = self.position
        if passed:
            return self.cursor.frame(passed - 1).offset_ns
        return self._jumped_to or 0  # a far seek's target before its first frame is sent

    @property
    def recording_ns(self) -> int:
        """Where the timeline is now in recording time (between frames too, when timed)."""
        return self._recording_ns()

    def attach(self, conn: ClientConnection) -> None:
        self.connections[conn] = None
        self._pulse()

    def detach(self, conn: ClientConnection) -> None:
        self.connections.pop(conn, None)
        self._pulse()

    def subscriptions_changed(self, conn: ClientConnection, before: frozenset[Topic]) -> None:
        """A connection's subscriptions changed: (re)time the start, or catch it up."""
        if conn.session.subscriptions or self.window.opened:
            self.window.changed(trio.current_time())
        self._pulse()
        if not (self.started and self.catch_up and self._nursery is not None):
            return
        passed = self.cursor.passed_in_lap(self.position)
        behind = itertools.islice(all_frames(self.cursor.lap), passed)
        frames = catch_up_frames(behind, before, conn.session.subscriptions)
        first = next(frames, None)
        if first is not None:
            self._catching_up += 1
            self._nursery.start_soon(self._send_catch_up, conn, itertools.chain((first,), frames))

    # --- player services (see harness.server.player) ---------------------------------------------

    def pause(self) -> None:
        if not self.transport.paused:
            self.transport.pause(trio.current_time(), self._recording_ns())
            self._changed()

    def resume(self) -> None:
        if self.transport.paused:
            self.transport.resume(trio.current_time())
            self._changed()

    def set_speed(self, speed: float | None) -> None:
        self.transport.set_speed(speed, trio.current_time(), self._recording_ns())
        self._changed()

    def seek(self, t_ns: int) -> None:
        """Jump to recording offset ``t_ns`` within the current lap (the lap of the last frame
        passed); the frames in between are not sent."""
        options = self.options
        check_seek(t_ns, start_at_ns=options.start_at_ns, duration_ns=self.prepared.duration_ns)
        lap = self.prepared.lap(options)
        if lap.near(t_ns):
            self._seek_within(lap, t_ns)
        else:
            self._jump(t_ns)
        self._first_lap = self.first_lap_passed
        self.journal.add("note", f"timeline {self.name}: seek to {t_ns / 1e9:g}s")
        self._changed()

    def _seek_within(self, lap: LapView, t_ns: int) -> None:
        if self.cursor.lap is not lap:  # back from a far seek: laps count from here
            self.cursor = ScheduleCursor(lap, self._cursor_options)
            self._jumped_to = None
        cursor, options = self.cursor, self.options
        index, position = seek_target(
            lap,
            t_ns,
            start_at_ns=options.start_at_ns,
            max_gap_ns=options.max_gap_ns,
            duration_ns=self.prepared.duration_ns,
        )
        laps = cursor.lap_of(cursor.index - 1)[0] if cursor.index else 0
        cursor.index = laps * (lap.size or 0) + index  # a lap over: its size is known
        self.transport.anchor(trio.current_time(), laps * (lap.length_ns or 0) + position)

    def _jump(self, t_ns: int) -> None:
        """A seek far ahead of what a feed on disk has read: play the rest of the lap from
        ``t_ns`` (read from there by the index, counted from there), then, with ``--loop``,
        the next lap from ``--start-at`` (:meth:`_lap_after_jump`)."""
        lap = self.prepared.lap_from(self.options, t_ns)
        self.cursor = ScheduleCursor(lap, dataclasses.replace(self._cursor_options, loop=False))
        self._jumped_to = t_ns
        self.transport.anchor(trio.current_time(), t_ns - self.options.start_at_ns)

    def _lap_after_jump(self) -> bool:
        """At the end of the rest of a lap after a far seek, with ``--loop``: the next lap from
        ``--start-at``, due when that rest ends.  False when there is none to go on with."""
        jumped, lap = self.cursor.lap, self.prepared.lap(self.options)
        if jumped is lap or not self.options.loop:
            return False
        transport = self.transport
        now = trio.current_time()
        end = transport.due_s(jumped.length_ns or 0) if transport.timed else now
        self.cursor = ScheduleCursor(lap, self._cursor_options)
        self._jumped_to = None
        transport.anchor(end, 0)
        return True

    def play_next(self, n: int) -> int:
        """While paused and subscribed: send the next ``n`` frames the subscribers receive at
        once (passing over those nobody attached wants, at most a lap of them in a row); how
        many it sent."""
        if not (self.transport.paused and self._live):
            return 0
        if not self.started:
            self._begin()
        sent, unwanted, moved = 0, 0, False
        while sent < n and unwanted < (self.cursor.lap.size or math.inf):
            if self.cursor.done and not self._lap_after_jump():
                break
            before = self.delivered
            self._deliver(self.cursor.advance()[1], math.inf)
            wanted = self.delivered > before
            sent += wanted
            unwanted = 0 if wanted else unwanted + 1
            moved = True
        if moved:
            cursor = self.cursor
            self.transport.pause(trio.current_time(), cursor.due_ns(cursor.index - 1))
            self._advanced()
            self._changed()
        return sent

    def _recording_ns(self) -> int:
        """Where the timeline is now, as a recording position (see the Transport)."""
        transport, cursor = self.transport, self.cursor
        if not self.started or transport.paused:
            return transport.anchor_ns
        if transport.timed:
            return transport.clock_ns(trio.current_time())
        return cursor.due_ns(cursor.index - 1) if cursor.index else 0

    def _changed(self) -> None:
        """A player change: wake the loop (parked or sleeping) to re-read the transport."""
        self._changes += 1
        self._pulse()

    def _advanced(self) -> None:
        if not self._first_lap and self.first_lap_passed:
            self._first_lap = True
            self.player.progress.pulse()

    # --- playing ---------------------------------------------------------------------------------

    def _idle(self) -> bool:
        """No attached connection holds a subscription: nobody to send to (park)."""
        return not self._live

    def _pulse(self) -> None:
        self._live = any(conn.session.subscription_count for conn in self.connections)
        event, self._membership = self._membership, trio.Event()
        event.set()
        self.player.progress.pulse()

    async def run(self) -> None:
        with self.scope:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._settle()
                while True:
                    await self._play()
                    if self._lap_after_jump():
                        continue
                    self.ended = True
                    self.journal.add("note", f"timeline {self.name}: end of recording")
                    self.player.progress.pulse()
                    while self.cursor.done:  # a late subscription may still be caught up
                        await self._membership.wait()
                    self.ended = False  # a seek back: play on

    async def _settle(self) -> None:
        """Section 12 start, as the settle window times it (:mod:`harness.core.timeline`)."""
        while not (self.started or self.window.settled(trio.current_time())):
            due = self.window.start_due()
            with trio.move_on_at(math.inf if due is None else due):
                await self._membership.wait()
        if not self.started:
            self._begin()

    def _begin(self) -> None:
        self.transport.anchor(trio.current_time(), self.transport.anchor_ns)
        self.journal.add("note", f"timeline {self.name}: started")
        self._started.set()
        self.player.progress.pulse()

    async def _play(self) -> None:
        """Play until the end, in the loop the transport asks for (it may change meanwhile)."""
        while not self.cursor.done:
            if self.transport.paused:
                await self._hold()
            elif self.transport.speed is not None:
                await self._run_timed()
            elif self.options.rebase_time:
                await self._run_max()
            else:
                await self._run_batches()

    async def _hold(self) -> None:
        """Paused: wait, costing nothing, for a resume."""
        self.parked = True
        try:
            while self.transport.paused:
                await self._membership.wait()
        finally:
            self.parked = False

    async def _park(self, until: float = math.inf) -> None:
        """Wait, costing nothing, until a connection holds a subscription (or ``until``, or a
        player change)."""
        self.parked = True
        changes = self._changes
        try:
            with trio.move_on_at(until):
                while self._idle() and changes == self._changes:
                    await self._membership.wait()
        finally:
            self.parked = False

    async def _sleep_until(self, due: float) -> None:
        """Sleep until ``due``, or until a player change."""
        changes = self._changes
        with trio.move_on_at(due):
            while changes == self._changes:
                await self._membership.wait()

    async def _gate(self) -> None:
        """Wait while a catch-up is being sent: the timeline sends nothing meanwhile."""
        while self._catching_up:
            await self._caught_up.wait()

    def _end_s(self) -> float:
        """When a timed lap without ``--loop`` is over (its last frame due)."""
        cursor = self.cursor
        size = cursor.lap.size  # a streamed lap not read to its end: no end yet
        if self.options.loop or size is None or cursor.done:
            return math.inf
        return self.transport.due_s(cursor.due_ns(size - 1))

    async def _run_timed(self) -> None:
        cursor, transport = self.cursor, self.transport
        limit = self.profile.slow_reader_max_queued_bytes
        while not cursor.done and transport.timed and cursor is self.cursor:
            if self._idle():
                end = self._end_s()
                await self._park(until=end)
                if transport.timed:  # resume where the feed is now; nobody back by the end:
                    missed = self._idle() and trio.current_time() >= end  # the rest is missed
                    cursor.seek(transport.clock_ns(trio.current_time()) + missed)
                    self._advanced()
                continue
            due = transport.due_s(cursor.due_ns(cursor.index))
            if trio.current_time() < due:
                self._read_ahead()
                await self._sleep_until(due)
                continue
            self.steps += 1
            if self._catching_up:
                await self._gate()
            if self._idle() or not transport.timed:
                continue
            _, frame = cursor.advance()
            for conn in self._deliver(frame, limit):
                self._close_slow(conn, f"more than {limit} bytes queued")
            self._advanced()
            await trio.lowlevel.checkpoint()

    def _read_ahead(self) -> None:
        """While waiting for a frame: have the next :data:`READ_AHEAD` read (a streamed lap
        reads from disk then, not when they are due)."""
        cursor = self.cursor
        if cursor.index < cursor.lap.known():
            cursor.lap.has(cursor.lap_of(cursor.index)[1] + READ_AHEAD)

    def _at_max(self) -> bool:
        return self.transport.speed is None and not self.transport.paused

    async def _run_max(self) -> None:
        cursor = self.cursor
        since_checkpoint = 0
        while not cursor.done and self._at_max() and cursor is self.cursor:
            if await self._held_at_max():
                continue
            _, frame = cursor.advance()
            self.steps += 1
            behind = self._deliver(frame, HIGH_WATER)
            self._advanced()
            since_checkpoint += 1
            if behind:
                await self._wait_for(behind)
                since_checkpoint = 0
            elif since_checkpoint >= CHECKPOINT_EVERY:
                await trio.lowlevel.checkpoint()
                since_checkpoint = 0

    async def _held_at_max(self) -> bool:
        """At ``--speed max``: park while nobody is subscribed, wait while a catch-up runs.
        True when it waited (the caller re-checks everything)."""
        if self._idle():
            await self._park()
            return True
        if self._catching_up:
            await self._gate()
            return True
        return False

    async def _run_batches(self) -> None:
        """``--speed max`` without ``--rebase-time``: whole pre-joined batches per subscriber
        (single frames up to the next batch boundary after a seek or a play-next)."""
        cursor = self.cursor
        batches = self.prepared.lap_batches(cursor.lap)
        while not cursor.done and self._at_max() and cursor is self.cursor:
            if await self._held_at_max():
                continue
            self.steps += 1
            batch = batches.at(cursor.lap_of(cursor.index)[1])
            if batch is not None:
                behind = self._deliver_batch(batch)
                cursor.index += len(batch.wires)
            else:
                behind = self._deliver(cursor.advance()[1], HIGH_WATER)
            self._advanced()
            if behind:
                await self._wait_for(behind)
            else:
                await trio.lowlevel.checkpoint()

    def _deliver_batch(self, batch: Batch) -> list[ClientConnection]:
        infos = self.prepared.route_infos
        over: list[ClientConnection] = []
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
        return over

    def _deliver(self, frame: FeedFrame, limit: float) -> list[ClientConnection]:
        """Queue ``frame`` for every attached subscriber; return those now over ``limit``."""
        wire, route = self._wire(frame)
        info = frame.info
        over: list[ClientConnection] = []
        for conn in self.connections:
            if conn.accepting and conn.wants_route(route, info):
                conn.enqueue_event(wire)
                self.delivered += 1
                if conn.queued_bytes > limit:
                    over.append(conn)
        return over

    def _wire(self, frame: FeedFrame) -> tuple[bytes, int]:
        wire, route = self.prepared.wire(frame)
        if self.options.rebase_time:
            wire = text_frame(rebase_ts(frame.payload, int(self._wall_clock() * 1000)))
        return wire, route

    async def _send_catch_up(self, conn: ClientConnection, frames: Iterator[FeedFrame]) -> None:
        """Send a connection its catch-up (flow-controlled, in batches), then open the gate;
        the journal says how many frames it was."""
        sent = 0
        try:
            while conn.accepting:
                wires = [self._wire(frame)[0] for frame in itertools.islice(frames, BATCH_FRAMES)]
                if not wires:
                    break
                conn.enqueue_event(b"".join(wires), len(wires))
                self.delivered += len(wires)
                sent += len(wires)
                if conn.queued_bytes > HIGH_WATER:
                    await self._wait_for([conn])
                else:
                    await trio.lowlevel.checkpoint()
        finally:
            self.journal.add("note", f"timeline {self.name}: catch-up of {sent}", conn.id)
            self._catching_up -= 1
            if not self._catching_up:
                event, self._caught_up = self._caught_up, trio.Event()
                event.set()
                self.player.progress.pulse()

    async def _wait_for(self, behind: list[ClientConnection]) -> None:
        """Flow control: wait for each lagging reader, closing one that stalls too long.

        A lagging reader that changes its subscriptions ends the wait: the timeline re-plans
        (it may have nobody left to send to, and parks)."""
        for conn in behind:
            with trio.move_on_after(self.stall_timeout_s) as waiting:
                await conn.wait_drained(until_changed=True)
            if waiting.cancelled_caught:
                self._close_slow(conn, f"no progress for {self.stall_timeout_s:g}s")

    def _close_slow(self, conn: ClientConnection, why: str) -> None:
        self.journal.add("note", f"slow reader closed: {why}", conn.id)
        conn.close(
            self.profile.slow_reader_close_code,
            self.profile.slow_reader_close_reason,
            drop_queued=True,
        )
