"""The JSONL form of a recording: ``harness export`` and ``harness import``.

One JSON object per line, the header first, each record's fields by their names in
``docs/recording-format.md`` §5 (section "JSONL form" there specifies this module).  Lossless:
every value maps back to the same msgpack value, so ``import(export(f))`` is byte-identical to
``f`` for every record a v1 writer wrote.  Rules:

* ``kind`` is the record kind; a note's own kind is ``note_kind``.
* Byte fields (``body``, ``payload``) are a string when the bytes are UTF-8, else
  ``{"base64": "..."}``; enums by name (``direction``: ``client_to_server`` /
  ``server_to_client``; ``initiator``: ``client`` / ``server`` / ``abrupt``).
* Inside free-form maps (``source``, ``data``, ``counts``) a msgpack ``bin`` is
  ``{"$bin": "<base64>"}``, and a map that could be mistaken for one (its only key is ``$bin`` or
  ``$map``) is wrapped as ``{"$map": {...}}``.  Floats stay floats (``1.0``), NaN and infinities
  are written as Python's ``json`` does.
* On import a field with a default (see :mod:`harness.core.records`) may be left out.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.damage import DamageLog
from harness.core.recording import RecordingWriter, open_input, open_reader
from harness.core.records import (
    KIND_NAMES,
    RECORD_TYPES,
    Direction,
    Header,
    Initiator,
    Record,
    Summary,
)
from harness.core.safe_output import check_distinct, check_output, safe_output
from harness.errors import JsonlFormatError, UsageError

MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest line ``import`` reads: a 16 MiB record as base64 JSON fits with room to spare."""

FIELD_NAMES: Mapping[int, tuple[str, ...]] = {
    0: ("format", "format_version", "created_at", "tool", "tool_version", "source", "redacted"),
    1: ("t_ns", "method", "url", "status", "body", "request_headers", "response_headers",
        "error", "elapsed_ns"),
    2: ("t_ns", "conn_id", "url", "status", "error"),
    3: ("t_ns", "conn_id", "direction", "payload", "is_text"),
    4: ("t_ns", "conn_id", "direction", "opcode", "payload"),
    5: ("t_ns", "conn_id", "code", "reason", "initiator"),
    6: ("t_ns", "note_kind", "message", "data"),
    7: ("t_ns", "duration_ns", "counts"),
}  # fmt: skip
"""Each kind's field names, in the order of its msgpack field list (§5)."""

_KINDS = {name: kind for kind, name in KIND_NAMES.items()}
_TYPES: Mapping[int, type[Header | Record]] = {Header.KIND: Header, **RECORD_TYPES}
_BYTES = frozenset({"body", "payload"})
_FREE = frozenset({"source", "data", "counts"})
_ENUMS: Mapping[str, type[Direction | Initiator]] = {"direction": Direction, "initiator": Initiator}
_MARKERS = frozenset({"$bin", "$map"})


class JsonlError(ValueError):
    """A line that is not a record of the JSONL form."""


# --------------------------------------------------------------------------- values


