"""Generated feed frames: valid event variants and hostile frames, each rule written once.

The rules are plain functions of a :class:`Draw`, the source of every choice they make.  Two
sources exist: :class:`RandomDraw` (a seeded :class:`random.Random`: ``harness fuzz``, the same
seed giving the same frames on every run and machine) and the hypothesis strategies of
:mod:`harness.core.strategies` (which draw through hypothesis, so examples shrink).  Both
therefore make the same frames from the same templates.

Valid by construction: every event is a variant of a template the match simulator wrote (one
per channel and event type, so each has its documented shape, as the fixtures under
``fixtures/events`` do), with each value redrawn in the format the template's value has (ids
keep an ``rt-`` prefix, ``"1;0"`` pairs stay pairs of counts, prices stay prices).  Fields
that decide routing or meaning (``type``, ``channel``, ``scope``, ``eventType``, ``status``)
are kept, so :func:`~harness.core.protocol.classify_frame` reads every variant as the event of
its channel.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol, TypeVar

from harness.core.envelopes import compact_json
from harness.core.protocol import Channel
from harness.core.schedule import Feed
from harness.core.synth import SynthOptions, synthesize
from harness.errors import UsageError

T = TypeVar("T")

KEPT_KEYS = frozenset({"type", "channel", "scope", "eventType", "status", "seasonName"})
"""Fields whose value is part of what the event is: never redrawn."""
ID_KEYS = frozenset({"matchId", "leagueId", "id", "eventId"})
REALTIME_PREFIX = "rt-"
NAME_ALPHABET = string.ascii_letters + string.digits + " .-'"
TS_RANGE_MS = (1_600_000_000_000, 2_000_000_000_000)
HUGE_FRAME_BYTES = (100_000, 1_000_000)
"""A huge frame's size: up to about the 1 MiB most WebSocket clients accept by default."""
UNICODE_EDGES = ("\u0000", "\u202egoal", "goal\u0301", "\U0001f3c6", "\ufeffgoal", "\u2028", "")
"""A NUL, a right-to-left override, a combining mark, an emoji, a BOM, a line separator."""
ODD_VALUES: tuple[Any, ...] = (None, 0, [], {}, "", True)
"""What a field of the wrong type holds."""
_PAIR = re.compile(r"^\d+;\d+$")
_PRICES = re.compile(r"^\d+\.\d+(;\d+\.\d+)*$")
_DECIMALS = re.compile(r"^\d+\.\d+;\d+\.\d+$")
_DIGITS = re.compile(r"^\d+$")
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Draw(Protocol):
    """Where a rule's choices come from (a seeded ``random.Random`` or hypothesis)."""

    def integer(self, low: int, high: int) -> int: ...
    def choice(self, options: Sequence[T]) -> T: ...
    def real(self, low: float, high: float) -> float: ...
    def text(self, alphabet: str | None, min_size: int, max_size: int) -> str:
        """``alphabet`` None: any unicode text (no surrogates)."""
        ...

    def binary(self, max_size: int) -> bytes: ...


