"""Fault timelines: the file format, its errors, the combined effects and frame pacing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given

from harness.core.envelopes import TOO_MANY_REQUESTS
from harness.core.faults import (
    Fault,
    FaultKind,
    FaultTimeline,
    FrameShaper,
    Shaping,
    chaos_timeline,
    effects,
    load_faults,
    parse_faults,
)
from harness.core.fuzz import FuzzOptions, fault_timeline
from harness.core.mock.token_table import ApiTokenState
from harness.errors import UsageError
from harness.strategies import fault_timelines

EXAMPLE_TOML = """
seed = 7

[[faults]]
kind = "ignore-pings"
at = "30s"
for = "1m"
clock = "recording"

[[faults]]
kind = "close"
at = 90
code = 4000
reason = "maintenance"

[[faults]]
kind = "rest-error"
at = "2m"
for = "30s"
status = 429
endpoints = ["new"]
"""


def test_a_toml_file_reads_as_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(EXAMPLE_TOML)
    timeline = load_faults(path)
    assert timeline.seed == 7
    pings, close, rest = timeline.faults
    assert (pings.kind, pings.at_s, pings.for_s, pings.clock) == (
        FaultKind.IGNORE_PINGS,
        30.0,
        60.0,
        "recording",
    )
    assert (close.kind, close.at_s, close.code, close.reason, close.clock) == (
        FaultKind.CLOSE,
        90.0,
        4000,
        "maintenance",
        "wall",
    )
    assert (rest.status, rest.endpoints, rest.end_s) == (429, ("new",), 150.0)


def test_json_and_python_give_the_same_timeline(tmp_path: Path) -> None:
    toml = tmp_path / "faults.toml"
    toml.write_text(EXAMPLE_TOML)
    timeline = load_faults(toml)
    as_json = tmp_path / "faults.json"
    as_json.write_text(json.dumps(timeline.to_json()))
    assert load_faults(as_json) == timeline
    assert parse_faults(timeline.to_json()) == timeline
    assert parse_faults(list(timeline.faults)).faults == timeline.faults


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "explode"}, "fault 0: unknown kind 'explode' (one of ignore-pings, close"),
        ({"kind": "close", "code": 1005}, "fault 0 (close): code 1005 cannot be sent"),
        ({"kind": "close", "for": "3s"}, "fault 0 (close): unknown field(s) for"),
        ({"kind": "drip"}, "fault 0 (drip): missing field(s) rate"),
        ({"kind": "drip", "rate": 0}, "fault 0 (drip): rate must be a number of frames"),
        ({"kind": "latency", "delay": "soon"}, "fault 0 (latency): delay: invalid duration"),
        ({"kind": "latency", "delay": "1s", "at": -1}, "fault 0 (latency): at: invalid"),
        ({"kind": "drop", "clock": "moon"}, "fault 0 (drop): clock must be wall or recording"),
        ({"kind": "rest-error", "status": 404}, "status must be 429 or a 5xx, got 404"),
        ({"kind": "rest-error", "endpoints": ["nope"]}, "endpoints must be some of new"),
        ({"kind": "revoke-token", "state": "active"}, "state active revokes nothing"),
        ({"kind": "split-burst", "size": 0, "gap": 1}, "size must be at least 1"),
        ({"kind": "rest-error", "times": -1}, "times must be 0 (no limit) or more"),
        ({"kind": "drop", "times": 2}, "fault 0 (drop): unknown field(s) times"),
        ("close", "fault 0: must be a table/object"),
    ],
)
def test_a_bad_entry_is_one_error_naming_it(entry: object, message: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_faults([entry])
    assert message in str(error.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.toml: no such fault file"):
        load_faults(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[faults]\nkind=")
    with pytest.raises(UsageError, match=r"bad\.toml: not valid TOML"):
        load_faults(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"faults": [{"kind": "close", "code": 1}], "extra": 1}')
    with pytest.raises(UsageError, match=r"wrong\.json: unknown fault file key\(s\) 'extra'"):
        load_faults(wrong)


def test_effects_combine_the_ongoing_faults() -> None:
    timeline = parse_faults(
        [
            {"kind": "ignore-pings"},
            {"kind": "rest-error", "status": 503, "endpoints": ["new", "renew"]},
            {"kind": "refuse-connect", "status": 429},
            {"kind": "revoke-token", "state": "ip_invalid"},
            {"kind": "latency", "delay": "200ms", "jitter": "50ms"},
            {"kind": "drip", "rate": 4},
        ]
    )
    now = effects(timeline.faults)
    assert not now.answer_pings
    assert now.outages["/ws/new"].http_status == 503
    assert now.outages["/ws/new"].message == "Service Unavailable"
    assert "/token/status" not in now.outages
    assert now.refuse_upgrades == TOO_MANY_REQUESTS
    assert now.api_token_state is ApiTokenState.IP_INVALID
    assert now.shaping == Shaping(delay_s=0.2, jitter_s=0.05, interval_s=0.25)
    assert effects([]).answer_pings
    assert effects([]).shaping is None


def test_latency_with_jitter_keeps_the_order_and_never_sends_early() -> None:
    shaper = FrameShaper(Shaping(delay_s=0.1, jitter_s=0.08), seed=3)
    queued = [i * 0.01 for i in range(200)]
    due = [shaper.due(at) for at in queued]
    assert due == sorted(due)
    assert all(d >= q + 0.1 - 0.08 for d, q in zip(due, queued, strict=True))
    assert len({round(d - q, 6) for d, q in zip(due, queued, strict=True)}) > 10  # jittered
    again = FrameShaper(Shaping(delay_s=0.1, jitter_s=0.08), seed=3)
    assert [again.due(at) for at in queued] == due  # seeded


def test_drip_spaces_frames_and_split_burst_groups_them() -> None:
    drip = FrameShaper(Shaping(interval_s=0.5), seed=0)
    assert [drip.due(0.0) for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]
    split = FrameShaper(Shaping(burst_size=2, burst_gap_s=1.0), seed=0)
    assert [split.due(0.0) for _ in range(5)] == [0.0, 0.0, 1.0, 1.0, 2.0]


def test_chaos_is_the_same_for_the_same_seed_and_covers_the_kinds() -> None:
    assert chaos_timeline(11, 600) == chaos_timeline(11, 600)
    assert chaos_timeline(11, 600) != chaos_timeline(12, 600)
    kinds = {f.kind for seed in range(40) for f in chaos_timeline(seed, 600).faults}
    assert kinds == set(FaultKind)
    assert all(
        parse_faults(chaos_timeline(seed, 60)) == chaos_timeline(seed, 60) for seed in range(20)
    )
    chaos = fault_timeline(FuzzOptions(seed=5, profile="chaos"), 60 * 10**9)
    assert chaos == chaos_timeline(5, 60.0)
    assert fault_timeline(FuzzOptions(seed=5, profile="hostile"), 60 * 10**9) is None


@given(fault_timelines())
def test_every_generated_timeline_is_a_valid_one(timeline: FaultTimeline) -> None:
    assert parse_faults(timeline) == timeline
    effects(timeline.faults)  # combines without error
    assert all(isinstance(f, Fault) for f in timeline.faults)
