"""Every spelling of a secret that the README promises to redact, for the redaction tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from urllib.parse import quote, quote_plus


def json_u_escaped(token: str, escape: Sequence[bool], upper: Sequence[bool]) -> str:
    """``token`` with the chosen characters as ``\\u00XX`` (upper or lower hex)."""
    out = []
    for char, esc, up in zip(token, escape, upper, strict=False):
        hex_code = f"{ord(char):04x}"
        out.append(f"\\u{hex_code.upper() if up else hex_code}" if esc else char)
    return "".join(out) + token[len(out) :]


def spellings(
    token: str, escape: Sequence[bool] | None = None, upper: Sequence[bool] | None = None
) -> list[str]:
    """Raw, cases, URL (single, lower-hex, plus, double), JSON (``\\/``, ``\\u``), base64.

    ``escape``/``upper`` choose which characters are ``\\u``-escaped and in which hex case;
    without them every character is escaped, once in each case.
    """
    raw = token.encode()
    b64, b64url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    everywhere = [True] * len(token)
    u_escaped = (
        [json_u_escaped(token, escape, upper or everywhere)]
        if escape is not None
        else [json_u_escaped(token, everywhere, [case] * len(token)) for case in (False, True)]
    )
    return [
        token,
        token.upper(),
        quote(token, safe=""),
        quote(token, safe="").lower(),
        quote_plus(token),
        quote(quote(token, safe=""), safe=""),
        json.dumps(token)[1:-1],
        json.dumps(token)[1:-1].replace("/", "\\/"),
        *u_escaped,
        b64,
        b64.rstrip("="),
        b64url,
        b64url.rstrip("="),
    ]
