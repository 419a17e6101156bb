"""The mock server: REST token endpoints and the WebSocket feed on one port, plus a control API.

``server = await nursery.start(serve_mock, feed, config)`` or
``async with open_mock_server(feed, config) as server:``; then point a client at
``server.base_url``.  The control API (:meth:`MockServer.push`, :meth:`~MockServer.expire_token`,
:meth:`~MockServer.set_api_token_state`, :meth:`~MockServer.stop_answering_pings`,
:meth:`~MockServer.close_connections`, :meth:`~MockServer.shut_down`, :attr:`~MockServer.journal`,
:attr:`~MockServer.stats`, and the player services, waits and reset of
:mod:`harness.server.services`; over HTTP with ``config.control``, :mod:`harness.server.control`)
lets tests, the recorder, the pytest plugin and fuzzing drive situations the real service only
produces by chance.  Every section 12 decision is read from ``config.profile``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from functools import partial
from typing import Any

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection
from wsproto.utilities import RemoteProtocolError

from harness.core.control import CONTROL_PREFIX, is_control_path
from harness.core.envelopes import WRONG_PARAM, compact_json
from harness.core.faults import FaultKind, FaultTimeline, parse_faults
from harness.core.feed_stream import FeedSource
from harness.core.mock.rest_api import RestApi, RestResponse
from harness.core.mock.token_table import ApiTokenState, TokenTable, WsToken
from harness.core.mock.ws_session import WsSession
from harness.core.protocol import ECHO_CHANNELS, Topic, classify_frame
from harness.core.schedule import check_start_at
from harness.net.http import HttpRequest, http_date, serve_http, upgrade_problem
from harness.server.client import ClientConnection
from harness.server.clock import ServerClock
from harness.server.config import ServerConfig, ServerStats
from harness.server.control import handle_control
from harness.server.faults import ServerFaults
from harness.server.frames import text_frame
from harness.server.journal import Journal, shorten
from harness.server.player_state import PlayerState
from harness.server.prepared import shared_prepared_feed
from harness.server.services import BROADCAST, PlayerServices
from harness.server.shutdown import ShutdownReport, close_for_shutdown, shut_down
from harness.server.timelines import Timeline
from harness.server.tls import ServerTls, throwaway_tls


class MockServer(PlayerServices):
    """A running mock (made by :func:`serve_mock`); attributes and methods are the control API
    (the player services and ``wait_delivered`` come from :mod:`harness.server.services`)."""

    def __init__(
        self,
        feed: FeedSource | None,
        config: ServerConfig,
        *,
        port: int,
        nursery: trio.Nursery,
        tls: ServerTls | None = None,
        wall_clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.profile = config.profile
        self.port = port
        self.ca_path = tls.ca_path if tls else None
        self.tls = tls
        host = _url_host(config.host)
        self.base_url = f"{'https' if tls else 'http'}://{host}:{port}"
        self.ws_url = f"{'wss' if tls else 'ws'}://{host}:{port}/"
        self.journal = Journal(config.journal_size, clock=wall_clock)
        self.control_url = f"{self.base_url}{CONTROL_PREFIX}" if config.control else None
        self._wall_clock = wall_clock
        self._nursery = nursery
        self._prepared = shared_prepared_feed(feed) if feed is not None else None
        self._recorded = self._prepared
        """The feed the server was started with (:meth:`reset` returns to it after a play)."""
        self._closer = trio.CancelScope()
        self._connections: dict[int, ClientConnection] = {}
        self._timelines: dict[str, Timeline] = {}
        self._token_events: dict[str, trio.Event] = {}
        self._next_conn_id = 1
        self.player = PlayerState(config.replay.speed)
        self._fresh_state()
        self.faults = ServerFaults(self, nursery, self._position_s)
        """The fault timelines running on this server (:meth:`inject_faults`)."""
        self.internal_errors = 0
        self.accept_scope = trio.CancelScope()
        """Around the accept loop: cancelled when the server stops accepting."""
        self.shutting_down = False

    def _fresh_state(self) -> None:
        """Tokens and counters as a new server has them (also :meth:`reset`)."""
        config = self.config
        self.tokens = TokenTable(self.profile, api_token=config.api_token)
        self.rest = RestApi(self.tokens, ws_url=self.ws_url, profile=self.profile)
        self._pings_answered = True
        self._reaped = (0, 0)  # frames and bytes of finished timelines/connections
        self._pushed = 0
        self._http_requests = 0

    # --- control API ---------------------------------------------------------------------------

    def push(self, payload: bytes | str | dict[str, Any], *, token: str | None = None) -> int:
        """Send a frame now, byte-for-byte, to the connections (of WS ``token``) that want it.

        An event frame goes to connections whose subscriptions match it (section 12 routing);
        anything else (a reply, an error, garbage) goes to every connection.  Returns how many
        connections it was queued for."""
        data = compact_json(payload) if isinstance(payload, dict) else _as_bytes(payload)
        info = classify_frame(data)
        wire = text_frame(data)
        count = 0
        for conn in self.connections(token):
            if info is not None and info.is_event and not conn.session.wants(info):
                continue
            conn.enqueue_event(wire)
            count += 1
        self._pushed += count
        self.journal.add("ws_out", f"push to {count}: {shorten(data)}")
        return count

    def connections(self, token: str | None = None) -> list[ClientConnection]:
        """Open connections (of one WS token), oldest first."""
        return [
            conn
            for conn in self._connections.values()
            if conn.accepting and (token is None or conn.ws_token == token)
        ]

    def new_ws_token(self, api_token: str = "mock") -> str:
        """Issue (or return the active) WS token without a REST call, as ``/v1/ws/new`` does."""
        token, _ = self.tokens.issue(api_token, self._wall_clock())
        return token.token

    def expire_token(self, ws_token: str | None = None) -> int:
        """Expire one WS token (or all) now: its connections get ``TOKEN_EXPIRED`` and the
        profile's close (4001 ``token expired``), and it is refused from now on."""
        changed = self.tokens.expire(ws_token, self._wall_clock())
        for token in changed:
            self._token_changed_pulse(token.token)
        self.journal.add("note", f"expired {len(changed)} WS token(s)")
        return len(changed)

    def set_api_token_state(
        self, api_token: str, state: ApiTokenState | str, *, plan: Any = None
    ) -> None:
        """Set an API token's state (``active``, ``suspended``, ``no_permission``,
        ``ip_invalid``: REST answers 401 code 3/4/5) and optionally its plan."""
        self.tokens.set_api_token(api_token, state=state, plan=plan)
        self.journal.add("note", f"API token state {state}")

    def revoke_api_token(self, api_token: str, state: ApiTokenState | str = "suspended") -> None:
        """Shorthand for :meth:`set_api_token_state` with a non-active state."""
        self.set_api_token_state(api_token, state)

    def stop_answering_pings(self, stop: bool = True) -> None:
        """Stop (or resume) answering app-level ``ping`` commands and protocol pings."""
        self._pings_answered = not stop
        self.journal.add("note", "pings ignored" if stop else "pings answered")

    @property
    def answer_pings(self) -> bool:
        """Pings are answered: not stopped by the control API, nor by an ``ignore-pings``
        fault."""
        return self._pings_answered and self.faults.effects.answer_pings

    def inject_faults(self, faults: FaultTimeline | Any) -> None:
        """Run a fault timeline from now (a :class:`~harness.core.faults.FaultTimeline`, or
        its mapping or list of entries, checked by :func:`~harness.core.faults.parse_faults`);
        :meth:`reset` ends every timeline."""
        self.faults.inject(parse_faults(faults))

    async def close_connections(
        self,
        *,
        code: int = 1000,
        reason: str = "",
        abrupt: bool = False,
        token: str | None = None,
    ) -> int:
        """Close every connection (of WS ``token``): clean with ``code``/``reason``, or abrupt
        (no close frame, TCP reset).  Returns when they are all gone; returns the count."""
        targets = self.connections(token)
        for conn in targets:
            if abrupt:
                conn.abort()
            else:
                conn.close(code, reason)
        for conn in targets:
            await conn.done.wait()
        return len(targets)

    async def shut_down(
        self, grace_s: float | None = None, *, hurry: trio.Event | None = None
    ) -> ShutdownReport:
        """Stop accepting, close every connection with the profile's 1001, wait up to
        ``grace_s`` (default ``config.shutdown_grace_s``; less once ``hurry`` is set) for the
        closing handshakes, then cut the rest (see :mod:`harness.server.shutdown`)."""
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        report = await shut_down(self, grace, hurry=hurry)
        self.journal.add("note", f"shut down: {report.closed} closed, {report.cut} cut")
        return report

    @property
    def stats(self) -> ServerStats:
        conns = list(self._connections.values())
        timelines = list(self._timelines.values())
        started = [t for t in timelines if t.started]
        lead = max(started, key=lambda t: t.position, default=None)
        frames, sent = self._reaped
        return ServerStats(
            connections=len(conns),
            subscriptions=sum(c.session.subscription_count for c in conns),
            timelines=len(started),
            frames_sent=frames + sum(c.events_sent for c in conns),
            bytes_sent=sent + sum(c.bytes_sent for c in conns),
            pushed=self._pushed,
            position=lead.position if lead else 0,
            position_s=lead.position_ns / 1e9 if lead else 0.0,
            total_frames=self._prepared.frame_count if self._prepared else 0,
            ended=bool(started) and all(t.ended for t in started),
            http_requests=self._http_requests,
            internal_errors=self.internal_errors,
            parked=sum(t.parked for t in started),
            timeline_steps=sum(t.steps for t in timelines),
            paused=self.player.paused,
            speed=self.player.speed,
            delivered=self._all_delivered(),
        )

    # --- ConnectionHost --------------------------------------------------------------------------

    def token_expires_at(self, ws_token: str) -> float:
        token = self.tokens.lookup(ws_token)
        return float(token.expires_at) if token is not None else 0.0

    def token_changed(self, ws_token: str) -> trio.Event:
        return self._token_events.setdefault(ws_token, trio.Event())

    def _token_changed_pulse(self, ws_token: str) -> None:
        event = self._token_events.pop(ws_token, None)
        if event is not None:
            event.set()

    def subscriptions_changed(self, conn: ClientConnection, before: frozenset[Topic]) -> None:
        for topic in conn.session.subscriptions - before:
            self._note_unrecorded(conn, topic)
        timeline = self._timelines.get(BROADCAST if self.config.broadcast else conn.ws_token)
        if timeline is not None:
            timeline.subscriptions_changed(conn, before)

    def _note_unrecorded(self, conn: ClientConnection, topic: Topic) -> None:
        """Section 12: a STATS/ODDS subscription the recording never held gets none of its
        frames, "and the server's journal says so"."""
        if self._prepared is None or topic.channel not in ECHO_CHANNELS:
            return
        recorded = self._prepared.echo_topics
        if recorded is not None and topic not in recorded:
            message = f"{topic.key} was never subscribed in the recording: it gets no frames"
            self.journal.add("note", message, conn.id)

    # --- serving -------------------------------------------------------------------------------

    async def handle_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one TCP (or TLS) connection; its trouble never reaches another."""
        try:
            await serve_http(stream, self._handle_rest, self._handle_upgrade, now=self._wall_clock)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception as exc:  # a bug: keep serving the others, but make it visible
            self.internal_errors += 1
            self.journal.add("note", f"internal error: {exc!r}")
        finally:
            await trio.aclose_forcefully(stream)

    async def _handle_rest(self, request: HttpRequest) -> RestResponse:
        if self.config.control and is_control_path(request.path):
            return await handle_control(self, request)  # not journalled: not the service
        now = self._wall_clock()
        response = self.rest.handle(
            request.method, request.path, request.query, request.headers, now
        )
        self._journal_http(request, response)
        return response

    def _journal_http(self, request: HttpRequest, response: RestResponse) -> None:
        self._http_requests += 1
        summary = f"{request.method} {request.target} -> {response.status} {shorten(response.body)}"
        self.journal.add("http", summary)

    async def _handle_upgrade(
        self, request: HttpRequest, stream: trio.abc.Stream, trailing: bytes
    ) -> RestResponse | None:
        """Section 12 handshake: 404 off ``/``; 401 code 2 for a bad token; 429 code 7 past
        ``max_connections``; else accept (no extension, no subprotocol) and serve."""
        refusal: RestResponse | None = None
        if request.path != "/":
            refusal = self.rest.error(self.profile.unknown_path)
        problem = upgrade_problem(request)
        if problem is not None:
            self.journal.add("note", f"bad WebSocket handshake: {problem}")
            refusal = refusal or self.rest.error(WRONG_PARAM, param=problem)
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.initiate_upgrade_connection(list(request.raw_headers), request.target)
            list(ws.events())
        except RemoteProtocolError as exc:
            self.journal.add("note", f"bad WebSocket handshake: {exc}")
            refusal = refusal or self.rest.error(WRONG_PARAM, param="Sec-WebSocket-Key")
        outage = self.faults.effects.refuse_upgrades
        if outage is not None and refusal is None:
            refusal = self.rest.error(outage)
            self.faults.refused(FaultKind.REFUSE_CONNECT)
        decision = refusal or self.rest.open_websocket(request.query, self._wall_clock())
        if isinstance(decision, RestResponse):
            self._journal_http(request, decision)
            return decision
        self._http_requests += 1
        try:
            await self._serve_websocket(stream, ws, decision, trailing)
        finally:
            self.tokens.detach(decision.token)
            self._reap_timelines()
        return None

    async def _serve_websocket(
        self, stream: trio.abc.Stream, ws: WSConnection, token: WsToken, trailing: bytes
    ) -> None:
        session = WsSession(
            token.allowed_channels, token.max_subscribe_per_connection, self.profile
        )
        conn = ClientConnection(
            self._next_conn_id, stream, ws, token.token, session, self, wall_clock=self._wall_clock
        )
        self._next_conn_id += 1
        self._connections[conn.id] = conn
        self.faults.shape_new(conn)
        self.journal.add("ws_open", f"token {token.token} plan {token.plan}", conn.id)
        timeline = self._timeline_for(token.token)
        if timeline is not None:
            timeline.attach(conn)
        if self.shutting_down:  # upgraded on an HTTP connection opened before the shutdown
            close_for_shutdown(self.profile, [conn])
        try:
            await conn.run(trailing, accept=ws.send(_accept()))
        finally:
            if timeline is not None:
                timeline.detach(conn)
            del self._connections[conn.id]
            frames, sent = self._reaped
            self._reaped = (frames + conn.events_sent, sent + conn.bytes_sent)
            self.journal.add("ws_close", f"code {conn.close_code}", conn.id)

    def _timeline_for(self, ws_token: str) -> Timeline | None:
        if self._prepared is None:
            return None
        key = BROADCAST if self.config.broadcast else ws_token
        timeline = self._timelines.get(key)
        if timeline is None:
            timeline = Timeline(
                self._prepared,
                self.config.replay,
                name="broadcast" if key == BROADCAST else f"token {ws_token[:8]}",
                profile=self.profile,
                journal=self.journal,
                stall_timeout_s=self.config.stall_timeout_s,
                catch_up=key != BROADCAST,
                wall_clock=self._wall_clock,
                player=self.player,
            )
            self._timelines[key] = timeline
            self._nursery.start_soon(timeline.run)
        return timeline

    def _position_s(self) -> float:
        """The replay position of the furthest timeline (recording-clock faults wait on it)."""
        started = [t.recording_ns for t in self._timelines.values() if t.started]
        return max(started, default=0) / 1e9

    def _reap_timelines(self) -> None:
        """Drop the timelines of WS tokens that are gone (expired and no connection open)."""
        now = self._wall_clock()
        for key, timeline in list(self._timelines.items()):
            if key == BROADCAST or timeline.connections:
                continue
            if self.tokens.valid(key, now) is None:
                timeline.scope.cancel()
                del self._timelines[key]


async def serve_mock(
    feed: FeedSource | None = None,
    config: ServerConfig | None = None,
    *,
    wall_time: float | None = None,
    task_status: trio.TaskStatus[MockServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the mock until cancelled; ``nursery.start(serve_mock, ...)`` returns the server.

    The server keeps one clock (:class:`~harness.server.clock.ServerClock`): trio's, read as
    wall-clock time that starts at ``wall_time`` (default: now).  Under
    ``trio.testing.MockClock`` replay timing and token expiry are both virtual.

    Cancelling it shuts the server down cleanly (:meth:`MockServer.shut_down`, shielded and
    bounded by the grace): the connections run under a shield until then, so the caller's
    cancellation cannot drop them before their 1001 close."""
    config = config or ServerConfig()
    if feed is not None:
        check_start_at(config.replay, feed.duration_ns)  # UsageError now, not in a timeline
    with ExitStack() as stack:
        tls = stack.enter_context(throwaway_tls(config.host)) if config.tls else None
        listeners: list[Any] = await trio.open_tcp_listeners(config.port, host=config.host)
        port = listeners[0].socket.getsockname()[1]
        if tls is not None:
            listeners = [
                trio.SSLListener(listener, tls.context, https_compatible=True)
                for listener in listeners
            ]
        async with trio.open_nursery() as outer:
            clock = ServerClock.start(wall_time)
            scope, server = await outer.start(
                _run_shielded, feed, config, listeners, port, tls, clock
            )
            task_status.started(server)
            try:
                await trio.sleep_forever()
            finally:
                with trio.CancelScope(shield=True):
                    await server.shut_down()
                scope.cancel()


