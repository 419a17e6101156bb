"""Player services and waits of the mock server (a mixin of :class:`~harness.server.MockServer`).

The player services are those ``ros2 bag play`` users know, applied to every timeline the
server holds (one per WS token, or the ``--broadcast`` one):

- :meth:`~PlayerServices.pause` / :meth:`~PlayerServices.resume`: a paused timeline sends
  nothing and parks (it costs nothing); on resume it plays on from where it paused, the gap to
  the next frame kept.
- :meth:`~PlayerServices.play_next`: while paused, send the next ``n`` frames of each timeline
  that its subscribers receive, at once (recorded frames nobody attached wants are passed over,
  as in play); returns how many frames were sent, summed over timelines (fewer at the end of
  the recording, or when nothing in a whole lap is wanted).
- :meth:`~PlayerServices.seek`: jump to a recording offset (seconds from the feed start, the
  scale of ``--start-at`` and ``stats.position_s``), paused or playing; the frames in between
  are not sent; with ``--loop`` within the current lap.
- :meth:`~PlayerServices.set_speed`: a factor, or ``None`` for max; from now on, without a jump.

A timeline made later (a new WS token) starts at the beginning, paused if the server is paused,
at the current speed.  Timing stays drift-free across all of them (:mod:`harness.core.player`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

import trio

from harness.core.feed_stream import FeedSource
from harness.core.player import check_seek, check_speed, parse_speed
from harness.core.protocol import Topic
from harness.core.schedule import check_start_at
from harness.core.stream import Frame, frames_feed
from harness.errors import UsageError, WaitTimeout
from harness.server.client import ClientConnection
from harness.server.config import ServerConfig
from harness.server.faults import ServerFaults
from harness.server.journal import WAIT_TIMEOUT_S, Journal
from harness.server.player_state import PlayerState
from harness.server.prepared import PreparedFeed
from harness.server.timelines import Timeline

BROADCAST = "*"
"""Key of the ``--broadcast`` timeline (the others are keyed by WS token)."""
CLOSING_WAIT_S = 1.0
"""How long a reset waits for connections already closing, before it cuts them."""
RESET_CLOSE_CODE = 1001
RESET_REASON = "server reset"
PLAYED_CLOSE_CODE = 1000
PLAYED_REASON = "played frames delivered"


class _Resettable(Protocol):
    """What :meth:`PlayerServices.reset` needs of the server."""

    config: ServerConfig
    journal: Journal
    player: PlayerState
    _timelines: dict[str, Timeline]
    _token_events: dict[str, trio.Event]
    _prepared: PreparedFeed | None
    _recorded: PreparedFeed | None
    _closer: trio.CancelScope
    _connections: dict[int, ClientConnection]
    faults: ServerFaults

    async def close_connections(
        self, *, code: int = 1000, reason: str = "", abrupt: bool = False, token: str | None = None
    ) -> int: ...
    def _fresh_state(self) -> None: ...
    def _timeline_for(self, ws_token: str) -> Timeline | None: ...


class _Playable(_Resettable, Protocol):
    """What :meth:`PlayerServices.play` needs of the server, besides a reset's needs."""

    _prepared: PreparedFeed | None
    _closer: trio.CancelScope
    _nursery: trio.Nursery

    def connections(self, token: str | None = None) -> list[Any]: ...
    def subscriptions_changed(self, conn: Any, before: frozenset[Topic]) -> None: ...
    def set_speed(self, speed: float | None) -> None: ...
    async def _until_delivered(self) -> None: ...


