"""The server's behaviour profile: every section 12 decision that is a value, in one place.

``docs/protocol.md`` section 12: "Keep every one of them in one place in the code (a server
'behaviour profile'), so each can be changed by configuration.  Where a loaded recording shows
what the real server did, replay uses the recorded texts and codes (reply and error messages,
error codes, close codes and reasons); tokens, ``expires_at``, ``ts`` of replies and everything
time-dependent are always produced live."  :func:`learn_from_recording` implements that rule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from harness.core.envelopes import (
    DEFAULT_ERROR_MESSAGES,
    MISSING_PARAM,
    NOT_FOUND,
    SUBSCRIBED_MESSAGE,
    TOKEN_INVALID,
    TOKEN_NO_PERMISSION,
    TOO_MANY_REQUESTS,
    UNSUBSCRIBED_MESSAGE,
    ErrorCode,
    RestError,
    render_message,
)
from harness.core.protocol import Plan
from harness.core.records import Direction, HttpExchange, Initiator, Record, WsClose, WsMessage
from harness.errors import UsageError


@dataclass(frozen=True, slots=True)
class BehaviourProfile:
    """What the mock says and does where the docs are silent (section 12), as plain values."""

    error_messages: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(dict(DEFAULT_ERROR_MESSAGES))
    )
    """``message`` template per in-socket error code (placeholders ``{channel}``, ``{scope}``,
    ``{id}``, ``{topic}``, ``{limit}``, ``{reason}``).  Documented: "Channel STATS_REALTIME is not
    available for your plan"; section 12: "WebSocket token expired"."""

    subscribed_message: str = SUBSCRIBED_MESSAGE
    """Section 6.1: ``"message": "Successfully subscribed"``."""
    unsubscribed_message: str = UNSUBSCRIBED_MESSAGE
    """Section 12: "mirrors ``subscribed`` ... ``"message":"Successfully unsubscribed"``"."""

    token_expired_close_code: int = 4001
    """Section 12: "Token expires while connected": the error, "then close code 4001"."""
    token_expired_close_reason: str = "token expired"
    """Section 12: "... reason ``token expired``"."""

    shutdown_close_code: int = 1001
    """Not in the docs: when the mock stops (Ctrl-C, SIGTERM, a cancelled server) every open
    connection is closed with 1001 "going away" (RFC 6455 7.4.1: "a server going down"), so a
    client sees a clean close it can reconnect after, never a 1006."""
    shutdown_close_reason: str = "server shutting down"
    """Reason sent with :attr:`shutdown_close_code`."""

    default_plan: Plan = Plan.MEGA
    """Section 12: "Default plan of the mock: MEGA: all six channels"."""
    max_connections: int = 2
    """Section 12: "``max_connections`` 2 ... (the documented example)"."""
    max_subscribe_per_connection: int = 2
    """Section 12: "``max_subscribe_per_connection`` 2 (the documented example)"."""

    token_ttl_s: float = 25 * 60.0
    """Section 12: "Token TTL: 25 minutes by default, configurable"; wall clock, not replay time."""
    hourly_quota: int | None = None
    """Section 12: "Hourly quota: configurable (default unlimited)"."""

    slow_reader_max_queued_bytes: int = 1 << 20
    """Section 12 "Slow readers": a reader "more than a bounded amount behind (bytes queued)" is
    closed; this is the bound."""
    slow_reader_close_code: int = 1008
    """Section 12: "closed with code 1008 and a reason"."""
    slow_reader_close_reason: str = "client too slow: send queue limit exceeded"

    subscription_settle_s: float = 0.05
    """Replay: a token's timeline starts once its subscriptions have been unchanged this long
    (section 12 says "starting at its first subscription"; the window makes a client that sends
    its subscribe commands back to back get one start for all of them, so what it receives does
    not depend on how fast it sends them).  A topic added after the start is caught up instead:
    the frames of the current lap it would already have received are sent to that connection
    first, in recorded order (see :mod:`harness.core.timeline`)."""
    subscription_settle_max_s: float = 1.0
    """Replay: a timeline starts at most this long after the token's first subscription, even
    while the subscriptions keep changing."""

    max_message_fragments: int = 1024
    """Most frames (a first frame and its continuations) one client message may span; past it
    the connection is closed with 1009, as a message over the size limit is.  RFC 6455 puts no
    bound on fragments, so without one a flood of empty continuation frames would be held in
    memory without ever counting toward the size limit."""

    missing_auth: RestError = MISSING_PARAM
    """Section 12: "No ``t`` and no RapidAPI key: 400, code 1, ``Missing t param``"."""
    unknown_token: RestError = TOKEN_INVALID
    """Section 12: "Unknown API token: 401, code 2, ``Token is invalid``"; also the refusal of a
    WS handshake "with a missing, unknown or expired token" (HTTP 401, same envelope)."""
    no_websocket_plan: RestError = TOKEN_NO_PERMISSION
    """Section 12: "``/v1/ws/new`` on a plan without WebSocket (BASIC): 401, code 4"; also
    "``/v1/token/status`` over RapidAPI: 401, code 4"."""
    renew_without_token: RestError = NOT_FOUND
    """Section 12: ``/v1/ws/renew`` with "no active token: 404 code 6"."""
    quota_exceeded: RestError = TOO_MANY_REQUESTS
    """Section 12: "past it 429, code 7, ``Too many requests``"; also the refusal of a handshake
    beyond ``max_connections`` ("HTTP 429 and the envelope (code 7, ``Too many requests``)")."""
    unknown_path: RestError = NOT_FOUND
    """Section 12: "Unknown path: 404, code 6, ``Not Found``"."""

    cors_allow_origin: str = "*"
    """Section 12 "Browsers": "every REST response carries ``Access-Control-Allow-Origin: *``"."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.token_ttl_s) and self.token_ttl_s > 0):
            raise UsageError(f"token TTL must be > 0 seconds, got {self.token_ttl_s!r}")
        for name in ("max_connections", "max_subscribe_per_connection", "hourly_quota"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise UsageError(f"{name.replace('_', '-')} must be >= 0, got {value}")

    def with_limits(
        self,
        *,
        ttl_s: float | None = None,
        plan: Plan | None = None,
        max_connections: int | None = None,
        max_subscribe_per_connection: int | None = None,
        hourly_quota: int | None = None,
    ) -> BehaviourProfile:
        """This profile with the limits that are given (``None``: keep this profile's).

        The one way callers (the CLI, the plugin, tests) set a server's limits: every token it
        issues carries them (:class:`harness.core.mock.token_table.WsToken`)."""
        changes: dict[str, Any] = {
            "token_ttl_s": ttl_s,
            "default_plan": plan,
            "max_connections": max_connections,
            "max_subscribe_per_connection": max_subscribe_per_connection,
            "hourly_quota": hourly_quota,
        }
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def message(self, code: str, **values: object) -> str:
        """The message for error ``code``, template filled with ``values``."""
        return render_message(self.error_messages, code, **values)


_REST_FIELDS = (
    "missing_auth",
    "unknown_token",
    "no_websocket_plan",
    "renew_without_token",
    "quota_exceeded",
    "unknown_path",
)

DEFAULT_PROFILE = BehaviourProfile()


def learn_from_recording(
    records: Iterable[Record], base: BehaviourProfile = DEFAULT_PROFILE
) -> BehaviourProfile:
    """``base`` with every text and code the recording shows the real server using.

    Learned: in-socket error messages per code (values of the client's command that provoked
    them, and the token's subscription limit, become placeholders again), the ``subscribed`` and
    ``unsubscribed`` message texts, REST error messages per (HTTP status, code), and the close
    code and reason of a server close that follows a ``TOKEN_EXPIRED`` error.  The first
    occurrence wins.  Tokens, times and limits are never taken from the recording.
    """
    learner = _Learner()
    for record in records:
        learner.feed(record)
    return learner.apply(base)


class _Learner:
    """Collects what the recording shows, one record at a time (constant memory per connection)."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}
        self.replies: dict[str, str] = {}
        self.rest: dict[tuple[int, int], str] = {}
        self.expiry_close: tuple[int, str] | None = None
        self._last_command: dict[int, Mapping[str, Any]] = {}
        self._expired_conns: set[int] = set()
        self._limit: int | None = None

    def feed(self, record: Record) -> None:
        if isinstance(record, HttpExchange):
            self._http(record)
        elif isinstance(record, WsMessage):
            obj = _json_object(record.payload) if record.is_text else None
            if record.direction is Direction.CLIENT_TO_SERVER:
                self._last_command[record.conn_id] = obj or {}
            elif obj is not None:
                self._server_frame(record.conn_id, obj)
        elif isinstance(record, WsClose):
            self._close(record)

    def _http(self, record: HttpExchange) -> None:
        body = _json_object(record.body)
        if body is None:
            return
        result = body.get("result")
        if record.status == 200 and isinstance(result, list) and result:
            limit = (
                result[0].get("max_subscribe_per_connection")
                if isinstance(result[0], dict)
                else None
            )
            if isinstance(limit, int) and not isinstance(limit, bool):
                self._limit = limit
        errors = body.get("errors")
        if record.status >= 400 and isinstance(errors, list) and len(errors) == 1:
            error = errors[0]
            if isinstance(error, dict):
                code, message = error.get("code"), error.get("message")
                if isinstance(code, int) and isinstance(message, str):
                    self.rest.setdefault((record.status, code), message)

    def _server_frame(self, conn_id: int, obj: Mapping[str, Any]) -> None:
        kind, message = obj.get("type"), obj.get("message")
        if not isinstance(message, str):
            return
        if kind in ("subscribed", "unsubscribed"):
            self.replies.setdefault(kind, message)
        elif kind == "error" and isinstance(obj.get("code"), str):
            code = obj["code"]
            context = self._last_command.get(conn_id, {})
            self.errors.setdefault(code, _templatize(message, context, self._limit))
            if code == ErrorCode.TOKEN_EXPIRED:
                self._expired_conns.add(conn_id)

    def _close(self, record: WsClose) -> None:
        caused = record.conn_id in self._expired_conns
        self._expired_conns.discard(record.conn_id)
        self._last_command.pop(record.conn_id, None)
        server_closed = record.initiator is Initiator.SERVER and record.code is not None
        if caused and server_closed and self.expiry_close is None and record.code is not None:
            self.expiry_close = (record.code, record.reason)

    def apply(self, base: BehaviourProfile) -> BehaviourProfile:
        changes: dict[str, Any] = {}
        if self.errors:
            changes["error_messages"] = MappingProxyType({**base.error_messages, **self.errors})
        if "subscribed" in self.replies:
            changes["subscribed_message"] = self.replies["subscribed"]
        if "unsubscribed" in self.replies:
            changes["unsubscribed_message"] = self.replies["unsubscribed"]
        if self.expiry_close is not None:
            changes["token_expired_close_code"] = self.expiry_close[0]
            changes["token_expired_close_reason"] = self.expiry_close[1]
        for name in _REST_FIELDS:
            current: RestError = getattr(base, name)
            learned = self.rest.get((current.http_status, current.code))
            if learned is not None and "{param}" not in current.message:
                changes[name] = dataclasses.replace(current, message=learned)
        return dataclasses.replace(base, **changes)


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _templatize(message: str, command: Mapping[str, Any], limit: int | None) -> str:
    """Turn a recorded message back into a template: the values of the command that provoked it
    become ``{topic}``, ``{channel}``, ``{id}``; the token's limit becomes ``{limit}``."""
    values: dict[str, str] = {}
    channel, scope, ident = command.get("channel"), command.get("scope"), command.get("id")
    if isinstance(channel, str) and channel:
        values[channel] = "{channel}"
        if isinstance(scope, str) and ":" in scope:
            scope, _, ident = scope.partition(":")
        if scope == "all":
            values[f"{channel}:all"] = "{topic}"
        elif isinstance(scope, str) and isinstance(ident, str) and ident:
            values[f"{channel}:{scope}:{ident}"] = "{topic}"
            values[ident] = "{id}"
    if limit is not None:
        values[str(limit)] = "{limit}"
    escaped = message.replace("{", "{{").replace("}", "}}")
    if not values:
        return escaped
    literals = sorted(
        (re.escape(v.replace("{", "{{").replace("}", "}}")) for v in values), key=len, reverse=True
    )
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(literals) + r")(?![\w])")
    placeholders = {k.replace("{", "{{").replace("}", "}}"): v for k, v in values.items()}
    return pattern.sub(lambda m: placeholders[m.group(0)], escaped)
