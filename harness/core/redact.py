"""Scrubbing secrets out of recordings before they are written.

Policy: every secret (the API token, every WebSocket token) becomes a stable placeholder
(``<API_TOKEN>``, ``<WS_TOKEN_1>``, ...): the same secret always gets the same placeholder, so a
redacted recording still shows *which* token a connection used.  Secrets are replaced in every
field of every record (URLs, headers, bodies, frame payloads, notes, the header's ``source``) and
in their URL-encoded and JSON-escaped forms, so the raw secret bytes never reach the file.

Secrets are either registered up front (the API token from the environment) or learned from the
traffic itself before the record carrying them is written: the ``t`` and ``token`` query
parameters of a URL, the RapidAPI key header, and the ``token``/``server`` fields of a
``/v1/ws/new`` or ``/v1/ws/renew`` answer (``docs/protocol.md`` section 4).  Learning is
deliberately greedy: a value in a credential position is treated as secret even when it is not
one, because redacting too much is harmless and too little is not.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from harness.core.records import Header, HttpExchange, Record, WsMessage
from harness.errors import UsageError

MIN_SECRET_LENGTH = 4
"""Shorter values are never learned: replacing them would mangle unrelated bytes."""

API_PLACEHOLDER = "API_TOKEN"
WS_PLACEHOLDER = "WS_TOKEN"

SECRET_HEADERS = frozenset({"x-rapidapi-key", "authorization", "proxy-authorization"})
"""Request/response headers whose values are credentials."""

API_QUERY_PARAMS = frozenset({"t"})
WS_QUERY_PARAMS = frozenset({"token"})

_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")
R = TypeVar("R", bound=Record)


def is_placeholder(value: str) -> bool:
    """True for a value a redactor already wrote (``<WS_TOKEN_1>``): never learned again."""
    return _PLACEHOLDER.fullmatch(value) is not None


def secret_forms(secret: str) -> tuple[str, ...]:
    """The spellings under which ``secret`` can appear: raw, URL-encoded, JSON-escaped."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), json.dumps(secret)[1:-1]}
    return tuple(sorted(forms, key=len, reverse=True))


class Redactor:
    """Replaces known secrets by stable placeholders in text, bytes and whole records.

    Pure and deterministic: placeholders are numbered in the order secrets are first seen.
    """

    def __init__(self, api_tokens: Iterable[str] = ()) -> None:
        self._placeholders: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._text_pairs: tuple[tuple[str, str], ...] = ()
        self._byte_pairs: tuple[tuple[bytes, bytes], ...] = ()
        for token in api_tokens:
            self.add_secret(token, kind=API_PLACEHOLDER, strict=True)

    @property
    def placeholders(self) -> Mapping[str, str]:
        """Placeholder by secret (for tests and reports; never write this anywhere)."""
        return dict(self._placeholders)

    def add_secret(self, secret: str, *, kind: str = API_PLACEHOLDER, strict: bool = False) -> str:
        """Register ``secret`` and return its placeholder (the existing one if already known).

        ``strict`` secrets (given by the user) that are too short raise :class:`UsageError`;
        learned ones are ignored instead, and ``""`` is returned.
        """
        if secret in self._placeholders:
            return self._placeholders[secret]
        if len(secret) < MIN_SECRET_LENGTH or is_placeholder(secret):
            if strict:
                raise UsageError(
                    f"secret is too short to redact safely (fewer than {MIN_SECRET_LENGTH} chars)"
                )
            return ""
        number = self._counters.get(kind, 0) + 1
        self._counters[kind] = number
        placeholder = (
            f"<{kind}>" if kind == API_PLACEHOLDER and number == 1 else f"<{kind}_{number}>"
        )
        self._placeholders[secret] = placeholder
        self._rebuild()
        return placeholder

    def _rebuild(self) -> None:
        pairs = [
            (form, ph) for secret, ph in self._placeholders.items() for form in secret_forms(secret)
        ]
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
        self._text_pairs = tuple(pairs)
        self._byte_pairs = tuple((f.encode(), p.encode()) for f, p in pairs)

    # -- learning --------------------------------------------------------------------------

    def learn_url(self, url: str) -> None:
        """Learn the credential query parameters of ``url`` (``t``: API, ``token``: WS)."""
        for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=False):
            if name in API_QUERY_PARAMS:
                self.add_secret(value, kind=API_PLACEHOLDER)
            elif name in WS_QUERY_PARAMS:
                self.add_secret(value, kind=WS_PLACEHOLDER)

    def learn_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Learn the values of credential headers (RapidAPI key, Authorization)."""
        for name, value in headers:
            if name.lower() in SECRET_HEADERS:
                self.add_secret(value.removeprefix("Bearer ").strip(), kind=API_PLACEHOLDER)

    def learn_token_body(self, body: bytes) -> None:
        """Learn WS tokens from a token endpoint answer: ``result[].token`` and ``server``."""
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return
        results = document.get("result") if isinstance(document, dict) else None
        for item in results if isinstance(results, list) else ():
            if not isinstance(item, dict):
                continue
            token = item.get("token")
            if isinstance(token, str):
                self.add_secret(token, kind=WS_PLACEHOLDER)
            server = item.get("server")
            if isinstance(server, str):
                self.learn_url(server)

    def learn_record(self, record: Record | Header) -> None:
        """Learn every secret a record reveals by its structure (URL, headers, token bodies)."""
        if isinstance(record, HttpExchange):
            self.learn_url(record.url)
            self.learn_headers(record.request_headers)
            self.learn_token_body(record.body)
        elif isinstance(record, Header):
            api_base = record.source.get("api_base")
            if isinstance(api_base, str):
                self.learn_url(api_base)
        else:
            url = getattr(record, "url", None)
            if isinstance(url, str):
                self.learn_url(url)

    # -- scrubbing -------------------------------------------------------------------------

    def scrub_text(self, text: str) -> str:
        for form, placeholder in self._text_pairs:
            if form in text:
                text = text.replace(form, placeholder)
        return text

    def scrub_bytes(self, data: bytes) -> bytes:
        for form, placeholder in self._byte_pairs:
            if form in data:
                data = data.replace(form, placeholder)
        return data

    def scrub_value(self, value: Any) -> Any:
        """Scrub strings and bytes anywhere inside nested lists, tuples and mappings."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, bytes | bytearray):
            return self.scrub_bytes(bytes(value))
        if isinstance(value, Mapping):
            return {self.scrub_value(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(self.scrub_value(v) for v in value)
        if isinstance(value, list):
            return [self.scrub_value(v) for v in value]
        return value

    def scrub_record(self, record: R) -> R:
        """The record with every secret replaced; the same object when nothing changed."""
        if not self._byte_pairs:
            return record
        if isinstance(record, WsMessage):  # the hot path: one payload, usually clean
            payload = self.scrub_bytes(record.payload)
            return (
                record
                if payload is record.payload
                else dataclasses.replace(record, payload=payload)
            )
        changes = {}
        for spec in dataclasses.fields(record):
            value = getattr(record, spec.name)
            scrubbed = self.scrub_value(value)
            if scrubbed != value:
                changes[spec.name] = scrubbed
        return dataclasses.replace(record, **changes) if changes else record

    def scrub_header(self, header: Header) -> Header:
        """The header with ``source`` scrubbed and ``redacted`` set."""
        return dataclasses.replace(
            header, source=self.scrub_value(dict(header.source)), redacted=True
        )

    def redact(self, record: R) -> R:
        """Learn from ``record``, then scrub it: what a writer calls for each record."""
        self.learn_record(record)
        return self.scrub_record(record)
