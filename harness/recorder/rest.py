"""REST calls of the recorder (``/v1/ws/new``, ``/v1/ws/renew``), each recorded as it happens.

Authentication follows ``docs/protocol.md`` section 2.1: direct mode puts the API token in the
``t`` query parameter, RapidAPI mode in the ``X-RapidAPI-Key`` header with the documented host.
Every exchange, answered or not, becomes one :class:`HttpExchange` record; the tee learns the
WS token from the answer before the record is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from harness.core.records import HttpExchange
from harness.recorder.policy import parse_expires_at
from harness.recorder.tee import Tee

DIRECT_API_BASE = "https://api.soccerfootball.info"
RAPIDAPI_BASE = "https://soccer-football-info.p.rapidapi.com"
RAPIDAPI_HOST = "soccer-football-info.p.rapidapi.com"
HTTP_TIMEOUT_S = 15.0
NEW_PATH = "/v1/ws/new/"
RENEW_PATH = "/v1/ws/renew/"


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A WS token answer (section 4.1), with ``expires_at`` as epoch seconds (None: unknown)."""

    token: str
    server: str
    expires_at: float | None
    max_connections: int
    max_subscribe_per_connection: int
    allowed_channels: tuple[str, ...]
    is_new: bool


class RestFailure(Exception):
    """A token call did not yield a grant; ``status`` 0 means no answer at all."""

    def __init__(
        self, status: int, message: str, *, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass(frozen=True, slots=True)
class ApiAuth:
    """How to authenticate REST calls: the API token and the mode (direct or RapidAPI)."""

    api_token: str
    rapidapi: bool = False

    def params(self) -> dict[str, str]:
        return {} if self.rapidapi else {"t": self.api_token}

    def headers(self) -> dict[str, str]:
        if not self.rapidapi:
            return {}
        return {"X-RapidAPI-Key": self.api_token, "X-RapidAPI-Host": RAPIDAPI_HOST}


def default_api_base(rapidapi: bool) -> str:
    return RAPIDAPI_BASE if rapidapi else DIRECT_API_BASE


class TokenClient:
    """Asks the service for WS tokens and records every exchange through the tee."""

    def __init__(
        self, client: httpx.AsyncClient, tee: Tee, auth: ApiAuth, *, api_base: str
    ) -> None:
        self._client = client
        self._tee = tee
        self._auth = auth
        self._api_base = api_base.rstrip("/")

    async def new_token(self) -> TokenGrant:
        return await self._token_call(NEW_PATH)

    async def renew_token(self, current: TokenGrant) -> TokenGrant:
        """Renew; an answer without ``server`` keeps the current one (renew page unavailable)."""
        return await self._token_call(RENEW_PATH, fallback_server=current.server)

    async def _token_call(self, path: str, *, fallback_server: str = "") -> TokenGrant:
        request = self._client.build_request(
            "GET", self._api_base + path, params=self._auth.params(), headers=self._auth.headers()
        )
        answer = await recorded_exchange(self._client, self._tee, request)
        if answer.error is not None:
            raise RestFailure(0, answer.error)
        if answer.status != 200:
            message = _error_message(answer.status, answer.body)
            raise RestFailure(answer.status, message, headers=answer.headers)
        return parse_grant(answer.body, fallback_server=fallback_server)


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back from one REST call; ``status`` 0 and ``error`` set when nothing did."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    error: str | None = None


async def recorded_exchange(client: httpx.AsyncClient, tee: Tee, request: httpx.Request) -> Answer:
    """Send ``request`` and record it as one :class:`HttpExchange`, answered or not."""
    t_ns = tee.now_ns()
    sent = tuple(request.headers.items())
    try:
        response = await client.send(request)
        answer = Answer(
            response.status_code, tuple(response.headers.items()), await response.aread()
        )
    except httpx.HTTPError as exc:
        answer = Answer(0, error=f"{type(exc).__name__}: {exc}")
    tee.add(
        HttpExchange(
            t_ns,
            request.method,
            str(request.url),
            answer.status,
            answer.body,
            sent,
            answer.headers,
            answer.error,
            tee.now_ns() - t_ns,
        )
    )
    return answer


def _error_message(status: int, body: bytes) -> str:
    """``HTTP 401: Token is invalid (code 2)`` from an error envelope (section 2.4)."""
    try:
        errors = json.loads(body).get("errors") or []
        first = errors[0]
        return f"HTTP {status}: {first['message']} (code {first['code']})"
    except (ValueError, AttributeError, IndexError, KeyError, TypeError):
        return f"HTTP {status}"


def parse_grant(body: bytes, *, fallback_server: str = "") -> TokenGrant:
    """The first ``result`` of a token answer; :class:`RestFailure` if it is not one."""
    try:
        item: dict[str, Any] = json.loads(body)["result"][0]
        return TokenGrant(
            token=str(item["token"]),
            server=str(item.get("server") or fallback_server or item["server"]),
            expires_at=parse_expires_at(str(item.get("expires_at", ""))),
            max_connections=int(item.get("max_connections", 1)),
            max_subscribe_per_connection=int(item.get("max_subscribe_per_connection", 1)),
            allowed_channels=tuple(str(c) for c in item.get("allowed_channels", ())),
            is_new=bool(item.get("is_new", True)),
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise RestFailure(200, f"malformed token answer ({type(exc).__name__})") from None
