"""The shape of a frame: which field paths it has and what format each value is in.

The common ground of ``harness check`` (a recording against the documented protocol) and
``harness diff`` (two recordings against each other).  A frame's shape is:

* its **key**: ``CHANNEL/event`` for an event (``MAIN/goal``, ``STATS/batch_update``),
  ``reply/TYPE`` for a reply (``reply/subscribed``, ``reply/error``), ``?/TYPE`` for a frame
  with no known channel;
* its **fields**: every path to a value (``data.teamA.id``; list items as ``[]``:
  ``data.changedOdds[].value``), each with the **format** of its value (:func:`value_format`).

Formats are deliberately coarse, so two recordings of the same feed agree and a real change
shows: ``null``, ``bool``, ``int``, ``float``, ``object``, ``list``; strings as ``digits``
(``"35"``), ``decimal`` (``"0.85"``), ``pair`` (``"1;0"``), ``decimal-pair`` (``"0.85;0.42"``),
``triple`` (``"2.10;3.40;3.50"``), ``signed-triple`` (``"-0.05;+0.10;+0.15"``), ``line``
(``"1.90;1.90|2.5"``), ``iso-time``, ``word`` (``"IN_PLAY"``, ``"A"``), ``text`` (anything
else), ``empty``; ids (``matchId``, ``leagueId``, ``id``, ``eventId``) as ``id`` or ``id:rt-``
(the realtime id space, section 12), whatever their spelling; and for the fields that name
things (:data:`ENUM_KEYS`: ``type``, ``channel``, ``scope``, ``eventType``, ``code``, ``team``,
``market``, ``stat``) the value itself, ``="goal"``.

:data:`harness.core.documented.DOCUMENTED_SHAPES` is the shape of every documented frame, made
by :func:`catalogue_of` from the files under ``fixtures/`` (a test keeps them equal).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from harness.core.protocol import REPLY_TYPES, Channel, Scope

ENUM_KEYS = frozenset({"type", "channel", "scope", "eventType", "code", "team", "market", "stat"})
"""Fields whose value is a name: the value is its format (a new name is a new format)."""
ID_KEYS = frozenset({"matchId", "leagueId", "id", "eventId"})
"""Fields holding an id: any spelling is ``id``; the realtime prefix ``rt-`` is kept."""
REALTIME_PREFIX = "rt-"
ANY_FORMAT = "null"
"""Missing values are JSON null (section 7.2): null fits any format, and a field documented only
as null may hold any format."""

MAX_PATHS_PER_KEY = 500
"""Distinct field paths kept per frame key (a hostile frame cannot grow a shape unbounded)."""

_STRING_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("digits", r"\d+"),
        ("decimal", r"-?\d+\.\d+"),
        ("pair", r"\d+;\d+"),
        ("decimal-pair", r"\d+(\.\d+)?;\d+(\.\d+)?"),
        ("triple", r"\d+\.\d+;\d+\.\d+;\d+\.\d+"),
        ("signed-triple", r"[-+]?\d+\.\d+;[-+]?\d+\.\d+;[-+]?\d+\.\d+"),
        ("line", r"\d+\.\d+;\d+\.\d+\|[-+]?\d+(\.\d+)?"),
        ("iso-time", r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[-+]\d\d:\d\d)"),
        ("word", r"[A-Z][A-Z0-9_]*"),
    )
)

Shape = dict[str, set[str]]
"""Field path -> the formats seen there."""
Catalogue = dict[str, Shape]
"""Frame key -> its shape."""


def value_format(key: str, value: Any) -> str:
    """The format class of one value found under field ``key`` (see the module docstring)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if not isinstance(value, str):
        return type(value).__name__
    if key in ENUM_KEYS:
        return "=" + value
    if key in ID_KEYS:
        return "id:rt-" if value.startswith(REALTIME_PREFIX) else "id"
    if not value:
        return "empty"
    for name, pattern in _STRING_FORMATS:
        if pattern.fullmatch(value):
            return name
    return "text"


