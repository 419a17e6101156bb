"""``harness info`` and ``harness cat``: look inside a recording.

Both stream the file (constant memory).  A file that is not a readable recording is an error
(one line on stderr, exit 1).  Damage is not: the reader skips damaged records and resumes at the
next whole one, everything readable is printed, then one warning naming every damaged stretch
(offsets, records lost) goes to stderr, and the exit code stays 0, so scripts still get the
prefix.  ``docs/recording-format.md`` section 10.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import click

from harness.core.damage import DamageLog
from harness.core.durations import format_duration
from harness.core.inventory import RENEW_PATH, ConnectionInfo, Inventory, take_inventory
from harness.core.recording import open_reader
from harness.core.records import (
    KIND_NAMES,
    Header,
    HttpExchange,
    Note,
    Record,
    WsClose,
    WsControl,
    WsMessage,
    WsOpen,
)

MAX_CONNECTION_LINES = 20
MAX_VALUE_CHARS = 160
_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t"}


# --------------------------------------------------------------------------- info


def _header_lines(path: str, inv: Inventory) -> Iterator[str]:
    header = inv.header
    source = dict(header.source)
    yield f"file         {path} ({inv.size_bytes:,} bytes)"
    yield f"format       {header.format} {header.format_version[0]}.{header.format_version[1]}"
    yield f"created      {header.created_at}"
    yield f"tool         {header.tool} {header.tool_version}"
    yield f"redacted     {'yes' if header.redacted else 'NO'}"
    yield f"synthetic    {'yes' if source.pop('synthetic', False) else 'no'}"
    for key, value in source.items():
        yield f"source       {key}: {_shorten(_source_value(value))}"


def _source_value(value: Any) -> str:
    if isinstance(value, str):
        return _one_line(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(map(_one_line, value))
    return _compact(value)


def _shorten(text: str) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return f"{text[: MAX_VALUE_CHARS - 20]}... ({len(text):,} chars; see harness cat)"


def _record_lines(inv: Inventory) -> Iterator[str]:
    duration_ns = inv.duration_ns
    closed = "clean close (summary present)" if inv.summary else "no summary (not closed cleanly)"
    yield f"duration     {format_duration(duration_ns / 1e9)} ({duration_ns / 1e9:.3f} s)"
    first = inv.first_t_ns or 0
    if first / 1e9 >= 1:  # cut out of a longer session: its times are the session's
        span = format_duration((inv.last_t_ns - first) / 1e9)
        yield f"  records    from {format_duration(first / 1e9)}: {span} of the session"
    yield f"ending       {closed}"
    yield f"records      {sum(inv.kinds.values()):,}"
    for name in KIND_NAMES.values():
        if inv.kinds[name]:
            yield f"  {name:<12} {inv.kinds[name]:,}"
    yield f"renewals     {inv.renew_calls} {RENEW_PATH} call(s), {inv.renewal_notes} note(s)"


def _connection_lines(inv: Inventory) -> Iterator[str]:
    conns = inv.connections
    opened = sum(1 for c in conns.values() if c.status == 101)
    refused = sum(1 for c in conns.values() if c.status is not None and c.status != 101)
    closed = sum(1 for c in conns.values() if c.close is not None)
    yield f"connections  {opened} opened, {refused} refused, {closed} closed"
    for index, (conn_id, conn) in enumerate(sorted(conns.items())):
        if index == MAX_CONNECTION_LINES:
            yield f"  ... {len(conns) - index} more"
            break
        yield f"  #{conn_id:<4} {_describe_connection(conn)}"


def _describe_connection(conn: ConnectionInfo) -> str:
    if conn.status is None:
        opened = "(no open record)"
    elif conn.status == 101:
        opened = "opened"
    else:
        opened = f"refused {conn.status}" + (f" ({conn.error})" if conn.error else "")
    close = conn.close
    if close is None:
        return f"{opened}, never closed"
    code = "no code" if close.code is None else str(close.code)
    reason = f" {close.reason!r}" if close.reason else ""
    return f"{opened}, closed {code}{reason} by {close.initiator.name.lower()}"


def _frame_lines(inv: Inventory) -> Iterator[str]:
    """Frames per recorded connection, and the distinct event frames replay serves.

    A recorder holding several connections receives one event on each of them; replay sends it
    once (see :mod:`harness.core.inventory`).
    """
    received = sum(inv.events.values()) + sum(inv.replies.values())
    yield (
        f"frames       {sum(inv.sent.values()):,} sent, {received:,} received;"
        f" {inv.distinct_frames:,} distinct event frames (as replay serves them)"
    )
    distinct = inv.distinct_events
    rows = [
        *((f"-> {name}", n, "") for name, n in sorted(inv.sent.items())),
        *((f"<- {c} {e}", n, f"{distinct[(c, e)]:,}") for (c, e), n in sorted(inv.events.items())),
        *((f"<- reply {name}", n, "") for name, n in sorted(inv.replies.items())),
    ]
    width = max((len(label) for label, _, _ in rows), default=0)
    if rows:
        yield f"  {'':<{width}}  {'recorded':>9}  {'distinct':>9}"
    for label, count, unique in rows:
        yield f"  {label:<{width}}  {count:>9,}  {unique:>9}".rstrip()


@click.command()
@click.argument("file")
def info(file: str) -> None:
    """Summarise the recording FILE: header, duration, records, connections, frames.

    Frames are counted as recorded (on every connection) and as replay serves them (distinct).
    """
    inventory = take_inventory(file)
    lines = [
        *_header_lines(file, inventory),
        *_record_lines(inventory),
        *_connection_lines(inventory),
        *_frame_lines(inventory),
    ]
    if inventory.skipped:
        skipped = ", ".join(f"kind {k}: {n}" for k, n in sorted(inventory.skipped.items()))
        lines.append(f"skipped      {skipped} (from a newer minor version)")
    damage = inventory.damage
    lines.append(f"damage       {damage.describe()}" if damage else "tail         whole file")
    click.echo("\n".join(lines))
    _warn_damage(file, damage)


# --------------------------------------------------------------------------- cat


@click.command()
@click.argument("file")
@click.option(
    "--jsonl",
    is_flag=True,
    help="One JSON object per record, every field; 'kind' is the record kind, a note's own"
    " kind is 'note_kind'.",
)
def cat(file: str, jsonl: bool) -> None:
    """Print every record of FILE, one line each (header first), for grep and diff."""
    render = _json_line if jsonl else _text_line
    with open_reader(file) as reader:
        out = sys.stdout
        try:
            out.write(render(reader.header) + "\n")
            for record in reader:
                out.write(render(record) + "\n")
            out.flush()
        except BrokenPipeError:  # e.g. `harness cat FILE | head`: the reader left, not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
            return
        _warn_damage(file, reader.damage)


def _warn_damage(path: str, damage: DamageLog) -> None:
    """One warning per file: every damaged stretch skipped, with offsets and counts."""
    if damage:
        click.echo(f"harness: warning: {path}: {damage.describe()}", err=True)


def _text_line(record: Header | Record) -> str:
    """``t kind #conn arrow detail``: seconds since the session start, payloads as text."""
    if isinstance(record, Header):
        version = ".".join(map(str, record.format_version))
        detail = (
            f"{record.format} {version} {record.created_at} {record.tool} {record.tool_version}"
        )
        return f"{'':>14}  header      {detail} source={_compact(record.source)}"
    kind = KIND_NAMES[record.KIND]
    return f"{record.t_ns / 1e9:14.6f}  {kind:<11} {_detail(record)}"


