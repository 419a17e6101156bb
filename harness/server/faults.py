"""Running fault timelines on a mock: each entry starts and ends on its clock, and the ongoing
ones set what the server does (:func:`harness.core.faults.effects`).

Wall-clock entries sleep on trio's clock (so ``MockClock`` drives them); recording-clock entries
wait for the replay's position (the furthest timeline's, as ``stats.position_s`` shows it),
read every :data:`POSITION_POLL_S`.  Several timelines may run at once (each ``inject`` adds
one); :meth:`ServerFaults.clear` (and the server's ``reset``) ends them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import trio

from harness.core.faults import (
    ENDPOINTS,
    Fault,
    FaultEffects,
    FaultKind,
    FaultTimeline,
    effects,
)
from harness.core.mock.rest_api import RestApi
from harness.core.mock.token_table import TokenTable
from harness.server.client import ClientConnection
from harness.server.journal import Journal

POSITION_POLL_S = 0.01
"""How often a recording-clock entry reads the replay position."""


_Edge = tuple[float, bool, Fault]
"""When (on its clock), whether it ends (else starts), which fault."""


def _edges(faults: list[Fault]) -> list[_Edge]:
    """Every start and end, in time order (an end before a start at the same time)."""
    edges = [(fault.at_s, False, fault) for fault in faults]
    edges += [(f.end_s, True, f) for f in faults if not f.instant and f.end_s != math.inf]
    return sorted(edges, key=lambda edge: (edge[0], not edge[1]))


class FaultHost(Protocol):
    """What the faults need from the server they run on."""

    journal: Journal
    rest: RestApi
    tokens: TokenTable

    def connections(self, token: str | None = None) -> list[ClientConnection]: ...
    def expire_token(self, ws_token: str | None = None) -> int: ...
    async def close_connections(
        self, *, code: int = 1000, reason: str = "", abrupt: bool = False, token: str | None = None
    ) -> int: ...


class ServerFaults:
    """The fault timelines running on one server, and the effects of the ongoing faults."""

    def __init__(
        self, host: FaultHost, nursery: trio.Nursery, position_s: Callable[[], float]
    ) -> None:
        self._host = host
        self._nursery = nursery
        self._position_s = position_s
        self._scopes: set[trio.CancelScope] = set()
        self._ongoing: list[Fault] = []
        self._refusals: dict[int, int] = {}
        """id of an ongoing fault with ``times`` -> refusals it has answered."""
        self.effects = FaultEffects()
        self.seed = 0
        self.injected = 0
        """How many timelines were injected since the last :meth:`clear`."""

    def inject(self, timeline: FaultTimeline) -> None:
        """Start ``timeline`` now (its wall-clock times count from this call; what starts at
        0 has started when this returns)."""
        self.seed = timeline.seed
        self.injected += 1
        start = trio.current_time()
        for clock in ("wall", "recording"):
            edges = _edges(timeline.on_clock(clock))
            while clock == "wall" and edges and edges[0][0] <= 0:
                self._edge(edges.pop(0))
            if edges:
                self._nursery.start_soon(self._run_clock, clock, edges, start)
        self._host.journal.add("note", f"faults injected: {len(timeline.faults)} entries")

    def clear(self) -> None:
        """End every timeline and ongoing fault."""
        for scope in self._scopes:
            scope.cancel()
        self._scopes.clear()
        self._ongoing.clear()
        self.injected = 0
        self._apply()

    def refused(self, kind: FaultKind, endpoint: str | None = None) -> None:
        """A refusal was answered (a REST ``endpoint``, or a handshake): the fault that
        answered it ends once it has answered its ``times``."""
        for fault in reversed(self._ongoing):
            if fault.kind is not kind:
                continue
            if endpoint is not None and endpoint not in (ENDPOINTS[e] for e in fault.endpoints):
                continue
            if fault.times:
                count = self._refusals.get(id(fault), 0) + 1
                self._refusals[id(fault)] = count
                if count >= fault.times:
                    self._end(fault)
            return

    def shape_new(self, conn: ClientConnection) -> None:
        """A connection opened while faults pace frames is paced too."""
        if self.effects.shaping is not None:
            conn.shape(self.effects.shaping, self.seed)

    async def _run_clock(self, clock: str, edges: list[_Edge], start: float) -> None:
        scope = trio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                for edge in edges:
                    await self._reach(clock, edge[0], start)
                    self._edge(edge)
        finally:
            self._scopes.discard(scope)

    def _edge(self, edge: _Edge) -> None:
        _, ending, fault = edge
        if ending:
            self._end(fault)
        else:
            self._start(fault)

    async def _reach(self, clock: str, at: float, start: float) -> None:
        if clock == "wall":
            await trio.sleep_until(start + at)
            return
        # polled: a wake-up per replayed frame would cost every replay, faults or not
        while self._position_s() < at:  # noqa: ASYNC110
            await trio.sleep(POSITION_POLL_S)

    def _start(self, fault: Fault) -> None:
        self._host.journal.add("note", f"fault {fault.kind} starts")
        if fault.kind is FaultKind.CLOSE:
            self._nursery.start_soon(self._close, fault.code, fault.reason, False)
        elif fault.kind is FaultKind.DROP:
            self._nursery.start_soon(self._close, 1006, "", True)
        elif fault.kind is FaultKind.EXPIRE_TOKEN:
            self._host.expire_token()
        else:
            self._ongoing.append(fault)
            self._apply()

    def _end(self, fault: Fault) -> None:
        self._host.journal.add("note", f"fault {fault.kind} ends")
        if fault in self._ongoing:
            self._ongoing.remove(fault)
            self._refusals.pop(id(fault), None)
            self._apply()

    def _rest_refused(self, endpoint: str) -> None:
        self.refused(FaultKind.REST_ERROR, endpoint)

    async def _close(self, code: int, reason: str, abrupt: bool) -> None:
        await self._host.close_connections(code=code, reason=reason, abrupt=abrupt)

    def _apply(self) -> None:
        now = effects(self._ongoing)
        before, self.effects = self.effects, now
        self._host.rest.outages = now.outages
        self._host.rest.on_outage = self._rest_refused
        self._host.tokens.override_state = now.api_token_state
        if now.shaping != before.shaping:
            for conn in self._host.connections():
                conn.shape(now.shaping, self.seed)
