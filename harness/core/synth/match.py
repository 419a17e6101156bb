"""One simulated football match: its clock, its MAIN events and its statistics over time.

Pure and seeded: a :class:`Fixture` carries its own seed, so a match plays out the same whatever
else the simulation contains.  Times are integer nanoseconds since the simulated session start.

The story is coherent by construction: goals are drawn first, then the statistics are advanced
step by step and every goal is one of the steps, so the ``score`` of STATS equals the ``score``
of the last MAIN ``goal`` at every moment, ``score1h`` is the ``halftime`` score and
``finalScore`` the last ``score``.  Values follow ``docs/protocol.md`` 7.2 and 8.5: two-sided
strings ``"home;away"``, ``null`` where the docs show it (``score1h`` before half time).
The ``status`` values ``IN_PLAY``, ``HALF_TIME`` and ``FINISHED`` are this simulator's choice;
only ``IN_PLAY`` is documented.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NS_PER_S = 1_000_000_000
MINUTE_NS = 60 * NS_PER_S
HALF_TIME_BREAK_NS = 15 * MINUTE_NS
MAX_FIRST_HALF_STOPPAGE_MIN = 4
MAX_SECOND_HALF_STOPPAGE_MIN = 6
LONGEST_MATCH_NS = (90 + MAX_FIRST_HALF_STOPPAGE_MIN + MAX_SECOND_HALF_STOPPAGE_MIN) * MINUTE_NS
LONGEST_MATCH_NS += HALF_TIME_BREAK_NS
"""Kick-off to full time at most: two halves, the longest stoppage times and the break."""

STATS_STEP_S = (10.0, 40.0)
"""Seconds between statistics changes while the ball is in play (uniformly drawn)."""

STAT_NAMES = (
    "timer", "extraTimer", "status", "score", "score1h", "score2h", "possession", "attacks",
    "dangerousAttacks", "shotsOnTarget", "shotsOffTarget", "totalShots", "shotsBlocked",
    "corners", "corners1h", "fouls", "yellowCards", "redCards", "yellowToRed", "substitutions",
    "throwIns", "injuries", "penalties", "offsides", "xg",
)  # fmt: skip
"""The ``data`` keys of a STATS ``stats_update``, in the documented order (section 8.5)."""

_COUNTERS = (
    "attacks", "dangerousAttacks", "shotsOnTarget", "shotsOffTarget", "shotsBlocked", "corners",
    "fouls", "yellowCards", "redCards", "yellowToRed", "substitutions", "throwIns", "injuries",
    "penalties", "offsides",
)  # fmt: skip

_RATES_PER_MIN = {
    "attacks": 2.2, "dangerousAttacks": 1.0, "shotsOnTarget": 0.05, "shotsOffTarget": 0.1,
    "shotsBlocked": 0.05, "corners": 0.11, "fouls": 0.24, "yellowCards": 0.04, "throwIns": 0.45,
    "offsides": 0.045, "injuries": 0.006, "redCards": 0.0015,
}  # fmt: skip
"""Both teams together, per minute of play; shared out by each team's strength."""

_DEFENDING = frozenset({"fouls", "yellowCards", "redCards"})
"""Counted mostly against the weaker side."""

_XG_PER_EVENT = {"shotsOnTarget": 0.12, "shotsOffTarget": 0.05, "shotsBlocked": 0.03}


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    rt_id: str  # the MAIN_REALTIME source's own id (section 8.2)
    name: str


@dataclass(frozen=True, slots=True)
class League:
    id: str
    rt_id: str
    name: str
    country: str
    season: str


@dataclass(frozen=True, slots=True)
class Fixture:
    """Who plays whom, when, and how strong each side is (expected goals per 90 minutes)."""

    match_id: str
    rt_match_id: str
    league: League
    home: Team
    away: Team
    kickoff_ns: int
    home_rate: float
    away_rate: float
    seed: int


