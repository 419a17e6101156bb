"""The WebSocket protocol as data: channels, plans, topics, commands and server frames.

Sans-IO and pure: :func:`parse_command` turns a client frame into a frozen command or raises
:class:`~harness.errors.ProtocolViolation` carrying the ``error`` reply to send back;
:func:`classify_frame` says what a server frame is; :func:`topic_matches` is the section 12
"Replay routing" rule.  REST envelopes, token results and reply builders live in
:mod:`harness.core.envelopes` (``envelope``, ``error_envelope`` and ``format_expires_at`` are
re-exported here).
"""

from __future__ import annotations

import enum
import functools
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias

import msgspec

from harness.core.envelopes import (
    DEFAULT_ERROR_MESSAGES,
    SUBSCRIBED_MESSAGE,
    UNSUBSCRIBED_MESSAGE,
    ErrorCode,
    compact_json_text,
    envelope,
    error_envelope,
    error_reply,
    format_expires_at,
    pong_reply,
    render_message,
)
from harness.errors import HarnessError, ProtocolViolation, UsageError

__all__ = [
    "DEFAULT_ERROR_MESSAGES",
    "ECHO_CHANNELS",
    "PLAN_CHANNELS",
    "REPLY_TYPES",
    "Channel",
    "Command",
    "ErrorCode",
    "FrameInfo",
    "Ping",
    "Plan",
    "Scope",
    "Subscribe",
    "Topic",
    "Unsubscribe",
    "classify_frame",
    "encode_command",
    "envelope",
    "error_envelope",
    "format_expires_at",
    "parse_command",
    "pong_reply",
    "subscribed_reply",
    "topic_matches",
    "topic_receives",
    "unsubscribed_reply",
]


class Channel(enum.StrEnum):
    """The six channels of section 8, in the order the channels page lists them."""

    MAIN = "MAIN"
    MAIN_REALTIME = "MAIN_REALTIME"
    STATS = "STATS"
    ODDS = "ODDS"
    STATS_REALTIME = "STATS_REALTIME"
    ODDS_REALTIME = "ODDS_REALTIME"


class Plan(enum.StrEnum):
    """Subscription plans (section 3)."""

    BASIC = "BASIC"
    PRO = "PRO"
    ULTRA = "ULTRA"
    MEGA = "MEGA"


PLAN_CHANNELS: Mapping[Plan, frozenset[Channel]] = MappingProxyType(
    {
        Plan.BASIC: frozenset(),
        Plan.PRO: frozenset({Channel.MAIN}),
        Plan.ULTRA: frozenset({Channel.MAIN, Channel.STATS, Channel.ODDS}),
        Plan.MEGA: frozenset(Channel),
    }
)
"""Section 3 table; MEGA includes MAIN_REALTIME (section 4.1 says a MEGA mock should)."""

ECHO_CHANNELS: frozenset[Channel] = frozenset({Channel.STATS, Channel.ODDS})
"""Channels whose frames echo the subscription (``scope``/``id``) instead of carrying ``matchId``
(section 7.1); section 12 routes them by exact topic."""

REPLY_TYPES: frozenset[str] = frozenset({"subscribed", "unsubscribed", "pong", "error"})
"""Frame ``type`` values that answer a command rather than report an event."""


class Scope(enum.StrEnum):
    """Subscription scopes (section 6.1)."""

    ALL = "all"
    MATCH = "match"
    LEAGUE = "league"


