"""Turning simulated matches into the frames the server sends, with the documented cadence.

- MAIN: each event a second or two after it happens; MAIN_REALTIME a moment after it happens
  ("lowest possible latency", section 8.2), with the realtime source's own ids.
- STATS_REALTIME / ODDS_REALTIME: on every change, only the changed values (sections 8.4, 8.6).
- STATS / ODDS with scope ``match`` or ``league``: the full snapshot on every change, one frame
  per subscription echoing it (section 8.3, 8.5).
- STATS / ODDS with scope ``all``: every 30 s a ``batch_update`` with the latest snapshot of each
  match that changed since the previous batch (section 12); no frame when nothing changed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from harness.core.protocol import Channel, Scope, Topic
from harness.core.synth.frames import (
    REALTIME_CHANNEL,
    SNAPSHOT_CHANNEL,
    batch_frame,
    delta_frame,
    main_frame,
    snapshot_frame,
)
from harness.core.synth.match import NS_PER_S, Fixture, MatchPlay
from harness.core.synth.odds import play_odds
from harness.core.synth.session import MS, Emission, SessionBuilder

BATCH_EVERY_NS = 30 * NS_PER_S
"""Section 12: a ``batch_update`` "every 30 s of recording time", per subscribed topic."""

_Change = tuple[int, Mapping[str, Any], tuple[str, ...]]  # time, full values, changed names
_Snapshot = tuple[int, int, Mapping[str, Any]]  # time, fixture index, full values


def emit_feed(
    session: SessionBuilder,
    plays: Sequence[MatchPlay],
    topics: Sequence[Topic],
    rng: random.Random,
    *,
    since_ns: int,
) -> None:
    """Emit every frame of ``plays`` into ``session``; batches start ``since_ns`` + 30 s."""
    snapshots: dict[str, list[_Snapshot]] = {"stats": [], "odds": []}
    for index, play in enumerate(plays):
        _emit_main(session, play, rng)
        stats = [(u.t_ns, u.stats, u.changed) for u in play.stats]
        odds = [(u.t_ns, u.odds, u.changed) for u in play_odds(play)]
        for kind, changes in (("stats", stats), ("odds", odds)):
            _emit_changes(session, kind, play.fixture, changes, topics, rng)
            snapshots[kind] += [(t, index, values) for t, values, _ in changes]
    fixtures = [play.fixture for play in plays]
    for kind, entries in snapshots.items():
        if Topic(SNAPSHOT_CHANNEL[kind], Scope.ALL) in topics:
            _emit_batches(session, kind, fixtures, entries, rng, since_ns)


def _event_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(48):012x}"


def _after(rng: random.Random, t_ns: int, low_ms: int, high_ms: int) -> int:
    return t_ns + rng.randint(low_ms, high_ms) * MS


def _emit_main(session: SessionBuilder, play: MatchPlay, rng: random.Random) -> None:
    fixture = play.fixture
    for event in play.events:
        for realtime, (low, high) in ((True, (40, 400)), (False, (800, 2500))):
            sent = _after(rng, event.t_ns, low, high)
            payload = main_frame(
                fixture,
                event,
                realtime=realtime,
                ts_ms=session.ts_ms(sent),
                epoch_ms=session.epoch_ms,
            )
            match_id = fixture.rt_match_id if realtime else fixture.match_id
            league_id = fixture.league.rt_id if realtime else fixture.league.id
            channel = Channel.MAIN_REALTIME if realtime else Channel.MAIN
            session.emit(Emission(sent, payload, channel, match_id, league_id))


def _emit_changes(
    session: SessionBuilder,
    kind: str,
    fixture: Fixture,
    changes: Sequence[_Change],
    topics: Sequence[Topic],
    rng: random.Random,
) -> None:
    channel = SNAPSHOT_CHANNEL[kind]
    scoped = [
        topic
        for topic in topics
        if topic.channel is channel
        and (
            (topic.scope is Scope.MATCH and topic.id == fixture.match_id)
            or (topic.scope is Scope.LEAGUE and topic.id == fixture.league.id)
        )
    ]
    ids = (fixture.match_id, fixture.league.id)
    for t_ns, values, changed in changes:
        sent = _after(rng, t_ns, 40, 300)
        payload = delta_frame(kind, fixture, session.ts_ms(sent), values, changed)
        session.emit(Emission(sent, payload, REALTIME_CHANNEL[kind], *ids))
        for topic in scoped:
            sent = _after(rng, t_ns, 300, 1200)
            payload = snapshot_frame(kind, topic, _event_id(rng), session.ts_ms(sent), values)
            session.emit(Emission(sent, payload, channel, *ids, topic=topic))


def _emit_batches(
    session: SessionBuilder,
    kind: str,
    fixtures: Sequence[Fixture],
    entries: list[_Snapshot],
    rng: random.Random,
    since_ns: int,
) -> None:
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    topic = Topic(SNAPSHOT_CHANNEL[kind], Scope.ALL)
    position, due = 0, since_ns + BATCH_EVERY_NS
    while due < session.end_ns and position < len(entries):
        latest: dict[int, Mapping[str, Any]] = {}
        while position < len(entries) and entries[position][0] <= due:
            _, index, values = entries[position]
            latest[index] = values
            position += 1
        if latest:
            batch = [(fixtures[index], latest[index]) for index in sorted(latest)]
            payload = batch_frame(kind, _event_id(rng), session.ts_ms(due), batch)
            session.emit(Emission(due, payload, topic.channel, topic=topic))
        due += BATCH_EVERY_NS