@dataclass(frozen=True, slots=True)
class MatchClock:
    """The phases of one match: first half, break, second half."""

    kickoff_ns: int
    first_half_end_ns: int
    second_half_start_ns: int
    end_ns: int

    @classmethod
    def draw(cls, kickoff_ns: int, rng: random.Random) -> MatchClock:
        first = (45 + rng.randint(1, MAX_FIRST_HALF_STOPPAGE_MIN)) * MINUTE_NS
        first += rng.randint(0, 59) * NS_PER_S
        second = (45 + rng.randint(2, MAX_SECOND_HALF_STOPPAGE_MIN)) * MINUTE_NS
        second += rng.randint(0, 59) * NS_PER_S
        half_end = kickoff_ns + first
        restart = half_end + HALF_TIME_BREAK_NS
        return cls(kickoff_ns, half_end, restart, restart + second)

    def in_play(self, t_ns: int) -> bool:
        return self.kickoff_ns <= t_ns < self.first_half_end_ns or (
            self.second_half_start_ns <= t_ns < self.end_ns
        )

    def timer(self, t_ns: int) -> tuple[str, str | None]:
        """``timer`` (the match minute) and ``extraTimer`` (stoppage minutes) at ``t_ns``."""
        if t_ns >= self.end_ns:
            return "90", None
        if self.first_half_end_ns <= t_ns < self.second_half_start_ns:
            return "45", None
        if t_ns < self.first_half_end_ns:
            minute = (t_ns - self.kickoff_ns) // MINUTE_NS + 1
            return _minute(minute, 0)
        minute = (t_ns - self.second_half_start_ns) // MINUTE_NS + 1
        return _minute(minute, 45)

    def remaining_fraction(self, t_ns: int) -> float:
        """Share of the 90 minutes still to play (0 after full time), for the odds model."""
        if t_ns < self.first_half_end_ns:
            first_left = max(0, 45 * MINUTE_NS - (t_ns - self.kickoff_ns))
            return (first_left + 45 * MINUTE_NS) / (90 * MINUTE_NS)
        if t_ns < self.second_half_start_ns:
            return 0.5
        return max(0, 45 * MINUTE_NS - (t_ns - self.second_half_start_ns)) / (90 * MINUTE_NS)


def _minute(minute: int, offset: int) -> tuple[str, str | None]:
    if minute <= 45:
        return str(minute + offset), None
    return str(45 + offset), str(minute - 45)


@dataclass(frozen=True, slots=True)
class Goal:
    t_ns: int
    side: int  # 0 home ("A"), 1 away ("B")


@dataclass(frozen=True, slots=True)
class MainEvent:
    """A MAIN-channel event: its name and the ``data`` the docs give it (section 8.1).

    ``match_start`` carries no data here: teams and championship are added per channel.
    """

    t_ns: int
    name: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StatsUpdate:
    """The full statistics after a change, and which of them changed."""

    t_ns: int
    stats: Mapping[str, str | None]
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MatchPlay:
    """One simulated match: clock, goals, MAIN events and statistics updates, time-ordered."""

    fixture: Fixture
    clock: MatchClock
    goals: tuple[Goal, ...]
    events: tuple[MainEvent, ...]
    stats: tuple[StatsUpdate, ...]


