"""A live recording session: one token keeper, one task per planned connection, a clean stop.

:class:`LiveRecorder` is the library API behind ``harness record``: give it a :class:`Tee` (the
redacting path into a recording file), :class:`RecorderOptions` and the API token, and ``await
run()``.  It returns when ``duration_s`` has passed or :meth:`LiveRecorder.request_stop` was
called (Ctrl-C, SIGTERM, a test), after closing every connection politely (within
``stop_grace_s``, so a duration is kept to within a second).  Errors that leave nothing to
record raise: :class:`UsageError` when the subscriptions do not fit the token's limits,
:class:`RecorderError` when the first ``ws/new`` call fails (unreachable, no endpoint, refused
API token) or every subscription was refused.  The pre-flight checks (token granted, plan fits)
come first; ``on_started`` is called once they passed, before any connection opens: that is
when ``harness record`` creates its file.
"""

from __future__ import annotations

import math
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import trio

from harness.core.backoff import BackoffPolicy
from harness.core.protocol import Topic
from harness.core.record_plan import plan_connections
from harness.core.records import NoteKind
from harness.core.wording import plural
from harness.recorder.connection import LinkTiming, SessionContext, run_slot
from harness.recorder.policy import RENEW_MARGIN_S, RefusalLedger
from harness.recorder.rest_client import HTTP_TIMEOUT_S, ApiAuth, TokenClient, default_api_base
from harness.recorder.tee import LiveStats, Tee
from harness.recorder.token_keeper import TokenKeeper

STOP_GRACE_S = 0.8
"""After a stop, connections get this long to close politely before they are cut (a close
handshake is one round trip; a peer that does not answer is not waited for)."""


@dataclass(frozen=True, slots=True)
class RecorderOptions:
    """Everything a live session needs besides the token and the output."""

    topics: tuple[Topic, ...]
    api_base: str | None = None  # None: the live service for the mode
    rapidapi: bool = False
    duration_s: float | None = None
    renew_margin_s: float = RENEW_MARGIN_S
    timing: LinkTiming = field(default_factory=LinkTiming)
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    http_timeout_s: float = HTTP_TIMEOUT_S
    stop_grace_s: float = STOP_GRACE_S
    ssl_context: ssl.SSLContext | None = None
    seed: int | None = None  # backoff jitter; None: fresh randomness

    @property
    def resolved_api_base(self) -> str:
        return self.api_base or default_api_base(self.rapidapi)


@dataclass(frozen=True, slots=True)
class RecordResult:
    """How a session ended."""

    stopped_by: str
    connections: int
    stats: LiveStats


class StoppableRecorder:
    """What every recorder shares: the :class:`Tee` it writes through and a polite stop."""

    def __init__(self, tee: Tee) -> None:
        self.tee = tee
        self._stop = trio.Event()
        self._stopped_by = "duration reached"

    @property
    def stats(self) -> LiveStats:
        return self.tee.stats

    def request_stop(self, reason: str = "stop requested") -> None:
        """Finish the recording: close every connection politely, then return from run()."""
        if not self._stop.is_set():
            self._stopped_by = reason
            self._stop.set()


class LiveRecorder(StoppableRecorder):
    """Records the live service (or anything speaking its protocol) into a :class:`Tee`."""

    def __init__(
        self,
        tee: Tee,
        options: RecorderOptions,
        *,
        api_token: str,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(tee)
        self.options = options
        self._auth = ApiAuth(api_token, rapidapi=options.rapidapi)
        self._on_started = on_started

    async def run(self) -> RecordResult:
        """Record until the duration ends or a stop is requested."""
        options = self.options
        verify: ssl.SSLContext | bool = options.ssl_context or True
        async with httpx.AsyncClient(timeout=options.http_timeout_s, verify=verify) as client:
            ctx = self._context(client)
            deadline = trio.current_time() + (options.duration_s or math.inf)
            grant = None
            with trio.move_on_at(deadline):
                grant = await ctx.tokens.current(self._stop)
            if grant is None:
                return RecordResult(self._stopped_by, 0, self.stats)
            plan = plan_connections(
                options.topics,
                max_connections=grant.max_connections,
                max_subscribe_per_connection=grant.max_subscribe_per_connection,
            )
            self.tee.note(
                NoteKind.PLAN,
                f"{plural(len(options.topics), 'subscription')}"
                f" on {plural(len(plan), 'connection')}",
                {"connections": [[t.key for t in topics] for topics in plan]},
            )
            if self._on_started is not None:
                self._on_started()
            await self._run_slots(ctx, plan, deadline)
        if ctx.fatal is not None:
            raise ctx.fatal
        self.tee.note(NoteKind.STOP, self._stopped_by)
        return RecordResult(self._stopped_by, len(plan), self.stats)

    def _context(self, client: httpx.AsyncClient) -> SessionContext:
        """The state every connection of this session shares, token keeper included."""
        options = self.options
        rng = random.Random(options.seed)
        token_client = TokenClient(client, self.tee, self._auth, api_base=options.resolved_api_base)
        tokens = TokenKeeper(
            token_client,
            self.tee,
            backoff=options.backoff,
            rng=rng,
            renew_margin_s=options.renew_margin_s,
        )
        return SessionContext(
            self.tee,
            tokens,
            RefusalLedger(options.topics),
            options.timing,
            options.backoff,
            rng,
            options.ssl_context,
            stop=self._stop,
        )

    async def _run_slots(
        self,
        ctx: SessionContext,
        plan: tuple[tuple[Topic, ...], ...],
        deadline: float,
    ) -> None:
        async with trio.open_nursery() as nursery:
            renewals = trio.CancelScope()
            nursery.start_soon(_in_scope, renewals, ctx.tokens.renew_loop)
            for slot, topics in enumerate(plan):
                nursery.start_soon(run_slot, ctx, slot, topics)
            with trio.move_on_at(deadline):
                await self._stop.wait()
            self._stop.set()
            renewals.cancel()
            nursery.cancel_scope.deadline = trio.current_time() + self.options.stop_grace_s


async def _in_scope(scope: trio.CancelScope, function: Callable[[], Awaitable[None]]) -> None:
    with scope:
        await function()
