"""One client WebSocket connection on the mock: a reader, a writer task and a bounded queue.

Everything the server sends to a client goes through :meth:`ClientConnection.enqueue` as complete
frame bytes; one writer task drains the queue in batches (all pending chunks joined into one
``send_all``), so a recorded frame sent to 50 clients costs 50 list appends and a few syscalls,
never a JSON dump or a wsproto call per client.  Replies and events share the queue, so a reply
is never overtaken by an event queued after it.

Policies (``docs/protocol.md`` section 12 and the issue):

- The server speaks only when spoken to or when an event is due; nothing on connect.
- Malformed commands get their error reply and the connection stays open; a malformed *frame*
  (bad masking, bad UTF-8, ...) is closed with the code wsproto names (1002/1007); a message
  over :data:`MAX_MESSAGE_BYTES`, or in more frames than the profile's ``max_message_fragments``,
  is closed with 1009.
- A client that floods commands without reading the replies is simply not read from while more
  than :data:`HIGH_WATER` bytes are queued for it (TCP pushes back); nobody else waits.  A
  reader lets the other connections run after :data:`EVENTS_PER_TURN` frames, so a flood of
  cheap frames (pings) cannot starve them either.
- Token expiry: one watcher per connection sleeps until the token's deadline, re-reading it
  whenever the token changes (renew extends in place, ``expire_token`` cuts it short); at the
  deadline it sends ``TOKEN_EXPIRED`` and closes with the profile's code (4001 ``token expired``).
- A server-initiated close waits :data:`CLOSE_TIMEOUT_S` for the client's close frame, then
  drops TCP; a client that vanishes mid-frame just ends its own connection.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any, Protocol

import trio
from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection, Message, Ping, TextMessage
from wsproto.utilities import LocalProtocolError

from harness.core.envelopes import compact_json
from harness.core.faults import FrameShaper, Shaping
from harness.core.mock.ws_session import Pong, WsSession
from harness.core.protocol import FrameInfo, Topic
from harness.server.frames import split_frames, text_frame
from harness.server.journal import Journal, shorten

HIGH_WATER = 256 * 1024
"""Bytes queued for a client above which its producers wait (flow control)."""
LOW_WATER = 64 * 1024
"""Bytes queued at or below which waiting producers resume."""
MAX_MESSAGE_BYTES = 1 << 20
"""Largest client message accepted (commands are tiny); larger ones close with 1009."""
CLOSE_TIMEOUT_S = 2.0
"""How long a server-initiated close waits for the client's close frame."""
RECEIVE_SIZE = 65536
EVENTS_PER_TURN = 64
"""Most client frames handled before the reader lets the other connections run: one read of
:data:`RECEIVE_SIZE` bytes can hold ~10,000 empty pings, and answering them all in one turn
starved every other client (7 events/s for a good client beside a ping flood)."""


class ConnectionHost(Protocol):
    """What a connection needs from the server that owns it."""

    journal: Journal

    @property
    def answer_pings(self) -> bool: ...

    def token_expires_at(self, ws_token: str) -> float: ...
    def token_changed(self, ws_token: str) -> trio.Event: ...
    def subscriptions_changed(self, conn: ClientConnection, before: frozenset[Topic]) -> None: ...


