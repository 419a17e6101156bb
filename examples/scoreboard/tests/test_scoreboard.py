"""The scoreboard against the soccer-ws-harness mock (the plugin's ``soccer_server`` fixture)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from scoreboard import Scoreboard, ScoreboardError, renew_delay


def board(server) -> Scoreboard:
    return Scoreboard(api_base=server.api_base, api_token=server.api_token)


def test_the_recording_fills_the_board(soccer_server):
    # speed max (the plugin's default): the whole recording arrives as fast as we read
    app = board(soccer_server)
    asyncio.run(app.run(until=lambda b: any(m.finished for m in b.matches.values())))
    finished = [m for m in app.matches.values() if m.finished]
    assert all(goals.isdigit() for goals in finished[0].score.split(";"))


@pytest.mark.soccer_recording(speed=1)
def test_pushed_goals_update_the_score(soccer_server):
    app = board(soccer_server)

    def goal(score, kind="goal", field="score"):
        frame = {"type": kind, "channel": "MAIN", "matchId": "m1", "data": {field: score}}
        return soccer_server.push(json.dumps(frame))

    async def scenario():
        follow = asyncio.create_task(
            app.run(
                until=lambda b: b.matches.get("m1", None) is not None and b.matches["m1"].finished
            )
        )
        await asyncio.wait_for(app.subscribed.wait(), 10)
        assert await asyncio.to_thread(goal, "1;0") == 1
        assert await asyncio.to_thread(goal, "2;1", "match_end", "finalScore") == 1
        await follow

    asyncio.run(scenario())
    assert app.score("m1") == "2;1"


@pytest.mark.soccer_recording(speed=1, ttl="3s")
def test_the_token_is_renewed_before_it_expires(soccer_server):
    app = board(soccer_server)
    asyncio.run(app.run(until=lambda b: b.renewals >= 1))
    calls = [e.summary for e in soccer_server.journal if e.kind == "http"]
    assert any("/v1/ws/renew" in call for call in calls)
    assert not [e for e in soccer_server.journal if e.kind == "ws_close" and "4001" in e.summary]


def test_a_suspended_api_token_is_reported(soccer_server):
    soccer_server.set_api_token_state(soccer_server.api_token, "suspended")
    with pytest.raises(ScoreboardError, match="new: 4"):
        asyncio.run(board(soccer_server).run(until=lambda b: True))


def test_renew_delay_keeps_a_margin():
    now = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
    assert renew_delay("2024-01-15 14:25:00", now) == 20 * 60
    assert renew_delay("2024-01-15 14:00:04", now) == 2
    assert renew_delay("2024-01-15 13:59:00", now) == 0


@pytest.mark.soccer_recording(speed=1, ttl="3s")
def test_a_failing_renewal_is_reported_not_ignored(soccer_server):
    # the service answers 503 to renewals: the board must say so, not run on a dying token
    soccer_server.inject([{"kind": "rest-error", "status": 503, "endpoints": ["renew"]}])
    with pytest.raises(ScoreboardError, match="renew: 503 Service Unavailable"):
        asyncio.run(board(soccer_server).run(until=lambda b: b.renewals >= 1))
