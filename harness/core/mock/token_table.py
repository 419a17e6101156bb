"""The mock's token book-keeping: API tokens, WebSocket tokens, connection counts, quotas.

Pure: every method that depends on time takes ``now`` (wall-clock epoch seconds) as an argument,
and new WS tokens come from an injectable factory.  Policy (``docs/protocol.md`` section 12):

- By default any non-empty API token is accepted; ``api_token`` restricts the mock to one value.
  Tokens can be given a state (section 12: "a table of API tokens and their state") so tests get
  401 code 3, 4 or 5, and a plan (BASIC has no WebSocket: 401 code 4).
- One WS token per API token.  ``/v1/ws/new`` returns the active one unchanged (``is_new``
  false); renew extends it in place; after expiry ``/v1/ws/new`` issues a fresh token.
- A token expires exactly at the second its ``expires_at`` shows: issue and renew round
  ``now + ttl`` *up* to a whole second, so the token lives at least ``ttl`` and a client acting on
  the one-second-resolution ``expires_at`` is never surprised.
- ``max_connections`` counts open connections per WS token.
- The hourly quota counts requests per API token in clock-hour windows (``floor(now / 3600)``),
  so "wait next hour" (section 2.4) means the next full hour, as the docs word it.
"""

from __future__ import annotations

import enum
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile
from harness.core.protocol import PLAN_CHANNELS, Channel, Plan
from harness.errors import UsageError

HOUR_S = 3600
"""Length of a quota window."""


