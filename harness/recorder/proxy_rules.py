"""The recording proxy's rewriting rules, pure: what goes upstream, what the client gets back.

The client never holds a real secret: whatever credential it sends is dropped and the real API
token (from the environment) is put in its place; WS tokens in token answers are swapped for
local ones, and the ``server`` URL points at the proxy; any spelling of the API token the
upstream echoes is taken out (:class:`ClientScrubber`).  Everything else passes unchanged, so
the client sees what the service said.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

from harness.core.envelopes import compact_json
from harness.core.redact import SpellingMatcher

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
PLAIN_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-._~")
CREDENTIAL_HEADERS = frozenset({"x-rapidapi-key", "x-rapidapi-host", "authorization"})
TOKEN_PATHS = ("/ws/new", "/ws/renew")
RESPONSE_HEADERS_KEPT = frozenset(
    {
        "content-type",
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "x-ratelimit-request-limit",
        "x-ratelimit-requests-remaining",
        "retry-after",
        "access-control-allow-origin",
    }
)


def upstream_target(target: str, *, api_base: str, api_token: str, rapidapi: bool) -> str:
    """The upstream URL for a client request target: same path, real token as ``t``.

    In RapidAPI mode no ``t`` is sent (the key goes in a header).
    """
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
    if not rapidapi:
        query.insert(0, ("t", api_token))
    suffix = f"?{urlencode(query)}" if query else ""
    return api_base.rstrip("/") + (parts.path or "/") + suffix


def upstream_headers(
    headers: Iterable[tuple[str, str]], *, api_token: str, rapidapi: bool, rapidapi_host: str
) -> list[tuple[str, str]]:
    """Client headers minus hop-by-hop and credentials, plus the real RapidAPI ones if needed."""
    kept = [
        (name, value)
        for name, value in headers
        if name.lower() not in HOP_BY_HOP and name.lower() not in CREDENTIAL_HEADERS
    ]
    if rapidapi:
        kept += [("X-RapidAPI-Key", api_token), ("X-RapidAPI-Host", rapidapi_host)]
    return kept


def client_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The upstream response headers worth passing on (content type, rate limits, CORS)."""
    return [(n, v) for n, v in headers if n.lower() in RESPONSE_HEADERS_KEPT]


def is_token_path(path: str) -> bool:
    clean = urlsplit(path).path.rstrip("/")
    return clean.endswith(TOKEN_PATHS)


class TokenMap:
    """Local WS tokens handed to the client, each standing for one upstream token and server."""

    def __init__(self) -> None:
        self._local_by_upstream: dict[str, str] = {}
        self._upstream: dict[str, tuple[str, str]] = {}  # local -> (upstream token, server)

    def local_for(self, upstream_token: str, server: str | None = None) -> str:
        """The stable local token for ``upstream_token``; remembers the newest server URL."""
        local = self._local_by_upstream.get(upstream_token)
        if local is None:
            local = "local-" + secrets.token_hex(16)
            self._local_by_upstream[upstream_token] = local
        if server is not None or local not in self._upstream:
            self._upstream[local] = (upstream_token, server or "")
        return local

    def upstream_server(self, local: str) -> str | None:
        """The upstream ``server`` URL to connect to for a local token, None if unknown."""
        found = self._upstream.get(local)
        return found[1] if found else None


def rewrite_token_body(body: bytes, tokens: TokenMap, *, ws_base: str) -> bytes:
    """Swap upstream WS tokens for local ones and point ``server`` at the proxy.

    The client sees the service's own bytes (key order, spacing, escapes) with only those JSON
    strings replaced; an answer whose strings cannot be found verbatim is re-encoded compactly.
    Answers that are not JSON token envelopes pass unchanged.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    results = document.get("result") if isinstance(document, dict) else None
    if not isinstance(results, list):
        return body
    swaps: list[tuple[str, str]] = []
    for item in results:
        token = item.get("token") if isinstance(item, dict) else None
        if not isinstance(token, str):
            continue
        assert isinstance(item, dict)
        server = item.get("server")
        local = tokens.local_for(token, server if isinstance(server, str) else None)
        if isinstance(server, str):
            item["server"] = f"{ws_base}/?token={local}"
            swaps.append((server, item["server"]))
        item["token"] = local
        swaps.append((token, local))
    if not swaps:
        return body
    return _swap_strings(body, swaps) or compact_json(document)


def _swap_strings(body: bytes, swaps: list[tuple[str, str]]) -> bytes | None:
    """``body`` with each JSON string ``old`` replaced by ``new``, or None if one is not found."""
    for old, new in swaps:
        for encoded in _json_spellings(old):
            if encoded in body:
                slashed = encoded != compact_json(old)
                body = body.replace(encoded, _json_string(new, escape_slash=slashed))
                break
        else:
            return None
    return body


def _json_spellings(value: str) -> tuple[bytes, bytes]:
    """A string as JSON encoders write it: plain, and with ``/`` escaped (PHP's default)."""
    return compact_json(value), _json_string(value, escape_slash=True)


def _json_string(value: str, *, escape_slash: bool) -> bytes:
    encoded = compact_json(value)
    return encoded.replace(b"/", b"\\/") if escape_slash else encoded


def local_token_of(target: str) -> str | None:
    """The ``token`` query parameter of a WebSocket request target."""
    for name, value in parse_qsl(urlsplit(target).query):
        if name == "token":
            return value
    return None


def client_token(target: str, headers: Iterable[tuple[str, str]]) -> str | None:
    """The credential the client sent: a non-empty ``t``, else a non-empty RapidAPI key."""
    for name, value in parse_qsl(urlsplit(target).query, keep_blank_values=True):
        if name == "t" and value:
            return value
    for name, value in headers:
        if name.lower() == "x-rapidapi-key" and value.strip():
            return value.strip()
    return None


class ClientScrubber:
    """Takes every spelling of the real API token out of what the proxy sends its client.

    The token becomes the client's own token where the client sent one (so ``/v1/token/status``
    shows the client what it used), else the recording's placeholder.  A client token is only
    used when it is plain (:data:`PLAIN_TOKEN_CHARS`, safe in JSON, URLs and headers) and holds
    no spelling of the real one.
    """

    def __init__(self, api_token: str, placeholder: str) -> None:
        self._matcher = SpellingMatcher([api_token])
        self._placeholder = placeholder

    def text(self, text: str, client_token: str | None = None) -> str:
        return self._matcher.sub_text(text, self._replacement(client_token))

    def data(self, data: bytes, client_token: str | None = None) -> bytes:
        return self._matcher.sub_bytes(data, self._replacement(client_token))

    def headers(
        self, headers: Iterable[tuple[str, str]], client_token: str | None = None
    ) -> list[tuple[str, str]]:
        return [(self.text(n, client_token), self.text(v, client_token)) for n, v in headers]

    def _replacement(self, client_token: str | None) -> Callable[[str], str]:
        plain = bool(client_token) and set(client_token or "") <= PLAIN_TOKEN_CHARS
        if plain and self._matcher.sub_text(client_token or "", lambda _: "") == client_token:
            return lambda _secret: client_token or ""
        return lambda _secret: self._placeholder
