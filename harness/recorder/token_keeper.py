"""Holding a usable WS token: fetching one when needed, renewing it before it expires.

One :class:`TokenKeeper` per session serves every connection, so connections that drop
together ask ``/v1/ws/new`` once, not once each.  Renewal timing and failure handling are the
pure rules of :mod:`harness.recorder.policy`; this module only sleeps and calls.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import trio

from harness.core.backoff import BackoffPolicy
from harness.core.grant import TokenGrant
from harness.core.records import NoteKind
from harness.errors import RecorderError
from harness.recorder.policy import (
    RENEW_MARGIN_S,
    RestAction,
    classify_rest_failure,
    renew_delay_s,
    retry_after_s,
)
from harness.recorder.rest_client import RestFailure, TokenClient
from harness.recorder.tee import Tee


async def wait_or_stop(stop: trio.Event, delay_s: float) -> bool:
    """Sleep ``delay_s`` unless ``stop`` is set first; True when stopping."""
    with trio.move_on_after(delay_s):
        await stop.wait()
    return stop.is_set()


class TokenKeeper:
    """The session's current WS token; asks for a new one when it is missing or dead."""

    def __init__(
        self,
        client: TokenClient,
        tee: Tee,
        *,
        backoff: BackoffPolicy,
        rng: random.Random,
        renew_margin_s: float = RENEW_MARGIN_S,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._tee = tee
        self._backoff = backoff
        self._rng = rng
        self._margin_s = renew_margin_s
        self._wall_clock = wall_clock
        self._grant: TokenGrant | None = None
        self._lock = trio.Lock()
        self._changed = trio.Event()
        self._last_failure: RestFailure | None = None
        self._granted = False  # until the first grant, only 429 and 5xx are worth retrying

    @property
    def grant(self) -> TokenGrant | None:
        return self._grant

    def _set(self, grant: TokenGrant | None) -> None:
        self._grant = grant
        self._changed.set()
        self._changed = trio.Event()

    def invalidate(self, grant: TokenGrant) -> None:
        """Forget ``grant`` (if still current): the next :meth:`current` asks for a new one."""
        if self._grant is not None and self._grant.token == grant.token:
            self._set(None)

    def _expired(self, grant: TokenGrant) -> bool:
        return grant.expires_at is not None and self._wall_clock() >= grant.expires_at

    async def current(self, stop: trio.Event) -> TokenGrant | None:
        """A usable grant, asking ``ws/new`` if needed; None when stopping first.

        Transient failures (429, 5xx; after the first grant also no answer) are retried with
        backoff; a refused API token, a missing endpoint, and before the first grant any other
        failure, raise :class:`RecorderError` (see :func:`_fatal_error`).
        """
        async with self._lock:
            if self._grant is not None and not self._expired(self._grant):
                return self._grant
            attempt = 0
            while not stop.is_set():
                try:
                    grant = await self._client.new_token()
                except RestFailure as failure:
                    self._tee.note(
                        NoteKind.ERROR,
                        f"{_path(failure)} failed: {failure.message}",
                        {"status": failure.status, "attempt": attempt},
                    )
                    fatal = _fatal_error(failure, first=not self._granted)
                    if fatal is not None:
                        raise fatal from None
                    delay = self._retry_delay(attempt, failure)
                    attempt += 1
                    if self._backoff.gives_up(attempt):
                        raise RecorderError(
                            f"gave up asking for a WS token: {failure.message}"
                        ) from None
                    await wait_or_stop(stop, delay)
                    continue
                self._tee.note(*grant.note(renewal=False))
                self._granted = True
                self._set(grant)
                return grant
            return None

    def _retry_delay(self, attempt: int, failure: RestFailure) -> float:
        return self._backoff.delay_s(
            attempt, self._rng, retry_after_s=retry_after_s(failure.headers)
        )

    def next_renewal_delay(self) -> float:
        """Seconds until the current grant's renewal is due (inf: no grant or no expiry)."""
        grant = self._grant
        if grant is None or grant.expires_at is None:
            return math.inf
        return renew_delay_s(grant.expires_at, self._wall_clock(), margin_s=self._margin_s)

    async def renew_loop(self) -> None:
        """Renew the current grant when due, forever; cancel the caller's scope to stop."""
        attempt = 0
        while True:
            grant, changed = self._grant, self._changed
            delay = self.next_renewal_delay()
            if attempt and self._last_failure is not None:
                delay = min(delay, self._retry_delay(attempt - 1, self._last_failure))
            self._tee.stats.next_renewal_at = trio.current_time() + delay
            with trio.move_on_after(delay) as waited:
                await changed.wait()
            if not waited.cancelled_caught or grant is None:
                attempt = 0
                continue
            attempt = await self._renew_once(grant, attempt)

    async def _renew_once(self, grant: TokenGrant, attempt: int) -> int:
        """One renewal try; returns the next retry attempt number (0 when done)."""
        try:
            renewed = await self._client.renew_token(grant)
        except RestFailure as failure:
            self._last_failure = failure
            self._tee.note(
                NoteKind.ERROR,
                f"{_path(failure)} failed: {failure.message}",
                {"status": failure.status, "attempt": attempt},
            )
            action = classify_rest_failure(failure.status, renewing=True)
            if action is not RestAction.RETRY or self._expired(grant):
                self.invalidate(grant)  # connections fetch a fresh token when they drop
                return 0
            return attempt + 1
        self._tee.stats.renewals += 1
        self._tee.note(*renewed.note(renewal=True))
        if self._grant is grant:
            self._set(renewed)
        return 0


def _path(failure: RestFailure) -> str:
    return urlsplit(failure.url).path or "token call"


def _fatal_error(failure: RestFailure, *, first: bool) -> RecorderError | None:
    """The error that ends the session for a failed ``ws/new`` call, None to retry.

    Before the first grant (the pre-flight check of ``harness record``) an unreachable,
    missing or malformed endpoint is reported at once rather than retried for the whole run.
    """
    status = failure.status
    if status == 404:
        return RecorderError(f"no token endpoint at {failure.url} (HTTP 404): check --api-base")
    if classify_rest_failure(status) is RestAction.FATAL:
        return RecorderError(f"the service refused the API token: {failure.message}")
    if not first or status == 429 or status >= 500:
        return None
    if status == 0:
        return RecorderError(f"cannot reach {failure.url}: {failure.message}")
    return RecorderError(f"unusable answer from {failure.url}: {failure.message}")