@dataclass(frozen=True, slots=True)
class Topic:
    """One subscription: channel, scope and, for ``match``/``league``, a non-empty string id."""

    channel: Channel
    scope: Scope
    id: str | None = None

    def __post_init__(self) -> None:
        if (self.scope is Scope.ALL) != (self.id is None) or self.id == "":
            wanted = "no id" if self.scope is Scope.ALL else "a non-empty id"
            raise UsageError(f"scope {self.scope} needs {wanted}, got id={self.id!r}")

    @property
    def key(self) -> str:
        """``topicKey`` of section 6.1: ``{CHANNEL}:all`` or ``{CHANNEL}:{scope}:{id}``."""
        if self.id is None:
            return f"{self.channel}:all"
        return f"{self.channel}:{self.scope}:{self.id}"

    def __str__(self) -> str:
        return self.key

    @classmethod
    def parse(cls, spec: str) -> Topic:
        """Parse the CLI form ``CHANNEL[:SCOPE[:ID]]`` (``STATS:match:12345``); scope defaults to
        ``all``.  Channel names are case-insensitive here, as a convenience for typing."""
        channel_text, _, rest = spec.partition(":")
        scope_text, _, ident = rest.partition(":")
        try:
            channel = Channel(channel_text.upper())
        except ValueError:
            names = ", ".join(Channel)
            raise UsageError(
                f"bad subscription {spec!r}: unknown channel {channel_text!r} (one of {names})"
            ) from None
        try:
            scope = Scope(scope_text.lower() or "all")
        except ValueError:
            raise UsageError(
                f"bad subscription {spec!r}: scope must be all, match or league"
            ) from None
        if (scope is Scope.ALL) == bool(ident):
            form = f"{channel}:all" if scope is Scope.ALL else f"{channel}:{scope}:ID"
            raise UsageError(f"bad subscription {spec!r}: expected {form}")
        return cls(channel, scope, ident or None)


@dataclass(frozen=True, slots=True)
class Subscribe:
    """``{"action":"subscribe",...}`` normalised to a topic, whichever scope encoding was used."""

    topic: Topic


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """``{"action":"unsubscribe",...}``; must name exactly a topic subscribed before."""

    topic: Topic


@dataclass(frozen=True, slots=True)
class Ping:
    """``{"action":"ping"}``; answered with a pong carrying the server time in ms."""


Command: TypeAlias = Subscribe | Unsubscribe | Ping

_ACTIONS = "subscribe, unsubscribe or ping"


class _Reject(HarnessError):
    """Internal: a rejected command; :func:`parse_command` turns it into ProtocolViolation."""

    def __init__(self, code: ErrorCode, **values: object) -> None:
        self.code = code
        self.values = values


def parse_command(
    payload: str | bytes,
    *,
    is_text: bool = True,
    messages: Mapping[str, str] = DEFAULT_ERROR_MESSAGES,
) -> Command:
    """Parse one client frame.  Raises ``ProtocolViolation(code, message)`` with the reply.

    Section 12: non-JSON, non-object JSON, a missing or unknown ``action`` and binary frames are
    ``INVALID_COMMAND``; an unknown channel ``INVALID_CHANNEL``; a malformed scope or a missing id
    ``INVALID_SCOPE``.  Plan checks (``CHANNEL_NOT_ALLOWED``, ``SUBSCRIPTION_LIMIT``) belong to the
    session.  ``messages`` are the profile's templates.
    """
    try:
        return _parse(payload, is_text)
    except _Reject as reject:
        message = render_message(messages, reject.code, **reject.values)
        code = str(reject.code)
        raise ProtocolViolation(code, message, reply=error_reply(code, message)) from None


def _parse(payload: str | bytes, is_text: bool) -> Command:
    if not is_text:
        raise _Reject(ErrorCode.INVALID_COMMAND, reason="binary frames are not accepted")
    obj = _load_object(payload)
    action = obj.get("action")
    if action == "ping":
        return Ping()
    if action not in ("subscribe", "unsubscribe"):
        reason = (
            f'missing "action" (expected {_ACTIONS})'
            if action is None
            else f"unknown action {_show(action)} (expected {_ACTIONS})"
        )
        raise _Reject(ErrorCode.INVALID_COMMAND, reason=reason)
    topic = _topic_of(obj)
    return Subscribe(topic) if action == "subscribe" else Unsubscribe(topic)


def _load_object(payload: str | bytes) -> dict[str, Any]:
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Reject(ErrorCode.INVALID_COMMAND, reason="not valid JSON") from None
    if not isinstance(value, dict):
        kind = _json_kind(value)
        raise _Reject(ErrorCode.INVALID_COMMAND, reason=f"expected a JSON object, got {kind}")
    return value