async def _run_shielded(
    feed: FeedSource | None,
    config: ServerConfig,
    listeners: list[Any],
    port: int,
    tls: ServerTls | None,
    clock: ServerClock,
    *,
    task_status: trio.TaskStatus[tuple[trio.CancelScope, MockServer]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The server's tasks (accept loop, connections, timelines), until the scope it reports
    is cancelled: only :func:`serve_mock` does that, after the shutdown."""
    with trio.CancelScope(shield=True) as scope:
        async with trio.open_nursery() as nursery:
            server = MockServer(
                feed, config, port=port, nursery=nursery, tls=tls, wall_clock=clock.now
            )
            if config.broadcast:
                server._timeline_for(BROADCAST)
            if config.faults is not None:
                server.faults.inject(config.faults)
            await nursery.start(_accept_connections, server, listeners)
            task_status.started((scope, server))


async def _accept_connections(
    server: MockServer,
    listeners: list[Any],
    *,
    task_status: trio.TaskStatus[list[Any]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept until :attr:`MockServer.accept_scope` is cancelled; the connections run in the
    server's nursery, so they outlive the accept loop and a shutdown can close them."""
    with server.accept_scope:
        await trio.serve_listeners(
            server.handle_stream,
            listeners,
            handler_nursery=server._nursery,
            task_status=task_status,
        )


@asynccontextmanager
async def open_mock_server(
    feed: FeedSource | None = None,
    config: ServerConfig | None = None,
    *,
    wall_time: float | None = None,
) -> AsyncIterator[MockServer]:
    """Run a mock for the duration of the block; one exception surfaces, never a group."""
    try:
        async with trio.open_nursery() as nursery:
            server: MockServer = await nursery.start(
                partial(serve_mock, feed, config, wall_time=wall_time)
            )
            try:
                yield server
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise _single(group) from None


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside nested single-member groups (else the group itself)."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def _accept() -> AcceptConnection:
    """The 101 response: no extension, no subprotocol, and a ``Date`` as every response has."""
    return AcceptConnection(extra_headers=[(b"Date", http_date().encode())])


def _as_bytes(payload: bytes | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
