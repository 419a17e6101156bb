"""``harness synth``: a seeded match simulator that writes a synthetic recording.

The live service cannot be reached from everywhere, so the harness ships a recording made here.
It is what a recorder would have captured from a MEGA account during an afternoon of football:
several coherent matches (kick-off, goals with consistent scores, half time, second half, full
time) across several leagues, on all six channels in their documented shapes and cadence (MAIN
events as they happen; STATS/ODDS snapshots on every change for ``match``/``league``
subscriptions and a ``batch_update`` every 30 s for ``all``; realtime deltas of only what
changed), plus the token call, the renewals every 20 minutes and the pings.

Subscriptions, and why these.  Replay serves any client subscription that matches recorded
frames (``docs/protocol.md`` section 12 "Replay routing"): MAIN and the realtime channels route
by ``matchId``/``leagueId``, so ``MAIN:all`` alone serves ``MAIN:match:X`` and
``MAIN:league:Y`` too; STATS and ODDS frames echo their subscription and serve only exactly it.
So the session holds every channel on ``all``, plus ``match`` and ``league`` subscriptions on
STATS and ODDS (one match, one league), plus a few narrow MAIN and realtime subscriptions that
duplicate frames of the ``all`` ones, as a recorder spreading subscriptions over connections
would see.  That is 16 subscriptions: more than the documented example limits (2 connections
of 2) allow, so the simulation assumes a MEGA token with 4 connections of 4 subscriptions and
says so in the header and in its ``/v1/ws/new`` answer.

Determinism: only ``random.Random(seed)`` and the simulated start time; never the clock.  The
same options give the same bytes (``Header.tool_version`` is :data:`SIMULATOR_VERSION`, not
the package version, so releases do not change them).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from harness.core.protocol import Channel, Scope, Topic
from harness.core.recording import RecordingWriter
from harness.core.records import Header, Record, Summary
from harness.core.synth.feed import emit_feed
from harness.core.synth.match import (
    LONGEST_MATCH_NS,
    NS_PER_S,
    Fixture,
    League,
    Team,
    play_match,
)
from harness.core.synth.session import (
    API_BASE,
    MAX_CONNECTIONS,
    MAX_SUBSCRIBE_PER_CONNECTION,
    PLAN,
    WS_HOST,
    SessionBuilder,
)
from harness.errors import UsageError

SIMULATOR_VERSION = "1"
"""Bump when the output for given options changes (and regenerate ``recordings/``)."""
TOOL = "harness synth"
DEFAULT_SEED = 2024
DEFAULT_MATCHES = 6
DEFAULT_DURATION_NS = 2 * 3600 * NS_PER_S
DEFAULT_START = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
MAX_MATCHES = 20
MAX_DURATION_NS = 24 * 3600 * NS_PER_S
MIN_DURATION_NS = 60 * NS_PER_S
FIRST_KICKOFF_NS = 15 * NS_PER_S
MIN_KICKOFF_SPACING_NS = 30 * NS_PER_S
SEASON = "2023/2024"

LEAGUES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Premier League", "England", (
        "Arsenal", "Liverpool", "Manchester City", "Aston Villa", "Tottenham Hotspur",
        "Manchester United", "Newcastle United", "Brighton & Hove Albion",
    )),
    ("LaLiga", "Spain", (
        "Real Madrid", "Girona", "FC Barcelona", "Atlético Madrid", "Athletic Club",
        "Real Sociedad", "Real Betis", "Valencia",
    )),
    ("Serie A", "Italy", (
        "Inter", "Juventus", "Milan", "Bologna", "Roma", "Fiorentina", "Napoli", "Atalanta",
    )),
    ("Bundesliga", "Germany", (
        "Bayer 04 Leverkusen", "FC Bayern München", "VfB Stuttgart", "RB Leipzig",
        "Borussia Dortmund", "Eintracht Frankfurt", "SC Freiburg", "1. FC Köln",
    )),
    ("Ligue 1", "France", (
        "Paris Saint-Germain", "OGC Nice", "AS Monaco", "Stade Brestois 29", "LOSC Lille",
        "Stade Rennais", "RC Lens", "Olympique de Marseille",
    )),
)  # fmt: skip
"""Leagues and teams the simulator draws from (names only; everything else is invented)."""


@dataclass(frozen=True, slots=True)
class SynthOptions:
    """What to simulate: the seed, how many matches, how long, from which wall-clock start."""

    seed: int = DEFAULT_SEED
    matches: int = DEFAULT_MATCHES
    duration_ns: int = DEFAULT_DURATION_NS
    start: datetime = DEFAULT_START

    def __post_init__(self) -> None:
        if not 1 <= self.matches <= MAX_MATCHES:
            raise UsageError(f"matches must be between 1 and {MAX_MATCHES}, got {self.matches}")
        if not MIN_DURATION_NS <= self.duration_ns <= MAX_DURATION_NS:
            raise UsageError(
                f"duration must be between 1 minute and 24 hours, got {self.duration_ns / 1e9:g}s"
            )
        if self.start.tzinfo is None:
            raise UsageError("start must be a timezone-aware datetime")

    @property
    def epoch_ms(self) -> int:
        return round(self.start.timestamp() * 1000)


def synthesize(options: SynthOptions = SynthOptions()) -> tuple[Header, list[Record]]:
    """Simulate a session: its header and its records in time order (no Summary)."""
    master = random.Random(options.seed)
    fixtures = draw_fixtures(random.Random(master.getrandbits(64)), options)
    connections = plan_subscriptions(fixtures)
    session = SessionBuilder(
        random.Random(master.getrandbits(64)),
        epoch_ms=options.epoch_ms,
        duration_ns=options.duration_ns,
        connections=connections,
    )
    live_ns = session.open_session()
    plays = [play_match(fixture) for fixture in fixtures]
    topics = [topic for conn in connections for topic in conn]
    emit_feed(session, plays, topics, random.Random(master.getrandbits(64)), since_ns=live_ns)
    header = _header(options, fixtures, connections)
    return header, session.records()


def write_synthetic(stream: IO[bytes], options: SynthOptions = SynthOptions()) -> Summary:
    """Write the simulated recording to ``stream`` (not closed); returns its summary."""
    header, records = synthesize(options)
    writer = RecordingWriter(stream, index=True, blocks=True)
    writer.start(header)
    for record in records:
        writer.add(record)
    return writer.finish(t_ns=options.duration_ns)


def synthetic_bytes(options: SynthOptions = SynthOptions()) -> bytes:
    """The whole simulated recording file as bytes."""
    buffer = io.BytesIO()
    write_synthetic(buffer, options)
    return buffer.getvalue()


def draw_fixtures(rng: random.Random, options: SynthOptions) -> tuple[Fixture, ...]:
    """``options.matches`` fixtures over ``ceil(n/2)`` leagues (at most 5), staggered kick-offs.

    Kick-offs are spread so that every match ends before the session does when it is long
    enough (at most :data:`LONGEST_MATCH_NS` each), and at least 30 s apart otherwise.
    """
    count = options.matches
    league_count = min(len(LEAGUES), math.ceil(count / 2))
    chosen = rng.sample(LEAGUES, league_count)
    leagues = [
        League(_hex(rng, 15), _rt_id(rng), name, country, SEASON) for name, country, _ in chosen
    ]
    pools = [rng.sample(teams, len(teams)) for _, _, teams in chosen]
    room = options.duration_ns - 2 * FIRST_KICKOFF_NS - LONGEST_MATCH_NS
    spacing = max(MIN_KICKOFF_SPACING_NS, room // max(1, count - 1))
    fixtures = []
    for index in range(count):
        league_index = index % league_count
        pool = pools[league_index]
        home, away = pool.pop(), pool.pop()
        kickoff = FIRST_KICKOFF_NS + index * spacing
        fixtures.append(
            Fixture(
                match_id=_hex(rng, 16),
                rt_match_id=_rt_id(rng),
                league=leagues[league_index],
                home=_team(rng, home),
                away=_team(rng, away),
                kickoff_ns=kickoff // NS_PER_S * NS_PER_S,
                home_rate=round(rng.uniform(1.0, 2.0), 2),
                away_rate=round(rng.uniform(0.7, 1.6), 2),
                seed=rng.getrandbits(64),
            )
        )
    return tuple(fixtures)


REALTIME_ID_PREFIX = "rt-"
"""Section 12: synthetic MAIN_REALTIME IDs use "a distinct ID space (prefix ``rt-``)"."""


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _rt_id(rng: random.Random) -> str:
    return f"{REALTIME_ID_PREFIX}{rng.getrandbits(40):010x}"


def _team(rng: random.Random, name: str) -> Team:
    return Team(_hex(rng, 16), _rt_id(rng), name)


def plan_subscriptions(fixtures: Sequence[Fixture]) -> tuple[tuple[Topic, ...], ...]:
    """The subscriptions of each simulated connection (see the module docstring for why)."""
    first = fixtures[0]
    league = fixtures[1].league if len(fixtures) > 1 else first.league
    match, realtime_match = first.match_id, first.rt_match_id

    def every(*channels: Channel) -> tuple[Topic, ...]:
        return tuple(Topic(channel, Scope.ALL) for channel in channels)

    return (
        every(Channel.MAIN, Channel.MAIN_REALTIME, Channel.STATS_REALTIME, Channel.ODDS_REALTIME),
        (
            *every(Channel.STATS, Channel.ODDS),
            Topic(Channel.STATS, Scope.MATCH, match),
            Topic(Channel.ODDS, Scope.LEAGUE, league.id),
        ),
        (
            Topic(Channel.STATS, Scope.LEAGUE, league.id),
            Topic(Channel.ODDS, Scope.MATCH, match),
            Topic(Channel.MAIN, Scope.MATCH, match),
            Topic(Channel.MAIN_REALTIME, Scope.LEAGUE, league.rt_id),
        ),
        (
            Topic(Channel.MAIN, Scope.LEAGUE, league.id),
            Topic(Channel.MAIN_REALTIME, Scope.MATCH, realtime_match),
            Topic(Channel.STATS_REALTIME, Scope.MATCH, match),
            Topic(Channel.ODDS_REALTIME, Scope.LEAGUE, league.id),
        ),
    )


def _header(
    options: SynthOptions,
    fixtures: Sequence[Fixture],
    connections: Sequence[Sequence[Topic]],
) -> Header:
    source: dict[str, Any] = {
        "synthetic": True,
        "seed": options.seed,
        "simulator_version": SIMULATOR_VERSION,
        "plan": str(PLAN),
        "max_connections": MAX_CONNECTIONS,
        "max_subscribe_per_connection": MAX_SUBSCRIBE_PER_CONNECTION,
        "limits_note": (
            "limits assumed by the simulation so that every channel and scope is recorded; "
            "the documented example token allows 2 connections of 2 subscriptions"
        ),
        "subscriptions": [topic.key for conn in connections for topic in conn],
        "connections": [[topic.key for topic in conn] for conn in connections],
        "api_base": API_BASE,
        "ws_host": WS_HOST,
        "duration_s": options.duration_ns / NS_PER_S,
        "matches": [_describe(fixture) for fixture in fixtures],
    }
    created = options.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Header(created, TOOL, SIMULATOR_VERSION, source, redacted=True)


def _describe(fixture: Fixture) -> dict[str, Any]:
    return {
        "matchId": fixture.match_id,
        "leagueId": fixture.league.id,
        "realtimeMatchId": fixture.rt_match_id,
        "realtimeLeagueId": fixture.league.rt_id,
        "league": fixture.league.name,
        "home": fixture.home.name,
        "away": fixture.away.name,
        "kickoff_s": fixture.kickoff_ns // NS_PER_S,
    }
