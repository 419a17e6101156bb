"""Blocks of recording format 2.0: many records under one checksum (``docs/recording-format.md``).

Private to :mod:`harness.core.recording`.  A block is one ordinary frame ``[9, crc, body]``
(so resynchronisation, the trailing index and the summary work as in 1.x); its body is one of::

    [first, kinds, records]   first: records in blocks before this one; kinds: bin, one byte
                              per record (its kind); records: array of field lists (as 1.x)
    [first, n, t_ns[], conn_id[], direction[], payload[]]
                              a block of n text messages (``is_text`` true), by columns

A record's position is ``frame offset << 16 | number in its frame`` (:func:`position`).  Decoding
a block of records checks each record's fields as 1.x does; a block of text messages is checked
a column at a time (:func:`check_columns`), and read without record objects by the hot path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import Any

import msgpack

from .records import (
    KIND_NAMES,
    MAX_NESTING,
    RECORD_TYPES,
    Direction,
    Header,
    Record,
    Summary,
    WsMessage,
)

BLOCK_KIND = 9
"""Frame kind of a block (format 2.0)."""

BLOCK_VERSION = (2, 0)
"""The format version of a file whose records are in blocks."""

BLOCK_BYTES = 64 * 1024
"""A writer starts a new block before the record that would take this one past 64 KiB."""

BLOCK_RECORDS = 4096
"""Records in one block at most (a writer's limit; a reader accepts up to 65,535)."""

POSITION_BITS = 16
_NUMBER_MASK = (1 << POSITION_BITS) - 1
BLOCK_OVERHEAD = 32
"""Bytes of a block body besides its records' fields, at most (the 16 MiB limit is the body's)."""


def position(frame_offset: int, number: int) -> int:
    """The position of the ``number``-th record of the frame at byte ``frame_offset``."""
    return frame_offset << POSITION_BITS | number


def split_position(value: int) -> tuple[int, int]:
    """``(frame offset, number in the frame)`` of a position."""
    return value >> POSITION_BITS, value & _NUMBER_MASK


class BlockError(ValueError):
    """A block whose checksum holds but whose content does not fit (the reason given)."""


def _reject_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"msgpack extension type {code} is not used by recordings")


_unpack: Callable[[bytes], Any] = functools.partial(
    msgpack.unpackb, use_list=False, raw=False, strict_map_key=True, ext_hook=_reject_ext
)


def block_body(first: int, kinds: bytes, bodies: Sequence[bytes]) -> bytes:
    """The body of a block of records already encoded one by one (each its fields' msgpack)."""
    pack = msgpack.Packer(use_bin_type=True)
    head: bytes = pack.pack(first) + pack.pack(kinds) + pack.pack_array_header(len(bodies))
    return b"\x93" + head + b"".join(bodies)


def text_block_body(first: int, messages: Sequence[WsMessage]) -> bytes:
    """The body of a block of text messages only, written by columns."""
    body: bytes = msgpack.packb(
        [
            first,
            len(messages),
            [m.t_ns for m in messages],
            [m.conn_id for m in messages],
            [int(m.direction) for m in messages],
            [m.payload for m in messages],
        ],
        use_bin_type=True,
    )
    return body


Columns = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]
"""``(t_ns, conn_id, direction, payload)`` columns of a text block, as unpacked."""
Checked = tuple[Sequence[int], Sequence[int], Iterable[Direction], Sequence[bytes]]
"""The same, checked, directions as :class:`Direction` (an iterable used once)."""


