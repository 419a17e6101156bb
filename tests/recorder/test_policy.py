"""The recorder's pure decisions: renewal timing, failure handling, reply attribution."""

from __future__ import annotations

import calendar

import pytest

from harness.core.envelopes import parse_expires_at
from harness.core.protocol import Topic, classify_frame
from harness.recorder.policy import (
    RefusalLedger,
    RestAction,
    SubscriptionTracker,
    classify_rest_failure,
    error_code,
    needs_new_token,
    renew_delay_s,
    retry_after_s,
)


def test_expires_at_is_utc_without_zone() -> None:
    assert parse_expires_at("2024-01-15 14:30:00") == calendar.timegm((2024, 1, 15, 14, 30, 0))
    assert parse_expires_at("tomorrow") is None


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        (1500.0, 1200.0),  # the documented 25-minute token: renew 5 minutes early, at 20 min
        (601.0, 301.0),  # just above twice the margin: still margin-before-expiry
        (600.0, 300.0),  # short-lived: half of what is left
        (4.0, 2.0),
        (0.0, 0.0),  # already expired: now
        (-5.0, 0.0),
    ],
)
def test_renewal_is_due_margin_before_expiry_or_at_half_life(
    remaining: float, expected: float
) -> None:
    now = 1_000_000.0
    assert renew_delay_s(now + remaining, now, margin_s=300.0) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("status", "renewing", "action"),
    [
        (0, False, RestAction.RETRY),  # no answer
        (429, False, RestAction.RETRY),
        (503, True, RestAction.RETRY),
        (401, False, RestAction.FATAL),
        (400, False, RestAction.FATAL),
        (404, True, RestAction.NEW_TOKEN),  # renew with no active token (section 12)
        (404, False, RestAction.FATAL),
    ],
)
def test_rest_failures(status: int, renewing: bool, action: RestAction) -> None:
    assert classify_rest_failure(status, renewing=renewing) is action


def test_retry_after_hints() -> None:
    assert retry_after_s([("Retry-After", "7")]) == 7.0
    assert retry_after_s([("X-Rate-Limit-Reset", "120")]) == 120.0
    assert retry_after_s([("Retry-After", "soon")]) is None
    assert retry_after_s([]) is None


def test_token_death_signals() -> None:
    assert needs_new_token(close_code=4001)
    assert needs_new_token(handshake_status=401)
    assert not needs_new_token(close_code=1000)
    assert not needs_new_token(handshake_status=429)


def subscribed(key: str) -> bytes:
    topic = Topic.parse(key)
    return (
        f'{{"type":"subscribed","channel":"{topic.channel}","scope":"{topic.scope}",'
        f'"id":{"null" if topic.id is None else repr(topic.id).replace(chr(39), chr(34))},'
        f'"topicKey":"{key}","message":"Successfully subscribed"}}'
    ).encode()


def test_tracker_pairs_replies_and_attributes_errors_to_oldest_pending() -> None:
    tracker = SubscriptionTracker()
    main, stats = Topic.parse("MAIN:all"), Topic.parse("STATS:match:12345")
    tracker.sent(main)
    tracker.sent(stats)
    reply = subscribed("STATS:match:12345")
    info = classify_frame(reply)
    assert info is not None
    outcome = tracker.on_reply(info, None)
    assert outcome is not None
    assert (outcome.topic, outcome.accepted) == (stats, True)
    error = b'{"type":"error","code":"CHANNEL_NOT_ALLOWED","message":"no"}'
    info = classify_frame(error)
    assert info is not None
    outcome = tracker.on_reply(info, error_code(error))
    assert outcome is not None
    assert (outcome.topic, outcome.accepted, outcome.code) == (main, False, "CHANNEL_NOT_ALLOWED")
    assert tracker.waiting == 0


def test_ledger_knows_when_nothing_can_proceed() -> None:
    main, odds = Topic.parse("MAIN:all"), Topic.parse("ODDS:all")
    ledger = RefusalLedger([main, odds])
    tracker = SubscriptionTracker()
    tracker.sent(main)
    tracker.sent(odds)
    error = b'{"type":"error","code":"CHANNEL_NOT_ALLOWED","message":"no"}'
    info = classify_frame(error)
    assert info is not None
    for _ in range(2):
        outcome = tracker.on_reply(info, "CHANNEL_NOT_ALLOWED")
        assert outcome is not None
        assert not ledger.all_refused
        ledger.record(outcome)
    assert ledger.all_refused
    assert set(ledger.refused) == {"MAIN:all", "ODDS:all"}