def _topic_of(obj: Mapping[str, Any]) -> Topic:
    raw_channel = obj.get("channel")
    try:
        channel = Channel(raw_channel) if isinstance(raw_channel, str) else None
    except ValueError:
        channel = None
    if channel is None:
        names = ", ".join(Channel)
        reason = (
            f'missing "channel" (expected one of {names})'
            if raw_channel is None
            else f"{_show(raw_channel)} is not one of {names}"
        )
        raise _Reject(ErrorCode.INVALID_CHANNEL, channel=_plain(raw_channel), reason=reason)
    scope, ident = _scope_and_id(obj.get("scope"), obj.get("id"))
    return Topic(channel, scope, ident)


def _scope_and_id(raw_scope: Any, raw_id: Any) -> tuple[Scope, str | None]:
    """Accept form (A) ``scope`` + ``id`` and form (B) ``"match:12345"`` (section 6.1)."""
    if not isinstance(raw_scope, str):
        given = 'missing "scope"' if raw_scope is None else f"scope {_show(raw_scope)}"
        raise _Reject(ErrorCode.INVALID_SCOPE, reason=f"{given}; expected all, match or league")
    if raw_id is not None and not isinstance(raw_id, str):
        raise _Reject(ErrorCode.INVALID_SCOPE, reason=f"id must be a string, got {_show(raw_id)}")
    name, colon, embedded = raw_scope.partition(":")
    try:
        scope = Scope(name)
    except ValueError:
        raise _Reject(
            ErrorCode.INVALID_SCOPE,
            scope=raw_scope,
            reason=f"{_show(raw_scope)} is not all, match, league, match:ID or league:ID",
        ) from None
    if scope is Scope.ALL:
        if colon or raw_id is not None:
            raise _Reject(ErrorCode.INVALID_SCOPE, scope=raw_scope, reason="scope all takes no id")
        return scope, None
    if colon and raw_id is not None and raw_id != embedded:
        reason = f"scope {_show(raw_scope)} disagrees with id {_show(raw_id)}"
        raise _Reject(ErrorCode.INVALID_SCOPE, scope=raw_scope, reason=reason)
    ident = embedded if colon else raw_id
    if not ident:
        reason = f"scope {scope} needs a non-empty string id"
        raise _Reject(ErrorCode.INVALID_SCOPE, scope=raw_scope, reason=reason)
    return scope, ident


def _show(value: Any) -> str:
    """A short JSON rendering of a bad value for a message (never the whole frame)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        return "a deeply nested value"
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else _show(value)


def _json_kind(value: Any) -> str:
    kinds = {"list": "an array", "str": "a string", "NoneType": "null", "bool": "a boolean"}
    return kinds.get(type(value).__name__, "a number")


def encode_command(cmd: Command) -> str:
    """Compact JSON in form (A), the form of the current docs (section 6.1)."""
    if isinstance(cmd, Ping):
        return compact_json_text({"action": "ping"})
    action = "subscribe" if isinstance(cmd, Subscribe) else "unsubscribe"
    body: dict[str, Any] = {
        "action": action,
        "channel": str(cmd.topic.channel),
        "scope": str(cmd.topic.scope),
    }
    if cmd.topic.id is not None:
        body["id"] = cmd.topic.id
    return compact_json_text(body)


# --- server -> client frames (section 7) ----------------------------------------------------


def _topic_reply(kind: str, topic: Topic, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "channel": str(topic.channel),
        "scope": str(topic.scope),
        "id": topic.id,
        "topicKey": topic.key,
        "message": message,
    }


def subscribed_reply(topic: Topic, message: str = SUBSCRIBED_MESSAGE) -> dict[str, Any]:
    """Section 6.1 success reply; always form (A), ``id`` null for scope ``all`` (section 12)."""
    return _topic_reply("subscribed", topic, message)


def unsubscribed_reply(topic: Topic, message: str = UNSUBSCRIBED_MESSAGE) -> dict[str, Any]:
    """Section 12: mirrors :func:`subscribed_reply` with ``"type":"unsubscribed"``."""
    return _topic_reply("unsubscribed", topic, message)


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What a server->client frame is, as far as routing and recording care.

    ``type`` is the frame's ``type`` (``""`` when absent); ``event_type`` the event name
    (``type`` itself for MAIN-style frames, ``eventType`` for STATS/ODDS).  ``topic`` is the
    subscription a STATS/ODDS event echoes, or the one a ``subscribed``/``unsubscribed`` reply
    names.  For echoed ``match``/``league`` topics ``match_id``/``league_id`` repeat the ``id``.
    """

    type: str
    channel: Channel | None = None
    event_type: str | None = None
    match_id: str | None = None
    league_id: str | None = None
    topic: Topic | None = None
    is_event: bool = False