def _detail(record: Record) -> str:
    if isinstance(record, WsMessage):
        shown = _text(record.payload) if record.is_text else f"binary {_bytes_text(record.payload)}"
        return f"#{record.conn_id} {record.direction.arrow} {shown}"
    if isinstance(record, HttpExchange):
        outcome = record.error if record.status == 0 else str(record.status)
        return f"{record.method} {record.url} => {outcome} {_text(record.body)}".rstrip()
    if isinstance(record, WsOpen):
        error = f" {record.error}" if record.error else ""
        return f"#{record.conn_id} {record.url} => {record.status}{error}"
    if isinstance(record, WsControl):
        return f"#{record.conn_id} {record.direction.arrow} {record.opcode} {_text(record.payload)}"
    if isinstance(record, WsClose):
        by = record.initiator.name.lower()
        return f"#{record.conn_id} code={record.code} reason={record.reason!r} by={by}"
    if isinstance(record, Note):
        return f"{record.kind}: {_one_line(record.message)} {_compact(record.data)}"
    return f"duration={record.duration_ns / 1e9:.3f}s counts={_compact(record.counts)}"


def _json_line(record: Header | Record) -> str:
    """Every field of the record by name; enums by lower-case name, bytes per ``_jsonable``.

    ``kind`` is always the record kind; a field of the same name (a note's own kind) is written
    as ``<record kind>_kind`` (``note_kind``), so neither hides the other.
    """
    name = KIND_NAMES[record.KIND]
    fields = {
        (f"{name}_kind" if f.name == "kind" else f.name): getattr(record, f.name)
        for f in dataclasses.fields(record)
    }
    return json.dumps({"kind": name, **_jsonable(fields)}, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    """Bytes become text when they are UTF-8, else ``{"base64": ...}``; enums their name."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return repr(value)


def _compact(value: Any) -> str:
    return json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"))


def _text(data: bytes) -> str:
    try:
        return _one_line(data.decode("utf-8"))
    except UnicodeDecodeError:
        return _bytes_text(data)


def _bytes_text(data: bytes) -> str:
    return f"base64:{base64.b64encode(data).decode('ascii')}"


def _one_line(text: str) -> str:
    """Escape control characters so every record stays on one line."""
    return text.translate(_CONTROL_ESCAPES)


COMMANDS: list[click.Command] = [info, cat]
