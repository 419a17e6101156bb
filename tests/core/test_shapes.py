"""Frame shapes: value formats, and the documented catalogue kept equal to ``fixtures/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.core import documented
from harness.core.shapes import catalogue_of, fields, format_fits, frame_key, render_documented

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _fixture_objects() -> list[dict[str, Any]]:
    files = sorted((FIXTURES / "events").rglob("*.json")) + sorted(
        (FIXTURES / "replies").rglob("*.json")
    )
    return [json.loads(path.read_text()) for path in files]


def test_the_documented_shapes_are_those_of_the_fixtures() -> None:
    expected = render_documented(catalogue_of(_fixture_objects()))
    module = Path(documented.__file__)
    if module.read_text() != expected:
        module.with_suffix(".py.new").write_text(expected)
        pytest.fail(f"{module} is stale: the fixtures changed; see {module}.new")


@pytest.mark.parametrize(
    ("key", "value", "fmt"),
    [
        ("timer", "35", "digits"),
        ("xg", "0.85;0.42", "decimal-pair"),
        ("score", "1;0", "pair"),
        ("score", "1-0", "text"),
        ("live1x2", "1.85;3.60;4.20", "triple"),
        ("dropping1x2", "-0.05;+0.10;+0.15", "signed-triple"),
        ("liveOU", "2.10;1.70|2.5", "line"),
        ("liveAH", "1.80;2.00|-0.5", "line"),
        ("startDate", "2024-01-15T15:00:00Z", "iso-time"),
        ("status", "IN_PLAY", "word"),
        ("matchId", "12345", "id"),
        ("matchId", "b01d28ac92221034", "id"),
        ("matchId", "rt-6652480e96", "id:rt-"),
        ("channel", "MAIN", "=MAIN"),
        ("ts", 1705312800000, "int"),
        ("ts", "1705312800000", "digits"),
        ("extraTimer", None, "null"),
        ("name", "", "empty"),
        ("name", "Manchester United", "text"),
    ],
)
def test_value_formats(key: str, value: Any, fmt: str) -> None:
    assert [f for _, f, _ in fields({key: value})] == [fmt]


def test_paths_of_nested_objects_and_lists() -> None:
    frame = {"type": "x", "data": {"changedOdds": [{"market": "liveOU", "value": "1.0;2.0|2.5"}]}}
    assert [(p, f) for p, f, _ in fields(frame)] == [
        ("type", "=x"),
        ("data", "object"),
        ("data.changedOdds", "list"),
        ("data.changedOdds[]", "object"),
        ("data.changedOdds[].market", "=liveOU"),
        ("data.changedOdds[].value", "line"),
    ]


def test_frame_keys() -> None:
    assert frame_key({"type": "goal", "channel": "MAIN"}) == "MAIN/goal"
    assert frame_key({"type": "event", "channel": "STATS", "eventType": "x"}) == "STATS/x"
    assert frame_key({"type": "pong", "ts": 1}) == "reply/pong"
    assert frame_key({"type": "goal", "channel": "NOPE"}) == "?/goal"
    assert frame_key({}) == "?/?"


def test_null_fits_anywhere_and_a_null_only_field_takes_any_format() -> None:
    assert format_fits("null", frozenset({"pair"}))
    assert format_fits("pair", frozenset({"null"}))
    assert not format_fits("text", frozenset({"pair"}))


def test_the_realtime_channels_have_the_snapshot_names_and_formats() -> None:
    odds = documented.DOCUMENTED_SHAPES["ODDS_REALTIME/odds_update_realtime"]
    assert "=kickoff1hAsianCorners" in odds["data.changedOdds[].market"]
    assert odds["data.changedOdds[].value"] == {"line", "triple", "signed-triple"}
    stats = documented.DOCUMENTED_SHAPES["STATS_REALTIME/stats_update_realtime"]
    assert {"=timer", "=status", "=xg"} <= stats["data.changedStats[].stat"]
