"""classify_frame's msgspec fast path answers exactly as the json.loads reference, on any input."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core import protocol
from harness.core.protocol import Channel, FrameInfo, classify_frame

ROUTING_KEYS = ("type", "channel", "eventType", "matchId", "leagueId", "scope", "id")


def reference(payload: bytes | str) -> FrameInfo | None:
    """The frame as ``json.loads`` reads it: the reference path alone."""
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    except UnicodeDecodeError:
        return None
    return protocol._classify_json(text)


def check(payload: bytes | str) -> None:
    assert classify_frame(payload) == reference(payload)


@contextmanager
def int_digits_limit(limit: int) -> Iterator[None]:
    was = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(limit)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(was)


# Hostile strings: escapes, lone surrogates (json.loads accepts them), controls, non-ASCII.
odd_text = st.text(
    st.characters(codec=None, exclude_categories=()) | st.sampled_from(["\ud800", "\udc00", "é"]),
    max_size=12,
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
routing_values = (
    st.sampled_from(
        [*Channel, "goal", "event", "stats_update", "subscribed", "unsubscribed", "pong", "error"]
    )
    | st.sampled_from(["all", "match", "league", "match:12", "league:39", "12", "", "main"])
    | json_values
)


@st.composite
def frame_texts(draw: st.DrawFn) -> str:
    """A JSON object text in any envelope style: routing fields of any value (or absent, or
    given twice), other fields of any JSON, any key order, escaped or raw, spaced or not."""
    pairs = [(key, draw(routing_values)) for key in ROUTING_KEYS if draw(st.booleans())]
    pairs += draw(st.lists(st.tuples(odd_text, json_values), max_size=3))
    pairs += draw(st.lists(st.tuples(st.sampled_from(ROUTING_KEYS), routing_values), max_size=2))
    pairs = draw(st.permutations(pairs))
    ascii_only = draw(st.booleans())
    space = draw(st.sampled_from(["", " ", "\n\t"]))
    items = [
        f"{json.dumps(key, ensure_ascii=ascii_only)}:{space}"
        f"{json.dumps(value, ensure_ascii=ascii_only)}"
        for key, value in pairs
    ]
    return space + "{" + f",{space}".join(items) + "}" + space


@st.composite
def damaged(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    """A text with one character inserted, removed or replaced: near-JSON, the parsers' edges."""
    text = draw(texts)
    at = draw(st.integers(0, len(text)))
    insert = draw(st.sampled_from(list('{}[]",:\\ 0-eE.tnfNI\x00\x7f')) | st.characters())
    how = draw(st.sampled_from(["insert", "remove", "replace"]))
    if how == "insert":
        return text[:at] + insert + text[at:]
    return text[:at] + (insert if how == "replace" else "") + text[at + 1 :]


@given(frame_texts())
def test_frames_of_every_envelope_style(text: str) -> None:
    check(text)
    check(text.encode("utf-8", "surrogatepass"))


@given(damaged(frame_texts()))
def test_damaged_frames(text: str) -> None:
    check(text)
    check(text.encode("utf-8", "surrogatepass"))


@given(json_values.map(lambda v: json.dumps(v)))
def test_any_json(text: str) -> None:
    check(text)


@given(st.binary(max_size=64) | st.text(max_size=64))
def test_any_bytes_or_text(payload: bytes | str) -> None:
    check(payload)


ENVELOPES = [
    {"type": "goal", "channel": "MAIN", "matchId": "1", "leagueId": "39", "data": {"a": [1]}},
    {"type": "event", "channel": "STATS", "scope": "match", "id": "7", "eventType": "stats"},
    {"type": "event", "channel": "ODDS", "scope": "league:39", "eventType": "odds", "data": {}},
    {"type": "subscribed", "channel": "MAIN", "scope": "all", "id": None, "topicKey": "MAIN:all"},
    {"type": "pong", "ts": 1},
    {"type": "error", "code": "INVALID_SCOPE", "message": "M\u00fcller"},
]


@pytest.mark.parametrize("frame", ENVELOPES)
def test_common_envelopes_take_the_fast_path(frame: dict[str, Any]) -> None:
    text = json.dumps(frame)
    assert protocol._fast_envelope(text) is not None
    check(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"goal","channel":"MAIN","x":NaN}',
        '{"type":"goal","channel":"MAIN","x":"\\ud800"}',
        '{"type":"goal","channel":"MAIN","matchId":12}',
        '{"type":"goal","channel":"MAIN","x":' + "[" * 65 + "]" * 65 + "}",
        '{"type":"goal","channel":"MAIN","x":' + "[" * 5000 + "]" * 5000 + "}",
        '["type","goal"]',
    ],
)
def test_what_msgspec_reads_otherwise_takes_the_reference_path(text: str) -> None:
    assert protocol._fast_envelope(text) is None
    check(text)


@pytest.mark.parametrize("limit", [640, 4300])
def test_integers_past_the_digit_limit_are_not_json_objects(limit: int) -> None:
    with int_digits_limit(limit):
        for digits in (limit - 1, limit, limit + 1, limit + 50):
            text = '{"type":"goal","channel":"MAIN","x":' + "7" * digits + "}"
            check(text)
            assert (classify_frame(text) is None) == (digits > limit)


def test_duplicate_keys_keep_the_last_as_json_loads_does() -> None:
    text = '{"type":"pong","channel":"MAIN","t\\u0079pe":"goal","matchId":"1","matchId":"2"}'
    assert protocol._fast_envelope(text) is not None
    info = classify_frame(text)
    assert info is not None
    assert info.is_event
    assert info.match_id == "2"
    check(text)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"type":"goal","channel":"MAIN","x":"\xff"}',
        b'{"type":"goal","channel":"MAIN","x":"\xed\xa0\x80"}',
        '{"type":"goal","channel":"MAIN","x":"\ud800"}',
        '\ufeff{"type":"goal","channel":"MAIN"}',
        '{"type":"goal","channel":"MAIN","x":1e999}',
        '{"type":"goal","channel":"MAIN","x":-Infinity}',
        '{"type":"goal","channel":"MAIN"}\x00',
    ],
)
def test_odd_payloads(payload: bytes | str) -> None:
    check(payload)
