"""Framing of recording format v1 (and of 2.0's frames): the magic, checksums, decoding a frame.

Private to :mod:`harness.core.recording`, which owns the reader and writer built on it.  The hot
read path decodes optimistically and falls back to :func:`_decode`, the careful path that names
the damage.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import IO, Any

import msgpack

from ._blocks import BLOCK_KIND
from .records import KIND_NAMES, RECORD_TYPES, Direction, Header, Record, WsMessage

MAGIC_TEXT = "soccer-ws-harness-recording"
MAGIC = msgpack.packb(MAGIC_TEXT)
"""First bytes of every recording: the msgpack str ``MAGIC_TEXT`` (``0xbb`` + 27 ASCII bytes)."""

MAX_RECORD_BYTES = 16 * 1024 * 1024
"""Largest record body (msgpack of the fields) written or read: 16 MiB."""

READ_CHUNK_BYTES = 256 * 1024
_MAX_KIND = 0xFFFF_FFFF


def _seed(kind: int) -> int:
    return zlib.crc32(kind.to_bytes(4, "big"))


def record_crc(kind: int, body: bytes) -> int:
    """The checksum of one record: CRC-32 of ``body``, seeded with the kind's 4 big-endian bytes."""
    return zlib.crc32(body, _seed(kind))


_SEEDS: dict[int, int] = {kind: _seed(kind) for kind in KIND_NAMES}


# --------------------------------------------------------------------------- reading


class _Damage(Exception):
    """Internal: the record at hand is damaged, for the reason given."""


def _reject_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"msgpack extension type {code} is not used by recordings")


_unpack_body: Callable[[bytes], Any] = functools.partial(
    msgpack.unpackb, use_list=True, raw=False, strict_map_key=True, ext_hook=_reject_ext
)
"""Decode a record body.  Its own length bounds every size field inside it."""

_DIRECTIONS = {int(d): d for d in Direction}
_unpack_fast: Callable[[bytes], Any] = functools.partial(msgpack.unpackb, use_list=False)
"""The fast path's decode: tuples (cheaper than lists); its result is checked field by field."""
_new_object = object.__new__
# Slot setters of the frozen WsMessage: the fast path fills a message without the generated
# __init__ (whose five object.__setattr__ calls are half the cost of reading a record).
_set_t_ns, _set_conn_id, _set_direction, _set_payload, _set_is_text = (
    vars(WsMessage)[name].__set__ for name in ("t_ns", "conn_id", "direction", "payload", "is_text")
)


def _fast_ws_message(body: bytes) -> WsMessage | None:
    """The usual exact shape of a message, else ``None`` (the careful path decides)."""
    t_ns, conn_id, direction, payload, is_text = _unpack_fast(body)
    if not (
        type(t_ns) is int
        and type(conn_id) is int
        and type(direction) is int
        and type(payload) is bytes
        and type(is_text) is bool
    ):
        return None
    message = _new_object(WsMessage)
    _set_t_ns(message, t_ns)
    _set_conn_id(message, conn_id)
    _set_direction(message, _DIRECTIONS[direction])
    _set_payload(message, payload)
    _set_is_text(message, is_text)
    return message


def _body_decoder(cls: type[Record]) -> Callable[[bytes], Record | None]:
    from_fields = cls.from_fields

    def decode(body: bytes) -> Record:
        return from_fields(_unpack_body(body))

    return decode


_DECODERS: dict[int, Callable[[Any], Record]] = {
    kind: cls.from_fields for kind, cls in RECORD_TYPES.items()
}
_FAST_DECODERS: dict[int, Callable[[bytes], Record | None]] = {
    **{kind: _body_decoder(cls) for kind, cls in RECORD_TYPES.items()},
    WsMessage.KIND: _fast_ws_message,
}
"""Optimistic decoders by kind: any exception or ``None`` sends the record the careful way."""


def _unframe(frame: Any) -> tuple[int, bytes]:
    """Check a frame's shape and checksum; return ``(kind, body)`` or raise :class:`_Damage`."""
    if not isinstance(frame, tuple | list) or len(frame) != 3:
        raise _Damage("not a record frame")
    kind, crc, body = frame
    if type(kind) is not int or not 0 <= kind <= _MAX_KIND:
        raise _Damage(f"bad record kind {kind!r}")
    if type(crc) is not int or type(body) is not bytes:
        raise _Damage("not a record frame")
    if zlib.crc32(body, _SEEDS[kind] if kind in _SEEDS else _seed(kind)) != crc:
        if kind == BLOCK_KIND:
            raise _Damage("checksum mismatch in a block")
        raise _Damage(f"checksum mismatch in a {KIND_NAMES.get(kind, f'kind {kind}')} record")
    return kind, body


def _decode(frame: Any) -> Record | None:
    """The careful path: a record, ``None`` for a valid record of an unknown kind, or damage."""
    kind, body = _unframe(frame)
    if kind == Header.KIND:
        raise _Damage("a second header record")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        return None
    name = KIND_NAMES[kind]
    try:
        values = _unpack_body(body)
    except ValueError as exc:
        raise _Damage(f"malformed {name} record body: {exc}") from None
    if not isinstance(values, list):
        raise _Damage(f"bad {name} record: the body is not a list of fields")
    try:
        return decoder(values)
    except (ValueError, TypeError) as exc:  # RecordFieldError is a ValueError
        raise _Damage(f"bad {name} record: {exc}") from None


class _CountingStream:
    """Counts the bytes handed to the unpacker, to tell a cut-off record from a clean end."""

    __slots__ = ("_read", "consumed", "head")

    def __init__(self, stream: IO[bytes]) -> None:
        self._read = stream.read
        self.consumed = 0
        self.head = b""

    def read(self, size: int = -1) -> bytes:
        data = self._read(size)
        if self.consumed < len(MAGIC):
            self.head = (self.head + data)[: len(MAGIC)]
        self.consumed += len(data)
        return data


def _stream_unpacker(source: _CountingStream) -> Any:
    # Frames only: a 27-char magic str, 3-arrays, ints and a bin body; nothing else is legal.
    # Frames come as tuples: building one costs less than a list.
    return msgpack.Unpacker(
        source,
        read_size=READ_CHUNK_BYTES,
        max_buffer_size=MAX_RECORD_BYTES + 2 * READ_CHUNK_BYTES,
        max_bin_len=MAX_RECORD_BYTES,
        max_str_len=64,
        max_array_len=3,
        max_map_len=0,
        max_ext_len=0,
        use_list=False,
        raw=False,
    )