def _bytes_out(data: bytes) -> Any:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _bytes_in(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"} and isinstance(value["base64"], str):
        return _b64(value["base64"])
    return value  # the record's own check names the wrong type


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise JsonlError("bad base64 text") from None


def _free_out(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bin": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        mapped = {key: _free_out(item) for key, item in value.items()}
        return {"$map": mapped} if len(value) == 1 and set(value) <= _MARKERS else mapped
    if isinstance(value, list | tuple):
        return [_free_out(item) for item in value]
    return value


def _free_in(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$bin" in value and isinstance(value["$bin"], str):
            return _b64(value["$bin"])
        if len(value) == 1 and "$map" in value and isinstance(value["$map"], dict):
            return {key: _free_in(item) for key, item in value["$map"].items()}
        return {key: _free_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_free_in(item) for item in value]
    return value


def _enum_in(kind: type[Direction | Initiator], value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(kind[value.upper()])
        except KeyError:
            names = ", ".join(member.name.lower() for member in kind)
            raise JsonlError(f"{value!r} is not one of {names}") from None
    return value


def _codec_out(name: str) -> Callable[[Any], Any]:
    if name in _BYTES:
        return _bytes_out
    if name in _FREE:
        return _free_out
    if name in _ENUMS:
        return lambda value: _ENUMS[name](value).name.lower()
    return lambda value: value


# --------------------------------------------------------------------------- records


def to_json(record: Header | Record) -> dict[str, Any]:
    """The JSON object of one record (the header included)."""
    names = FIELD_NAMES[record.KIND]
    fields = record.fields()
    return {
        "kind": KIND_NAMES[record.KIND],
        **{name: _codec_out(name)(value) for name, value in zip(names, fields, strict=True)},
    }


def to_line(record: Header | Record) -> str:
    """One line of the JSONL form (no newline).

    Text stays readable (``ensure_ascii=False``), but the characters some tools take for a line
    break (NEL, U+2028, U+2029) are escaped, so each record is one line for every reader.
    """
    line = json.dumps(to_json(record), ensure_ascii=False, separators=(", ", ": "))
    return line.translate(_LINE_BREAKS)


_LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def from_json(obj: Any) -> Header | Record:
    """The record a JSON object describes; :class:`JsonlError` saying what is wrong."""
    if not isinstance(obj, dict):
        raise JsonlError("not a JSON object")
    kind_name = obj.get("kind")
    kind = _KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise JsonlError(f"unknown record kind {obj.get('kind')!r}")
    cls, names = _TYPES[kind], FIELD_NAMES[kind]
    unknown = sorted(set(obj) - {"kind", *names})
    if unknown:
        raise JsonlError(f"unknown field {unknown[0]!r} in a {obj['kind']} record")
    defaults = _defaults(cls)
    values = []
    for name in names:
        if name in obj:
            values.append(_value_in(name, obj[name]))
        elif name in defaults:
            values.append(defaults[name])
        else:
            raise JsonlError(f"a {obj['kind']} record needs {name!r}")
    try:
        return cls.from_fields(values)
    except (ValueError, TypeError) as exc:
        raise JsonlError(f"bad {obj['kind']} record: {exc}") from None


def _value_in(name: str, value: Any) -> Any:
    if name in _BYTES:
        return _bytes_in(value)
    if name in _FREE:
        return _free_in(value)
    enum_type = _ENUMS.get(name)
    return _enum_in(enum_type, value) if enum_type is not None else value


def _defaults(cls: type[Header | Record]) -> dict[str, Any]:
    """Field defaults as msgpack field values (by JSONL name)."""
    defaults: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        name = "note_kind" if f.name == "kind" else f.name
        if f.default is not dataclasses.MISSING:
            defaults[name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            defaults[name] = f.default_factory()
    if "format_version" in defaults:
        defaults["format_version"] = list(defaults["format_version"])
    for name in ("request_headers", "response_headers"):
        if name in defaults:
            defaults[name] = []
    return defaults


def parse_line(line: str) -> Header | Record:
    """Decode one JSONL line."""
    try:
        obj = json.loads(line)
    except RecursionError:
        raise JsonlError("nested too deep") from None
    except ValueError as exc:
        raise JsonlError(f"not JSON ({exc})") from None
    return from_json(obj)


# --------------------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class ExportReport:
    """Records written as lines (header excluded) and the input's damage, if any."""

    records: int
    damage: DamageLog


def export_recording(
    source: str | os.PathLike[str], dest: str | os.PathLike[str], *, force: bool = False
) -> ExportReport:
    """Write ``source`` as JSONL to ``dest`` (every readable record; damage is skipped)."""
    check_distinct(source, dest, "export")
    check_output(dest, force=force)
    count = 0
    with open_reader(source) as reader, safe_output(dest, force=force) as stream:
        try:
            stream.write(to_line(reader.header).encode() + b"\n")
            for record in reader:
                stream.write(to_line(record).encode() + b"\n")
                count += 1
        except OSError as exc:
            raise UsageError(f"cannot write {os.fspath(dest)}: {exc.strerror}") from None
    return ExportReport(count, reader.damage)


def import_recording(
    source: str | os.PathLike[str], dest: str | os.PathLike[str], *, force: bool = False
) -> int:
    """Write the JSONL file ``source`` as a recording to ``dest``; the records written.

    Any bad line is a :class:`JsonlFormatError` naming its line; ``dest`` is then untouched.
    """
    check_distinct(source, dest, "import")
    check_output(dest, force=force)
    name = os.fspath(source)
    lines = _numbered_lines(name)  # opened lazily, inside the output's block: errors discard it
    with safe_output(dest, force=force) as stream:
        writer = RecordingWriter(stream, index=None)  # as the header says
        written, started, summary_line = 0, False, 0
        for number, record in lines:
            if summary_line:
                raise JsonlFormatError(
                    f"a record after the summary (line {summary_line})", path=name, line=number
                )
            if started == isinstance(record, Header):
                raise JsonlFormatError(
                    "the header must be the first line, and only it", path=name, line=number
                )
            try:
                if isinstance(record, Header):
                    writer.start(record)
                    started = True
                elif isinstance(record, Summary):
                    writer.finish(summary=record)
                    summary_line = number
                    written += 1
                else:
                    writer.add(record)
                    written += 1
            except UsageError as exc:
                raise JsonlFormatError(str(exc), path=name, line=number) from None
        if not started:
            raise JsonlFormatError("no header line", path=name)
        writer.flush()  # the last block (2.0) of a file without a summary
    return written


def _numbered_lines(name: str) -> Iterator[tuple[int, Header | Record]]:
    """Each non-blank line decoded, with its number; errors name the line."""
    with open_input(name, JsonlFormatError) as stream:
        number = 0
        while line := stream.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > MAX_LINE_BYTES:
                raise JsonlFormatError(
                    f"longer than {MAX_LINE_BYTES} bytes", path=name, line=number
                )
            if not line.strip():
                continue
            try:
                yield number, parse_line(line.decode("utf-8"))
            except UnicodeDecodeError:
                raise JsonlFormatError("not UTF-8 text", path=name, line=number) from None
            except JsonlError as exc:
                raise JsonlFormatError(str(exc), path=name, line=number) from None