def classify_frame(payload: bytes | str) -> FrameInfo | None:
    """Describe a server frame in the three envelope styles of section 7.1, or a reply.

    ``None`` when the payload is not a JSON object.  An object with an unknown channel or no
    event name is classified but not an event, so it is never routed.

    Fast path (about six times faster): msgspec reads only the seven routing fields, skipping the
    rest while still checking the whole text is JSON, and equal envelopes share one answer.  It
    answers only where ``json.loads`` provably reads the same (every routing field a string or
    null); anything else (a number id, ``NaN``, a lone surrogate, deep nesting, a huge integer,
    not an object) is read by ``json.loads``, the reference, so the answer is always the same.
    """
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    except UnicodeDecodeError:
        return None
    envelope = _fast_envelope(text) if type(text) is str else None
    if envelope is None:
        return _classify_json(text)
    return _DESCRIBED.get(envelope) or _described(envelope)


def _classify_json(text: str | bytes) -> FrameInfo | None:
    """The reference path: the frame read by ``json.loads``."""
    try:
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return _describe(obj) if isinstance(obj, dict) else None


def _describe(obj: Mapping[str, Any]) -> FrameInfo:
    """What a frame is, from its JSON object (only the routing fields are read)."""
    raw_type = obj.get("type")
    kind = raw_type if isinstance(raw_type, str) else ""
    channel = _channel_or_none(obj.get("channel"))
    if kind in REPLY_TYPES:
        topic = _echoed_topic(channel, obj) if kind != "error" and kind != "pong" else None
        return FrameInfo(type=kind, channel=channel, topic=topic)
    if kind == "event":
        return _echo_style(obj, channel)
    return FrameInfo(
        type=kind,
        channel=channel,
        event_type=kind or None,
        match_id=_id_or_none(obj.get("matchId")),
        league_id=_id_or_none(obj.get("leagueId")),
        is_event=channel is not None and bool(kind),
    )


class _Envelope(msgspec.Struct, frozen=True):
    """The routing fields :func:`_describe` reads, when each is a string, null or absent (which
    ``.get`` reads alike); a field of another type fails the decode (the reference path reads
    it).  Frozen, so equal envelopes are one key of :data:`_DESCRIBED`."""

    type: str | None = None
    channel: str | None = None
    eventType: str | None = None  # the JSON names
    matchId: str | None = None
    leagueId: str | None = None
    scope: str | None = None
    id: str | None = None


_ENVELOPE_DECODER = msgspec.json.Decoder(_Envelope)
_FAST_MAX_BRACKETS = 64
"""More ``{``/``[`` than this and the reference path reads the frame: nesting this shallow never
reaches the recursion limit where ``json.loads`` gives up, and msgspec's limit is not its."""
_DESCRIBED: dict[_Envelope, FrameInfo] = {}
_DESCRIBED_MAX = 4096


