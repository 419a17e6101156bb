"""Sans-IO state of one WebSocket connection on the mock server.

:class:`WsSession` takes each client frame and returns one typed event, as wsproto's
``Connection`` takes bytes and yields events: no sockets, no clock (``now_ms`` comes in).  Each
event carries the ``body`` the server sends back (section 7.2); the I/O layer decides only
whether and when to send it.  The session enforces the token's plan (``allowed_channels``,
``max_subscribe_per_connection``) and the section 12 decisions held by a
:class:`~harness.core.profile.BehaviourProfile`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from harness.core.envelopes import ErrorCode, error_reply, pong_reply
from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile
from harness.core.protocol import (
    Channel,
    Command,
    FrameInfo,
    Ping,
    Subscribe,
    Topic,
    Unsubscribe,
    parse_command,
    subscribed_reply,
    topic_matches,
    unsubscribed_reply,
)
from harness.errors import ProtocolViolation, UsageError


@dataclass(frozen=True, slots=True)
class Reply:
    """The outcome of one client frame; ``body`` is the JSON object the server answers with."""

    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Subscribed(Reply):
    """``topic`` is held; ``added`` is false for a duplicate subscribe (no new slot)."""

    topic: Topic
    added: bool


@dataclass(frozen=True, slots=True)
class Unsubscribed(Reply):
    """``topic`` is no longer held."""

    topic: Topic


@dataclass(frozen=True, slots=True)
class Pong(Reply):
    """A ping, answered with the server time."""


@dataclass(frozen=True, slots=True)
class Refused(Reply):
    """An error reply (``code``); ``command`` is None when the frame was not a command at all."""

    code: str
    command: Command | None


SessionEvent: TypeAlias = Subscribed | Unsubscribed | Pong | Refused


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

    @property
    def subscriptions(self) -> frozenset[Topic]:
        return frozenset(self._topics)

    @property
    def subscription_count(self) -> int:
        return len(self._topics)

    def ordered_subscriptions(self) -> tuple[Topic, ...]:
        """Held topics in the order they were subscribed."""
        return tuple(self._topics)

    def receive(self, payload: bytes | str, *, is_text: bool, now_ms: int) -> SessionEvent:
        """Handle one client frame: exactly one event, whose ``body`` is the reply to send."""
        try:
            command = parse_command(payload, is_text=is_text, messages=self.profile.error_messages)
        except ProtocolViolation as violation:
            return Refused(violation.reply, violation.code, None)
        return self.handle(command, now_ms=now_ms)

    def handle(self, command: Command, *, now_ms: int) -> SessionEvent:
        """Apply an already parsed command."""
        if isinstance(command, Ping):
            return Pong(pong_reply(now_ms))
        if isinstance(command, Subscribe):
            return self._subscribe(command)
        return self._unsubscribe(command)

    def _subscribe(self, command: Subscribe) -> SessionEvent:
        topic = command.topic
        if topic.channel not in self.allowed_channels:
            return self._refuse(ErrorCode.CHANNEL_NOT_ALLOWED, command)
        added = topic not in self._topics
        if added:
            if len(self._topics) >= self.max_subscriptions:
                return self._refuse(ErrorCode.SUBSCRIPTION_LIMIT, command)
            self._topics[topic] = None
        return Subscribed(subscribed_reply(topic, self.profile.subscribed_message), topic, added)

    def _unsubscribe(self, command: Unsubscribe) -> SessionEvent:
        topic = command.topic
        if topic not in self._topics:
            return self._refuse(ErrorCode.NOT_SUBSCRIBED, command)
        del self._topics[topic]
        return Unsubscribed(unsubscribed_reply(topic, self.profile.unsubscribed_message), topic)

    def _refuse(self, code: ErrorCode, command: Subscribe | Unsubscribe) -> Refused:
        topic = command.topic
        message = self.profile.message(
            code,
            channel=topic.channel,
            scope=topic.scope,
            id=topic.id or "",
            topic=topic.key,
            limit=self.max_subscriptions,
        )
        return Refused(error_reply(code, message), str(code), command)

    def wants(self, info: FrameInfo) -> bool:
        """Does any held subscription receive this event frame (section 12 "Replay routing")?

        A frame that is no event of a channel (garbage in a generated hostile feed: recorded
        feeds hold events only) has nothing to route by: every connection holding a
        subscription receives it, as a pushed one goes to every connection."""
        if not info.is_event:
            return bool(self._topics)
        return any(topic_matches(topic, info) for topic in self._topics)

    def expired_reply(self) -> dict[str, Any]:
        """Section 12: the ``TOKEN_EXPIRED`` error, sent just before :attr:`expired_close`."""
        return error_reply(ErrorCode.TOKEN_EXPIRED, self.profile.message(ErrorCode.TOKEN_EXPIRED))

    @property
    def expired_close(self) -> tuple[int, str]:
        """Close code and reason after :meth:`expired_reply` (default 4001, ``token expired``)."""
        return (self.profile.token_expired_close_code, self.profile.token_expired_close_reason)
