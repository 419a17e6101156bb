"""Sans-IO state of one WebSocket connection on the mock server.

:class:`WsSession` takes each client frame and returns the replies to send, as wsproto's
``Connection`` takes bytes and yields events: no sockets, no clock (``now_ms`` comes in).  It
enforces the token's plan (``allowed_channels``, ``max_subscribe_per_connection``) and the
section 12 decisions held by a :class:`~harness.core.profile.BehaviourProfile`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.core.envelopes import (
    ErrorCode,
    error_reply,
    pong_reply,
    subscribed_reply,
    unsubscribed_reply,
)
from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile
from harness.core.protocol import (
    Channel,
    Command,
    FrameInfo,
    Ping,
    Subscribe,
    Topic,
    parse_command,
    topic_matches,
)
from harness.errors import ProtocolViolation, UsageError


class WsSession:
    """One connection's subscriptions and its answers to client commands.

    Section 12 policy: every subscription, ``all`` included, takes one slot; a duplicate
    subscribe is answered ``subscribed`` again and takes no slot; unsubscribe must name exactly
    a held topic (else ``NOT_SUBSCRIBED``, others untouched); errors never close the connection.
    """

    def __init__(
        self,
        allowed_channels: Iterable[Channel],
        max_subscriptions: int,
        profile: BehaviourProfile = DEFAULT_PROFILE,
    ) -> None:
        if max_subscriptions < 0:
            raise UsageError(f"max_subscriptions must be >= 0, got {max_subscriptions}")
        self.allowed_channels = frozenset(allowed_channels)
        self.max_subscriptions = max_subscriptions
        self.profile = profile
        self._topics: dict[Topic, None] = {}  # insertion-ordered set
        self.last_command: Command | None = None
        """The command the last frame held, ``None`` if it was rejected as malformed."""

    @property
    def subscriptions(self) -> frozenset[Topic]:
        return frozenset(self._topics)

    @property
    def subscription_count(self) -> int:
        return len(self._topics)

    def ordered_subscriptions(self) -> tuple[Topic, ...]:
        """Held topics in the order they were subscribed."""
        return tuple(self._topics)

    def receive(self, payload: bytes | str, *, is_text: bool, now_ms: int) -> list[dict[str, Any]]:
        """Handle one client frame; return the replies to send, in order (always exactly one)."""
        try:
            command = parse_command(payload, is_text=is_text, messages=self.profile.error_messages)
        except ProtocolViolation as violation:
            self.last_command = None
            return [violation.reply]
        self.last_command = command
        return [self.handle(command, now_ms=now_ms)]

    def handle(self, command: Command, *, now_ms: int) -> dict[str, Any]:
        """Apply an already parsed command; return the reply."""
        if isinstance(command, Ping):
            return pong_reply(now_ms)
        if isinstance(command, Subscribe):
            return self._subscribe(command.topic)
        return self._unsubscribe(command.topic)

    def _subscribe(self, topic: Topic) -> dict[str, Any]:
        if topic.channel not in self.allowed_channels:
            return self._error(ErrorCode.CHANNEL_NOT_ALLOWED, topic)
        if topic not in self._topics:
            if len(self._topics) >= self.max_subscriptions:
                return self._error(ErrorCode.SUBSCRIPTION_LIMIT, topic)
            self._topics[topic] = None
        return subscribed_reply(topic, self.profile.subscribed_message)

    def _unsubscribe(self, topic: Topic) -> dict[str, Any]:
        if topic not in self._topics:
            return self._error(ErrorCode.NOT_SUBSCRIBED, topic)
        del self._topics[topic]
        return unsubscribed_reply(topic, self.profile.unsubscribed_message)

    def _error(self, code: ErrorCode, topic: Topic) -> dict[str, Any]:
        message = self.profile.message(
            code,
            channel=topic.channel,
            scope=topic.scope,
            id=topic.id or "",
            topic=topic.key,
            limit=self.max_subscriptions,
        )
        return error_reply(code, message)

    def wants(self, info: FrameInfo) -> bool:
        """Does any held subscription receive this event frame (section 12 "Replay routing")?"""
        return any(topic_matches(topic, info) for topic in self._topics)

    def expired_reply(self) -> dict[str, Any]:
        """Section 12: the ``TOKEN_EXPIRED`` error, sent just before :attr:`expired_close`."""
        return error_reply(ErrorCode.TOKEN_EXPIRED, self.profile.message(ErrorCode.TOKEN_EXPIRED))

    @property
    def expired_close(self) -> tuple[int, str]:
        """Close code and reason after :meth:`expired_reply` (default 4001, ``token expired``)."""
        return (self.profile.token_expired_close_code, self.profile.token_expired_close_reason)
