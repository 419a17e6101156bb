"""The HTTP control API's requests as typed commands: pure parsing and validation.

``parse_control(method, path, query, body)`` turns one request under :data:`CONTROL_PREFIX`
into a command dataclass, or a :class:`ControlError` naming the problem (the server answers it
with the REST envelope).  The server (:mod:`harness.server.control`) only runs the command.
Bodies are JSON objects (an empty body is ``{}``); unknown fields are refused, so a typo is an
error instead of a silent default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from harness.core.durations import parse_duration
from harness.core.envelopes import compact_json, error_envelope
from harness.core.faults import FaultTimeline, parse_faults
from harness.core.mock.token_table import ApiTokenState
from harness.core.player import parse_speed
from harness.core.protocol import Plan
from harness.errors import UsageError

CONTROL_PREFIX = "/_harness/"
"""Reserved path prefix of the control API (served only when it is enabled)."""
MAX_PLAY_NEXT = 1_000_000
"""Most frames one ``play-next`` may ask for."""
MAX_REASON_BYTES = 123
"""RFC 6455 5.5: a close frame's payload is at most 125 bytes, 2 of them the code."""
_NOT_FOUND_CODE = 6
_BAD_REQUEST_CODE = 7


def is_control_path(path: str) -> bool:
    return path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/")


def close_code_problem(code: int) -> str | None:
    """RFC 6455 7.4: codes a server may send are 1000-1003, 1007-1014 and 3000-4999."""
    if 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999:
        return None
    return f"close code {code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999"


@dataclass(frozen=True, slots=True)
class ControlError:
    """A refused control request: HTTP status, REST ``errors[].code`` and a message."""

    status: int
    code: int
    message: str

    def body(self) -> dict[str, Any]:
        return error_envelope(self.status, self.code, self.message)


@dataclass(frozen=True, slots=True)
class Push:
    frame: bytes
    token: str | None = None


@dataclass(frozen=True, slots=True)
class ExpireToken:
    token: str | None = None


@dataclass(frozen=True, slots=True)
class SetApiTokenState:
    api_token: str
    state: ApiTokenState
    plan: Plan | None = None


@dataclass(frozen=True, slots=True)
class Pings:
    answer: bool


@dataclass(frozen=True, slots=True)
class CloseConnections:
    code: int = 1000
    reason: str = ""
    abrupt: bool = False
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    pass


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class PlayNext:
    n: int = 1


@dataclass(frozen=True, slots=True)
class Seek:
    t_s: float


@dataclass(frozen=True, slots=True)
class SetSpeed:
    speed: float | None


@dataclass(frozen=True, slots=True)
class Play:
    """``POST /_harness/play``: serve these frames as the feed (``MockServer.play``)."""

    frames: tuple[bytes, ...]
    offsets_s: tuple[float, ...] | None = None
    speed: float | None = None
    close_when_delivered: bool = False


@dataclass(frozen=True, slots=True)
class InjectFaults:
    """``POST /_harness/faults``: run this fault timeline from now (``inject_faults``)."""

    timeline: FaultTimeline


@dataclass(frozen=True, slots=True)
class ReadJournal:
    since: int = 0


@dataclass(frozen=True, slots=True)
class ReadStats:
    pass


@dataclass(frozen=True, slots=True)
class Reset:
    pass


ControlCommand: TypeAlias = (
    Push
    | ExpireToken
    | SetApiTokenState
    | Pings
    | CloseConnections
    | Pause
    | Resume
    | PlayNext
    | Seek
    | SetSpeed
    | Play
    | InjectFaults
    | ReadJournal
    | ReadStats
    | Reset
)


class _Bad(Exception):
    """A field is wrong: the message names it."""


def parse_control(
    method: str, path: str, query: Mapping[str, str], body: bytes
) -> ControlCommand | ControlError:
    """The command a control request asks for, or why it cannot be served."""
    name = path[len(CONTROL_PREFIX) :] if path.startswith(CONTROL_PREFIX) else ""
    endpoint = _ENDPOINTS.get(name)
    if endpoint is None:
        known = ", ".join(sorted(_ENDPOINTS))
        return ControlError(404, _NOT_FOUND_CODE, f"no control endpoint {path}: use {known}")
    wanted, parse = endpoint
    if method != wanted:
        message = f"{method} {path} is not allowed: use {wanted}"
        return ControlError(405, _BAD_REQUEST_CODE, message)
    try:
        if wanted == "GET":
            fields = _query_fields(query)
        else:
            fields = _body_fields(body, list_key=_LIST_BODIES.get(name))
        return parse(_Fields(fields, body))
    except (_Bad, UsageError) as exc:
        return ControlError(400, _BAD_REQUEST_CODE, f"{method} {path}: {exc}")


