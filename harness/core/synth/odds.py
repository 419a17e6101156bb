"""Simulated odds for one match, consistent with its score, clock and corners.

Prices come from a small model rather than a random walk, so they move the way a market does:
the remaining goals of each side are Poisson with the side's rate times the time left, a goal
shifts 1X2 sharply, the over/under line follows the goals, and first-half markets stop moving at
half time.  Each step also jitters the rates a little, so quiet spells still see small moves.
Market names, order and string formats are those of ``docs/protocol.md`` 8.3:
``"home;draw;away"``, ``"over;under|line"``, ``"home;away|line"`` and signed ``dropping1x2``.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

from harness.core.synth.match import NS_PER_S, MatchPlay, StatsUpdate

MARKETS = (
    "kickoff1x2", "live1x2", "starting1x2", "kickoffOU", "liveOU", "startingOU", "kickoffAH",
    "liveAH", "startingAH", "kickoffAsianCorners", "liveAsianCorners", "kickoff1hAH", "live1hAH",
    "kickoff1hGoals", "live1hGoals", "kickoff1hAsianCorners", "live1hAsianCorners",
    "kickoff1hResult", "live1hResult", "dropping1x2",
)  # fmt: skip
"""The ``data`` keys of an ODDS ``odds_update``, in the documented order."""

ODDS_STEP_S = (20.0, 60.0)
"""Seconds between odds moves (uniformly drawn), kick-off to full time, half time included."""

CORNERS_PER_90 = 10.0
FIRST_HALF_GOAL_SHARE = 0.45
MAX_PRICE = 51.0
"""Longest price quoted; a market whose outcome is all but settled shows 1.01 against it."""
_MARGIN = 1.06
_MAX_GOALS = 12


@dataclass(frozen=True, slots=True)
class OddsUpdate:
    """All markets after a move, and which of them changed."""

    t_ns: int
    odds: Mapping[str, str]
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _State:
    """What the market knows at one moment: score, corners, time left, rates."""

    home_goals: int
    away_goals: int
    corners: int
    left: float  # share of 90 minutes still to play
    left_1h: float  # share of 90 minutes left in the first half
    home_rate: float
    away_rate: float


def play_odds(play: MatchPlay) -> tuple[OddsUpdate, ...]:
    """The odds of ``play`` from kick-off to full time."""
    fixture, clock = play.fixture, play.clock
    rng = random.Random(fixture.seed ^ 0x0DD5)
    kickoff = _State(0, 0, 0, 1.0, 0.5, fixture.home_rate, fixture.away_rate)
    opening = _jitter(kickoff, rng, 0.08)
    fixed = _full_time(kickoff, "kickoff") | _full_time(opening, "starting")
    fixed |= _first_half(kickoff, "kickoff")
    times = _step_times(play, rng)
    updates: list[OddsUpdate] = []
    previous: dict[str, str] = {}
    first_half = _first_half(kickoff, "live")
    for t_ns in times:
        state = _jitter(_state_at(play, t_ns), rng, 0.03)
        if t_ns < clock.first_half_end_ns:
            first_half = _first_half(state, "live")
        odds = dict(fixed) | _full_time(state, "live") | first_half
        odds["dropping1x2"] = _dropping(odds["live1x2"], odds["starting1x2"])
        odds = {name: odds[name] for name in MARKETS}
        changed = tuple(name for name in MARKETS if previous.get(name) != odds[name])
        if changed:
            updates.append(OddsUpdate(t_ns, odds, changed))
        previous = odds
    return tuple(updates)


def _step_times(play: MatchPlay, rng: random.Random) -> list[int]:
    clock, (low, high) = play.clock, ODDS_STEP_S
    times = {clock.kickoff_ns}
    times |= {goal.t_ns + round(rng.uniform(3, 12) * NS_PER_S) for goal in play.goals}
    t = clock.kickoff_ns + round(rng.uniform(low, high) * NS_PER_S)
    while t < clock.end_ns:
        times.add(t)
        t += round(rng.uniform(low, high) * NS_PER_S)
    return sorted(t for t in times if t < clock.end_ns)


def _state_at(play: MatchPlay, t_ns: int) -> _State:
    fixture, clock = play.fixture, play.clock
    stats = _stats_at(play.stats, t_ns)
    home = sum(1 for g in play.goals if g.t_ns <= t_ns and g.side == 0)
    away = sum(1 for g in play.goals if g.t_ns <= t_ns and g.side == 1)
    corners = sum(int(v) for v in (stats or "0;0").split(";"))
    left = clock.remaining_fraction(t_ns)
    left_1h = max(0.0, left - 0.5)
    return _State(home, away, corners, left, left_1h, fixture.home_rate, fixture.away_rate)


def _stats_at(updates: tuple[StatsUpdate, ...], t_ns: int) -> str | None:
    index = bisect_right([u.t_ns for u in updates], t_ns) - 1
    return updates[index].stats["corners"] if index >= 0 else None


def _jitter(state: _State, rng: random.Random, spread: float) -> _State:
    return _State(
        state.home_goals,
        state.away_goals,
        state.corners,
        state.left,
        state.left_1h,
        state.home_rate * rng.uniform(1 - spread, 1 + spread),
        state.away_rate * rng.uniform(1 - spread, 1 + spread),
    )


def _full_time(state: _State, prefix: str) -> dict[str, str]:
    home_left, away_left = state.home_rate * state.left, state.away_rate * state.left
    diff, total = _outcomes(state.home_goals, state.away_goals, home_left, away_left)
    goals = state.home_goals + state.away_goals
    ou_line = goals + math.floor(home_left + away_left) + 0.5
    ah_line = _handicap_line(state.home_rate - state.away_rate)
    corners_left = CORNERS_PER_90 * state.left
    odds = {
        f"{prefix}1x2": _three_way(diff),
        f"{prefix}OU": _two_way(_tail(total, ou_line), ou_line),
        f"{prefix}AH": _two_way(_tail(diff, -ah_line), ah_line),
    }
    if prefix != "starting":
        over = _poisson_tail(corners_left, 9.5 - state.corners)
        odds[f"{prefix}AsianCorners"] = _two_way(over, 9.5)
    return odds


def _first_half(state: _State, prefix: str) -> dict[str, str]:
    share = FIRST_HALF_GOAL_SHARE * state.left_1h / 0.5
    home_left, away_left = state.home_rate * share, state.away_rate * share
    diff, total = _outcomes(state.home_goals, state.away_goals, home_left, away_left)
    goals_line = state.home_goals + state.away_goals + math.floor(home_left + away_left) + 0.5
    ah_line = _handicap_line((state.home_rate - state.away_rate) * FIRST_HALF_GOAL_SHARE)
    corners_over = _poisson_tail(CORNERS_PER_90 * state.left_1h, 4.5 - state.corners)
    return {
        f"{prefix}1hAH": _two_way(_tail(diff, -ah_line), ah_line),
        f"{prefix}1hGoals": _two_way(_tail(total, goals_line), goals_line),
        f"{prefix}1hAsianCorners": _two_way(corners_over, 4.5),
        f"{prefix}1hResult": _three_way(diff),
    }


def _handicap_line(goal_difference: float) -> float:
    """The half-goal line nearest to an even bet: favourites give goals (negative line)."""
    return -(math.floor(goal_difference) + 0.5)


def _pmf(mean: float) -> list[float]:
    probabilities = [math.exp(-mean)]
    for count in range(1, _MAX_GOALS + 1):
        probabilities.append(probabilities[-1] * mean / count)
    return probabilities


def _outcomes(
    home: int, away: int, home_left: float, away_left: float
) -> tuple[dict[int, float], dict[int, float]]:
    """Distributions of the final goal difference (home - away) and of the final total."""
    diff: dict[int, float] = {}
    total: dict[int, float] = {}
    for i, p_home in enumerate(_pmf(home_left)):
        for j, p_away in enumerate(_pmf(away_left)):
            p = p_home * p_away
            diff[home + i - away - j] = diff.get(home + i - away - j, 0.0) + p
            total[home + away + i + j] = total.get(home + away + i + j, 0.0) + p
    return diff, total


def _tail(distribution: Mapping[int, float], line: float) -> float:
    """Probability that the value ends above ``line`` (a half line: no push)."""
    return sum(p for value, p in distribution.items() if value > line)


def _poisson_tail(mean: float, needed: float) -> float:
    """Probability that a Poisson(mean) count exceeds ``needed``."""
    if needed < 0:
        return 1.0
    return 1.0 - sum(p for count, p in enumerate(_pmf(mean)) if count <= needed)


def _price(probability: float) -> str:
    price = 1 / (max(probability, 0.001) * _MARGIN)
    return f"{min(MAX_PRICE, max(1.01, price)):.2f}"


def _three_way(diff: Mapping[int, float]) -> str:
    home = sum(p for d, p in diff.items() if d > 0)
    draw = diff.get(0, 0.0)
    return f"{_price(home)};{_price(draw)};{_price(1 - home - draw)}"


def _two_way(probability: float, line: float) -> str:
    return f"{_price(probability)};{_price(1 - probability)}|{_line(line)}"


def _line(value: float) -> str:
    return f"{value:g}"


def _dropping(live: str, starting: str) -> str:
    pairs = zip(live.split(";"), starting.split(";"), strict=True)
    return ";".join(f"{float(now) - float(then):+.2f}" for now, then in pairs)
