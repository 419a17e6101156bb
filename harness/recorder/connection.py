"""One planned connection of a live session: connect, subscribe, ping, receive, reconnect.

Each connection slot loops until the session stops: take the session's current WS token,
connect to exactly the ``server`` URL it came with (section 1), subscribe to the slot's topics,
then record every frame while an application ping goes out every ``ping_interval_s``.  When the
connection ends for any reason it is recorded (:class:`WsClose`) and the slot reconnects after
a jittered backoff, with a fresh token when the close says the old one is dead, and the same
subscriptions.  trio-websocket answers protocol-level pings itself, so only application pings
(ordinary messages) appear in the recording.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import ssl
from dataclasses import dataclass, field

import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from harness.core.backoff import BackoffPolicy
from harness.core.protocol import (
    FrameInfo,
    Ping,
    Subscribe,
    Topic,
    classify_frame,
    encode_command,
)
from harness.core.records import Direction, Initiator, NoteKind, WsClose, WsOpen
from harness.errors import HarnessError, RecorderError
from harness.recorder.policy import (
    PING_INTERVAL_S,
    PONG_TIMEOUT_S,
    STABLE_AFTER_S,
    RefusalLedger,
    SubscriptionTracker,
    error_code,
    needs_new_token,
)
from harness.recorder.tee import Tee
from harness.recorder.token_keeper import TokenKeeper, wait_or_stop

CONNECT_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
MESSAGE_QUEUE_SIZE = 64
ABNORMAL_CLOSURE = 1006  # reported locally when the stream broke without a close frame
REFUSED_FRAME_CODES = {1002: "a protocol error", 1007: "invalid UTF-8", 1009: "an oversized frame"}
"""Closes trio-websocket sends itself when a server frame is unacceptable.  Our own frames are
small, valid JSON text, so these closes are the recorder's refusal, never the server's."""


@dataclass(frozen=True, slots=True)
class LinkTiming:
    """The timing knobs of a connection; tests shorten them."""

    ping_interval_s: float = PING_INTERVAL_S
    pong_timeout_s: float = PONG_TIMEOUT_S
    stable_after_s: float = STABLE_AFTER_S
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    close_timeout_s: float = CLOSE_TIMEOUT_S


@dataclass
class SessionContext:
    """What every connection of one session shares."""

    tee: Tee
    tokens: TokenKeeper
    ledger: RefusalLedger
    timing: LinkTiming
    backoff: BackoffPolicy
    rng: random.Random
    ssl_context: ssl.SSLContext | None = None
    stop: trio.Event = field(default_factory=trio.Event)
    fatal: HarnessError | None = None
    _conn_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_conn_id(self) -> int:
        return next(self._conn_ids)

    def fail(self, error: HarnessError) -> None:
        """Stop the session because nothing can proceed; the first error wins."""
        if self.fatal is None:
            self.fatal = error
            self.tee.note(NoteKind.FATAL, str(error))
        self.stop.set()


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """How a connection ended, as far as the reconnect decision cares."""

    stable: bool
    token_dead: bool
    close_code: int | None = None


@dataclass
class _Link:
    """Mutable state of one open connection."""

    conn_id: int
    ws: WebSocketConnection
    tracker: SubscriptionTracker = field(default_factory=SubscriptionTracker)
    pong: trio.Event = field(default_factory=trio.Event)
    closed_by_us: str | None = None  # the reason we gave, once we started closing


async def run_slot(ctx: SessionContext, slot: int, topics: tuple[Topic, ...]) -> None:
    """Keep one connection with ``topics`` alive until the session stops."""
    attempt = 0
    while not ctx.stop.is_set():
        try:
            grant = await ctx.tokens.current(ctx.stop)
        except HarnessError as error:
            ctx.fail(error)
            return
        if grant is None:
            return
        outcome = await _run_once(ctx, grant.server, topics)
        if ctx.stop.is_set():
            return
        if outcome.token_dead:
            ctx.tokens.invalidate(grant)
        attempt = 0 if outcome.stable else attempt + 1
        if ctx.backoff.gives_up(attempt):
            ctx.fail(RecorderError(f"gave up reconnecting after {attempt} failed attempts"))
            return
        delay = ctx.backoff.delay_s(attempt, ctx.rng)
        ctx.tee.stats.reconnects += 1
        ctx.tee.note(
            NoteKind.RECONNECT,
            f"reconnecting slot {slot} in {delay:.2f}s",
            {
                "slot": slot,
                "attempt": attempt,
                "delay_s": delay,
                "close_code": outcome.close_code,
                "new_token": outcome.token_dead,
                "subscriptions": [t.key for t in topics],
            },
        )
        if await wait_or_stop(ctx.stop, delay):
            return


async def _run_once(ctx: SessionContext, url: str, topics: tuple[Topic, ...]) -> LinkOutcome:
    """Open one connection, converse until it ends, record how it ended.

    Every phase is bounded by one cancel scope whose deadline moves: the whole connect (TCP,
    TLS, WebSocket handshake) by ``connect_timeout_s``, none while conversing, and the way out
    (closing handshake, stream teardown) by ``close_timeout_s``, after which it is cut.
    """
    conn_id = ctx.next_conn_id()
    t_open = ctx.tee.now_ns()
    if not url.startswith(("ws://", "wss://")):  # retrying cannot help
        ctx.tee.add(WsOpen(t_open, conn_id, url, 0, "not a ws:// or wss:// URL"))
        ctx.fail(RecorderError("the token answer's server URL is not a ws:// or wss:// URL"))
        return LinkOutcome(False, False)
    outcome: LinkOutcome | None = None
    timing = ctx.timing
    try:
        with trio.move_on_after(timing.connect_timeout_s) as bounds:
            async with open_websocket_url(
                url,
                ctx.ssl_context,
                connect_timeout=timing.connect_timeout_s,
                disconnect_timeout=timing.close_timeout_s,
                message_queue_size=MESSAGE_QUEUE_SIZE,
            ) as ws:
                bounds.deadline = math.inf
                ctx.tee.add(WsOpen(t_open, conn_id, url, 101))
                outcome = await _converse(ctx, _Link(conn_id, ws), topics)
                bounds.deadline = trio.current_time() + timing.close_timeout_s
    except ConnectionRejected as exc:
        body = (exc.body or b"").decode("utf-8", "replace")
        ctx.tee.add(WsOpen(t_open, conn_id, url, exc.status_code, body or "rejected"))
        ctx.tee.note(
            NoteKind.ERROR, f"handshake refused with HTTP {exc.status_code}", {"conn": conn_id}
        )
        return LinkOutcome(False, needs_new_token(handshake_status=exc.status_code))
    except HandshakeError as exc:
        if outcome is None:
            return _connect_failed(ctx, conn_id, t_open, url, repr(exc.__cause__ or exc))
    if outcome is None:  # the connect deadline passed
        error = f"no WebSocket handshake within {timing.connect_timeout_s:g}s"
        return _connect_failed(ctx, conn_id, t_open, url, error)
    return outcome


def _connect_failed(
    ctx: SessionContext, conn_id: int, t_open: int, url: str, error: str
) -> LinkOutcome:
    ctx.tee.add(WsOpen(t_open, conn_id, url, 0, error))
    ctx.tee.note(NoteKind.ERROR, f"could not connect: {error}", {"conn": conn_id})
    return LinkOutcome(False, False)


async def _converse(ctx: SessionContext, link: _Link, topics: tuple[Topic, ...]) -> LinkOutcome:
    started = trio.current_time()
    ctx.tee.stats.open_connections += 1
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_close_on_stop, ctx, link)
            for topic in topics:
                link.tracker.sent(topic)
                await _send(ctx, link, encode_command(Subscribe(topic)))
            nursery.start_soon(_pinger, ctx, link)
            code, reason = await _receive_until_closed(ctx, link)
            nursery.cancel_scope.cancel()
    finally:
        ctx.tee.stats.open_connections -= 1
    initiator = _initiator(link, code)
    if link.closed_by_us is None and code in REFUSED_FRAME_CODES:
        ctx.tee.note(
            NoteKind.ERROR,
            f"closed the connection: the server sent {REFUSED_FRAME_CODES[code]} ({code})",
            {"conn": link.conn_id, "code": code, "reason": reason},
        )
    if link.closed_by_us is not None:
        code, reason = 1000, link.closed_by_us
    ctx.tee.add(
        WsClose(
            ctx.tee.now_ns(), link.conn_id, _recorded_code(code, initiator), reason or "", initiator
        )
    )
    lived = trio.current_time() - started
    return LinkOutcome(lived >= ctx.timing.stable_after_s, needs_new_token(close_code=code), code)


def _initiator(link: _Link, code: int | None) -> Initiator:
    if link.closed_by_us is not None or code in REFUSED_FRAME_CODES:
        return Initiator.CLIENT
    if code is None or code == ABNORMAL_CLOSURE:
        return Initiator.ABRUPT
    return Initiator.SERVER


def _recorded_code(code: int | None, initiator: Initiator) -> int | None:
    # 1006 is never sent on the wire (RFC 6455 7.4.1): an abrupt loss has no code.
    return None if initiator is Initiator.ABRUPT else code


async def _send(ctx: SessionContext, link: _Link, text: str) -> None:
    """Record, then send, one client message; a closed connection is left to the receiver."""
    ctx.tee.message(link.conn_id, Direction.CLIENT_TO_SERVER, text.encode())
    with contextlib.suppress(ConnectionClosed):
        await link.ws.send_message(text)


async def _receive_until_closed(ctx: SessionContext, link: _Link) -> tuple[int | None, str]:
    """Record every server frame and react to replies; return the close code and reason."""
    tee = ctx.tee
    while True:
        try:
            message = await link.ws.get_message()
        except ConnectionClosed as closed:
            reason = closed.reason
            return (reason.code, reason.reason or "") if reason else (None, "")
        t_ns = tee.now_ns()
        is_text = isinstance(message, str)
        payload = message.encode() if isinstance(message, str) else message
        info = classify_frame(payload)
        tee.message(
            link.conn_id, Direction.SERVER_TO_CLIENT, payload, is_text=is_text, info=info, t_ns=t_ns
        )
        if info is not None and not info.is_event:
            _on_reply(ctx, link, info, payload)


def _on_reply(ctx: SessionContext, link: _Link, info: FrameInfo, payload: bytes) -> None:
    """Pongs wake the pinger; subscribe replies settle subscriptions; other errors are noted."""
    if info.type == "pong":
        link.pong.set()
        return
    code = error_code(payload) if info.type == "error" else None
    outcome = link.tracker.on_reply(info, code)
    if outcome is None:
        if code is not None:
            ctx.tee.note(NoteKind.SERVER_ERROR, f"server error {code}", {"conn": link.conn_id})
        return
    ctx.ledger.record(outcome)
    if not outcome.accepted:
        ctx.tee.note(
            NoteKind.SUBSCRIPTION_ERROR,
            f"{outcome.topic.key} refused: {code}",
            {"conn": link.conn_id, "topic": outcome.topic.key, "code": code},
        )
        if ctx.ledger.all_refused:
            ctx.fail(RecorderError(f"every subscription was refused: {ctx.ledger.refused}"))


async def _pinger(ctx: SessionContext, link: _Link) -> None:
    """Application ping every interval; no pong within the timeout closes the connection."""
    timing = ctx.timing
    while True:
        await trio.sleep(timing.ping_interval_s)
        link.pong = trio.Event()
        await _send(ctx, link, encode_command(Ping()))
        with trio.move_on_after(timing.pong_timeout_s):
            await link.pong.wait()
        if not link.pong.is_set():
            ctx.tee.note(
                NoteKind.ERROR, f"no pong within {timing.pong_timeout_s:g}s", {"conn": link.conn_id}
            )
            await _close(ctx, link, "no pong")
            return


async def _close_on_stop(ctx: SessionContext, link: _Link) -> None:
    await ctx.stop.wait()
    await _close(ctx, link, "recording finished")


async def _close(ctx: SessionContext, link: _Link, reason: str) -> None:
    """Close politely (code 1000), bounded: a dead peer gets its stream closed instead."""
    if link.closed_by_us is None:
        link.closed_by_us = reason
    with trio.move_on_after(ctx.timing.close_timeout_s):
        await link.ws.aclose(1000, reason)
