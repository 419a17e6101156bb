"""Fault timelines: what goes wrong, and when, on the mock (pure: no sockets, no clock).

A :class:`FaultTimeline` is a seed and a list of :class:`Fault` entries.  Each entry starts at
``at`` seconds on its own ``clock``: ``wall`` (since the timeline was applied: the server's
start for ``--faults``, the call for ``inject``) or ``recording`` (when the replay reaches that
position of the recording, as ``seek`` and ``--start-at`` count it).  An entry with ``for_s``
lasts that long; without it an ongoing fault lasts until the server stops, and an instant one
(``close``, ``drop``, ``expire-token``) just happens.

One file format, the same structure as a Python mapping (``soccer_server.inject``) and the
control API's JSON body (``POST /_harness/faults``)::

    seed = 7
    [[faults]]
    kind = "ignore-pings"
    at = "30s"
    for = "1m"
    clock = "recording"

Every fault targets every connection (and every API token) of the server.  Where the docs are
silent the choices live here: a 5xx answer is the REST envelope with the HTTP status as its
``code`` and the reason phrase as its message (:func:`server_error`); a refused WebSocket
handshake answers like a refused REST call.
"""

from __future__ import annotations

import enum
import json
import math
import random
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any

from harness.core.durations import parse_duration
from harness.core.envelopes import TOO_MANY_REQUESTS, RestError
from harness.core.mock.token_table import ApiTokenState
from harness.core.variants import Draw, RandomDraw
from harness.errors import UsageError


class FaultKind(enum.StrEnum):
    """What a fault does (the ``kind`` of an entry)."""

    IGNORE_PINGS = "ignore-pings"
    """App-level ``ping`` commands and protocol pings go unanswered."""
    CLOSE = "close"
    """Every connection is closed cleanly with ``code`` and ``reason`` (instant)."""
    DROP = "drop"
    """Every connection's TCP connection is dropped abruptly, no close frame (instant)."""
    REFUSE_CONNECT = "refuse-connect"
    """WebSocket handshakes are refused with ``status`` (429 or 5xx), ``times`` at most."""
    REST_ERROR = "rest-error"
    """The ``endpoints`` (``new``, ``renew``, ``status``) answer ``status`` (429 or 5xx),
    ``times`` at most."""
    EXPIRE_TOKEN = "expire-token"
    """Every WS token expires now: ``TOKEN_EXPIRED``, then the 4001 close (instant)."""
    REVOKE_TOKEN = "revoke-token"
    """Every API token is in ``state`` (``suspended`` ...): REST calls answer 401 code 3/4/5,
    so nothing can be renewed; open connections run until their token expires."""
    LATENCY = "latency"
    """Every frame to a client waits ``delay`` plus a seeded jitter of up to ``jitter``
    either way (order is kept, as over TCP)."""
    DRIP = "drip"
    """At most ``rate`` frames per second go to each client."""
    SPLIT_BURST = "split-burst"
    """Frames due together go out ``size`` at a time, ``gap`` apart."""


INSTANT_KINDS = frozenset({FaultKind.CLOSE, FaultKind.DROP, FaultKind.EXPIRE_TOKEN})
ENDPOINTS = {"new": "/ws/new", "renew": "/ws/renew", "status": "/token/status"}
"""An entry's ``endpoints`` names, and the REST endpoints they stand for."""
CLOCKS = ("wall", "recording")

# kind -> its fields beyond at/clock/for, with their defaults (None: required)
_FIELDS: dict[FaultKind, dict[str, Any]] = {
    FaultKind.IGNORE_PINGS: {},
    FaultKind.CLOSE: {"code": 1000, "reason": ""},
    FaultKind.DROP: {},
    FaultKind.REFUSE_CONNECT: {"status": 503, "times": 0},
    FaultKind.REST_ERROR: {"status": 503, "endpoints": ("new", "renew"), "times": 0},
    FaultKind.EXPIRE_TOKEN: {},
    FaultKind.REVOKE_TOKEN: {"state": "suspended"},
    FaultKind.LATENCY: {"delay": None, "jitter": 0.0},
    FaultKind.DRIP: {"rate": None},
    FaultKind.SPLIT_BURST: {"size": 1, "gap": None},
}
_DURATION_FIELDS = frozenset({"at", "for", "delay", "jitter", "gap"})


