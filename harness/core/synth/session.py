"""The simulated client session around the feed: what a recorder would have written.

One WS token from ``/v1/ws/new`` (renewed in place every 20 minutes, section 12), several
connections opened at its ``server`` URL, ``subscribe`` commands in form (A) with their
``subscribed`` replies, an application ``ping`` every 30 s per connection with its ``pong``, the
feed's frames, and a clean client close at the end.  Secrets appear only as the placeholders
the recorder's redactor writes (``<API_TOKEN>``, ``<WS_TOKEN_1>``).

Frames are *emitted* by the simulated server at send time and *delivered* to every connection
whose subscriptions want them (section 12 "Replay routing") after a small network latency;
deliveries on one connection keep their send order, as TCP does.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass

from harness.core.envelopes import compact_json, envelope, pong_reply, ws_token_result
from harness.core.grant import TokenGrant
from harness.core.protocol import (
    Channel,
    Ping,
    Plan,
    Subscribe,
    Topic,
    subscribed_reply,
    topic_receives,
)
from harness.core.protocol import encode_command as _encode
from harness.core.records import (
    Direction,
    HttpExchange,
    Initiator,
    Note,
    NoteKind,
    Record,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.core.synth.match import MINUTE_NS, NS_PER_S

API_BASE = "https://api.soccerfootball.info"
WS_HOST = "ws-eu.soccerfootball.info"
API_TOKEN = "<API_TOKEN>"
WS_TOKEN = "<WS_TOKEN_1>"
WS_URL = f"wss://{WS_HOST}/?token={WS_TOKEN}"
PLAN = Plan.MEGA
MAX_CONNECTIONS = 4
MAX_SUBSCRIBE_PER_CONNECTION = 4
"""The limits this simulation assumes (the documented example is 2 and 2): see :mod:`synth`."""
TOKEN_TTL_NS = 25 * MINUTE_NS
RENEW_EVERY_NS = 20 * MINUTE_NS
PING_EVERY_NS = 30 * NS_PER_S
MS = 1_000_000
_JSON_HEADERS = (("content-type", "application/json"),)


@dataclass(frozen=True, slots=True)
class Emission:
    """A frame the simulated server sends at ``t_ns``.

    Routing, as in section 12: a ``topic`` frame (STATS/ODDS) goes to exactly that subscription;
    a ``conn_id`` frame (a reply) to that connection; any other by ``channel`` and ids.
    """

    t_ns: int
    payload: bytes
    channel: Channel | None = None
    match_id: str | None = None
    league_id: str | None = None
    topic: Topic | None = None
    conn_id: int | None = None


def _wants(topic: Topic, emission: Emission) -> bool:
    return topic_receives(
        topic,
        emission.channel,
        echoed=emission.topic,
        match_id=emission.match_id,
        league_id=emission.league_id,
    )


class SessionBuilder:
    """Collects the records of one simulated session, then routes and orders them."""

    def __init__(
        self,
        rng: random.Random,
        *,
        epoch_ms: int,
        duration_ns: int,
        connections: Sequence[Sequence[Topic]],
    ) -> None:
        self.rng = rng
        self.epoch_ms = epoch_ms
        self.end_ns = duration_ns
        self.connections = [tuple(topics) for topics in connections]
        self._records: list[tuple[int, int, Record]] = []
        self._emissions: list[tuple[int, int, Emission]] = []
        self._since: dict[tuple[int, Topic], int] = {}
        self._rest_calls = 0

    def ts_ms(self, t_ns: int) -> int:
        """The server's wall clock in epoch ms at session time ``t_ns``."""
        return self.epoch_ms + t_ns // MS

    def add(self, record: Record) -> None:
        self._records.append((record.t_ns, len(self._records), record))

    def emit(self, emission: Emission) -> None:
        if emission.t_ns < self.end_ns - NS_PER_S:
            self._emissions.append((emission.t_ns, len(self._emissions), emission))

    # --- the session's own traffic -----------------------------------------------------------

    def open_session(self) -> int:
        """Token, connections and subscriptions; returns when the last subscription is live."""
        t = self._token_call(0, "new", is_new=True)
        last = t
        for index, topics in enumerate(self.connections):
            conn_id = index + 1
            opened = t + (150 + 120 * index) * MS
            self.add(WsOpen(opened, conn_id, WS_URL, 101))
            for slot, topic in enumerate(topics):
                sent = opened + (40 + 25 * slot) * MS
                self.add(self._client(sent, conn_id, _encode(Subscribe(topic))))
                live = sent + self.rng.randint(15, 40) * MS
                self._since[(conn_id, topic)] = live
                self.emit(Emission(live, compact_json(subscribed_reply(topic)), conn_id=conn_id))
                last = max(last, live)
            self._pings(conn_id, opened)
        renewal = RENEW_EVERY_NS
        while renewal < self.end_ns - NS_PER_S:
            self._token_call(renewal, "renew", is_new=False)
            renewal += RENEW_EVERY_NS
        return last

    def _client(self, t_ns: int, conn_id: int, text: str) -> WsMessage:
        return WsMessage(t_ns, conn_id, Direction.CLIENT_TO_SERVER, text.encode())

    def _pings(self, conn_id: int, opened_ns: int) -> None:
        t = opened_ns + PING_EVERY_NS
        while t < self.end_ns - NS_PER_S:
            self.add(self._client(t, conn_id, _encode(Ping())))
            answered = t + self.rng.randint(10, 30) * MS
            pong = compact_json(pong_reply(self.ts_ms(answered)))
            self.emit(Emission(answered, pong, conn_id=conn_id))
            t += PING_EVERY_NS

    def _token_call(self, t_ns: int, endpoint: str, *, is_new: bool) -> int:
        """One ``/v1/ws/new`` or ``/v1/ws/renew`` call and its note; returns its end time."""
        elapsed = self.rng.randint(80, 220) * MS
        done = t_ns + elapsed
        expires = (self.ts_ms(done) + TOKEN_TTL_NS // MS) / 1000
        channels = [str(channel) for channel in Channel]
        result = ws_token_result(
            WS_TOKEN,
            WS_URL,
            MAX_CONNECTIONS,
            MAX_SUBSCRIBE_PER_CONNECTION,
            channels,
            expires,
            is_new,
        )
        self._rest_calls += 1
        reset = 3600 - (t_ns // NS_PER_S) % 3600
        headers = (
            *_JSON_HEADERS,
            ("x-rate-limit-limit", "3600"),
            ("x-rate-limit-remaining", str(3600 - self._rest_calls)),
            ("x-rate-limit-reset", str(reset)),
        )
        url = f"{API_BASE}/v1/ws/{endpoint}/?t={API_TOKEN}"
        body = compact_json(envelope(200, [result]))
        self.add(
            HttpExchange(
                t_ns,
                "GET",
                url,
                200,
                body,
                (("accept", "application/json"),),
                headers,
                None,
                elapsed,
            )
        )
        grant = TokenGrant.from_result(result)
        self.add(Note(done, *grant.note(renewal=endpoint == "renew")))
        return done

    # --- assembling --------------------------------------------------------------------------

    def records(self) -> list[Record]:
        """Every record in time order: deliveries routed, then the clean close."""
        self._deliver()
        for index in range(len(self.connections)):
            closed = self.end_ns - (300 - 20 * index) * MS
            self.add(WsClose(closed, index + 1, 1000, "", Initiator.CLIENT))
        self.add(Note(self.end_ns - 100 * MS, NoteKind.STOP, "the simulated session ended"))
        self._records.sort(key=lambda item: (item[0], item[1]))
        return [record for _, _, record in self._records]

    def _deliver(self) -> None:
        heapq.heapify(self._emissions)
        last_seen = [0] * (len(self.connections) + 1)
        while self._emissions:
            _, _, emission = heapq.heappop(self._emissions)
            for conn_id in self._receivers(emission):
                arrival = emission.t_ns + self.rng.randint(12, 45) * MS
                arrival = max(arrival, last_seen[conn_id] + 1000)
                last_seen[conn_id] = arrival
                message = WsMessage(arrival, conn_id, Direction.SERVER_TO_CLIENT, emission.payload)
                self.add(message)

    def _receivers(self, emission: Emission) -> list[int]:
        if emission.conn_id is not None:
            return [emission.conn_id]
        return [
            index + 1
            for index, topics in enumerate(self.connections)
            if any(
                _wants(topic, emission) and emission.t_ns >= self._since[(index + 1, topic)]
                for topic in topics
            )
        ]