class RandomDraw:
    """Choices from a seeded :class:`random.Random`: the same seed, the same choices, on every
    run, Python version and machine (only ``randint``, ``random``, ``choices`` and
    ``getrandbits``, whose algorithms are fixed; no hashing, no sets)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randint(0, len(options) - 1)]

    def real(self, low: float, high: float) -> float:
        return low + (high - low) * self.rng.random()

    def text(self, alphabet: str | None, min_size: int, max_size: int) -> str:
        size = self.rng.randint(min_size, max_size)
        if alphabet is not None:  # choices: floor(random() * n), exact in IEEE doubles
            return "".join(self.rng.choices(alphabet, k=size))
        return "".join(_codepoint(self.rng.randint(0, 0x10FFFF - 0x800)) for _ in range(size))

    def binary(self, max_size: int) -> bytes:
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, max_size)))


def _codepoint(n: int) -> str:
    """The ``n``-th code point that is not a surrogate."""
    return chr(n if n < 0xD800 else n + 0x800)


# --- templates ---------------------------------------------------------------------------------


@cache
def templates() -> Mapping[tuple[Channel, str], dict[str, Any]]:
    """One simulated event per ``(channel, event type)``: the shapes every variant keeps."""
    _header, records = synthesize(SynthOptions(matches=1))
    found: dict[tuple[Channel, str], dict[str, Any]] = {}
    for frame in Feed.from_records(records).frames:
        info = frame.info
        if info.channel is not None and info.event_type is not None:
            found.setdefault((info.channel, info.event_type), json_object(frame.payload))
    return found


def shapes(
    channel: Channel | str | None = None, event_type: str | None = None
) -> list[dict[str, Any]]:
    """The templates of ``channel`` (all when None), or only its ``event_type`` ones, in one
    fixed order."""
    wanted = None if channel is None else Channel(channel)
    found = [
        shape
        for (c, kind), shape in sorted(templates().items())
        if wanted in (None, c) and event_type in (None, kind)
    ]
    if not found:
        raise UsageError(f"no documented {event_type} event on {wanted or 'any channel'}")
    return found


# --- valid variants ----------------------------------------------------------------------------


def variant(draw: Draw, template: Mapping[str, Any]) -> dict[str, Any]:
    """A variant of ``template``: every value redrawn in its format (see the module doc)."""
    return {key: like(draw, key, value) for key, value in template.items()}


def like(draw: Draw, key: str, value: Any) -> Any:
    """A value in the format of ``value`` (the template's value under ``key``)."""
    if key in KEPT_KEYS or value is None or isinstance(value, bool):
        return value
    if key in ID_KEYS:
        return event_id(draw, isinstance(value, str) and value.startswith(REALTIME_PREFIX))
    if isinstance(value, dict):
        return variant(draw, value)
    if isinstance(value, list):
        return [like(draw, key, value[0]) for _ in range(draw.integer(1, 4))] if value else []
    if isinstance(value, int):
        return draw.integer(*TS_RANGE_MS) if key == "ts" else value
    if isinstance(value, float):
        return draw.real(0, 1000)
    return _text_like(draw, key, str(value))


def _text_like(draw: Draw, key: str, value: str) -> str:
    formats: list[tuple[re.Pattern[str], Callable[[], str]]] = [
        (_PAIR, lambda: f"{draw.integer(0, 30)};{draw.integer(0, 30)}"),
        (_DECIMALS, lambda: f"{_decimal(draw)};{_decimal(draw)}"),
        (_PRICES, lambda: ";".join(_price(draw) for _ in value.split(";"))),
        (_DIGITS, lambda: str(draw.integer(0, 130))),
        (_ISO, lambda: _iso(draw.integer(1_600_000_000, 2_000_000_000))),
    ]
    for pattern, make in formats:
        if pattern.match(value):
            return make()
    if key == "team":
        return draw.choice(("A", "B"))
    if key in ("stat", "market"):
        return value
    return draw.text(NAME_ALPHABET, 1, 30)


def event_id(draw: Draw, realtime: bool = False) -> str:
    """A match, league or event id: hex digits, with the realtime source's ``rt-`` prefix."""
    ident = f"{draw.integer(0x10000, 2**64 - 1):x}"
    return REALTIME_PREFIX + ident if realtime else ident


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal(draw: Draw) -> str:
    return f"{draw.integer(0, 500) / 100:.2f}"


def _price(draw: Draw) -> str:
    return f"{draw.integer(101, 5000) / 100:.2f}"


# --- hostile frames ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostileFrame:
    """A frame a consumer must survive: ``payload`` as sent, in a text or a binary frame."""

    payload: bytes
    is_text: bool
    why: str


HOSTILE_KINDS = ("malformed JSON", "empty", "huge", "binary", "damaged event", "unicode")
"""Every kind of hostile frame, in the order hypothesis shrinks towards."""


def hostile_frame(draw: Draw, kind: str) -> HostileFrame:
    """One hostile frame of ``kind`` (one of :data:`HOSTILE_KINDS`)."""
    match kind:
        case "malformed JSON":
            return HostileFrame(("{" + draw.text(None, 0, 200)).encode(), True, "malformed JSON")
        case "empty":
            return HostileFrame(b"", True, "empty frame")
        case "huge":
            size = draw.integer(*HUGE_FRAME_BYTES)
            return HostileFrame(b'{"type":"' + b"x" * size + b'"}', True, "huge frame")
        case "binary":
            return HostileFrame(draw.binary(200), False, "binary frame")
        case "damaged event":
            return damaged(draw, variant(draw, draw.choice(shapes())))
        case "unicode":
            body = {"type": draw.choice(UNICODE_EDGES), "channel": "MAIN"}
            return HostileFrame(compact_json(body), True, "unicode")
    raise UsageError(f"no hostile frame kind {kind!r} (use {', '.join(HOSTILE_KINDS)})")


def damaged(draw: Draw, event: dict[str, Any]) -> HostileFrame:
    """An event with one field dropped, retyped or added, or an unknown event type."""
    keys = sorted(event)
    how = draw.integer(0, 3)
    if how == 0:
        dropped = draw.choice(keys)
        body = {k: v for k, v in event.items() if k != dropped}
        return HostileFrame(compact_json(body), True, f"missing {dropped}")
    if how == 1:
        key, odd = draw.choice(keys), draw.choice(ODD_VALUES)
        return HostileFrame(compact_json({**event, key: odd}), True, f"wrong type for {key}")
    if how == 2:
        body = {**event, "unexpected": {"x": 1}}
        return HostileFrame(compact_json(body), True, "extra field")
    body = {**event, "type": "penalty_shootout"}
    return HostileFrame(compact_json(body), True, "unknown event type")


def mutated_value(payload: bytes, rng: random.Random) -> bytes:
    """The frame with one top-level or ``data`` value replaced by an odd one of another type."""
    event = json_object(payload)
    target = event["data"] if isinstance(event.get("data"), dict) and rng.random() < 0.7 else event
    keys = sorted(k for k in target if k not in ("type", "channel"))
    if keys:
        target[rng.choice(keys)] = rng.choice((None, -1, "", "?;?", [], 1e308))
    return compact_json(event)


def json_object(payload: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(payload)
    return value
