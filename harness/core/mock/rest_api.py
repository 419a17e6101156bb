"""The mock's REST API as a pure function of a request: sections 2, 4 and the section 12 table.

:meth:`RestApi.handle` maps ``(method, path, query, headers, now)`` to a :class:`RestResponse`;
:meth:`RestApi.open_websocket` decides a WebSocket handshake.  No sockets, no clock.

Order of checks, and why: ``OPTIONS`` is a CORS preflight and needs no token; an unknown path or
method is 404 code 6 before any token check (nothing is there to authorise); then
authentication (400 code 1, 400 code 7 for a wrong RapidAPI host, 401 codes 2-5); then the
hourly quota (429 code 7; refused requests are not counted); then the endpoint's own answer.

Decisions where section 12 leaves room:

- Direct mode when ``t`` is present, RapidAPI mode when only ``X-RapidAPI-Key`` is.  RapidAPI
  accepts both documented ``X-RapidAPI-Host`` values; another value is 400 code 7
  ``Wrong X-RapidAPI-Host param``; a missing host header is tolerated.
- Methods other than GET/HEAD/OPTIONS get 404 code 6 (the docs know no 405).
- Rate-limit headers go on every authenticated direct response and on RapidAPI 200 responses
  (section 2.2).  Without a configured quota nothing is enforced and the headers report
  :data:`DISPLAY_QUOTA` (the documented ``requests_p_hour`` example) counting down to 0.
- Every response carries ``Access-Control-Allow-Origin`` and exposes the rate-limit headers to
  browser scripts; a preflight is ``204`` allowing GET and the RapidAPI headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.envelopes import (
    TOKEN_IP_INVALID,
    TOKEN_SUSPENDED,
    WRONG_PARAM,
    RestError,
    compact_json,
    envelope,
    token_status_result,
    ws_token_result,
)
from harness.core.mock.token_table import ApiTokenState, QuotaState, TokenTable, WsToken
from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile
from harness.core.protocol import Plan

RAPIDAPI_HOSTS: frozenset[str] = frozenset(
    {"soccer-football-info.p.rapidapi.com", "soccerfootballinfo.rapidapi.com"}
)
"""Section 2.1 [CONTRADICTION]: both documented host values are accepted."""

DISPLAY_QUOTA = 3600
"""Quota shown in headers and ``/v1/token/status`` when none is enforced (section 4.3 example)."""

API_EXPIRE_AFTER_S = 30 * 24 * 3600
"""``expire_date`` of ``/v1/token/status``: the mock's API tokens always have a month left."""

_ENDPOINTS = ("/ws/new", "/ws/renew", "/token/status")
_RATE_HEADERS = ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset")
_RAPID_RATE_HEADERS = ("x-ratelimit-request-limit", "x-ratelimit-requests-remaining")

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RestResponse:
    """What to send: status, headers (without ``Content-Length``) and the JSON body bytes."""

    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True, slots=True)
class _Caller:
    api_token: str
    rapid: bool