@dataclass(frozen=True, slots=True)
class Fault:
    """One entry of a fault timeline (see :class:`FaultKind` for each kind's fields)."""

    kind: FaultKind
    at_s: float = 0.0
    clock: str = "wall"
    for_s: float | None = None
    code: int = 1000
    reason: str = ""
    status: int = 503
    endpoints: tuple[str, ...] = ("new", "renew")
    state: ApiTokenState = ApiTokenState.SUSPENDED
    delay_s: float = 0.0
    jitter_s: float = 0.0
    rate: float = 0.0
    size: int = 1
    gap_s: float = 0.0
    times: int = 0
    """``refuse-connect``/``rest-error``: it ends after this many refusals (0: no limit)."""

    @property
    def instant(self) -> bool:
        return self.kind in INSTANT_KINDS

    @property
    def end_s(self) -> float:
        """When an ongoing fault ends on its clock (``inf``: when the server stops)."""
        return math.inf if self.for_s is None else self.at_s + self.for_s


@dataclass(frozen=True, slots=True)
class FaultTimeline:
    """A seed (for the jitter) and the faults, in the order given."""

    faults: tuple[Fault, ...] = ()
    seed: int = 0

    def on_clock(self, clock: str) -> list[Fault]:
        """The entries on one clock, by start time."""
        return sorted((f for f in self.faults if f.clock == clock), key=lambda f: f.at_s)

    def to_json(self) -> dict[str, Any]:
        """The mapping :func:`parse_faults` reads back (the control API's body)."""
        return {"seed": self.seed, "faults": [_fault_json(f) for f in self.faults]}


@dataclass(frozen=True, slots=True)
class Shaping:
    """How frames to a client are paced while latency, drip or split-burst faults hold."""

    delay_s: float = 0.0
    jitter_s: float = 0.0
    interval_s: float = 0.0
    """At least this long between two frames (a drip's ``1 / rate``)."""
    burst_size: int = 0
    burst_gap_s: float = 0.0


@dataclass(frozen=True, slots=True)
class FaultEffects:
    """What the ongoing faults make the server do now (the instant ones are actions)."""

    answer_pings: bool = True
    outages: Mapping[str, RestError] = field(default_factory=dict)
    """REST endpoint (``/ws/new`` ...) -> the error it answers."""
    refuse_upgrades: RestError | None = None
    api_token_state: ApiTokenState | None = None
    shaping: Shaping | None = None


def effects(ongoing: Iterable[Fault]) -> FaultEffects:
    """The combined effect of the faults holding now (the latest wins where two collide)."""
    result = FaultEffects()
    outages: dict[str, RestError] = {}
    shaping: Shaping | None = None
    for fault in ongoing:
        kind = fault.kind
        if kind is FaultKind.IGNORE_PINGS:
            result = replace(result, answer_pings=False)
        elif kind is FaultKind.REST_ERROR:
            outages.update((ENDPOINTS[name], refusal(fault.status)) for name in fault.endpoints)
        elif kind is FaultKind.REFUSE_CONNECT:
            result = replace(result, refuse_upgrades=refusal(fault.status))
        elif kind is FaultKind.REVOKE_TOKEN:
            result = replace(result, api_token_state=fault.state)
        elif kind in (FaultKind.LATENCY, FaultKind.DRIP, FaultKind.SPLIT_BURST):
            shaping = _shape(shaping or Shaping(), fault)
    return replace(result, outages=outages, shaping=shaping)


def _shape(shaping: Shaping, fault: Fault) -> Shaping:
    if fault.kind is FaultKind.LATENCY:
        return replace(shaping, delay_s=fault.delay_s, jitter_s=fault.jitter_s)
    if fault.kind is FaultKind.DRIP:
        return replace(shaping, interval_s=1.0 / fault.rate)
    return replace(shaping, burst_size=fault.size, burst_gap_s=fault.gap_s)


def refusal(status: int) -> RestError:
    """The answer of a refused call: 429 is the documented row, 5xx :func:`server_error`."""
    return TOO_MANY_REQUESTS if status == 429 else server_error(status)


def server_error(status: int) -> RestError:
    """A 5xx the docs do not describe: the envelope, ``code`` = the status, its reason phrase."""
    return RestError(status, status, HTTPStatus(status).phrase)


class FrameShaper:
    """The send times of one connection's frames under a :class:`Shaping` (seeded jitter)."""

    def __init__(self, shaping: Shaping, seed: int) -> None:
        self.shaping = shaping
        self._random = random.Random(seed)
        self._last = -math.inf
        self._in_burst = 0

    def due(self, queued_at: float) -> float:
        """When a frame queued at ``queued_at`` goes out: after its delay and jitter, never
        before the frame ahead of it, and spaced by the drip and the burst split."""
        shaping = self.shaping
        jitter = (
            self._random.uniform(-shaping.jitter_s, shaping.jitter_s) if shaping.jitter_s else 0
        )
        due = max(queued_at, queued_at + shaping.delay_s + jitter, self._last)
        if shaping.interval_s and self._last > -math.inf:
            due = max(due, self._last + shaping.interval_s)
        if shaping.burst_size:
            if self._in_burst >= shaping.burst_size:
                due = max(due, self._last + shaping.burst_gap_s)
                self._in_burst = 0
            self._in_burst += 1
        self._last = due
        return due


