"""Scrubbing secrets out of recordings before they are written.

Policy: every secret (the API token, every WebSocket token) becomes a stable placeholder
(``<API_TOKEN>``, ``<WS_TOKEN_1>``, ...): the same secret always gets the same placeholder, so a
redacted recording still shows *which* token a connection used.  Secrets are replaced in every
field of every record (URLs, headers, bodies, frame payloads, notes, the header's ``source``) in
every spelling :func:`spelling_pattern` covers (any letter case, URL-encoding in either hex case
and doubled, JSON ``\\/`` and ``\\uXXXX`` escapes, base64 of the secret), so no spelling of a
secret reaches the file.  Secrets shorter than :data:`MIN_SECRET_LENGTH` are never learned.

Secrets are either registered up front (the API token from the environment) or learned from the
traffic itself before the record carrying them is written: the ``t`` and ``token`` query
parameters of a URL (and its other credential parameters and ``user:pass@``), the RapidAPI key
header, and the ``token``/``server`` fields of a
``/v1/ws/new`` or ``/v1/ws/renew`` answer (``docs/protocol.md`` section 4).  Learning is
deliberately greedy: a value in a credential position is treated as secret even when it is not
one, because redacting too much is harmless and too little is not.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, AnyStr, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

from harness.core.records import Header, HttpExchange, Record, WsMessage
from harness.errors import UsageError

MIN_SECRET_LENGTH = 4
"""Shorter values are never learned (and refused when given): replacing them would mangle
unrelated bytes."""

API_PLACEHOLDER = "API_TOKEN"
WS_PLACEHOLDER = "WS_TOKEN"
CREDENTIAL_PLACEHOLDER = "CREDENTIAL"

SECRET_HEADERS = frozenset({"x-rapidapi-key", "authorization", "proxy-authorization"})
"""Request/response headers whose values are credentials."""

API_QUERY_PARAMS = frozenset({"t"})
WS_QUERY_PARAMS = frozenset({"token"})
CREDENTIAL_QUERY_PARAMS = frozenset(
    {
        "sig",
        "signature",
        "key",
        "apikey",
        "api_key",
        "access_token",
        "auth",
        "password",
        "secret",
        "credential",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
    }
)
"""Other query parameters (compared in lower case) whose values are learned as secrets."""

_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")
_JSON_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_BASE64_PADDING = "(?:=|%3[dD]|%253[dD]){0,2}"
R = TypeVar("R", bound=Record)


def is_placeholder(value: str) -> bool:
    """True for a value a redactor already wrote (``<WS_TOKEN_1>``): never learned again."""
    return _PLACEHOLDER.fullmatch(value) is not None


def secret_forms(secret: str) -> tuple[str, ...]:
    """Representative spellings of ``secret`` (tests and docs); :func:`spelling_pattern` matches
    these and every per-character mix of them."""
    encoded = secret.encode()
    b64 = base64.b64encode(encoded).decode()
    b64url = base64.urlsafe_b64encode(encoded).decode()
    forms = {
        secret,
        secret.upper(),
        secret.lower(),
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote_plus(secret, safe=""),
        quote(quote(secret, safe=""), safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        "".join(f"\\u{ord(c):04x}" for c in secret if ord(c) <= 0xFFFF),
        "".join(f"\\u{ord(c):04X}" for c in secret if ord(c) <= 0xFFFF),
        b64,
        b64.rstrip("="),
        b64url,
        b64url.rstrip("="),
    }
    return tuple(sorted(forms, key=len, reverse=True))


def _anycase(text: str) -> str:
    """A regex for ``text`` with every ASCII letter in either case."""
    return "".join(
        f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else re.escape(c) for c in text
    )


def _json_unicode(char: str) -> str:
    code = ord(char)
    units = (
        [code] if code <= 0xFFFF else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + (code & 0x3FF)]
    )
    return "".join(re.escape("\\u") + _anycase(f"{unit:04x}") for unit in units)


def _char_spellings(char: str) -> str:
    """Every spelling of one character: raw in either case, JSON ``\\/``/``\\"``-style and
    ``\\uXXXX`` escapes, ``%XX`` and double-encoded ``%25XX`` (either hex case), ``+`` for a
    space."""
    alternatives = [_anycase(char), _json_unicode(char)]
    if char in _JSON_SHORT_ESCAPES:
        alternatives.append(re.escape(_JSON_SHORT_ESCAPES[char]))
    utf8 = char.encode()
    for prefix in ("%", "%25"):
        alternatives.append("".join(prefix + _anycase(f"{byte:02x}") for byte in utf8))
    if char == " ":
        alternatives.append(r"\+")
    return "(?:" + "|".join(alternatives) + ")"


def _base64_forms(secret: str) -> tuple[str, ...]:
    """Standard and urlsafe base64 of the secret alone, without padding."""
    encoded = secret.encode()
    forms = {base64.b64encode(encoded), base64.urlsafe_b64encode(encoded)}
    return tuple(sorted(form.decode().rstrip("=") for form in forms))


def spelling_pattern(secret: str) -> str:
    """A regex matching ``secret`` in every covered spelling (see :func:`_char_spellings`),
    and its standard and urlsafe base64 (padded or not) spelled the same ways."""
    spelled = ["".join(_char_spellings(c) for c in secret)]
    for form in _base64_forms(secret):
        spelled.append("".join(_char_spellings(c) for c in form) + _BASE64_PADDING)
    return "|".join(spelled)


_STRADDLE = 5
"""An escape in the text before a spelling can swallow at most this many of its first characters
(``\\`` + ``u0041``...), so the pre-check looks for the normalized secret minus that many."""
_UNESCAPE = re.compile(rb'%(?:25)?([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})|\\(["\\/bfnrt])')
_SHORT_UNESCAPES = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f", b"n": b"\n"}
_SHORT_UNESCAPES |= {b"r": b"\r", b"t": b"\t"}


def _unescape_one(match: re.Match[bytes]) -> bytes:
    percent, unicode, short = match.groups()
    if percent is not None:
        return bytes([int(percent, 16)])
    if unicode is not None:
        return chr(int(unicode, 16)).encode("utf-8", "surrogatepass")
    return _SHORT_UNESCAPES[short]


def _canonical(data: bytes, *, unescape: bool) -> bytes:
    """Escapes decoded once, ASCII lower case, ``+`` as a space: every spelling of a secret
    becomes the canonical form of the secret (the pre-check compares these)."""
    if unescape:
        data = _UNESCAPE.sub(_unescape_one, data)
    return data.lower().replace(b"+", b" ")


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One secret's regexes and pre-check keys (None: the pre-check cannot rule it out)."""

    text: re.Pattern[str]
    data: re.Pattern[bytes]
    keys: tuple[bytes, ...] | None
    plain: tuple[bytes, ...]