class ClientConnection:
    """An accepted WebSocket connection: ``run()`` serves it until it closes."""

    def __init__(
        self,
        conn_id: int,
        stream: trio.abc.Stream,
        ws: WSConnection,
        ws_token: str,
        session: WsSession,
        host: ConnectionHost,
        *,
        wall_clock: Callable[[], float],
    ) -> None:
        self.id = conn_id
        self.stream = stream
        self.ws = ws
        self.ws_token = ws_token
        self.session = session
        self.host = host
        self._wall_clock = wall_clock
        self._out: list[bytes] = []
        self.queued_bytes = 0
        self.bytes_sent = 0
        self.events_sent = 0
        self._wake = trio.Event()
        self._progress = trio.Event()
        self.subscription_changes = 0
        """Counts changes of this connection's subscriptions (a waiting producer re-plans)."""
        self._routes: dict[int, bool] = {}
        self._fragments: list[str | bytes] = []
        self._fragment_size = 0
        self._fragment_count = 0
        self._scope = trio.CancelScope()
        self.closing = False
        self.closed = False
        self.done = trio.Event()
        """Set once the connection has ended and its stream is closed."""
        self.close_code: int | None = None
        self._shaper: FrameShaper | None = None
        self._queued_at: list[float] = []
        """When each chunk of the queue was queued (kept only while a shaper paces them)."""

    # --- sending -----------------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """Still taking frames: no Close sent or received, and the connection not ended."""
        return not (self.closing or self.closed)

    def enqueue(self, data: bytes) -> None:
        """Queue complete frame bytes for the writer (no-op once closing or ended: nothing may
        follow a Close, RFC 6455 5.5.1, and nothing is kept for a connection that is gone)."""
        if not self.accepting:
            return
        self._out.append(data)
        if self._shaper is not None:
            self._queued_at.append(trio.current_time())
        self.queued_bytes += len(data)
        self._wake.set()

    def enqueue_event(self, wire: bytes, count: int = 1) -> None:
        """Queue replayed or pushed event frames (``count`` frames joined in ``wire``)."""
        if self.accepting:
            self.events_sent += count
            self.enqueue(wire)

    def send_reply(self, reply: dict[str, Any]) -> None:
        body = compact_json(reply)
        self.host.journal.add("ws_out", shorten(body), self.id)
        self.enqueue(text_frame(body))

    async def wait_drained(self, limit: int = LOW_WATER, *, until_changed: bool = False) -> None:
        """Wait until at most ``limit`` bytes are queued (or the connection has ended; with
        ``until_changed``, or its subscriptions changed: a producer then re-plans at once).

        Always a checkpoint, so a producer looping over it yields even when it returns at once."""
        changes = self.subscription_changes
        await trio.lowlevel.checkpoint()
        while self.queued_bytes > limit and not self.closed:
            if until_changed and self.subscription_changes != changes:
                return
            await self._progress.wait()

    def _pulse(self) -> None:
        progress, self._progress = self._progress, trio.Event()
        progress.set()

    def wants_route(self, route: int, info: FrameInfo) -> bool:
        """Does this connection's session want frames of this (interned) kind?  Cached until
        its subscriptions change, so routing costs one dict lookup per frame."""
        wanted = self._routes.get(route)
        if wanted is None:
            wanted = self._routes[route] = self.session.wants(info)
        return wanted

    def forget_routes(self) -> None:
        """The server serves another feed: its interned route ids name other frames now."""
        self._routes.clear()

    def shape(self, shaping: Shaping | None, seed: int = 0) -> None:
        """Pace the frames to this client (latency, drip, split bursts), or stop pacing."""
        if shaping is None:
            self._shaper = None
            self._queued_at.clear()
        elif self._shaper is None or self._shaper.shaping != shaping:
            now = trio.current_time()
            self._queued_at = [now] * len(self._out)
            self._shaper = FrameShaper(shaping, seed * 1_000_003 + self.id)
        self._wake.set()

    async def _writer(self) -> None:
        while True:
            while not self._out:
                if self._wake.is_set():
                    self._wake = trio.Event()
                await self._wake.wait()
            if self._shaper is not None:
                if not await self._send_paced(self._shaper):
                    return
                continue
            chunk = self._out[0] if len(self._out) == 1 else b"".join(self._out)
            self._out.clear()
            if not await self._send(chunk):
                return

    async def _send_paced(self, shaper: FrameShaper) -> bool:
        """Send the first queued chunk frame by frame, each at its due time; False when the
        client is gone."""
        chunk = self._out.pop(0)
        queued_at = self._queued_at.pop(0) if self._queued_at else trio.current_time()
        for frame in split_frames(chunk):
            await trio.sleep_until(shaper.due(queued_at))
            if not await self._send(frame):
                return False
        return True

    async def _send(self, data: bytes) -> bool:
        """Hand queued bytes to the socket and count them; False (and the connection ends)
        when the client is gone."""
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._scope.cancel()
            return False
        self.bytes_sent += len(data)
        self.queued_bytes -= len(data)
        self._pulse()
        return True

    # --- closing -----------------------------------------------------------------------------

    def close(
        self,
        code: int = 1000,
        reason: str = "",
        *,
        drop_queued: bool = False,
        timeout_s: float = CLOSE_TIMEOUT_S,
    ) -> None:
        """Start a clean close: queue the close frame (after pending data, unless
        ``drop_queued``: a slow reader would otherwise never get to it); the connection is
        dropped if the client has not answered within ``timeout_s``."""
        if not self.accepting:
            return
        if drop_queued:
            self._drop_queued()
        try:
            data = self.ws.send(CloseConnection(code=code, reason=reason))
        except LocalProtocolError:  # the close handshake already happened
            data = b""
        self.close_code = code
        self.host.journal.add("ws_out", f"close {code} {reason!r}", self.id)
        self.enqueue(data)
        self.closing = True
        self._scope.deadline = min(self._scope.deadline, trio.current_time() + timeout_s)

    def _drop_queued(self) -> None:
        """Forget the frames not yet handed to the socket (whole frames: the writer takes them
        out of the queue before sending)."""
        self.queued_bytes -= sum(len(chunk) for chunk in self._out)
        self._out.clear()
        self._queued_at.clear()

    def abort(self) -> None:
        """Drop the connection without a close frame (TCP reset where the socket allows); no-op
        once it has ended (its close code stays what it was)."""
        if self.closed:
            return
        _set_linger_zero(self.stream)
        self.close_code = 1006
        self._scope.cancel()

    # --- receiving ---------------------------------------------------------------------------

    async def run(self, initial: bytes = b"", *, accept: bytes = b"") -> None:
        """Send ``accept`` (the 101 response), then serve until closed; the stream is closed on
        return."""
        try:
            with self._scope:
                await self.stream.send_all(accept)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer)
                    nursery.start_soon(self._watch_expiry)
                    if await self._read(initial):
                        with trio.move_on_after(CLOSE_TIMEOUT_S):
                            await self.wait_drained(0)
                    nursery.cancel_scope.cancel()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.close_code = self.close_code or 1006
        finally:
            self.closed = True
            self._drop_queued()
            self._pulse()
            await trio.aclose_forcefully(self.stream)
            self.done.set()

    async def _read(self, initial: bytes) -> bool:
        """Read until the WebSocket closes (True: flush the queue) or the client vanishes."""
        data = initial
        while True:
            if data:
                self.ws.receive_data(data)
                if await self._handle_events():
                    return True
            if self.queued_bytes > HIGH_WATER:
                await self.wait_drained()
            try:
                data = bytes(await self.stream.receive_some(RECEIVE_SIZE))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self.close_code = self.close_code or 1006
                return False

    async def _handle_events(self) -> bool:
        """Handle what arrived, yielding to the other connections every
        :data:`EVENTS_PER_TURN` events; True when the WebSocket is finished."""
        for count, event in enumerate(self.ws.events(), 1):
            if count % EVENTS_PER_TURN == 0:
                await self._yield_turn()
            if isinstance(event, CloseConnection):
                return self._on_close(event)
            if isinstance(event, Ping):
                if self.host.answer_pings and not self.closing:
                    self.enqueue(self.ws.send(event.response()))
            elif isinstance(event, Message) and not self.closing:
                self._on_message(event)
        return False

    async def _yield_turn(self) -> None:
        """Let the other tasks run; wait for the writer first if the replies pile up (the same
        back-pressure as between reads)."""
        if self.queued_bytes > HIGH_WATER:
            await self.wait_drained()
        else:
            await trio.lowlevel.checkpoint()

    def _on_close(self, event: CloseConnection) -> bool:
        state = self.ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            self.close_code = event.code
            self.host.journal.add("ws_in", f"close {event.code} {event.reason or ''!r}", self.id)
            self._drop_queued()  # nothing queued may follow our Close echo (RFC 6455 5.5.1)
            self.enqueue(self.ws.send(event.response()))
            self.closing = True
        elif state is ConnectionState.OPEN:  # a malformed frame: wsproto names the code
            self.host.journal.add("note", f"bad frame: {event.reason}", self.id)
            self.close(event.code, (event.reason or "")[:120])
        return True

    def _on_message(self, event: Message[Any]) -> None:
        self._fragments.append(event.data)
        self._fragment_size += len(event.data)
        self._fragment_count += event.frame_finished
        if self._fragment_size > MAX_MESSAGE_BYTES:
            self.close(1009, "message too big")
            return
        if self._fragment_count > self.session.profile.max_message_fragments:
            self.close(1009, "message in too many fragments")
            return
        if not event.message_finished:
            return
        is_text = isinstance(event, TextMessage)
        payload: str | bytes = (
            "".join(str(part) for part in self._fragments)
            if is_text
            else b"".join(bytes(part) for part in self._fragments if isinstance(part, bytes))
        )
        self._fragments.clear()
        self._fragment_size = self._fragment_count = 0
        self._on_command(payload, is_text)

    def _on_command(self, payload: str | bytes, is_text: bool) -> None:
        kind = "text" if is_text else "binary"
        self.host.journal.add("ws_in", f"{kind} {shorten(payload)}", self.id)
        before = self.session.subscriptions
        event = self.session.receive(payload, is_text=is_text, now_ms=self._now_ms())
        after = self.session.subscriptions
        if after != before:
            self._routes.clear()
            self.subscription_changes += 1
            self._pulse()
        if not isinstance(event, Pong) or self.host.answer_pings:
            self.send_reply(event.body)
        if after != before:
            self.host.subscriptions_changed(self, before)

    def _now_ms(self) -> int:
        return int(self._wall_clock() * 1000)

    async def _watch_expiry(self) -> None:
        """Sleep until the token's deadline, re-reading it whenever the token changes."""
        while True:
            changed = self.host.token_changed(self.ws_token)
            remaining = self.host.token_expires_at(self.ws_token) - self._wall_clock()
            if remaining <= 0:
                break
            with trio.move_on_after(remaining):
                await changed.wait()
        if not self.closing:
            self.send_reply(self.session.expired_reply())
            code, reason = self.session.expired_close
            self.close(code, reason)


def _set_linger_zero(stream: trio.abc.Stream) -> None:
    """Make the coming close a TCP reset (an abrupt disconnect, as a crashed server)."""
    inner: Any = stream
    while not isinstance(inner, trio.SocketStream) and hasattr(inner, "transport_stream"):
        inner = inner.transport_stream
    if isinstance(inner, trio.SocketStream):
        with contextlib.suppress(OSError):
            inner.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
