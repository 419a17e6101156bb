"""Record types of recording format v1, one frozen dataclass per kind.

Each record knows its integer ``KIND`` and converts symmetrically to and from a flat list of
msgpack-native fields (``fields()`` / ``from_fields()``).  Framing, checksums and the file
layout live in :mod:`harness.core.recording`; ``docs/recording-format.md`` is the specification.

Every record but :class:`Header` carries ``t_ns``: monotonic nanoseconds since the session start.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

FORMAT_NAME = "soccer-ws-harness/recording"
FORMAT_VERSION = (1, 0)

Headers: TypeAlias = tuple[tuple[str, str], ...]

MAX_NESTING = 100
"""Deepest nesting of lists and maps accepted in a header ``source`` or a note's ``data``.

Readers walk these values recursively (``info``, ``cat --jsonl``, ``json.dumps``), and Python's
recursion limit (about 1,000 frames) is shared by every level, so a value nested hundreds deep
from a buggy or hostile writer would crash them.  A hundred levels is far beyond any real
session description; a deeper value is a bad field, refused on write and on read.
"""


class Direction(enum.IntEnum):
    """Which way a WebSocket message travelled."""

    CLIENT_TO_SERVER = 0
    SERVER_TO_CLIENT = 1

    @property
    def arrow(self) -> str:
        return "->" if self is Direction.CLIENT_TO_SERVER else "<-"


class Initiator(enum.IntEnum):
    """Who ended a WebSocket connection: a clean close by either side, or an abrupt loss."""

    CLIENT = 0
    SERVER = 1
    ABRUPT = 2


class RecordFieldError(ValueError):
    """Fields read from a file do not fit the record kind (raised by ``from_fields``)."""


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise RecordFieldError(f"expected a string, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordFieldError(f"expected an integer, got {type(value).__name__}")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _bytes(value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise RecordFieldError(f"expected bytes, got {type(value).__name__}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise RecordFieldError(f"expected a boolean, got {type(value).__name__}")
    return value


def _map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise RecordFieldError("expected a map with string keys")
    return value


def _shallow_map(value: Any, name: str) -> dict[str, Any]:
    """A string-keyed map nested at most :data:`MAX_NESTING` deep (checked without recursion)."""
    mapping = _map(value)
    level: list[Any] = [mapping]
    for _ in range(MAX_NESTING):
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list | tuple)
        ]
        if not level:
            return mapping
    raise RecordFieldError(f"{name} is nested deeper than {MAX_NESTING} levels")


def _headers(value: Any) -> Headers:
    if not isinstance(value, list | tuple):
        raise RecordFieldError("expected a list of header pairs")
    pairs = []
    for pair in value:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise RecordFieldError("expected a header pair")
        pairs.append((_str(pair[0]), _str(pair[1])))
    return tuple(pairs)


def _enum(kind: type[enum.IntEnum], value: Any) -> Any:
    try:
        return kind(_int(value))
    except ValueError:
        raise RecordFieldError(f"{value!r} is not a valid {kind.__name__}") from None


def _arity(values: Sequence[Any], count: int, name: str) -> None:
    # A newer minor version may append fields; older readers ignore the extras.
    if len(values) < count:
        raise RecordFieldError(f"{name} needs {count} fields, got {len(values)}")


@dataclass(frozen=True, slots=True)
class Header:
    """First record of every file: what wrote it, when, and from what source.

    ``source`` describes the session: ``api_base`` (secrets redacted), ``ws_host``, ``plan``,
    ``subscriptions`` (list of ``CHANNEL:scope[:id]`` strings), ``synthetic`` and anything else
    the writer knows.  ``created_at`` is the wall-clock session start, ISO 8601 UTC.
    """

    KIND: ClassVar[int] = 0
    created_at: str
    tool: str
    tool_version: str
    source: Mapping[str, Any] = field(default_factory=dict)
    redacted: bool = False
    format: str = FORMAT_NAME
    format_version: tuple[int, int] = FORMAT_VERSION

    def fields(self) -> list[Any]:
        return [
            self.format,
            list(self.format_version),
            self.created_at,
            self.tool,
            self.tool_version,
            dict(self.source),
            self.redacted,
        ]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> Header:
        _arity(values, 7, "header")
        version = values[1]
        if not isinstance(version, list | tuple) or len(version) != 2:
            raise RecordFieldError("format_version must be [major, minor]")
        return cls(
            format=_str(values[0]),
            format_version=(_int(version[0]), _int(version[1])),
            created_at=_str(values[2]),
            tool=_str(values[3]),
            tool_version=_str(values[4]),
            source=_shallow_map(values[5], "source"),
            redacted=_bool(values[6]),
        )


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """One REST call and its answer.  ``status`` 0 with ``error`` set: no answer came."""

    KIND: ClassVar[int] = 1
    t_ns: int
    method: str
    url: str
    status: int
    body: bytes = b""
    request_headers: Headers = ()
    response_headers: Headers = ()
    error: str | None = None
    elapsed_ns: int = 0

    def fields(self) -> list[Any]:
        return [
            self.t_ns,
            self.method,
            self.url,
            self.status,
            self.body,
            [list(p) for p in self.request_headers],
            [list(p) for p in self.response_headers],
            self.error,
            self.elapsed_ns,
        ]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> HttpExchange:
        _arity(values, 9, "http exchange")
        return cls(
            t_ns=_int(values[0]),
            method=_str(values[1]),
            url=_str(values[2]),
            status=_int(values[3]),
            body=_bytes(values[4]),
            request_headers=_headers(values[5]),
            response_headers=_headers(values[6]),
            error=_opt_str(values[7]),
            elapsed_ns=_int(values[8]),
        )


@dataclass(frozen=True, slots=True)
class WsOpen:
    """A WebSocket handshake: 101 when it opened, the refusal status otherwise."""

    KIND: ClassVar[int] = 2
    t_ns: int
    conn_id: int
    url: str
    status: int
    error: str | None = None

    def fields(self) -> list[Any]:
        return [self.t_ns, self.conn_id, self.url, self.status, self.error]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> WsOpen:
        _arity(values, 5, "ws open")
        return cls(
            t_ns=_int(values[0]),
            conn_id=_int(values[1]),
            url=_str(values[2]),
            status=_int(values[3]),
            error=_opt_str(values[4]),
        )


@dataclass(frozen=True, slots=True)
class WsMessage:
    """One WebSocket data message, exact payload bytes (UTF-8 for text)."""

    KIND: ClassVar[int] = 3
    t_ns: int
    conn_id: int
    direction: Direction
    payload: bytes
    is_text: bool = True

    def fields(self) -> list[Any]:
        return [self.t_ns, self.conn_id, int(self.direction), self.payload, self.is_text]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> WsMessage:
        _arity(values, 5, "ws message")
        return cls(
            t_ns=_int(values[0]),
            conn_id=_int(values[1]),
            direction=_enum(Direction, values[2]),
            payload=_bytes(values[3]),
            is_text=_bool(values[4]),
        )


@dataclass(frozen=True, slots=True)
class WsControl:
    """A protocol-level ping or pong, where the I/O layer exposes them."""

    KIND: ClassVar[int] = 4
    t_ns: int
    conn_id: int
    direction: Direction
    opcode: str  # "ping" or "pong"
    payload: bytes = b""

    def fields(self) -> list[Any]:
        return [self.t_ns, self.conn_id, int(self.direction), self.opcode, self.payload]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> WsControl:
        _arity(values, 5, "ws control")
        opcode = _str(values[3])
        if opcode not in ("ping", "pong"):
            raise RecordFieldError(f"control opcode must be ping or pong, got {opcode!r}")
        return cls(
            t_ns=_int(values[0]),
            conn_id=_int(values[1]),
            direction=_enum(Direction, values[2]),
            opcode=opcode,
            payload=_bytes(values[4]),
        )


@dataclass(frozen=True, slots=True)
class WsClose:
    """A WebSocket connection ended: close code and reason, and who ended it."""

    KIND: ClassVar[int] = 5
    t_ns: int
    conn_id: int
    code: int | None
    reason: str
    initiator: Initiator

    def fields(self) -> list[Any]:
        return [self.t_ns, self.conn_id, self.code, self.reason, int(self.initiator)]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> WsClose:
        _arity(values, 5, "ws close")
        return cls(
            t_ns=_int(values[0]),
            conn_id=_int(values[1]),
            code=_opt_int(values[2]),
            reason=_str(values[3]),
            initiator=_enum(Initiator, values[4]),
        )


class NoteKind(enum.StrEnum):
    """The ``kind`` of every note this tool writes (``docs/recording-format.md``, "Note kinds").

    A reader accepts any string: a newer writer may add kinds.
    """

    TOKEN = "token"
    RENEWAL = "renewal"
    RECONNECT = "reconnect"
    PLAN = "plan"
    ERROR = "error"
    SERVER_ERROR = "server_error"
    SUBSCRIPTION_ERROR = "subscription_error"
    FATAL = "fatal"
    PROXY = "proxy"
    CLIENT_GONE = "client-gone"
    BAD_REQUEST = "bad-request"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class Note:
    """Something the recorder did or saw; ``kind`` is a :class:`NoteKind` if this tool wrote it."""

    KIND: ClassVar[int] = 6
    t_ns: int
    kind: str
    message: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def fields(self) -> list[Any]:
        return [self.t_ns, self.kind, self.message, dict(self.data)]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> Note:
        _arity(values, 4, "note")
        return cls(
            t_ns=_int(values[0]),
            kind=_str(values[1]),
            message=_str(values[2]),
            data=_shallow_map(values[3], "data"),
        )


@dataclass(frozen=True, slots=True)
class Summary:
    """Optional last record of a cleanly closed file: record counts by kind name, duration."""

    KIND: ClassVar[int] = 7
    t_ns: int
    duration_ns: int
    counts: Mapping[str, int] = field(default_factory=dict)

    def fields(self) -> list[Any]:
        return [self.t_ns, self.duration_ns, dict(self.counts)]

    @classmethod
    def from_fields(cls, values: Sequence[Any]) -> Summary:
        _arity(values, 3, "summary")
        counts = _map(values[2])
        return cls(
            t_ns=_int(values[0]),
            duration_ns=_int(values[1]),
            counts={k: _int(v) for k, v in counts.items()},
        )


Record: TypeAlias = HttpExchange | WsOpen | WsMessage | WsControl | WsClose | Note | Summary
"""Any record that follows the header."""

RECORD_TYPES: Mapping[int, type[Record]] = {
    cls.KIND: cls for cls in (HttpExchange, WsOpen, WsMessage, WsControl, WsClose, Note, Summary)
}

KIND_NAMES: Mapping[int, str] = {
    Header.KIND: "header",
    HttpExchange.KIND: "http",
    WsOpen.KIND: "ws_open",
    WsMessage.KIND: "ws_message",
    WsControl.KIND: "ws_control",
    WsClose.KIND: "ws_close",
    Note.KIND: "note",
    Summary.KIND: "summary",
}