def _fast_envelope(text: str) -> _Envelope | None:
    """The envelope by msgspec, or ``None`` where ``json.loads`` could read the text otherwise.

    msgspec is strict JSON and ``json.loads`` a superset (``NaN``, ``Infinity``, lone
    surrogates, out-of-range numbers), so where msgspec fails the reference decides; it keeps the
    last of duplicate keys, as ``json.loads`` does.  The two places msgspec accepts what
    ``json.loads`` refuses are ruled out first: deep nesting and integers longer than
    ``sys.get_int_max_str_digits()`` (in skipped fields)."""
    brackets = text.count("{") + (text.count("[") if "[" in text else 0)
    if brackets > _FAST_MAX_BRACKETS or (len(text) > _MIN_DIGITS_LIMIT and _huge_int(text)):
        return None
    try:
        return _ENVELOPE_DECODER.decode(text)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None


_MIN_DIGITS_LIMIT = 640
"""The least ``sys.set_int_max_str_digits`` accepts: no shorter text holds a longer integer."""


def _huge_int(text: str) -> bool:
    """Does ``text`` hold a digit run ``json.loads`` refuses to read as an integer?"""
    limit = sys.get_int_max_str_digits()
    return 0 < limit < len(text) and _digit_run(limit + 1).search(text) is not None


@functools.cache
def _digit_run(length: int) -> re.Pattern[str]:
    return re.compile(f"[0-9]{{{length}}}")


def _described(envelope: _Envelope) -> FrameInfo:
    """:func:`_describe` of an envelope not in :data:`_DESCRIBED` (a bounded table), added."""
    if len(_DESCRIBED) >= _DESCRIBED_MAX:
        _DESCRIBED.clear()
    info = _DESCRIBED[envelope] = _describe(msgspec.structs.asdict(envelope))
    return info


def _echo_style(obj: Mapping[str, Any], channel: Channel | None) -> FrameInfo:
    """STATS/ODDS: ``type:"event"``, name in ``eventType``, subscription in ``scope``/``id``."""
    event_type = obj.get("eventType") if isinstance(obj.get("eventType"), str) else None
    topic = _echoed_topic(channel, obj)
    scope = topic.scope if topic else None
    ident = topic.id if topic else None
    return FrameInfo(
        type="event",
        channel=channel,
        event_type=event_type,
        match_id=ident if scope is Scope.MATCH else _id_or_none(obj.get("matchId")),
        league_id=ident if scope is Scope.LEAGUE else _id_or_none(obj.get("leagueId")),
        topic=topic,
        is_event=channel is not None and event_type is not None,
    )


def _echoed_topic(channel: Channel | None, obj: Mapping[str, Any]) -> Topic | None:
    if channel is None:
        return None
    try:
        scope, ident = _scope_and_id(obj.get("scope"), obj.get("id"))
    except _Reject:
        return None
    return Topic(channel, scope, ident)


def _channel_or_none(value: Any) -> Channel | None:
    try:
        return Channel(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _id_or_none(value: Any) -> str | None:
    """IDs are JSON strings (section 6.1); a number is tolerated and read as its decimal text."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def topic_matches(topic: Topic, info: FrameInfo) -> bool:
    """Section 12 "Replay routing": does a subscription to ``topic`` receive this event frame?"""
    return info.is_event and topic_receives(
        topic, info.channel, echoed=info.topic, match_id=info.match_id, league_id=info.league_id
    )


def topic_receives(
    topic: Topic,
    channel: Channel | None,
    *,
    echoed: Topic | None,
    match_id: str | None,
    league_id: str | None,
) -> bool:
    """The routing rule itself (section 12), for replayed and simulated frames alike.

    MAIN and the realtime channels: same channel and scope ``all``, or ``match``/``league`` equal to
    the frame's ``matchId``/``leagueId``.  STATS and ODDS frames echo a subscription (``echoed``)
    and go only to exactly that topic (a ``batch_update`` with scope ``all`` goes to
    ``CHANNEL:all``).
    """
    if channel is not topic.channel:
        return False
    if topic.channel in ECHO_CHANNELS:
        return echoed == topic
    if topic.scope is Scope.ALL:
        return True
    wanted = match_id if topic.scope is Scope.MATCH else league_id
    return wanted is not None and wanted == topic.id