# --- reading ---------------------------------------------------------------------------------


def load_faults(path: str | Path) -> FaultTimeline:
    """A fault file: TOML (``.toml``) or JSON; :class:`UsageError` naming the problem."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{name}: no such fault file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read fault file {name}: {exc}") from None
    try:
        data = tomllib.loads(text) if name.endswith(".toml") else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if name.endswith(".toml") else "JSON"
        raise UsageError(f"{name}: not valid {kind}: {exc}") from None
    try:
        return parse_faults(data)
    except UsageError as exc:
        raise UsageError(f"{name}: {exc}") from None


def parse_faults(data: Any) -> FaultTimeline:
    """A timeline from a mapping ``{"seed": N, "faults": [...]}`` or a list of entries (each a
    mapping or a :class:`Fault`), or a :class:`FaultTimeline`: every entry is checked alike."""
    if isinstance(data, FaultTimeline):
        data = data.to_json()
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"seed", "faults"})
        if unknown:
            raise UsageError(f"unknown fault file key(s) {', '.join(map(repr, unknown))}")
        seed, entries = data.get("seed", 0), data.get("faults", [])
    else:
        seed, entries = 0, data
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UsageError(f"seed must be an integer, got {seed!r}")
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise UsageError("faults must be a list of entries")
    faults = tuple(
        _parse_entry(index, _fault_json(entry) if isinstance(entry, Fault) else entry)
        for index, entry in enumerate(entries)
    )
    return FaultTimeline(faults, seed)


def _parse_entry(index: int, entry: Any) -> Fault:
    where = f"fault {index}"
    if not isinstance(entry, Mapping):
        raise UsageError(f"{where}: must be a table/object, got {entry!r}")
    try:
        kind = FaultKind(str(entry.get("kind")))
    except ValueError:
        known = ", ".join(FaultKind)
        raise UsageError(f"{where}: unknown kind {entry.get('kind')!r} (one of {known})") from None
    where = f"fault {index} ({kind})"
    allowed = {"kind", "at", "clock", *_FIELDS[kind]} | (
        set() if kind in INSTANT_KINDS else {"for"}
    )
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise UsageError(
            f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})"
        )
    values = {**_FIELDS[kind], **{k: v for k, v in entry.items() if k != "kind"}}
    missing = sorted(name for name, value in values.items() if value is None)
    if missing:
        raise UsageError(f"{where}: missing field(s) {', '.join(missing)}")
    return _checked(where, kind, values)


def _checked(where: str, kind: FaultKind, values: dict[str, Any]) -> Fault:
    def seconds(name: str, default: float = 0.0) -> float:
        value = values.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise UsageError(f"{where}: {name} must be a duration (30s, 1m, or seconds)")
        try:
            return parse_duration(str(value))
        except UsageError as exc:
            raise UsageError(f"{where}: {name}: {exc}") from None

    clock = values.get("clock", "wall")
    if clock not in CLOCKS:
        raise UsageError(f"{where}: clock must be wall or recording, got {clock!r}")
    fault = Fault(kind, seconds("at"), clock, seconds("for") if "for" in values else None)
    if kind is FaultKind.CLOSE:
        code = _integer(where, "code", values["code"])
        if not (code == 1000 or 3000 <= code <= 4999 or code in (1001, 1008, 1011, 1012, 1013)):
            raise UsageError(f"{where}: code {code} cannot be sent in a close frame")
        reason = values["reason"]
        if not isinstance(reason, str) or len(reason.encode()) > 123:
            raise UsageError(f"{where}: reason must be text of at most 123 bytes")
        return replace(fault, code=code, reason=reason)
    if kind in (FaultKind.REFUSE_CONNECT, FaultKind.REST_ERROR):
        status = _integer(where, "status", values["status"])
        if status != 429 and not (500 <= status <= 599 and status in HTTPStatus._value2member_map_):
            raise UsageError(f"{where}: status must be 429 or a 5xx, got {status}")
        times = _integer(where, "times", values["times"])
        if times < 0:
            raise UsageError(f"{where}: times must be 0 (no limit) or more")
        fault = replace(fault, status=status, times=times)
    if kind is FaultKind.REST_ERROR:
        names = values["endpoints"]
        names = [names] if isinstance(names, str) else names
        if not names or any(name not in ENDPOINTS for name in names):
            raise UsageError(f"{where}: endpoints must be some of {', '.join(ENDPOINTS)}")
        return replace(fault, endpoints=tuple(names))
    if kind is FaultKind.REVOKE_TOKEN:
        try:
            state = ApiTokenState(values["state"])
        except ValueError:
            states = ", ".join(s for s in ApiTokenState if s is not ApiTokenState.ACTIVE)
            raise UsageError(f"{where}: state must be one of {states}") from None
        if state is ApiTokenState.ACTIVE:
            raise UsageError(f"{where}: state active revokes nothing")
        return replace(fault, state=state)
    if kind is FaultKind.LATENCY:
        return replace(fault, delay_s=seconds("delay"), jitter_s=seconds("jitter"))
    if kind is FaultKind.DRIP:
        rate = values["rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise UsageError(f"{where}: rate must be a number of frames per second > 0")
        return replace(fault, rate=float(rate))
    if kind is FaultKind.SPLIT_BURST:
        size = _integer(where, "size", values["size"])
        if size < 1:
            raise UsageError(f"{where}: size must be at least 1")
        return replace(fault, size=size, gap_s=seconds("gap"))
    return fault


def _integer(where: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{where}: {name} must be an integer, got {value!r}")
    return value


def _fault_json(fault: Fault) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": str(fault.kind), "at": fault.at_s, "clock": fault.clock}
    if fault.for_s is not None:
        out["for"] = fault.for_s
    names = {"delay": "delay_s", "jitter": "jitter_s", "gap": "gap_s"}
    for name in _FIELDS[fault.kind]:
        value = getattr(fault, names.get(name, name))
        out[name] = (
            list(value)
            if isinstance(value, tuple)
            else (str(value) if isinstance(value, enum.Enum) else value)
        )
    return out


# --- generated (harness fuzz --profile chaos) ------------------------------------------------


def chaos_timeline(seed: int, duration_s: float, *, faults: int = 6) -> FaultTimeline:
    """A seeded fault timeline over ``duration_s`` of recording time: the same seed gives the
    same faults.  Every kind may appear; ongoing ones last up to a tenth of the span."""
    draw = RandomDraw(random.Random(seed))
    span = max(duration_s, 1.0)
    entries = [
        draw_fault(draw, max_at_s=span, clocks=("recording",), max_for_s=max(1.0, span / 10))
        for _ in range(faults)
    ]
    return FaultTimeline(tuple(sorted(entries, key=lambda f: f.at_s)), seed)


def draw_fault(
    draw: Draw, *, max_at_s: float, clocks: Sequence[str] = CLOCKS, max_for_s: float = 5.0
) -> Fault:
    """One fault of any kind, valid by construction, from a seeded Random (chaos) or a
    hypothesis example (:func:`harness.strategies.fault_timelines`)."""
    kind = draw.choice(list(FaultKind))
    at = round(draw.real(0.0, max_at_s), 3)
    fault = Fault(kind, at, draw.choice(list(clocks)))
    if kind not in INSTANT_KINDS and draw.integer(0, 1):
        fault = replace(fault, for_s=round(draw.real(0.001, max_for_s), 3))
    if kind is FaultKind.CLOSE:
        code = draw.choice([1000, 1001, 1008, 1011, 4000, 4999])
        return replace(fault, code=code, reason=draw.text(None, 0, 20))
    if kind in (FaultKind.REFUSE_CONNECT, FaultKind.REST_ERROR):
        fault = replace(
            fault, status=draw.choice([429, 500, 502, 503, 504]), times=draw.integer(0, 3)
        )
    if kind is FaultKind.REST_ERROR:
        mask = draw.integer(1, 2 ** len(ENDPOINTS) - 1)
        names = tuple(name for bit, name in enumerate(ENDPOINTS) if mask >> bit & 1)
        return replace(fault, endpoints=names)
    if kind is FaultKind.REVOKE_TOKEN:
        states = [state for state in ApiTokenState if state is not ApiTokenState.ACTIVE]
        return replace(fault, state=draw.choice(states))
    if kind is FaultKind.LATENCY:
        delay, jitter = round(draw.real(0, 0.5), 3), round(draw.real(0, 0.1), 3)
        return replace(fault, delay_s=delay, jitter_s=jitter)
    if kind is FaultKind.DRIP:
        return replace(fault, rate=draw.choice([1.0, 5.0, 20.0, 50.0]))
    if kind is FaultKind.SPLIT_BURST:
        return replace(fault, size=draw.integer(1, 5), gap_s=round(draw.real(0.001, 0.5), 3))
    return fault