def unpack_block(body: bytes) -> tuple[int, bytes, tuple[Any, ...] | None, Columns | None]:
    """``(first, kinds, rows, columns)`` of a block body whose checksum held: rows (each
    record's fields) for a block of records, or columns for a block of text messages."""
    try:
        values = _unpack(body)
    except ValueError as exc:
        raise BlockError(f"malformed block body: {exc}") from None
    if not isinstance(values, tuple) or len(values) not in (3, 6):
        raise BlockError("bad block: not [first, kinds, records] or text columns")
    first = values[0]
    if type(first) is not int or first < 0:
        raise BlockError("bad block: its first record number is not a count")
    if len(values) == 6:
        count, *columns = values[1:]
        if type(count) is not int or not all(
            isinstance(c, tuple) and len(c) == count for c in columns
        ):
            raise BlockError("bad block: text columns of different lengths")
        kinds, rows, texts = _TEXT_KINDS[:count], None, tuple(columns)
    else:
        kinds, rows, texts = values[1], values[2], None
        if type(kinds) is not bytes or not isinstance(rows, tuple) or len(rows) != len(kinds):
            raise BlockError("bad block: the kinds do not match the records")
    if len(kinds) > _NUMBER_MASK + 1:
        raise BlockError("bad block: too many records")
    return first, kinds, rows, texts


def check_columns(columns: Columns) -> Checked:
    """Text columns of the usual types, checked a column at a time in C (the ``sum`` of
    integers is an ``int``, of anything else a ``float`` or an error; ``bytes()`` takes only
    0..255, ``b"".join`` only bytes); else :class:`BlockError`."""
    ts, conns, directions, payloads = columns
    try:
        integers = type(sum(ts)) is int and type(sum(conns)) is int
        codes = bytes(directions)
        b"".join(payloads)
    except (TypeError, ValueError):
        integers = False
    if not integers:
        raise BlockError("bad ws_message record in a text block: a field of the wrong type")
    count = len(codes)
    if codes.count(1) == count:
        return ts, conns, repeat(Direction.SERVER_TO_CLIENT, count), payloads
    if codes.translate(None, b"\x00\x01"):
        raise BlockError("bad ws_message record in a text block: not a direction")
    return ts, conns, map(_direction, codes), payloads


def decode_rows(kinds: bytes, rows: Sequence[Any], in_block: bool) -> list[Record | None]:
    """The records of a block (``None`` for a kind this reader does not know); a field that
    does not fit raises :class:`BlockError` (the whole block is then damage).  ``in_block``
    false: the one record of a frame of its own (the summary)."""
    out: list[Record | None] = []
    for kind, values in zip(kinds, rows, strict=True):
        if kind == Header.KIND or (in_block and kind == Summary.KIND):
            raise BlockError(f"bad block: a {KIND_NAMES[kind]} record inside it")
        cls = RECORD_TYPES.get(kind)
        if cls is None:
            out.append(None)
            continue
        name = KIND_NAMES[kind]
        if not isinstance(values, tuple | list):
            raise BlockError(f"bad {name} record: the body is not a list of fields")
        try:
            out.append(cls.from_fields(_lists(values, MAX_NESTING + 1)))
        except (ValueError, TypeError) as exc:  # RecordFieldError is a ValueError
            raise BlockError(f"bad {name} record: {exc}") from None
    return out


def _lists(value: Any, depth: int) -> Any:
    """``value`` with its arrays as lists, as 1.x reads them (blocks are unpacked with tuples,
    cheaper for the hot path); deeper than ``depth`` left as is (the record refuses it)."""
    if depth and isinstance(value, tuple):
        return [_lists(v, depth - 1) for v in value]
    if depth and isinstance(value, dict):
        return {k: _lists(v, depth - 1) for k, v in value.items()}
    return value


_TEXT_KINDS = bytes([WsMessage.KIND]) * (_NUMBER_MASK + 1)
_DIRECTIONS: tuple[Direction, ...] = (Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT)
_direction = _DIRECTIONS.__getitem__
_new_object = object.__new__
_SETTERS = tuple(
    vars(WsMessage)[name].__set__ for name in ("t_ns", "conn_id", "direction", "payload")
)
_set_is_text = vars(WsMessage)["is_text"].__set__


def text_messages(columns: Checked) -> list[Record | None]:
    """WsMessage objects from checked columns, filled slot by slot without ``__init__``."""
    count = len(columns[0])
    messages: list[Record | None] = list(map(_new_object, repeat(WsMessage, count)))
    for setter, column in zip(_SETTERS, columns, strict=True):
        for _ in map(setter, messages, column):
            pass
    for _ in map(_set_is_text, messages, repeat(True)):
        pass
    return messages
