"""REST calls of the recorder (``/v1/ws/new``, ``/v1/ws/renew``), each recorded as it happens.

Authentication follows ``docs/protocol.md`` section 2.1: direct mode puts the API token in the
``t`` query parameter and calls ``/v1/ws/new/``, RapidAPI mode puts it in the ``X-RapidAPI-Key``
header with the documented host and calls ``/ws/new/`` (no ``/v1``, as every RapidAPI example).
An API base is given without the version: ``https://host``, ``https://host/`` and
``https://host/v1`` all mean the same (:func:`normalise_api_base`).

Every exchange, answered or not, becomes one :class:`HttpExchange` record; the tee learns the
WS token from the answer before the record is written.  Answers are bounded: a body over
:data:`MAX_REST_BODY_BYTES` is refused while it is read (streamed, never held whole), and one
nested deeper than :data:`MAX_JSON_DEPTH` is not kept; both are recorded with an ``error``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness.core.grant import TokenGrant
from harness.core.records import HttpExchange
from harness.errors import HarnessError, UsageError
from harness.recorder.tee import Tee

DIRECT_API_BASE = "https://api.soccerfootball.info"
RAPIDAPI_BASE = "https://soccer-football-info.p.rapidapi.com"
RAPIDAPI_HOST = "soccer-football-info.p.rapidapi.com"
HTTP_TIMEOUT_S = 15.0
MAX_REST_BODY_BYTES = 1024 * 1024
"""Token answers are a few hundred bytes; anything over 1 MiB is refused while it is read."""
MAX_JSON_DEPTH = 64
"""Token answers nest 3 levels; a deeper answer is not kept (nothing could parse it safely)."""
_VERSION_PREFIX = "/v1"


def endpoint_path(name: str, *, rapidapi: bool) -> str:
    """``/v1/ws/new/`` (direct) or ``/ws/new/`` (RapidAPI) for ``name`` = ``"new"``/``"renew"``."""
    return f"{'' if rapidapi else _VERSION_PREFIX}/ws/{name}/"


def normalise_api_base(text: str) -> str:
    """``scheme://host[:port][/prefix]`` without a trailing ``/`` or ``/v1``; or UsageError."""
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UsageError(f"--api-base {text!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--api-base {text!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise UsageError(f"--api-base {text!r}: give the base URL only, without ? or #")
    path = parts.path.rstrip("/")
    if path.endswith(_VERSION_PREFIX):
        path = path[: -len(_VERSION_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"


class RestFailure(HarnessError):
    """A token call did not yield a grant; ``status`` 0 means no answer at all.

    ``url`` is the endpoint called, without its query (which holds the API token).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        url: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.url = url


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
        self._api_base = normalise_api_base(api_base)

    async def new_token(self) -> TokenGrant:
        return await self._token_call("new")

    async def renew_token(self, current: TokenGrant) -> TokenGrant:
        """Renew; an answer without ``server`` keeps the current one (renew page unavailable)."""
        return await self._token_call("renew", fallback_server=current.server)

    async def _token_call(self, name: str, *, fallback_server: str = "") -> TokenGrant:
        url = self._api_base + endpoint_path(name, rapidapi=self._auth.rapidapi)
        request = self._client.build_request(
            "GET", url, params=self._auth.params(), headers=self._auth.headers()
        )
        answer = await recorded_exchange(self._client, self._tee, request)
        if answer.error is not None:
            raise RestFailure(answer.status, answer.error, headers=answer.headers, url=url)
        if answer.status != 200:
            message = _error_message(answer.status, answer.body)
            raise RestFailure(answer.status, message, headers=answer.headers, url=url)
        try:
            return parse_grant(answer.body, fallback_server=fallback_server)
        except RestFailure as failure:
            failure.url = url
            raise


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
        response = await client.send(request, stream=True)
        try:
            answer = await _bounded_answer(response)
        finally:
            await response.aclose()
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


async def _bounded_answer(response: httpx.Response) -> Answer:
    """Read the body up to :data:`MAX_REST_BODY_BYTES`; refuse it (empty, ``error``) past that."""
    status, headers = response.status_code, tuple(response.headers.items())
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_REST_BODY_BYTES:
            error = f"answer over {MAX_REST_BODY_BYTES} bytes, refused"
            return Answer(status, headers, error=error)
        chunks.append(chunk)
    body = b"".join(chunks)
    if json_depth(body) > MAX_JSON_DEPTH:
        return Answer(status, headers, error=f"answer nested deeper than {MAX_JSON_DEPTH}, refused")
    return Answer(status, headers, body)


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """How deep ``[`` and ``{`` nest in ``body``, outside JSON strings (any bytes accepted)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b"", body)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _error_message(status: int, body: bytes) -> str:
    """``HTTP 401: Token is invalid (code 2)`` from an error envelope (section 2.4)."""
    try:
        errors = json.loads(body).get("errors") or []
        first = errors[0]
        return f"HTTP {status}: {first['message']} (code {first['code']})"
    except (ValueError, AttributeError, IndexError, KeyError, TypeError, RecursionError):
        return f"HTTP {status}"


def parse_grant(body: bytes, *, fallback_server: str = "") -> TokenGrant:
    """The first ``result`` of a token answer; :class:`RestFailure` if it is not one."""
    try:
        item: dict[str, Any] = json.loads(body)["result"][0]
        return TokenGrant.from_result(item, fallback_server=fallback_server)
    except (ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise RestFailure(200, f"malformed token answer ({type(exc).__name__})") from None