def fields(obj: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every ``(path, format, value)`` of a JSON object, depth first; containers too."""
    stack: list[tuple[str, str, Any]] = [(prefix, "", obj)]
    depth = 0
    while stack and depth < 100_000:  # bounded: a frame is at most 16 MiB
        depth += 1
        path, key, value = stack.pop()
        if path:
            yield path, value_format(key, value), value
        if isinstance(value, dict):
            for child_key, child in reversed(value.items()):
                name = str(child_key)
                stack.append((f"{path}.{name}" if path else name, name, child))
        elif isinstance(value, list):
            for item in reversed(value):
                stack.append((f"{path}[]", key, item))


def frame_key(obj: Mapping[str, Any]) -> str:
    """``CHANNEL/event``, ``reply/TYPE`` or ``?/TYPE`` (see the module docstring)."""
    kind = obj.get("type")
    kind = kind if isinstance(kind, str) else ""
    if kind in REPLY_TYPES:
        return f"reply/{kind}"
    channel = obj.get("channel")
    channel = channel if isinstance(channel, str) and channel in set(Channel) else "?"
    if kind == "event":
        event = obj.get("eventType")
        return f"{channel}/{event if isinstance(event, str) else '?'}"
    return f"{channel}/{kind or '?'}"


def parse_object(payload: bytes | str) -> dict[str, Any] | None:
    """A frame's JSON object, or ``None`` when it is not one."""
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def add_shape(catalogue: Catalogue, obj: Mapping[str, Any]) -> str:
    """Add one frame's shape to ``catalogue``; return its key."""
    key = frame_key(obj)
    shape = catalogue.setdefault(key, {})
    for path, fmt, _ in fields(obj):
        formats = shape.get(path)
        if formats is None:
            if len(shape) >= MAX_PATHS_PER_KEY:
                continue
            formats = shape[path] = set()
        formats.add(fmt)
    return key


def catalogue_of(objects: Iterable[Mapping[str, Any]]) -> Catalogue:
    """The shapes of documented frames, completed where the docs say more than the examples.

    * Sections 8.4 and 8.6: the realtime channels use the names and value formats of the ODDS /
      STATS snapshots, so every ``data`` key of an ``odds_update`` / ``stats_update`` is a
      documented ``changedOdds[].market`` / ``changedStats[].stat`` and each of their formats a
      documented ``value`` format (``timer`` and ``status`` are single values, section 10).
    * Section 6.1: a reply may name any channel and scope (its ``id`` the realtime kind too);
      STATS and ODDS events echo any scope (section 8.3).
    * Section 8.1: a goal's ``team`` is ``"A"`` or ``"B"``.
    """
    catalogue: Catalogue = {}
    for obj in objects:
        add_shape(catalogue, obj)
    realtime = {
        "ODDS_REALTIME/odds_update_realtime": ("ODDS/odds_update", "data.changedOdds[]", "market"),
        "STATS_REALTIME/stats_update_realtime": (
            "STATS/stats_update", "data.changedStats[]", "stat"
        ),
    }  # fmt: skip
    for key, (snapshot, items, name) in realtime.items():
        if key not in catalogue or snapshot not in catalogue:
            continue
        data = {p: f for p, f in catalogue[snapshot].items() if p.count(".") == 1}
        data = {p: f for p, f in data.items() if p.startswith("data.")}
        catalogue[key].setdefault(f"{items}.{name}", set()).update(
            "=" + p.removeprefix("data.") for p in data
        )
        catalogue[key].setdefault(f"{items}.value", set()).update(*data.values())
    scopes = {"=" + str(scope) for scope in Scope}
    for key, shape in catalogue.items():
        if key.startswith("reply/") and "channel" in shape:
            shape["channel"].update("=" + str(channel) for channel in Channel)
            shape["scope"].update(scopes)
            shape["id"].add("id:rt-")
        if key.split("/")[0] in ("STATS", "ODDS") and "scope" in shape:
            shape["scope"].update(scopes)
        if "data.team" in shape:
            shape["data.team"].update({"=A", "=B"})
    return catalogue


def render_documented(catalogue: Catalogue) -> str:
    """The source of :mod:`harness.core.documented` for ``catalogue``."""
    lines = [
        "# ruff: noqa: E501",
        '"""The shape of every documented frame: generated from ``fixtures/`` by',
        "``harness.core.shapes.catalogue_of`` (``tests/core/test_shapes.py`` keeps them equal;",
        "on a mismatch it writes this module anew as ``documented.py.new``).",
        "",
        "Frame key -> field path -> the value formats the documentation shows there.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "",
        "# fmt: off",
        "DOCUMENTED_SHAPES: Mapping[str, Mapping[str, frozenset[str]]] = {",
    ]
    for key in sorted(catalogue):
        lines.append(f"    {json.dumps(key)}: {{")
        for path, formats in catalogue[key].items():
            lines.append(f"        {json.dumps(path)}: frozenset({json.dumps(sorted(formats))}),")
        lines.append("    },")
    lines += ["}", "# fmt: on", ""]
    return "\n".join(lines)


def format_fits(fmt: str, documented: set[str] | frozenset[str]) -> bool:
    """Does a value of format ``fmt`` fit a field documented with these formats?"""
    return fmt == ANY_FORMAT or fmt in documented or documented <= {ANY_FORMAT}
