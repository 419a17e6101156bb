"""A recording made ready for replay: its feed and the behaviour it recorded, read once.

``harness replay``, the pytest plugin and library users load a recording the same way:
:func:`load_recording` reads the file, builds the :class:`~harness.core.schedule.Feed` (each
recorded frame once, routed as section 12 says) and learns the
:class:`~harness.core.profile.BehaviourProfile` from what the service said in it (message texts,
close codes).  A file over :data:`STREAM_ABOVE_BYTES` is not read whole: it gets a
:class:`~harness.core.feed_stream.StreamedFeed`, read from disk as it is replayed.  Damage is
not an error: damaged records are skipped, every readable one is replayed, and
:attr:`LoadedRecording.damage` says what was lost so the caller can warn.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.damage import DamageLog, TailDamage
from harness.core.feed_stream import FeedSource, StreamedFeed
from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile, ProfileLearner
from harness.core.recording import open_reader
from harness.core.records import Header, Record
from harness.core.schedule import Feed


@dataclass(frozen=True, slots=True)
class LoadedRecording:
    """What replay needs of one recording file."""

    path: Path
    header: Header
    feed: FeedSource
    profile: BehaviourProfile
    tail: TailDamage | None
    damage: DamageLog = field(default_factory=DamageLog)

    def tail_warning(self) -> str | None:
        """One line naming every damaged stretch; replay serves every readable record."""
        if not self.damage:
            return None
        return f"{self.path}: {self.damage.describe()}; replaying the readable records"


STREAM_ABOVE_BYTES = 16 * 1024 * 1024
"""Files larger than this are replayed from disk (:class:`StreamedFeed`); smaller ones are
read into memory once (the fastest to serve, and to share between a test suite's servers)."""


def load_recording(
    path: str | os.PathLike[str], *, stream_above_bytes: int = STREAM_ABOVE_BYTES
) -> LoadedRecording:
    """Read ``path`` and prepare it for replay (see the module docstring); a file larger than
    ``stream_above_bytes`` gets a :class:`StreamedFeed`, whose profile is learnt from the
    records it reads at open (the file's start and its end)."""
    learner = ProfileLearner()
    if _size(path) > stream_above_bytes:
        streamed = StreamedFeed(path, observe=learner.feed)
        profile = learner.apply(DEFAULT_PROFILE)
        damage = streamed.damage
        return LoadedRecording(Path(path), streamed.header, streamed, profile, damage.tail, damage)
    with open_reader(path) as reader:  # one pass; no list of every record
        feed = Feed.from_records(_taught(reader, learner))
    profile = learner.apply(DEFAULT_PROFILE)
    return LoadedRecording(Path(path), reader.header, feed, profile, reader.tail, reader.damage)


def read_feed(path: str | os.PathLike[str]) -> Feed:
    """The feed of ``path`` in memory, whatever its size (its frames as a tuple)."""
    with open_reader(path) as reader:
        return Feed.from_records(reader)


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # open_reader names the problem


def _taught(records: Iterable[Record], learner: ProfileLearner) -> Iterator[Record]:
    """The records, each shown to ``learner`` on its way."""
    feed = learner.feed
    for record in records:
        feed(record)
        yield record
