"""``check`` and ``diff`` find planted changes and stay quiet on the same simulation."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import default_recording_path
from harness.core.check import Finding, check_recording
from harness.core.drift import FeedProfile, Thresholds, diff_profiles, diff_recordings
from harness.core.recording import open_writer, read_recording
from harness.core.records import Direction, Record, WsClose, WsMessage
from harness.core.synth import SynthOptions, synthesize

BUNDLED = default_recording_path()
HEADER, RECORDS, _ = read_recording(BUNDLED)

Change = Callable[[dict[str, Any]], dict[str, Any] | None]


def _rename_timer(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj.get("type") == "goal" and obj.get("channel") == "MAIN":
        data = dict(obj["data"])
        data["minute"] = data.pop("timer")
        return {**obj, "data": data}
    return None


def _new_event_type(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj.get("type") == "halftime" and obj.get("channel") == "MAIN":
        return {**obj, "type": "var_review"}
    return None


def _score_with_a_dash(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj.get("type") == "goal" and obj.get("channel") == "MAIN":
        return {**obj, "data": {**obj["data"], "score": obj["data"]["score"].replace(";", "-")}}
    return None


PLANTED: dict[str, tuple[Change | None, str]] = {
    "renamed field": (_rename_timer, "field"),
    "new event type": (_new_event_type, "event-type"),
    "changed value format": (_score_with_a_dash, "value-format"),
    "new close code": (None, "close"),
}


def _planted(tmp_path: Path, change: Change | None) -> Path:
    """The bundled recording with ``change`` applied to its frames (None: a 4002 close)."""
    path = tmp_path / "planted.msgpack"
    with open_writer(path, HEADER) as writer:
        for record in RECORDS[:-1]:
            writer.add(_changed(record, change))
    return path


def _changed(record: Record, change: Change | None) -> Record:
    if change is None:
        if isinstance(record, WsClose) and record.conn_id == 1:
            return dataclasses.replace(record, code=4002, reason="plan changed")
        return record
    if not isinstance(record, WsMessage) or record.direction is not Direction.SERVER_TO_CLIENT:
        return record
    changed = change(json.loads(record.payload))
    if changed is None:
        return record
    return dataclasses.replace(record, payload=json.dumps(changed).encode())


def _synth(path: Path, seed: int) -> Path:
    header, records = synthesize(SynthOptions(seed=seed))
    with open_writer(path, header) as writer:
        for record in records:
            writer.add(record)
    return path


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_check_finds_each_planted_change(tmp_path: Path, name: str) -> None:
    change, _ = PLANTED[name]
    report = check_recording(_planted(tmp_path, change))
    assert not report.ok
    found = {(d.check, d.key, d.path, d.detail) for d in report.findings.values()}
    expected = {
        "renamed field": {
            (Finding.FIELD, "MAIN/goal", "data.minute", ""),
            (Finding.MISSING_FIELD, "MAIN/goal", "data.timer", ""),
        },
        "new event type": {(Finding.EVENT_TYPE, "MAIN/var_review", "", "")},
        "changed value format": {(Finding.VALUE_FORMAT, "MAIN/goal", "data.score", "text")},
        "new close code": {(Finding.CLOSE_CODE, "close", "", "4002 'plan changed'")},
    }[name]
    assert found == expected
    first = next(iter(report.findings.values()))
    if name != "renamed field":
        assert first.index is not None
        assert first.offset is not None


def test_check_is_quiet_on_the_bundled_recording_and_other_seeds(tmp_path: Path) -> None:
    assert check_recording(BUNDLED).ok
    assert check_recording(_synth(tmp_path / "s.msgpack", 7)).ok


def test_check_reports_message_texts_the_docs_do_not_show(tmp_path: Path) -> None:
    def wording(obj: dict[str, Any]) -> dict[str, Any] | None:
        if obj.get("type") == "subscribed":
            return {**obj, "message": "ok, subscribed"}
        return None

    report = check_recording(_planted(tmp_path, wording))
    assert {(d.check, d.detail) for d in report.findings.values()} == {
        (Finding.MESSAGE_TEXT, '"ok, subscribed"')
    }


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("seeds")
    return [_synth(folder / f"seed{seed}.msgpack", seed) for seed in (1, 2, 99)]


def test_diff_is_quiet_on_the_same_simulation_with_other_seeds(seeds: list[Path]) -> None:
    for other in seeds:
        report = diff_recordings(BUNDLED, other)
        assert report.drifts == []
        assert report.ok


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_diff_finds_each_planted_change(tmp_path: Path, seeds: list[Path], name: str) -> None:
    change, check = PLANTED[name]
    report = diff_recordings(seeds[0], _planted(tmp_path, change))
    assert {d.check for d in report.drifts} == {check}
    subjects = {d.subject for d in report.drifts}
    assert (
        subjects
        == {
            "renamed field": {"MAIN/goal data.timer", "MAIN/goal data.minute"},
            "new event type": {"MAIN/halftime", "MAIN/var_review"},
            "changed value format": {"MAIN/goal data.score"},
            "new close code": {"4002 by client"},
        }[name]
    )


def test_diff_rates_gaps_and_renewals_use_the_thresholds() -> None:
    a, b = FeedProfile("a", duration_ns=3_600 * 10**9), FeedProfile("b", duration_ns=3_600 * 10**9)
    a.channel_events["MAIN"], b.channel_events["MAIN"] = 100, 250
    a.longest_gap_ns["MAIN"], b.longest_gap_ns["MAIN"] = 100 * 10**9, 900 * 10**9
    a.renewals = [0, 1_200 * 10**9, 2_400 * 10**9]
    b.renewals = [0, 600 * 10**9, 1_200 * 10**9]
    checks = [d.check for d in diff_profiles(a, b).drifts]
    assert checks == ["rate", "gap", "renewal"]
    lenient = Thresholds(rate_ratio=3, gap_ratio=10, renewal_tolerance=1.5)
    assert diff_profiles(a, b, lenient).ok