def play_match(fixture: Fixture) -> MatchPlay:
    """Simulate ``fixture`` from kick-off to full time."""
    rng = random.Random(fixture.seed)
    clock = MatchClock.draw(fixture.kickoff_ns, rng)
    goals = _draw_goals(fixture, clock, rng)
    events = _main_events(clock, goals)
    stats = _StatsBook(fixture, clock, rng).play(goals)
    return MatchPlay(fixture, clock, goals, events, stats)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _draw_goals(fixture: Fixture, clock: MatchClock, rng: random.Random) -> tuple[Goal, ...]:
    goals: list[Goal] = []
    halves = (
        (clock.kickoff_ns, clock.first_half_end_ns, 0.45),
        (clock.second_half_start_ns, clock.end_ns, 0.55),
    )
    for start, end, share in halves:
        for side, rate in enumerate((fixture.home_rate, fixture.away_rate)):
            for _ in range(poisson(rng, rate * share)):
                moment = rng.randint(start + 30 * NS_PER_S, end - 20 * NS_PER_S)
                goals.append(Goal(moment // NS_PER_S * NS_PER_S, side))
    goals.sort(key=lambda goal: (goal.t_ns, goal.side))
    return tuple(goals)


def _score(goals: tuple[Goal, ...], until_ns: int, since_ns: int = 0) -> str:
    home = sum(1 for g in goals if since_ns <= g.t_ns <= until_ns and g.side == 0)
    away = sum(1 for g in goals if since_ns <= g.t_ns <= until_ns and g.side == 1)
    return f"{home};{away}"


def _main_events(clock: MatchClock, goals: tuple[Goal, ...]) -> tuple[MainEvent, ...]:
    events = [MainEvent(clock.kickoff_ns, "match_start", {})]
    for goal in goals:
        timer, _ = clock.timer(goal.t_ns)  # the minute; stoppage shows in STATS extraTimer
        data = {"score": _score(goals, goal.t_ns), "timer": timer, "team": "AB"[goal.side]}
        events.append(MainEvent(goal.t_ns, "goal", data))
    half_score = _score(goals, clock.first_half_end_ns)
    events.append(MainEvent(clock.first_half_end_ns, "halftime", {"score": half_score}))
    events.append(MainEvent(clock.second_half_start_ns, "second_half_start", {"score": half_score}))
    final = {"finalScore": _score(goals, clock.end_ns), "score1h": half_score}
    events.append(MainEvent(clock.end_ns, "match_end", final))
    events.sort(key=lambda event: event.t_ns)
    return tuple(events)


class _StatsBook:
    """Running statistics of one match, advanced step by step."""

    def __init__(self, fixture: Fixture, clock: MatchClock, rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        total = fixture.home_rate + fixture.away_rate
        self.home_share = fixture.home_rate / total if total else 0.5
        self.counts = {name: [0, 0] for name in _COUNTERS}
        self.xg = [0.0, 0.0]
        self.possession = 50.0 + (self.home_share - 0.5) * 30
        self.goals: list[Goal] = []
        self.corners_1h: str | None = None

    def play(self, goals: tuple[Goal, ...]) -> tuple[StatsUpdate, ...]:
        updates: list[StatsUpdate] = []
        previous: dict[str, str | None] = {}
        last_t = self.clock.kickoff_ns
        for t_ns in self._step_times(goals):
            if self.clock.in_play(last_t):
                self._advance((t_ns - last_t) / MINUTE_NS, t_ns)
            for goal in goals:
                if goal.t_ns == t_ns:
                    self._score_goal(goal)
            if t_ns == self.clock.first_half_end_ns:
                self.corners_1h = self._pair("corners")
            stats = self._snapshot(t_ns)
            changed = tuple(name for name in STAT_NAMES if previous.get(name, "?") != stats[name])
            if changed:
                updates.append(StatsUpdate(t_ns, stats, changed))
            previous, last_t = stats, t_ns
        return tuple(updates)

    def _step_times(self, goals: tuple[Goal, ...]) -> list[int]:
        clock, low, high = self.clock, *STATS_STEP_S
        times = {clock.kickoff_ns, clock.first_half_end_ns, clock.second_half_start_ns}
        times |= {clock.end_ns} | {goal.t_ns for goal in goals}
        for start, end in (
            (clock.kickoff_ns, clock.first_half_end_ns),
            (clock.second_half_start_ns, clock.end_ns),
        ):
            t = start + round(self.rng.uniform(low, high) * NS_PER_S)
            while t < end:
                times.add(t)
                t += round(self.rng.uniform(low, high) * NS_PER_S)
        return sorted(times)

    def _advance(self, minutes: float, t_ns: int) -> None:
        rng = self.rng
        for name, rate in _RATES_PER_MIN.items():
            for side, share in enumerate((self.home_share, 1 - self.home_share)):
                weight = 1 - share if name in _DEFENDING else share
                added = poisson(rng, rate * minutes * weight)
                self.counts[name][side] += added
                self.xg[side] += added * _XG_PER_EVENT.get(name, 0.0) * rng.uniform(0.3, 1.7)
        for side in (0, 1):
            red = self.counts["redCards"][side]
            self.counts["yellowToRed"][side] = min(red, self.counts["yellowToRed"][side])
        if t_ns >= self.clock.second_half_start_ns + 10 * MINUTE_NS:
            for side in (0, 1):
                if self.counts["substitutions"][side] < 5 and rng.random() < 0.12 * minutes:
                    self.counts["substitutions"][side] += 1
        balance = 50 + (self.home_share - 0.5) * 30
        drift = rng.uniform(-1.5, 1.5) + (balance - self.possession) / 8
        self.possession = min(75.0, max(25.0, self.possession + drift))

    def _score_goal(self, goal: Goal) -> None:
        side = goal.side
        self.goals.append(goal)
        for name in ("shotsOnTarget", "dangerousAttacks", "attacks"):
            self.counts[name][side] += 1
        self.xg[side] += self.rng.uniform(0.08, 0.6)
        if self.rng.random() < 0.08:
            self.counts["penalties"][side] += 1
            self.xg[side] += 0.76

    def _pair(self, name: str) -> str:
        home, away = self.counts[name]
        return f"{home};{away}"

    def _goal_score(self, since_ns: int = 0) -> str:
        return _score(tuple(self.goals), 2**62, since_ns)

    def _snapshot(self, t_ns: int) -> dict[str, str | None]:
        clock = self.clock
        timer, extra = clock.timer(t_ns)
        after_half = t_ns >= clock.first_half_end_ns
        status = "IN_PLAY" if clock.in_play(t_ns) else "HALF_TIME"
        if t_ns >= clock.end_ns:
            status = "FINISHED"
        home_possession = round(self.possession)
        stats: dict[str, str | None] = {
            "timer": timer,
            "extraTimer": extra,
            "status": status,
            "score": self._goal_score(),
            "score1h": _score(tuple(self.goals), clock.first_half_end_ns) if after_half else None,
            "score2h": None,
            "possession": f"{home_possession};{100 - home_possession}",
        }
        if t_ns >= clock.second_half_start_ns:
            stats["score2h"] = self._goal_score(since_ns=clock.second_half_start_ns)
        for name in _COUNTERS:
            stats[name] = self._pair(name)
        shots = [self.counts["shotsOnTarget"][s] + self.counts["shotsOffTarget"][s] for s in (0, 1)]
        stats["totalShots"] = f"{shots[0]};{shots[1]}"
        stats["corners1h"] = self.corners_1h
        stats["xg"] = f"{self.xg[0]:.2f};{self.xg[1]:.2f}"
        return {name: stats[name] for name in STAT_NAMES}
