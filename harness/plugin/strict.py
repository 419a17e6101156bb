"""Strict mode: did the client's subscriptions and the recording agree?

Computed from the recording's feed and the server's journal (the client's ``subscribe``
commands) and stats (how far the replay got): a subscription that matches no recorded frame,
or recorded frames of a subscription that were never handed to the client, is a problem, and
each is named with its topic and frame count.  "Delivered" is measured on the most advanced
timeline; with several WS tokens a slower one is not checked separately.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.core.feed_stream import FeedSource
from harness.core.protocol import Subscribe, Topic, parse_command, topic_matches
from harness.core.schedule import ReplayOptions, all_frames
from harness.errors import HarnessError
from harness.server.config import ServerStats
from harness.server.journal import JournalEntry


def subscribed_topics(entries: Iterable[JournalEntry]) -> list[Topic]:
    """Topics the clients sent ``subscribe`` for, in first-seen order."""
    topics: dict[Topic, None] = {}
    for entry in entries:
        if entry.kind != "ws_in" or not entry.summary.startswith("text "):
            continue
        try:
            command = parse_command(entry.summary.removeprefix("text "))
        except HarnessError:
            continue
        if isinstance(command, Subscribe):
            topics[command.topic] = None
    return list(topics)


def strict_problems(
    feed: FeedSource, options: ReplayOptions, entries: Iterable[JournalEntry], stats: ServerStats
) -> list[str]:
    """One line per problem (empty: the subscriptions and the recording agree)."""
    topics = subscribed_topics(entries)
    wanted = dict.fromkeys(topics, 0)
    missed = dict.fromkeys(topics, 0)
    total = 0
    for i, frame in enumerate(all_frames(feed.lap(options))):  # one pass: any size of feed
        total += 1
        for topic in topics:
            if topic_matches(topic, frame.info):
                wanted[topic] += 1
                missed[topic] += i >= stats.position
    problems = []
    for topic in topics:
        if not wanted[topic]:
            problems.append(
                f"subscription {topic} matched no recorded frame (of {total} in the recording)"
            )
        elif missed[topic] and not (stats.ended or options.loop):
            problems.append(
                f"subscription {topic}: {missed[topic]} of {wanted[topic]} recorded frames"
                " were never delivered"
            )
    return problems