class ApiTokenState(enum.StrEnum):
    """States of an API token (section 12: codes 3, 4 and 5 come from this table)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    NO_PERMISSION = "no_permission"
    IP_INVALID = "ip_invalid"


@dataclass(frozen=True, slots=True)
class WsToken:
    """A WebSocket token and its whole grant (section 4.1): who owns it, its plan, when it
    expires (whole epoch seconds) and its connection and subscription limits.  The REST answer,
    the handshake and the session all read the limits from here, so a token is served by the
    grant it was issued with."""

    token: str
    api_token: str
    plan: Plan
    expires_at: int
    max_connections: int
    max_subscribe_per_connection: int

    def is_valid(self, now: float) -> bool:
        return now < self.expires_at

    @property
    def allowed_channels(self) -> tuple[Channel, ...]:
        """The plan's channels in :class:`Channel` order (the service's listing order)."""
        return tuple(channel for channel in Channel if channel in PLAN_CHANNELS[self.plan])


@dataclass(frozen=True, slots=True)
class QuotaState:
    """One API token's hourly window: ``limit`` None means unlimited."""

    limit: int | None
    used: int
    reset_in_s: int

    @property
    def exceeded(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


def _default_token_factory() -> str:
    return secrets.token_hex(16)


class TokenTable:
    """API token states and plans, WS tokens, their open connections and hourly quotas."""

    def __init__(
        self,
        limits: BehaviourProfile = DEFAULT_PROFILE,
        *,
        api_token: str | None = None,
        new_token: Callable[[], str] = _default_token_factory,
    ) -> None:
        """``limits``: the profile's TTL, default plan, connection, subscription and quota limits
        (set with :meth:`BehaviourProfile.with_limits`)."""
        if api_token is not None and not api_token:
            raise UsageError("the API token to accept must not be empty")
        self.limits = limits
        self.required_api_token = api_token
        self._new_token = new_token
        self._states: dict[str, ApiTokenState] = {}
        self._plans: dict[str, Plan] = {}
        self._ws_by_api: dict[str, WsToken] = {}
        self._ws_by_token: dict[str, WsToken] = {}
        self._connections: dict[str, int] = {}
        self._windows: dict[str, tuple[int, int]] = {}  # api token -> (hour index, requests)
        self.override_state: ApiTokenState | None = None
        """Every API token's state while set (a ``revoke-token`` fault)."""

    # --- API tokens ------------------------------------------------------------------------

    def is_known(self, api_token: str) -> bool:
        """Accepted at all: non-empty and, when restricted, the one configured value."""
        if not api_token:
            return False
        return self.required_api_token is None or api_token == self.required_api_token

    def state_of(self, api_token: str) -> ApiTokenState:
        if self.override_state is not None:
            return self.override_state
        return self._states.get(api_token, ApiTokenState.ACTIVE)

    def plan_of(self, api_token: str) -> Plan:
        return self._plans.get(api_token, self.limits.default_plan)

    def set_api_token(
        self, api_token: str, *, state: ApiTokenState | str | None = None, plan: Plan | None = None
    ) -> None:
        """Set a token's state and/or plan (tests use it for codes 3, 4, 5)."""
        if state is not None:
            try:
                self._states[api_token] = ApiTokenState(state)
            except ValueError:
                names = ", ".join(ApiTokenState)
                raise UsageError(f"unknown API token state {state!r} (one of {names})") from None
        if plan is not None:
            self._plans[api_token] = Plan(plan)

    # --- WS tokens ---------------------------------------------------------------------------

    def _expiry(self, now: float) -> int:
        return math.ceil(now + self.limits.token_ttl_s)

    def active_for(self, api_token: str, now: float) -> WsToken | None:
        current = self._ws_by_api.get(api_token)
        return current if current is not None and current.is_valid(now) else None

    def issue(self, api_token: str, now: float) -> tuple[WsToken, bool]:
        """``/v1/ws/new``: the active WS token unchanged (False) or a new one (True)."""
        current = self.active_for(api_token, now)
        if current is not None:
            return current, False
        stale = self._ws_by_api.pop(api_token, None)
        if stale is not None and not self._connections.get(stale.token):
            self._ws_by_token.pop(stale.token, None)
        token = WsToken(
            self._new_token(),
            api_token,
            self.plan_of(api_token),
            self._expiry(now),
            self.limits.max_connections,
            self.limits.max_subscribe_per_connection,
        )
        self._ws_by_api[api_token] = token
        self._ws_by_token[token.token] = token
        return token, True

    def renew(self, api_token: str, now: float) -> WsToken | None:
        """``/v1/ws/renew``: extend the active token in place; None when there is none."""
        current = self.active_for(api_token, now)
        if current is None:
            return None
        return self._store(replace(current, expires_at=self._expiry(now)))

    def expire(self, ws_token: str | None, now: float) -> list[WsToken]:
        """Expire one WS token (or every valid one) now; returns the tokens changed."""
        targets = (
            [t for t in self._ws_by_token.values() if t.is_valid(now)]
            if ws_token is None
            else [t for t in (self._ws_by_token.get(ws_token),) if t is not None]
        )
        return [
            self._store(replace(t, expires_at=min(t.expires_at, math.floor(now)))) for t in targets
        ]

    def _store(self, token: WsToken) -> WsToken:
        self._ws_by_token[token.token] = token
        if self._ws_by_api.get(token.api_token, token).token == token.token:
            self._ws_by_api[token.api_token] = token
        return token

    def lookup(self, ws_token: str) -> WsToken | None:
        """The WS token record, valid or not (None when never issued or forgotten)."""
        return self._ws_by_token.get(ws_token)

    def valid(self, ws_token: str, now: float) -> WsToken | None:
        token = self._ws_by_token.get(ws_token)
        return token if token is not None and token.is_valid(now) else None

    # --- connections -------------------------------------------------------------------------

    def try_attach(self, token: WsToken) -> bool:
        """Count one more open connection, unless the token's ``max_connections`` are open."""
        count = self._connections.get(token.token, 0)
        if count >= token.max_connections:
            return False
        self._connections[token.token] = count + 1
        return True

    def detach(self, ws_token: str) -> None:
        count = self._connections.get(ws_token, 0) - 1
        if count > 0:
            self._connections[ws_token] = count
            return
        self._connections.pop(ws_token, None)
        token = self._ws_by_token.get(ws_token)
        if token is not None and self._ws_by_api.get(token.api_token) is not token:
            del self._ws_by_token[ws_token]  # superseded and now unused: forget it

    # --- hourly quota ------------------------------------------------------------------------

    def quota(self, api_token: str, now: float) -> QuotaState:
        """The current window of ``api_token`` without counting a request."""
        hour = math.floor(now / HOUR_S)
        window_hour, used = self._windows.get(api_token, (hour, 0))
        if window_hour != hour:
            used = 0
        reset_in = max(1, math.ceil((hour + 1) * HOUR_S - now))
        return QuotaState(self.limits.hourly_quota, used, reset_in)

    def count_request(self, api_token: str, now: float) -> tuple[bool, QuotaState]:
        """Count one request unless the quota is used up: (allowed, window after the decision).

        A refused request is not counted, so the window stays exactly at its limit."""
        state = self.quota(api_token, now)
        if state.exceeded:
            return False, state
        self._windows[api_token] = (math.floor(now / HOUR_S), state.used + 1)
        return True, replace(state, used=state.used + 1)
