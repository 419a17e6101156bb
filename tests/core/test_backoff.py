"""Backoff: exponential, jittered, never zero, always bounded."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core.backoff import BackoffPolicy
from harness.errors import UsageError


def test_ceiling_doubles_then_caps() -> None:
    policy = BackoffPolicy(initial_s=0.5, factor=2.0, max_s=4.0)
    assert [policy.ceiling_s(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_same_seed_gives_same_delays() -> None:
    policy = BackoffPolicy()
    first = [policy.delay_s(n, random.Random(7)) for n in range(5)]
    second = [policy.delay_s(n, random.Random(7)) for n in range(5)]
    assert first == second


def test_jitter_spreads_delays_between_half_and_full_ceiling() -> None:
    policy = BackoffPolicy(initial_s=1.0, max_s=1.0, jitter=0.5)
    rng = random.Random(1)
    delays = [policy.delay_s(0, rng) for _ in range(200)]
    assert min(delays) >= 0.5
    assert max(delays) <= 1.0
    assert max(delays) - min(delays) > 0.3  # really jittered


def test_retry_after_raises_the_floor_but_not_past_the_cap() -> None:
    policy = BackoffPolicy(initial_s=0.1, max_s=5.0)
    assert policy.delay_s(0, random.Random(0), retry_after_s=3.0) == 3.0
    assert policy.delay_s(0, random.Random(0), retry_after_s=3600.0) == 5.0


def test_gives_up_only_with_max_attempts() -> None:
    assert not BackoffPolicy().gives_up(10_000)
    limited = BackoffPolicy(max_attempts=3)
    assert [limited.gives_up(n) for n in range(5)] == [False, False, False, True, True]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0},
        {"initial_s": 5, "max_s": 1},
        {"factor": 0.5},
        {"jitter": 2},
        {"max_attempts": 0},
    ],
)
def test_invalid_policies_are_usage_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        BackoffPolicy(**kwargs)  # type: ignore[arg-type]


@given(attempt=st.integers(0, 10_000), seed=st.integers(0, 2**32))
def test_delay_is_positive_and_bounded(attempt: int, seed: int) -> None:
    policy = BackoffPolicy(initial_s=0.25, max_s=30.0)
    delay = policy.delay_s(attempt, random.Random(seed))
    assert 0 < delay <= 30.0
    assert delay >= policy.ceiling_s(attempt) * (1 - policy.jitter)
