"""The control API's request rules (harness.core.control): each endpoint parses to its typed
command; an unknown path, a wrong method or a bad body is an error naming the problem."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.core.control import (
    CloseConnections,
    ControlError,
    ExpireToken,
    Pause,
    Pings,
    Play,
    PlayNext,
    Push,
    ReadJournal,
    ReadStats,
    Reset,
    Resume,
    Seek,
    SetApiTokenState,
    SetSpeed,
    close_code_problem,
    is_control_path,
    parse_control,
)
from harness.core.mock.token_table import ApiTokenState
from harness.core.protocol import Plan


def post(name: str, body: Any = None, *, raw: bytes | None = None) -> object:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return parse_control("POST", f"/_harness/{name}", {}, data)


def refused(result: object) -> ControlError:
    assert isinstance(result, ControlError), result
    return result


@pytest.mark.parametrize(
    ("name", "body", "command"),
    [
        ("push", {"frame": '{"type":"x"}'}, Push(b'{"type":"x"}')),
        ("push", {"frame": "raw", "token": "w1"}, Push(b"raw", "w1")),
        ("expire-token", None, ExpireToken()),
        ("expire-token", {"token": "w1"}, ExpireToken("w1")),
        (
            "api-token-state",
            {"api_token": "k", "state": "suspended"},
            SetApiTokenState("k", ApiTokenState.SUSPENDED),
        ),
        (
            "api-token-state",
            {"api_token": "k", "state": "active", "plan": "pro"},
            SetApiTokenState("k", ApiTokenState.ACTIVE, Plan.PRO),
        ),
        ("pings", {"answer": False}, Pings(answer=False)),
        ("close-connections", None, CloseConnections()),
        (
            "close-connections",
            {"code": 1001, "reason": "bye", "abrupt": True},
            CloseConnections(1001, "bye", abrupt=True),
        ),
        ("pause", None, Pause()),
        ("resume", {}, Resume()),
        ("play-next", None, PlayNext(1)),
        ("play-next", {"n": 5}, PlayNext(5)),
        ("seek", {"t": "30m"}, Seek(1800.0)),
        ("seek", {"t": 12.5}, Seek(12.5)),
        ("speed", {"speed": 10}, SetSpeed(10.0)),
        ("speed", {"speed": "max"}, SetSpeed(None)),
        ("speed", {"speed": "0.5"}, SetSpeed(0.5)),
        ("reset", None, Reset()),
    ],
)
def test_each_post_endpoint_parses_to_its_command(name: str, body: Any, command: object) -> None:
    assert post(name, body) == command


def test_a_frame_object_as_the_body_is_pushed_byte_for_byte() -> None:
    # Given a body that is the frame itself (spacing and key order as the caller wrote them)
    raw = b' {"type": "goal",  "matchId": "m1"} '
    # Then the frame pushed is those bytes (trimmed), not a re-encoding
    assert post("push", raw=raw) == Push(b'{"type": "goal",  "matchId": "m1"}')


def test_get_endpoints() -> None:
    assert parse_control("GET", "/_harness/stats", {}, b"") == ReadStats()
    assert parse_control("GET", "/_harness/journal", {}, b"") == ReadJournal(0)
    assert parse_control("GET", "/_harness/journal", {"since": "7"}, b"") == ReadJournal(7)


@pytest.mark.parametrize("path", ["/_harness/nope", "/_harness/", "/_harness", "/_harness/pause/x"])
def test_an_unknown_path_is_404_naming_it(path: str) -> None:
    error = refused(parse_control("POST", path, {}, b""))
    assert (error.status, error.code) == (404, 6)
    assert path in error.message
    assert error.body()["errors"] == [{"code": 6, "message": error.message}]


@pytest.mark.parametrize(
    ("method", "name"), [("GET", "pause"), ("POST", "stats"), ("PUT", "seek"), ("GET", "reset")]
)
def test_a_wrong_method_is_405_naming_the_right_one(method: str, name: str) -> None:
    error = refused(parse_control(method, f"/_harness/{name}", {}, b""))
    assert error.status == 405
    assert "use POST" in error.message or "use GET" in error.message


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        ("seek", None, "missing field 't'"),
        ("seek", {"t": "soon"}, "invalid duration"),
        ("seek", {"t": -1}, "t must be a duration >= 0"),
        ("seek", {"t": True}, "'t' must be"),
        ("seek", {"t": 1, "x": 2}, "unknown field 'x'"),
        ("speed", {"speed": 0}, "invalid speed"),
        ("speed", {"speed": "fast"}, "invalid speed"),
        ("speed", {}, "missing field 'speed'"),
        ("play-next", {"n": 0}, "n must be 1.."),
        ("play-next", {"n": 1.5}, "'n' must be an integer"),
        ("pings", {}, "missing field 'answer'"),
        ("pings", {"answer": "no"}, "'answer' must be true or false"),
        ("close-connections", {"code": 1005}, "close code 1005 cannot be sent"),
        ("close-connections", {"reason": "x" * 124}, "longer than 123 bytes"),
        ("api-token-state", {"api_token": "k", "state": "gone"}, "unknown state 'gone'"),
        ("api-token-state", {"api_token": "k", "state": "active", "plan": "X"}, "unknown plan"),
        ("api-token-state", {"state": "active"}, "missing field 'api_token'"),
        ("push", None, "body must be one frame"),
        ("push", {"frame": 3}, "'frame' must be a string or an object"),
        ("pause", {"now": True}, "unknown field 'now'"),
    ],
)
def test_a_bad_body_is_400_naming_the_problem(name: str, body: Any, words: str) -> None:
    error = refused(post(name, body))
    assert (error.status, error.code) == (400, 7)
    assert words in error.message
    assert f"/_harness/{name}" in error.message
    assert "\n" not in error.message


@pytest.mark.parametrize("raw", [b"{nope", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400(raw: bytes) -> None:
    error = refused(post("seek", raw=raw))
    assert error.status == 400
    assert "JSON" in error.message


def test_journal_since_must_be_a_count() -> None:
    error = refused(parse_control("GET", "/_harness/journal", {"since": "-1"}, b""))
    assert "since must be an integer >= 0" in error.message


def test_the_prefix_and_close_codes() -> None:
    assert is_control_path("/_harness/pause")
    assert is_control_path("/_harness")
    assert not is_control_path("/_harnessx")
    assert not is_control_path("/v1/ws/new")
    assert close_code_problem(1001) is None
    assert close_code_problem(4001) is None
    assert close_code_problem(1006) is not None
    assert close_code_problem(999) is not None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([{"type": "goal"}, "raw"], Play((b'{"type":"goal"}', b"raw"))),
        (
            {"frames": ["a"], "speed": 2, "close_when_delivered": True},
            Play((b"a",), None, 2.0, True),
        ),
        ({"frames": ["a", "b"], "offsets_s": [0, 1.5]}, Play((b"a", b"b"), (0.0, 1.5))),
        ([], Play(())),
    ],
)
def test_play_takes_a_list_of_frames_or_an_object(body: Any, expected: Play) -> None:
    assert post("play", body) == expected


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (None, "missing field 'frames'"),
        ({"frames": "x"}, "'frames' must be"),
        ([3], "frame 0 must be an object or a string, got 3"),
        ({"frames": ["a"], "offsets_s": [1, 2]}, "offsets_s must be one number"),
        ({"frames": ["a"], "offsets_s": [-1]}, "offsets_s must be one number"),
        ({"frames": [], "speed": "fast"}, "invalid speed"),
        ({"frames": [], "loop": True}, "unknown field 'loop'"),
    ],
)
def test_a_bad_play_body_is_400_naming_the_problem(body: Any, words: str) -> None:
    error = refused(post("play", body))
    assert error.status == 400
    assert words in error.message
