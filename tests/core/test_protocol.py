"""Protocol model: topics, commands in both scope encodings, frame classification, routing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core.protocol import (
    PLAN_CHANNELS,
    Channel,
    Command,
    FrameInfo,
    Ping,
    Plan,
    Scope,
    Subscribe,
    Topic,
    Unsubscribe,
    classify_frame,
    encode_command,
    parse_command,
    topic_matches,
)
from harness.errors import ProtocolViolation, UsageError


def dumps(obj: Any) -> str:
    return json.dumps(obj)


def parse_or_violation(
    payload: str | bytes, *, is_text: bool = True
) -> Command | ProtocolViolation:
    """Anything but a ProtocolViolation escaping parse_command fails the calling test."""
    try:
        return parse_command(payload, is_text=is_text)
    except ProtocolViolation as violation:
        return violation


# --- plans and topics ---------------------------------------------------------------------


def test_plans_follow_section_3_and_mega_has_main_realtime() -> None:
    assert PLAN_CHANNELS[Plan.BASIC] == frozenset()
    assert PLAN_CHANNELS[Plan.PRO] == {Channel.MAIN}
    assert PLAN_CHANNELS[Plan.ULTRA] == {Channel.MAIN, Channel.STATS, Channel.ODDS}
    assert PLAN_CHANNELS[Plan.MEGA] == set(Channel)
    assert Channel.MAIN_REALTIME in PLAN_CHANNELS[Plan.MEGA]


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("MAIN", "MAIN:all"),
        ("MAIN:all", "MAIN:all"),
        ("stats:match:12345", "STATS:match:12345"),
        ("ODDS:league:f2b16fa54cb525d", "ODDS:league:f2b16fa54cb525d"),
        ("MAIN_REALTIME:match:rt-1:2", "MAIN_REALTIME:match:rt-1:2"),
    ],
)
def test_topic_parse_cli_form(spec: str, key: str) -> None:
    topic = Topic.parse(spec)
    assert topic.key == key
    assert Topic.parse(topic.key) == topic


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("NOPE:all", "unknown channel 'NOPE'"),
        ("", "unknown channel ''"),
        ("MAIN:team:1", "scope must be all, match or league"),
        ("MAIN:match", "expected MAIN:match:ID"),
        ("MAIN:match:", "expected MAIN:match:ID"),
        ("MAIN:all:5", "expected MAIN:all"),
    ],
)
def test_topic_parse_rejects_bad_specs_in_one_line(spec: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem) as caught:
        Topic.parse(spec)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("scope", "ident"), [(Scope.ALL, "1"), (Scope.MATCH, None), (Scope.LEAGUE, "")]
)
def test_topic_invariants(scope: Scope, ident: str | None) -> None:
    with pytest.raises(UsageError):
        Topic(Channel.MAIN, scope, ident)


# --- parse_command --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            {"action": "subscribe", "channel": "MAIN", "scope": "all"},
            Subscribe(Topic(Channel.MAIN, Scope.ALL)),
        ),
        (
            {"action": "subscribe", "channel": "MAIN", "scope": "all", "id": None},
            Subscribe(Topic(Channel.MAIN, Scope.ALL)),
        ),
        (
            {"action": "subscribe", "channel": "MAIN", "scope": "match", "id": "b01d28ac92221034"},
            Subscribe(Topic(Channel.MAIN, Scope.MATCH, "b01d28ac92221034")),
        ),
        (
            {"action": "subscribe", "channel": "STATS", "scope": "match:12345"},
            Subscribe(Topic(Channel.STATS, Scope.MATCH, "12345")),
        ),
        (
            {"action": "subscribe", "channel": "ODDS", "scope": "league:67890", "id": "67890"},
            Subscribe(Topic(Channel.ODDS, Scope.LEAGUE, "67890")),
        ),
        (
            {"action": "unsubscribe", "channel": "STATS", "scope": "league:67890"},
            Unsubscribe(Topic(Channel.STATS, Scope.LEAGUE, "67890")),
        ),
        ({"action": "ping"}, Ping()),
        ({"action": "ping", "extra": [1, 2]}, Ping()),
    ],
)
def test_parse_command_accepts_both_encodings(frame: dict[str, Any], expected: Command) -> None:
    assert parse_command(dumps(frame)) == expected
    assert parse_command(dumps(frame).encode()) == expected


@pytest.mark.parametrize(
    ("payload", "code", "text"),
    [
        ("not json", "INVALID_COMMAND", "Invalid command: not valid JSON"),
        (b"\xff\xfe", "INVALID_COMMAND", "Invalid command: not valid JSON"),
        ("[1, 2]", "INVALID_COMMAND", "Invalid command: expected a JSON object, got an array"),
        ('"ping"', "INVALID_COMMAND", "Invalid command: expected a JSON object, got a string"),
        ("{}", "INVALID_COMMAND", 'Invalid command: missing "action" (expected subscribe, '),
        ('{"action": "Ping"}', "INVALID_COMMAND", 'Invalid command: unknown action "Ping"'),
        ('{"action": 7}', "INVALID_COMMAND", "Invalid command: unknown action 7"),
        (
            '{"action": "subscribe", "scope": "all"}',
            "INVALID_CHANNEL",
            'missing "channel" (expected one of MAIN,',
        ),
        (
            '{"action": "subscribe", "channel": "main", "scope": "all"}',
            "INVALID_CHANNEL",
            'Invalid channel: "main" is not one of MAIN, MAIN_REALTIME, STATS, ODDS, ',
        ),
        ('{"action": "subscribe", "channel": ["MAIN"]}', "INVALID_CHANNEL", '["MAIN"] is not'),
        ('{"action": "subscribe", "channel": "MAIN"}', "INVALID_SCOPE", 'missing "scope"'),
        ('{"action": "subscribe", "channel": "MAIN", "scope": 1}', "INVALID_SCOPE", "scope 1;"),
        (
            '{"action": "subscribe", "channel": "MAIN", "scope": "match"}',
            "INVALID_SCOPE",
            "Invalid scope: scope match needs a non-empty string id",
        ),
        ('{"action": "subscribe", "channel": "MAIN", "scope": "league:"}', "INVALID_SCOPE", ""),
        (
            '{"action": "subscribe", "channel": "MAIN", "scope": "match", "id": 12345}',
            "INVALID_SCOPE",
            "Invalid scope: id must be a string, got 12345",
        ),
        ('{"action": "subscribe", "channel": "MAIN", "scope": "team:1"}', "INVALID_SCOPE", ""),
        ('{"action": "subscribe", "channel": "MAIN", "scope": "all:1"}', "INVALID_SCOPE", "no id"),
        (
            '{"action": "unsubscribe", "channel": "MAIN", "scope": "match:1", "id": "2"}',
            "INVALID_SCOPE",
            'scope "match:1" disagrees with id "2"',
        ),
    ],
)
def test_parse_command_errors_per_section_12(payload: str | bytes, code: str, text: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse_command(payload)
    assert caught.value.code == code
    assert caught.value.message.startswith(text) or text in caught.value.message
    assert caught.value.reply == {"type": "error", "code": code, "message": caught.value.message}


def test_binary_frames_are_invalid_commands_even_when_they_hold_json() -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse_command(b'{"action":"ping"}', is_text=False)
    assert caught.value.code == "INVALID_COMMAND"
    assert "binary" in caught.value.message


def test_messages_come_from_the_given_templates() -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse_command("{", messages={"INVALID_COMMAND": "bad {reason}!"})
    assert caught.value.message == "bad not valid JSON!"


def test_deeply_nested_json_is_an_invalid_command_not_a_crash() -> None:
    with pytest.raises(ProtocolViolation):
        parse_command("[" * 100_000 + "]" * 100_000)


ids = st.text(min_size=1, max_size=20)
topics = st.one_of(
    st.builds(Topic, st.sampled_from(Channel), st.just(Scope.ALL), st.none()),
    st.builds(Topic, st.sampled_from(Channel), st.sampled_from([Scope.MATCH, Scope.LEAGUE]), ids),
)


@given(topic=topics, subscribe=st.booleans())
def test_any_topic_round_trips_in_both_encodings(topic: Topic, subscribe: bool) -> None:
    command: Command = Subscribe(topic) if subscribe else Unsubscribe(topic)
    assert parse_command(encode_command(command)) == command
    embedded = {"action": "subscribe" if subscribe else "unsubscribe", "channel": topic.channel}
    embedded["scope"] = "all" if topic.id is None else f"{topic.scope}:{topic.id}"
    assert parse_command(dumps(embedded)) == command
    assert Topic.parse(topic.key) == topic


def test_encode_command_uses_form_a() -> None:
    topic = Topic(Channel.STATS, Scope.MATCH, "12345")
    assert json.loads(encode_command(Subscribe(topic))) == {
        "action": "subscribe",
        "channel": "STATS",
        "scope": "match",
        "id": "12345",
    }
    assert json.loads(encode_command(Ping())) == {"action": "ping"}


@given(payload=st.one_of(st.text(), st.binary()), is_text=st.booleans())
def test_parse_command_raises_only_protocol_violations(payload: str | bytes, is_text: bool) -> None:
    outcome = parse_or_violation(payload, is_text=is_text)
    if isinstance(outcome, ProtocolViolation):
        assert outcome.reply["type"] == "error"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@given(
    action=st.sampled_from(["subscribe", "unsubscribe", "ping"]) | json_values,
    channel=st.sampled_from(list(Channel)) | json_values,
    scope=st.sampled_from(["all", "match", "league", "match:1", "league:"]) | json_values,
    ident=json_values,
)
def test_parse_command_on_near_miss_objects(
    action: Any, channel: Any, scope: Any, ident: Any
) -> None:
    frame = {"action": action, "channel": channel, "scope": scope, "id": ident}
    outcome = parse_or_violation(dumps(frame))
    if isinstance(outcome, ProtocolViolation):
        assert outcome.code in {"INVALID_COMMAND", "INVALID_CHANNEL", "INVALID_SCOPE"}
    else:
        assert parse_command(encode_command(outcome)) == outcome


# --- classify_frame and routing ------------------------------------------------------------


def test_classify_main_style_event() -> None:
    info = classify_frame(b'{"type":"goal","channel":"MAIN","matchId":"1","leagueId":"2"}')
    assert info == FrameInfo("goal", Channel.MAIN, "goal", "1", "2", None, True)


def test_classify_echo_style_event() -> None:
    frame = {"type": "event", "channel": "STATS", "scope": "match", "id": "9", "eventType": "x"}
    info = classify_frame(dumps(frame))
    assert info is not None
    assert (info.type, info.event_type, info.match_id, info.is_event) == ("event", "x", "9", True)
    assert info.topic == Topic(Channel.STATS, Scope.MATCH, "9")


def test_classify_replies_are_not_events() -> None:
    reply = {"type": "subscribed", "channel": "MAIN", "scope": "all", "id": None}
    info = classify_frame(dumps(reply))
    assert info is not None
    assert not info.is_event
    assert info.topic == Topic(Channel.MAIN, Scope.ALL)
    pong = classify_frame('{"type":"pong","ts":1}')
    assert pong == FrameInfo("pong")


@pytest.mark.parametrize("payload", ["", "nope", "[1]", '"x"', b"\xff", "[" * 10_000])
def test_classify_non_objects_is_none(payload: str | bytes) -> None:
    assert classify_frame(payload) is None


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "goal", "channel": "NOPE", "matchId": "1"},
        {"channel": "MAIN", "matchId": "1"},
        {"type": "event", "channel": "STATS", "scope": "match", "id": "1"},
    ],
)
def test_unknown_channel_or_nameless_frames_are_never_routed(frame: dict[str, Any]) -> None:
    info = classify_frame(dumps(frame))
    assert info is not None
    assert not info.is_event
    assert not topic_matches(Topic(Channel.MAIN, Scope.ALL), info)


def main_frame(channel: str, match_id: str = "m1", league_id: str = "l1") -> FrameInfo:
    frame = {"type": "goal", "channel": channel, "matchId": match_id, "leagueId": league_id}
    info = classify_frame(dumps(frame))
    assert info is not None
    return info


def echo_frame(channel: str, scope: str, ident: str | None, event: str) -> FrameInfo:
    frame = {"type": "event", "channel": channel, "scope": scope, "id": ident, "eventType": event}
    info = classify_frame(dumps(frame))
    assert info is not None
    return info


@pytest.mark.parametrize("channel", ["MAIN", "MAIN_REALTIME", "STATS_REALTIME", "ODDS_REALTIME"])
@pytest.mark.parametrize(
    ("spec_tail", "matches"),
    [
        ("all", True),
        ("match:m1", True),
        ("match:m2", False),
        ("league:l1", True),
        ("league:m1", False),
    ],
)
def test_routing_of_id_carrying_channels(channel: str, spec_tail: str, matches: bool) -> None:
    info = main_frame(channel)
    assert topic_matches(Topic.parse(f"{channel}:{spec_tail}"), info) is matches
    other = "MAIN" if channel != "MAIN" else "MAIN_REALTIME"
    assert not topic_matches(Topic.parse(f"{other}:{spec_tail}"), info)


@pytest.mark.parametrize("channel", ["STATS", "ODDS"])
@pytest.mark.parametrize(
    ("frame_topic", "subscription", "matches"),
    [
        (("match", "1"), "match:1", True),
        (("match", "1"), "all", False),
        (("match", "1"), "league:1", False),
        (("league", "7"), "league:7", True),
        (("league", "7"), "match:7", False),
        (("all", None), "all", True),
        (("all", None), "match:1", False),
    ],
)
def test_routing_of_echo_channels_is_exact(
    channel: str, frame_topic: tuple[str, str | None], subscription: str, matches: bool
) -> None:
    event = "batch_update" if frame_topic[0] == "all" else "stats_update"
    info = echo_frame(channel, frame_topic[0], frame_topic[1], event)
    assert topic_matches(Topic.parse(f"{channel}:{subscription}"), info) is matches


def test_replies_never_match_a_topic() -> None:
    info = classify_frame('{"type":"subscribed","channel":"MAIN","scope":"all","id":null}')
    assert info is not None
    assert not topic_matches(Topic(Channel.MAIN, Scope.ALL), info)
