"""What the service says back: REST envelopes, token results, WebSocket replies, error texts.

Pure dict builders whose key order follows the documented examples, so ``json.dumps`` of a built
value reads like ``docs/protocol.md``.  Every default text here is data that
:class:`harness.core.profile.BehaviourProfile` carries and a recording may override (section 12:
"replay uses the recorded texts and codes").
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# --- wire JSON ------------------------------------------------------------------------------


def compact_json_text(value: Any) -> str:
    """Compact JSON as the service writes it (``JSON.stringify`` style: no spaces, UTF-8 kept).

    The one encoder of everything the harness itself says on the wire or writes as a frame.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compact_json(value: Any) -> bytes:
    """:func:`compact_json_text` as UTF-8 bytes."""
    return compact_json_text(value).encode()


# --- REST (sections 2.3, 2.4, 4) ------------------------------------------------------------


def envelope(
    status: int,
    result: list[Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Section 2.3: every REST body, success or error, has ``status/errors/pagination/result``."""
    return {
        "status": status,
        "errors": list(errors or []),
        "pagination": [],
        "result": list(result or []),
    }


def error_envelope(status: int, code: int, message: str) -> dict[str, Any]:
    """Section 2.4: "only one error at time", so ``errors`` always has exactly one element."""
    return envelope(status, errors=[{"code": code, "message": message}])


@dataclass(frozen=True, slots=True)
class RestError:
    """One row of the section 2.4 error table: HTTP status, ``errors[].code`` and message.

    ``message`` may hold ``{param}`` (the table's ``XXX``), filled in by :meth:`body`.
    """

    http_status: int
    code: int
    message: str

    def text(self, param: str = "t") -> str:
        return self.message.replace("{param}", param)

    def body(self, param: str = "t") -> dict[str, Any]:
        """The full error envelope for this row."""
        return error_envelope(self.http_status, self.code, self.text(param))


NOT_FOUND = RestError(404, 6, "Not Found")
MISSING_PARAM = RestError(400, 1, "Missing {param} param")
WRONG_PARAM = RestError(400, 7, "Wrong {param} param")
TOKEN_INVALID = RestError(401, 2, "Token is invalid")
TOKEN_SUSPENDED = RestError(401, 3, "Token is suspended")
TOKEN_NO_PERMISSION = RestError(401, 4, "Token does not have permission")
TOKEN_IP_INVALID = RestError(401, 5, "Token IP is invalid")
TOO_MANY_REQUESTS = RestError(429, 7, "Too many requests")

REST_ERRORS: tuple[RestError, ...] = (
    NOT_FOUND,
    MISSING_PARAM,
    WRONG_PARAM,
    TOKEN_INVALID,
    TOKEN_SUSPENDED,
    TOKEN_NO_PERMISSION,
    TOKEN_IP_INVALID,
    TOO_MANY_REQUESTS,
)
"""The documented table in document order.  Code 7 appears twice: tell them apart by status."""


EXPIRES_AT_FORMAT = "%Y-%m-%d %H:%M:%S"
"""Section 4.1 ``expires_at`` / ``expire_date``: UTC without zone suffix."""


def format_expires_at(epoch_seconds: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC without zone suffix (section 4.1); fractions are dropped."""
    moment = datetime.fromtimestamp(int(epoch_seconds // 1), tz=UTC)
    return moment.strftime(EXPIRES_AT_FORMAT)


def parse_expires_at(text: str) -> float | None:
    """:func:`format_expires_at` read back as epoch seconds; None when malformed."""
    try:
        moment = datetime.strptime(text.strip(), EXPIRES_AT_FORMAT)
    except (ValueError, AttributeError):
        return None
    return moment.replace(tzinfo=UTC).timestamp()


def ws_token_result(
    token: str,
    server: str,
    max_connections: int,
    max_subscribe_per_connection: int,
    allowed_channels: Iterable[str],
    expires_at_epoch: float,
    is_new: bool,
) -> dict[str, Any]:
    """``result[0]`` of ``/v1/ws/new`` (and of ``/v1/ws/renew``, section 12), documented order.

    ``allowed_channels`` is given in the caller's order; pass channels in :class:`Channel` order
    to match the service's listing.
    """
    return {
        "is_new": is_new,
        "token": token,
        "server": server,
        "max_connections": max_connections,
        "max_subscribe_per_connection": max_subscribe_per_connection,
        "allowed_channels": [str(channel) for channel in allowed_channels],
        "expires_at": format_expires_at(expires_at_epoch),
    }


def token_status_result(
    *,
    token: str,
    plan: str,
    expire_date_epoch: float,
    status: str = "active",
    allowed_ips: str = "all",
    reference: str = "",
    cadence: str = "1m",
    next_amount: str = "0.00",
    next_payment_epoch: float | None = None,
    requests_p_hour: int = 3600,
    pagination_items: int = 50,
    last_request_epoch: float | None = None,
    last_hour_requests: int = 0,
) -> dict[str, Any]:
    """``result[0]`` of ``/v1/token/status`` (section 4.3), documented keys, order and types.

    Dates are ``YYYY-MM-DD HH:MM:SS`` strings; ``next_amount`` stays a string (``"75.00"``) as
    documented.  A date the mock does not know (no payment due, no request yet) is ``null``.
    """
    return {
        "token": token,
        "allowed_ips": allowed_ips,
        "plan": str(plan),
        "expire_date": format_expires_at(expire_date_epoch),
        "status": status,
        "reference": reference,
        "payment": {
            "cadence": cadence,
            "next_amount": next_amount,
            "next_payment": _optional_date(next_payment_epoch),
        },
        "usage": {
            "requests_p_hour": requests_p_hour,
            "pagination_items": pagination_items,
            "last_request_date": _optional_date(last_request_epoch),
            "last_hour_requests": last_hour_requests,
        },
    }


def _optional_date(epoch_seconds: float | None) -> str | None:
    return None if epoch_seconds is None else format_expires_at(epoch_seconds)


# --- WebSocket replies (section 6, section 12) -----------------------------------------------


class ErrorCode(enum.StrEnum):
    """In-socket ``error`` codes: the four documented subscribe codes plus section 12's own."""

    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    SUBSCRIPTION_LIMIT = "SUBSCRIPTION_LIMIT"
    INVALID_CHANNEL = "INVALID_CHANNEL"
    INVALID_SCOPE = "INVALID_SCOPE"
    INVALID_COMMAND = "INVALID_COMMAND"
    NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"


SUBSCRIBED_MESSAGE = "Successfully subscribed"
"""Section 6.1, documented."""
UNSUBSCRIBED_MESSAGE = "Successfully unsubscribed"
"""Section 12: the unsubscribe reply mirrors ``subscribed``."""

MESSAGE_FIELDS = ("channel", "scope", "id", "topic", "limit", "reason")
"""Placeholders an error message template may use (``str.format`` syntax)."""

DEFAULT_ERROR_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        ErrorCode.CHANNEL_NOT_ALLOWED: "Channel {channel} is not available for your plan",
        ErrorCode.SUBSCRIPTION_LIMIT: (
            "Subscription limit reached: at most {limit} subscriptions per connection"
        ),
        ErrorCode.INVALID_CHANNEL: "Invalid channel: {reason}",
        ErrorCode.INVALID_SCOPE: "Invalid scope: {reason}",
        ErrorCode.INVALID_COMMAND: "Invalid command: {reason}",
        ErrorCode.NOT_SUBSCRIBED: "Not subscribed to {topic}",
        ErrorCode.TOKEN_EXPIRED: "WebSocket token expired",
    }
)
"""Message template per error code.  Only CHANNEL_NOT_ALLOWED's text is documented (section 6.1)
and TOKEN_EXPIRED's is fixed by section 12; the rest are this project's wording."""


def render_message(messages: Mapping[str, str], code: str, **values: object) -> str:
    """Fill ``code``'s template; placeholders without a value render as empty text."""
    template = messages.get(code) or DEFAULT_ERROR_MESSAGES.get(code) or code
    fields = {name: "" for name in MESSAGE_FIELDS} | {k: str(v) for k, v in values.items()}
    try:
        return template.format_map(fields)
    except (KeyError, IndexError, ValueError):
        return template  # a hand-edited template with stray braces is sent verbatim


def error_reply(code: str, message: str) -> dict[str, Any]:
    """``{"type":"error","code":...,"message":...}``: no channel/scope echo, as documented."""
    return {"type": "error", "code": str(code), "message": message}


def pong_reply(ts_ms: int) -> dict[str, Any]:
    """Section 6.4: ``{"type":"pong","ts":<server epoch ms>}``."""
    return {"type": "pong", "ts": int(ts_ms)}
