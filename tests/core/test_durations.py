from __future__ import annotations

import pytest

from harness.core.durations import format_duration, parse_duration
from harness.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("25m", 1500),
        ("2h", 7200),
        ("1h30m", 5400),
        ("12", 12),
        ("1.5", 1.5),
        ("250ms", 0.25),
        ("1h0m5s", 3605),
        (" 3M ", 180),
    ],
)
def test_parse_duration_accepts_documented_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "5x", "m5", "-3", "1h-5m", "nan", "inf", "5m5"])
def test_parse_duration_rejects_garbage_with_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="invalid duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(12.34) == "12.3s"
    assert format_duration(245) == "4m05s"
    assert format_duration(3723) == "1h02m03s"


def test_a_crossed_bound_never_reads_like_the_bound() -> None:
    from harness.core.durations import format_seconds
    from harness.core.schedule import ReplayOptions, check_start_at

    assert (format_seconds(30 * 10**9), format_seconds(1_999_995_000_000)) == ("30s", "1999.995s")
    with pytest.raises(UsageError, match=r"start-at 1999\.995s is past .* \(1999\.99s\)"):
        check_start_at(ReplayOptions(start_at_ns=1_999_995_000_000), 1_999_990_000_000)
