"""TokenTable: WS token lifecycle, connection counts and hourly quota windows (pure, no I/O)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from harness.core.mock.token_table import HOUR_S, ApiTokenState, TokenTable
from harness.core.profile import DEFAULT_PROFILE
from harness.core.protocol import Channel, Plan
from harness.errors import UsageError

T0 = 1_700_000_000.25


def make_table(api_token: str | None = None, **limits: Any) -> TokenTable:
    counter = itertools.count(1)
    profile = DEFAULT_PROFILE.with_limits(**{"ttl_s": 10.0, **limits})
    return TokenTable(profile, api_token=api_token, new_token=lambda: f"ws{next(counter)}")


def test_issue_returns_the_active_token_unchanged() -> None:
    table = make_table()
    first, is_new = table.issue("api", T0)
    again, again_new = table.issue("api", T0 + 5)
    assert (is_new, again_new) == (True, False)
    assert again == first
    assert first.expires_at == 1_700_000_011  # ceil(now + ttl): lives at least the TTL


def test_expiry_issues_a_new_token_and_forgets_the_old_one() -> None:
    table = make_table()
    first, _ = table.issue("api", T0)
    assert table.valid(first.token, first.expires_at - 0.001) is not None
    assert table.valid(first.token, first.expires_at) is None
    second, is_new = table.issue("api", first.expires_at)
    assert is_new
    assert second.token != first.token
    assert table.lookup(first.token) is None


def test_renew_extends_in_place_and_needs_an_active_token() -> None:
    table = make_table()
    assert table.renew("api", T0) is None
    first, _ = table.issue("api", T0)
    renewed = table.renew("api", T0 + 8)
    assert renewed is not None
    assert renewed.token == first.token
    assert renewed.expires_at == 1_700_000_019
    assert table.valid(first.token, T0 + 15) == renewed
    assert table.renew("api", renewed.expires_at) is None


def test_expire_one_or_all() -> None:
    table = make_table()
    a, _ = table.issue("a", T0)
    b, _ = table.issue("b", T0)
    assert [t.token for t in table.expire(a.token, T0 + 1)] == [a.token]
    assert table.valid(a.token, T0 + 1) is None
    assert table.valid(b.token, T0 + 1) is not None
    assert [t.token for t in table.expire(None, T0 + 1)] == [b.token]
    assert table.expire("unknown", T0) == []


def test_connection_counting() -> None:
    table = make_table()
    token, _ = table.issue("api", T0)
    assert token.max_connections == 2  # the grant's limit
    assert table.try_attach(token)
    assert table.try_attach(token)
    assert not table.try_attach(token)
    table.detach(token.token)
    assert table.try_attach(token)


def test_superseded_token_is_forgotten_when_its_last_connection_closes() -> None:
    table = make_table()
    old, _ = table.issue("api", T0)
    assert table.try_attach(old)
    table.issue("api", old.expires_at + 1)
    assert table.lookup(old.token) is not None  # still has a connection
    table.detach(old.token)
    assert table.lookup(old.token) is None


def test_quota_counts_per_clock_hour_and_does_not_count_refusals() -> None:
    table = make_table(hourly_quota=2)
    start = 100 * HOUR_S + 3000.5
    assert table.count_request("api", start)[0]
    allowed, state = table.count_request("api", start + 1)
    assert allowed
    assert state.remaining == 0
    assert state.reset_in_s == 599
    allowed, state = table.count_request("api", start + 2)
    assert not allowed
    assert state.used == 2
    assert table.count_request("other", start)[0]
    assert table.count_request("api", 101 * HOUR_S)[0]  # next hour: a fresh window


def test_unlimited_quota() -> None:
    table = make_table()
    for _ in range(50):
        allowed, state = table.count_request("api", T0)
        assert allowed
    assert state.limit is None
    assert state.remaining is None
    assert not state.exceeded


def test_known_tokens_states_and_plans() -> None:
    open_table = make_table()
    assert open_table.is_known("anything")
    assert not open_table.is_known("")
    strict = make_table(api_token="secret")
    assert strict.is_known("secret")
    assert not strict.is_known("other")
    strict.set_api_token("secret", state="suspended", plan=Plan.PRO)
    assert strict.state_of("secret") is ApiTokenState.SUSPENDED
    token, _ = strict.issue("secret", T0)
    assert token.allowed_channels == (Channel.MAIN,)
    with pytest.raises(UsageError, match="unknown API token state"):
        strict.set_api_token("secret", state="banned")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl_s": 0.0}, "TTL"),
        ({"ttl_s": float("inf")}, "TTL"),
        ({"hourly_quota": -1}, "quota"),
        ({"max_connections": -1}, "max-connections"),
        ({"api_token": ""}, "empty"),
    ],
)
def test_bad_configuration(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make_table(**kwargs)