@functools.lru_cache(maxsize=1024)
def _compile(secret: str) -> _Compiled:
    pattern = spelling_pattern(secret)
    forms = [f.encode() for f in (secret, *_base64_forms(secret))]
    keys: tuple[bytes, ...] | None = tuple(_canonical(f, unescape=False)[_STRADDLE:] for f in forms)
    if not secret.isascii() or "%" in secret or "\\" in secret or not all(keys or [b""]):
        keys = None  # escapes inside the secret itself make the canonical form ambiguous
    plain = tuple(f.lower() for f in forms)
    return _Compiled(re.compile(pattern), re.compile(pattern.encode()), keys, plain)


def _constant(value: AnyStr) -> Callable[[re.Match[AnyStr]], AnyStr]:
    """A ``re.sub`` replacement taken literally (no backslash or group processing)."""
    return lambda _match: value


def _literal_search(literals: Iterable[bytes]) -> re.Pattern[bytes]:
    """One regex finding any of ``literals`` (one C-level scan instead of many ``in`` tests)."""
    alternatives = sorted(set(literals), key=len, reverse=True)
    return re.compile(b"|".join(re.escape(a) for a in alternatives) or b"(?!)")


class SpellingMatcher:
    """Finds every spelling of a fixed set of secrets in text or bytes and replaces it.

    Cost is what matters (it runs on every recorded frame), so a pre-check decides which
    secrets' regexes run at all: data with no escape character (``\\``, ``%``, ``+``) and no raw
    form in any letter case is clean after one search; otherwise the data is normalized once
    (:func:`_canonical`) and only secrets whose canonical form is in it are looked for.  Longer
    secrets go first, so a secret containing another is replaced whole.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))
        self._compiled = tuple(_compile(secret) for secret in self.secrets)
        quick = {b"\\", b"%", b"+", *(f for c in self._compiled for f in c.plain)}
        self._quick = _literal_search(quick)
        keys = {key for c in self._compiled for key in c.keys or ()}
        self._keys = _literal_search(keys)
        self._always = any(c.keys is None for c in self._compiled)

    def sub_text(self, text: str, replacement: Callable[[str], str]) -> str:
        """``text`` with each spelling of secret ``s`` replaced by ``replacement(s)``."""
        for secret, compiled in self._candidates(text.encode("utf-8", "surrogatepass")):
            text = compiled.text.sub(_constant(replacement(secret)), text)
        return text

    def sub_bytes(self, data: bytes, replacement: Callable[[str], str]) -> bytes:
        """``data`` with each spelling replaced; the same object when nothing matched."""
        original = data
        for secret, compiled in self._candidates(data):
            data = compiled.data.sub(_constant(replacement(secret).encode()), data)
        return original if data == original else data

    def _candidates(self, data: bytes) -> list[tuple[str, _Compiled]]:
        if not self.secrets or self._quick.search(data.lower()) is None:
            return []
        canonical = _canonical(data, unescape=b"\\" in data or b"%" in data)
        if not self._always and self._keys.search(canonical) is None:
            return []  # the usual case for a frame with escapes but no secret
        return [
            (secret, compiled)
            for secret, compiled in zip(self.secrets, self._compiled, strict=True)
            if compiled.keys is None or any(key in canonical for key in compiled.keys)
        ]


class Redactor:
    """Replaces known secrets by stable placeholders in text, bytes and whole records.

    Pure and deterministic: placeholders are numbered in the order secrets are first seen.
    """

    def __init__(self, api_tokens: Iterable[str] = ()) -> None:
        self._placeholders: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._matcher = SpellingMatcher(())
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
        self._matcher = SpellingMatcher(self._placeholders)
        return placeholder

    # -- learning --------------------------------------------------------------------------

    def learn_url(self, url: str) -> None:
        """Learn the credentials of ``url``: ``t`` (API), ``token`` (WS), the other
        :data:`CREDENTIAL_QUERY_PARAMS` and the user and password of ``user:pass@``."""
        parts = urlsplit(url)
        for name, value in parse_qsl(parts.query, keep_blank_values=False):
            if name in API_QUERY_PARAMS:
                self.add_secret(value, kind=API_PLACEHOLDER)
            elif name in WS_QUERY_PARAMS:
                self.add_secret(value, kind=WS_PLACEHOLDER)
            elif name.lower() in CREDENTIAL_QUERY_PARAMS:
                self.add_secret(value, kind=CREDENTIAL_PLACEHOLDER)
        for part in (parts.password, parts.username):
            if part:
                self.add_secret(unquote(part), kind=CREDENTIAL_PLACEHOLDER)

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
        return self._matcher.sub_text(text, self._placeholders.__getitem__)

    def scrub_bytes(self, data: bytes) -> bytes:
        """``data`` with every secret replaced; the same object when none was there."""
        return self._matcher.sub_bytes(data, self._placeholders.__getitem__)

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
        if not self._placeholders:
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