@dataclass(frozen=True, slots=True)
class _Fields:
    values: dict[str, Any]
    raw: bytes

    def only(self, *names: str) -> None:
        unknown = sorted(set(self.values) - set(names))
        if unknown:
            allowed = ", ".join(names) or "none"
            raise _Bad(f"unknown field {unknown[0]!r} (allowed: {allowed})")

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        value = self.values.get(name, default)
        if name in self.values and not _is(value, kind):
            raise _Bad(f"{name!r} must be {_kind_name(kind)}, got {json.dumps(value)}")
        return value

    def need(self, name: str, kind: type | tuple[type, ...]) -> Any:
        if name not in self.values:
            raise _Bad(f"missing field {name!r}")
        return self.get(name, kind)


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names[dict] = "an object"
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _body_fields(body: bytes, *, list_key: str | None = None) -> dict[str, Any]:
    """The body's JSON object (with ``list_key``, a bare JSON list is ``{list_key: list}``)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _Bad(f"body is not JSON ({exc})") from None
    if list_key and isinstance(value, list):
        return {list_key: value}
    if not isinstance(value, dict):
        raise _Bad("body must be a JSON object" + (f" or a list of {list_key}" if list_key else ""))
    return value


def _query_fields(query: Mapping[str, str]) -> dict[str, Any]:
    return dict(query)


def _push(fields: _Fields) -> Push:
    values = fields.values
    if not values:
        raise _Bad('body must be one frame (a JSON object) or {"frame": "<raw text>"}')
    if "frame" not in values:  # the body is the frame itself, sent byte for byte
        return Push(fields.raw.strip())
    fields.only("frame", "token")
    frame = fields.need("frame", (str, dict))
    token = fields.get("token", str)
    data = frame.encode() if isinstance(frame, str) else compact_json(frame)
    return Push(data, token)


def _expire(fields: _Fields) -> ExpireToken:
    fields.only("token")
    return ExpireToken(fields.get("token", str))


def _api_token_state(fields: _Fields) -> SetApiTokenState:
    fields.only("api_token", "state", "plan")
    api_token = fields.need("api_token", str)
    state = fields.need("state", str)
    plan = fields.get("plan", str)
    states = ", ".join(s.value for s in ApiTokenState)
    if state not in set(ApiTokenState):
        raise _Bad(f"unknown state {state!r} (use {states})")
    if plan is not None and plan.upper() not in Plan.__members__:
        raise _Bad(f"unknown plan {plan!r} (use {', '.join(Plan.__members__)})")
    return SetApiTokenState(api_token, ApiTokenState(state), Plan[plan.upper()] if plan else None)


def _pings(fields: _Fields) -> Pings:
    fields.only("answer")
    return Pings(fields.need("answer", bool))


def _close(fields: _Fields) -> CloseConnections:
    fields.only("code", "reason", "abrupt", "token")
    code = fields.get("code", int, 1000)
    reason = fields.get("reason", str, "")
    problem = close_code_problem(code)
    if problem is not None:
        raise _Bad(problem)
    if len(reason.encode()) > MAX_REASON_BYTES:
        raise _Bad(f"reason is longer than {MAX_REASON_BYTES} bytes")
    return CloseConnections(
        code, reason, fields.get("abrupt", bool, False), fields.get("token", str)
    )


def _empty(command: Callable[[], ControlCommand]) -> Callable[[_Fields], ControlCommand]:
    def parse(fields: _Fields) -> ControlCommand:
        fields.only()
        return command()

    return parse


def _play_next(fields: _Fields) -> PlayNext:
    fields.only("n")
    n = fields.get("n", int, 1)
    if not 1 <= n <= MAX_PLAY_NEXT:
        raise _Bad(f"n must be 1..{MAX_PLAY_NEXT}, got {n}")
    return PlayNext(n)


def _seek(fields: _Fields) -> Seek:
    fields.only("t")
    t = fields.need("t", (int, float, str))
    seconds = parse_duration(t) if isinstance(t, str) else float(t)
    if not (math.isfinite(seconds) and seconds >= 0):
        raise _Bad(f"t must be a duration >= 0, got {t!r}")
    return Seek(seconds)


def _speed(fields: _Fields) -> SetSpeed:
    fields.only("speed")
    speed = fields.need("speed", (int, float, str))
    return SetSpeed(parse_speed(str(speed)))


def _play(fields: _Fields) -> Play:
    """Frames as JSON objects (sent as compact JSON) or strings (sent as they are)."""
    fields.only("frames", "offsets_s", "speed", "close_when_delivered")
    frames = fields.need("frames", list)
    data = []
    for index, frame in enumerate(frames):
        if not isinstance(frame, dict | str):
            raise _Bad(f"frame {index} must be an object or a string, got {json.dumps(frame)}")
        data.append(frame.encode() if isinstance(frame, str) else compact_json(frame))
    offsets = fields.get("offsets_s", list)
    if offsets is not None and (
        len(offsets) != len(frames)
        or not all(_is(o, (int, float)) and math.isfinite(o) and o >= 0 for o in offsets)
    ):
        raise _Bad("offsets_s must be one number of seconds >= 0 per frame")
    speed = fields.get("speed", (int, float, str), "max")
    return Play(
        tuple(data),
        None if offsets is None else tuple(float(o) for o in offsets),
        parse_speed(str(speed)),
        fields.get("close_when_delivered", bool, False),
    )


def _faults(fields: _Fields) -> InjectFaults:
    """The fault file's structure as JSON (:func:`harness.core.faults.parse_faults`)."""
    return InjectFaults(parse_faults(fields.values))


def _journal(fields: _Fields) -> ReadJournal:
    fields.only("since")
    since = fields.get("since", str, "0")
    if not since.isdigit():
        raise _Bad(f"since must be an integer >= 0, got {since!r}")
    return ReadJournal(int(since))


_LIST_BODIES = {"play": "frames", "faults": "faults"}
"""Endpoints whose body may be a bare JSON list, and the field it stands for."""

_ENDPOINTS: dict[str, tuple[str, Callable[[_Fields], ControlCommand]]] = {
    "push": ("POST", _push),
    "expire-token": ("POST", _expire),
    "api-token-state": ("POST", _api_token_state),
    "pings": ("POST", _pings),
    "close-connections": ("POST", _close),
    "pause": ("POST", _empty(Pause)),
    "resume": ("POST", _empty(Resume)),
    "play-next": ("POST", _play_next),
    "seek": ("POST", _seek),
    "speed": ("POST", _speed),
    "play": ("POST", _play),
    "faults": ("POST", _faults),
    "journal": ("GET", _journal),
    "stats": ("GET", _empty(ReadStats)),
    "reset": ("POST", _empty(Reset)),
}
