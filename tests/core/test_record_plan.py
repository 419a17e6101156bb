"""Spreading subscriptions over connections within the token's limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core.protocol import Topic
from harness.core.record_plan import parse_subscriptions, plan_connections
from harness.errors import UsageError


def topics(*specs: str) -> tuple[Topic, ...]:
    return tuple(Topic.parse(spec) for spec in specs)


def test_default_is_main_all_and_duplicates_are_dropped() -> None:
    assert [t.key for t in parse_subscriptions([])] == ["MAIN:all"]
    parsed = parse_subscriptions(["STATS:match:1", "MAIN:all", "STATS:match:1"])
    assert [t.key for t in parsed] == ["STATS:match:1", "MAIN:all"]


def test_bad_spec_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_subscriptions(["NOPE:all"])


def test_fits_on_one_connection() -> None:
    plan = plan_connections(
        topics("MAIN:all", "ODDS:all"), max_connections=2, max_subscribe_per_connection=2
    )
    assert [[t.key for t in conn] for conn in plan] == [["MAIN:all", "ODDS:all"]]


def test_spread_evenly_over_the_fewest_connections() -> None:
    plan = plan_connections(
        topics("MAIN:all", "ODDS:all", "STATS:all"),
        max_connections=2,
        max_subscribe_per_connection=2,
    )
    assert [[t.key for t in conn] for conn in plan] == [["MAIN:all", "STATS:all"], ["ODDS:all"]]


def test_too_many_is_a_clear_usage_error() -> None:
    five = topics("MAIN:all", "ODDS:all", "STATS:all", "MAIN_REALTIME:all", "ODDS_REALTIME:all")
    with pytest.raises(UsageError, match=r"5 subscriptions do not fit.*2 connections x 2"):
        plan_connections(five, max_connections=2, max_subscribe_per_connection=2)


def test_no_topics_or_no_capacity_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        plan_connections((), max_connections=2, max_subscribe_per_connection=2)
    with pytest.raises(UsageError):
        plan_connections(topics("MAIN:all"), max_connections=0, max_subscribe_per_connection=2)


@given(
    count=st.integers(1, 12),
    max_connections=st.integers(1, 5),
    per_connection=st.integers(1, 5),
)
def test_plan_keeps_every_topic_once_within_limits(
    count: int, max_connections: int, per_connection: int
) -> None:
    wanted = tuple(Topic.parse(f"STATS:match:{n}") for n in range(count))
    if count > max_connections * per_connection:
        with pytest.raises(UsageError):
            plan_connections(
                wanted, max_connections=max_connections, max_subscribe_per_connection=per_connection
            )
        return
    plan = plan_connections(
        wanted, max_connections=max_connections, max_subscribe_per_connection=per_connection
    )
    assert sorted(t.key for conn in plan for t in conn) == sorted(t.key for t in wanted)
    assert len(plan) <= max_connections
    assert all(0 < len(conn) <= per_connection for conn in plan)
    assert max(map(len, plan)) - min(map(len, plan)) <= 1