class RestApi:
    """The three token endpoints, authentication, quota and CORS of the mock (see module doc).

    ``ws_url`` is the mock's WebSocket base URL (``ws://127.0.0.1:PORT/``); ``/v1/ws/new``
    answers ``server`` = ``ws_url`` + ``?token=...``.  Set it once the port is known.
    """

    def __init__(
        self,
        tokens: TokenTable,
        *,
        ws_url: str,
        profile: BehaviourProfile = DEFAULT_PROFILE,
    ) -> None:
        self.tokens = tokens
        self.ws_url = ws_url
        self.profile = profile
        self.outages: Mapping[str, RestError] = {}
        """Endpoint (``/ws/new``, ``/ws/renew``, ``/token/status``) -> the error it answers
        instead, whoever calls (a ``rest-error`` fault)."""
        self.on_outage: Callable[[str], None] | None = None
        """Told the endpoint each time an outage answered (a fault that ends after N)."""

    # --- REST ---------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        now: float,
    ) -> RestResponse:
        """Answer one HTTP request (``path`` without the query string)."""
        lowered = _lower(headers)
        if method == "OPTIONS":
            return _preflight(lowered, self.profile.cors_allow_origin)
        rapid = "t" not in query and "x-rapidapi-key" in lowered
        endpoint = _route(path, rapid)
        if endpoint is None or method not in ("GET", "HEAD"):
            return self._error(self.profile.unknown_path)
        outage = self.outages.get(endpoint)
        if outage is not None:
            if self.on_outage is not None:
                self.on_outage(endpoint)
            return self._error(outage)
        caller = self._authenticate(query, lowered, rapid)
        if isinstance(caller, RestResponse):
            return caller
        allowed, quota = self.tokens.count_request(caller.api_token, now)
        rate = _rate_headers(quota, rapid)
        if not allowed:
            return self._error(self.profile.quota_exceeded, rate)
        if endpoint == "/token/status":
            return self._token_status(caller, quota, rate, now)
        if self.tokens.plan_of(caller.api_token) is Plan.BASIC:
            return self._error(self.profile.no_websocket_plan, rate)
        if endpoint == "/ws/new":
            token, is_new = self.tokens.issue(caller.api_token, now)
            return self._ok(self._token_result(token, is_new), rate)
        renewed = self.tokens.renew(caller.api_token, now)
        if renewed is None:
            return self._error(self.profile.renew_without_token, rate)
        return self._ok(self._token_result(renewed, False), rate)

    def _authenticate(
        self, query: Mapping[str, str], headers: Mapping[str, str], rapid: bool
    ) -> _Caller | RestResponse:
        if rapid:
            host = headers.get("x-rapidapi-host")
            if host is not None and host.strip().lower() not in RAPIDAPI_HOSTS:
                return self._error(WRONG_PARAM, param="X-RapidAPI-Host")
            api_token = headers["x-rapidapi-key"].strip()
        else:
            api_token = query.get("t", "")
            if not api_token:
                return self._error(self.profile.missing_auth, param="t")
        if not self.tokens.is_known(api_token):
            return self._error(self.profile.unknown_token)
        refusal = self._state_error(self.tokens.state_of(api_token))
        if refusal is not None:
            return self._error(refusal)
        return _Caller(api_token, rapid)

    def _state_error(self, state: ApiTokenState) -> RestError | None:
        return {
            ApiTokenState.ACTIVE: None,
            ApiTokenState.SUSPENDED: TOKEN_SUSPENDED,
            ApiTokenState.NO_PERMISSION: self.profile.no_websocket_plan,
            ApiTokenState.IP_INVALID: TOKEN_IP_INVALID,
        }[state]

    def _token_result(self, token: WsToken, is_new: bool) -> dict[str, Any]:
        return ws_token_result(
            token=token.token,
            server=f"{self.ws_url}?token={token.token}",
            max_connections=token.max_connections,
            max_subscribe_per_connection=token.max_subscribe_per_connection,
            allowed_channels=token.allowed_channels,
            expires_at_epoch=token.expires_at,
            is_new=is_new,
        )

    def _token_status(
        self, caller: _Caller, quota: QuotaState, rate: Headers, now: float
    ) -> RestResponse:
        """Section 4.3; section 12: over RapidAPI 401 code 4 (the endpoint is direct-only)."""
        if caller.rapid:
            return self._error(self.profile.no_websocket_plan, rate)
        result = token_status_result(
            token=caller.api_token,
            plan=self.tokens.plan_of(caller.api_token),
            expire_date_epoch=now + API_EXPIRE_AFTER_S,
            status=str(self.tokens.state_of(caller.api_token)),
            requests_p_hour=quota.limit if quota.limit is not None else DISPLAY_QUOTA,
            last_request_epoch=now,
            last_hour_requests=quota.used,
        )
        return self._ok(result, rate)

    def _ok(self, result: dict[str, Any], rate: Headers) -> RestResponse:
        return self._respond(200, envelope(200, [result]), rate)

    def _error(self, error: RestError, extra: Headers = (), *, param: str = "t") -> RestResponse:
        return self._respond(error.http_status, error.body(param), _error_rate(extra))

    def _respond(self, status: int, body: dict[str, Any], extra: Headers) -> RestResponse:
        headers = (
            ("Content-Type", "application/json; charset=utf-8"),
            *_cors_headers(self.profile.cors_allow_origin),
            *extra,
        )
        return RestResponse(status, headers, compact_json(body))

    def error(self, error: RestError, *, param: str = "t") -> RestResponse:
        """Any error row as a full response (envelope, CORS), e.g. for a refused upgrade."""
        return self._error(error, param=param)

    # --- WebSocket handshake ------------------------------------------------------------------

    def open_websocket(self, query: Mapping[str, str], now: float) -> WsToken | RestResponse:
        """Section 12: a missing, unknown or expired ``token`` is refused with 401 code 2; more
        than ``max_connections`` open with it, with 429 code 7.  On success the connection is
        counted (the caller must :meth:`TokenTable.detach` it when it closes)."""
        token = self.tokens.valid(query.get("token", ""), now)
        if token is None:
            return self._error(self.profile.unknown_token)
        if not self.tokens.try_attach(token):
            return self._error(self.profile.quota_exceeded)
        return token


def _route(path: str, rapid: bool) -> str | None:
    """The endpoint a path names: trailing slashes ignored; RapidAPI also without ``/v1``."""
    trimmed = path.rstrip("/")
    if trimmed.startswith("/v1/"):
        trimmed = trimmed[3:]
    elif not rapid:
        return None
    return trimmed if trimmed in _ENDPOINTS else None


def _lower(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name.lower(): value for name, value in items}


def _rate_headers(quota: QuotaState, rapid: bool) -> Headers:
    limit = quota.limit if quota.limit is not None else DISPLAY_QUOTA
    remaining = max(0, limit - quota.used)
    if rapid:
        return tuple(zip(_RAPID_RATE_HEADERS, (str(limit), str(remaining)), strict=True))
    values = (str(limit), str(remaining), str(quota.reset_in_s))
    return tuple(zip(_RATE_HEADERS, values, strict=True))


def _error_rate(rate: Headers) -> Headers:
    """RapidAPI sends its rate headers on 200 responses only (section 2.2)."""
    return tuple(h for h in rate if h[0] not in _RAPID_RATE_HEADERS)


def _cors_headers(origin: str) -> Headers:
    exposed = ", ".join((*_RATE_HEADERS, *_RAPID_RATE_HEADERS))
    return (("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", exposed))


def _preflight(headers: Mapping[str, str], origin: str) -> RestResponse:
    """CORS preflight: allow GET from anywhere with the requested (or RapidAPI) headers."""
    requested = headers.get("access-control-request-headers", "X-RapidAPI-Key, X-RapidAPI-Host")
    allow = (
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
        ("Access-Control-Allow-Headers", requested),
        ("Access-Control-Max-Age", "86400"),
    )
    return RestResponse(204, allow, b"")
