"""The recorder's decisions, pure: when to renew, what each failure means, which reply is whose.

Kept free of I/O so every rule is unit-tested directly; the trio code only asks and obeys.

Renewal timing (``docs/protocol.md`` section 1 step 6): renew ``margin_s`` (5 minutes) before
``expires_at``, as the docs recommend.  A token that lives less than twice the margin (tests,
or a token close to expiry when first seen) is renewed at half of its remaining lifetime
instead, so there is always time left to retry a failed renewal.
"""

from __future__ import annotations

import enum
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.core.protocol import FrameInfo, Topic

PING_INTERVAL_S = 30.0
"""Application ping period, per the docs' best practice (section 6.4)."""
PONG_TIMEOUT_S = 10.0
"""A ping unanswered this long means the connection is dead: close it and reconnect."""
RENEW_MARGIN_S = 300.0
"""Renew this long before ``expires_at`` (section 1)."""
STABLE_AFTER_S = 10.0
"""A connection that lived this long resets the reconnect backoff to its first step."""

SUBSCRIBE_ERROR_CODES = frozenset(
    {"CHANNEL_NOT_ALLOWED", "SUBSCRIPTION_LIMIT", "INVALID_CHANNEL", "INVALID_SCOPE"}
)
TOKEN_EXPIRED_CLOSE_CODES = frozenset({4001})
"""Close codes after which the WS token is known to be dead (section 12)."""
TOKEN_REFUSED_HANDSHAKE = frozenset({401, 403})
"""Handshake statuses after which a fresh WS token is needed."""


def renew_delay_s(expires_at: float, now: float, *, margin_s: float = RENEW_MARGIN_S) -> float:
    """Seconds from ``now`` until the renewal of a token expiring at ``expires_at`` is due."""
    remaining = expires_at - now
    if remaining <= 0:
        return 0.0
    if remaining > 2 * margin_s:
        return remaining - margin_s
    return remaining / 2


class RestAction(enum.Enum):
    """What to do after a REST call failed."""

    RETRY = "retry"  # transient: network error, 429, 5xx: back off and try again
    NEW_TOKEN = "new_token"  # renew found no active token: ask /v1/ws/new instead
    FATAL = "fatal"  # the API token itself is refused: nothing can proceed


def classify_rest_failure(status: int, *, renewing: bool = False) -> RestAction:
    """Map a failed REST status (0: no answer) to an action (error table, section 2.4)."""
    if status in (400, 401, 403):
        return RestAction.FATAL
    if status == 404:
        return RestAction.NEW_TOKEN if renewing else RestAction.FATAL
    return RestAction.RETRY


def retry_after_s(headers: Iterable[tuple[str, str]]) -> float | None:
    """A server's hint how long to wait: ``Retry-After``, else ``X-Rate-Limit-Reset`` seconds."""
    found: dict[str, str] = {name.lower(): value for name, value in headers}
    for name in ("retry-after", "x-rate-limit-reset"):
        try:
            value = float(found[name])
        except (KeyError, ValueError):
            continue
        if value >= 0:
            return value
    return None


def needs_new_token(*, close_code: int | None = None, handshake_status: int | None = None) -> bool:
    """True when a close or refused handshake says the WS token is no longer usable."""
    return close_code in TOKEN_EXPIRED_CLOSE_CODES or handshake_status in TOKEN_REFUSED_HANDSHAKE


def error_code(payload: bytes) -> str | None:
    """The ``code`` of a server ``error`` frame, None for anything else."""
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    code = document.get("code") if isinstance(document, dict) else None
    return code if isinstance(code, str) else None


@dataclass(frozen=True, slots=True)
class SubscriptionOutcome:
    """The server's answer to one subscribe: accepted, or refused with an error code."""

    topic: Topic
    accepted: bool
    code: str | None = None


class SubscriptionTracker:
    """Pairs subscribe commands of one connection with the server's replies.

    ``subscribed`` replies name their topic; error replies do not (section 6.1), so an error is
    attributed to the oldest subscribe still waiting for an answer.
    """

    def __init__(self) -> None:
        self._pending: deque[Topic] = deque()

    def sent(self, topic: Topic) -> None:
        self._pending.append(topic)

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def on_reply(self, info: FrameInfo, code: str | None) -> SubscriptionOutcome | None:
        """Feed a non-event frame; return the outcome it settles, if any."""
        if info.type == "subscribed":
            topic = info.topic
            match = next(
                (t for t in self._pending if topic is not None and t.key == topic.key), None
            )
            if match is None and self._pending:
                match = self._pending[0]
            if match is None:
                return None
            self._pending.remove(match)
            return SubscriptionOutcome(match, True)
        if info.type == "error" and code in SUBSCRIBE_ERROR_CODES and self._pending:
            return SubscriptionOutcome(self._pending.popleft(), False, code)
        return None


class RefusalLedger:
    """Across all connections: which topics the server refused, to tell when nothing can proceed."""

    def __init__(self, topics: Iterable[Topic]) -> None:
        self._all = frozenset(topic.key for topic in topics)
        self._refused: dict[str, str | None] = {}

    def record(self, outcome: SubscriptionOutcome) -> None:
        if outcome.accepted:
            self._refused.pop(outcome.topic.key, None)
        else:
            self._refused[outcome.topic.key] = outcome.code

    @property
    def refused(self) -> Mapping[str, str | None]:
        return dict(self._refused)

    @property
    def all_refused(self) -> bool:
        return bool(self._all) and self._all <= self._refused.keys()