class PlayerServices:
    """Mixin: needs ``config``, ``player``, ``_prepared`` and ``_timelines``."""

    config: ServerConfig
    player: PlayerState
    _prepared: PreparedFeed | None
    _timelines: dict[str, Timeline]

    @property
    def feed(self) -> FeedSource | None:
        """The feed served now: the recording's, or the last :meth:`play`'s."""
        return self._prepared.feed if self._prepared is not None else None

    def pause(self) -> None:
        """Pause every timeline (and those made later, until :meth:`resume`)."""
        self.player.paused = True
        for timeline in self._timelines.values():
            timeline.pause()

    def resume(self) -> None:
        """Resume every timeline from where it paused."""
        self.player.paused = False
        for timeline in self._timelines.values():
            timeline.resume()

    def play_next(self, n: int = 1) -> int:
        """While paused: send the next ``n`` frames each timeline's subscribers receive, at
        once; returns how many frames were sent (summed over timelines)."""
        if not self.player.paused:
            raise UsageError("play_next needs a paused player: pause first")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UsageError(f"play_next: n must be an integer >= 1, got {n!r}")
        return sum(timeline.play_next(n) for timeline in self._timelines.values())

    def seek(self, t_s: float) -> None:
        """Jump every timeline to recording offset ``t_s`` (seconds from the feed start)."""
        if isinstance(t_s, bool) or not math.isfinite(t_s):
            raise UsageError(f"seek: t must be a finite number of seconds, got {t_s!r}")
        t_ns = round(t_s * 1e9)
        if self._prepared is not None:
            duration_ns = self._prepared.duration_ns
            check_seek(t_ns, start_at_ns=self.config.replay.start_at_ns, duration_ns=duration_ns)
        for timeline in self._timelines.values():
            timeline.seek(t_ns)

    def set_speed(self, speed: float | None) -> None:
        """Play at ``speed`` (``None``: max) from now on, without a jump in position."""
        if speed is not None:
            speed = check_speed(speed)
        self.player.speed = speed
        for timeline in self._timelines.values():
            timeline.set_speed(speed)

    async def wait_delivered(self, timeout: float = WAIT_TIMEOUT_S) -> None:
        """Wait until every frame of the recording due to the current subscribers was sent.

        That is: at least one timeline started, and every started timeline with a subscribed
        connection has passed the end of its first lap (with ``--loop``: the end of the first
        lap; without, the end of the recording) with no catch-up pending; then, without
        ``--loop``, until those connections' queues are written out to their sockets.  A timeline
        nobody is subscribed to any more does not count.  Event-driven (timelines pulse on
        progress); raises :class:`~harness.errors.WaitTimeout` after ``timeout`` seconds."""
        if self._prepared is None:
            return
        with trio.move_on_after(timeout):
            await self._until_delivered()
            return
        raise WaitTimeout("the recording to be delivered to the subscribers", timeout)

    async def _until_delivered(self) -> None:
        while True:
            if self._all_delivered():
                if self.config.replay.loop:
                    return
                for timeline in list(self._timelines.values()):
                    for conn in list(timeline.connections):
                        await conn.wait_drained(0)
                if self._all_delivered():
                    return
            await self.player.progress.wait()

    def _all_delivered(self) -> bool:
        """``stats.delivered``: a timeline started and every started one with a subscriber
        passed its first lap, no catch-up pending."""
        started = [t for t in self._timelines.values() if t.started]
        return bool(started) and all(t.delivered_all for t in started)

    def play(
        self: _Playable,
        frames: Iterable[Frame],
        *,
        speed: float | str | None = "max",
        close_when_delivered: bool = False,
    ) -> int:
        """Serve ``frames`` (dicts, str or UTF-8 bytes, or ``StreamFrame``) as the feed from
        now on, instead of the current one; returns how many frames it holds.

        Every timeline is made afresh (the frames play from the first) at ``speed`` (``"max"``
        or ``None``: as fast as each client reads; else a factor), paused if the server is; the
        connections open now are attached to them as they are, so a client that subscribed
        before gets the frames too.  Plain frames are all due at once; a ``StreamFrame`` keeps
        its offset.  Frames already queued for a connection are still written.  The server's
        replay options (loop, start-at, max-gap) apply.  With ``close_when_delivered``, once
        :meth:`wait_delivered` would return every connection is closed (1000 ``played frames
        delivered``), so a consumer that reads until the close has read everything.
        :meth:`reset` returns to the server's own recording."""
        feed = frames_feed(frames)
        check_start_at(self.config.replay, feed.duration_ns)  # UsageError now
        rate = parse_speed(speed) if isinstance(speed, str) else speed
        self._closer.cancel()
        for timeline in self._timelines.values():
            timeline.scope.cancel()
        self._timelines.clear()
        self._prepared = PreparedFeed(feed)  # not shared: played frames are one test's
        self.set_speed(rate)
        if self.config.broadcast:
            self._timeline_for(BROADCAST)
        for conn in self.connections():
            conn.forget_routes()
            fresh = self._timeline_for(conn.ws_token)
            if fresh is not None:
                fresh.attach(conn)
                if conn.session.subscriptions:
                    self.subscriptions_changed(conn, frozenset())
        self.journal.add("note", f"playing {len(feed.frames)} given frames")
        self.player.progress.pulse()
        if close_when_delivered:
            self._closer = trio.CancelScope()
            self._nursery.start_soon(_close_when_delivered, self, self._closer)
        return len(feed.frames)

    async def reset(self: _Resettable) -> None:
        """Start over with the same recording and config: close every connection (1001
        ``server reset``), then fresh WS tokens, API token states, timelines, player, journal and
        counters (``internal_errors`` is kept, so a bug stays visible)."""
        await self.close_connections(code=RESET_CLOSE_CODE, reason=RESET_REASON)
        await _gone(list(self._connections.values()))
        self._closer.cancel()
        self._prepared = self._recorded  # after a play(): the server's own recording
        for timeline in self._timelines.values():
            timeline.scope.cancel()
        self._timelines.clear()
        for event in self._token_events.values():
            event.set()
        self._token_events.clear()
        self._fresh_state()
        self.faults.clear()
        self.journal.clear()
        self.player.paused, self.player.speed = False, self.config.replay.speed
        if self.config.broadcast:
            self._timeline_for(BROADCAST)
        self.player.progress.pulse()  # a wait_delivered in progress waits for the new timelines


async def _close_when_delivered(server: _Playable, scope: trio.CancelScope) -> None:
    """:meth:`PlayerServices.play`'s ``close_when_delivered``: cancelled by the next play or
    reset."""
    with scope:
        await server._until_delivered()
        await server.close_connections(code=PLAYED_CLOSE_CODE, reason=PLAYED_REASON)


async def _gone(closing: list[ClientConnection]) -> None:
    """Wait for connections already closing when a reset came (a close in flight): their end
    belongs to the journal before the reset.  Cut after :data:`CLOSING_WAIT_S`."""
    with trio.move_on_after(CLOSING_WAIT_S):
        for conn in closing:
            await conn.done.wait()
        return
    for conn in closing:
        conn.abort()
    for conn in closing:
        await conn.done.wait()
