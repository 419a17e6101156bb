"""A recording made ready for replay: its feed and the behaviour it recorded, read once.

``harness replay``, the pytest plugin and library users load a recording the same way:
:func:`load_recording` reads the file, builds the :class:`~harness.core.schedule.Feed` (each
recorded frame once, routed as section 12 says) and learns the
:class:`~harness.core.profile.BehaviourProfile` from what the service said in it (message texts,
close codes).  A damaged tail is not an error: what precedes it is replayed, and
:attr:`LoadedRecording.tail` says what was lost so the caller can warn.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.core.profile import BehaviourProfile, learn_from_recording
from harness.core.recording import TailDamage, read_recording
from harness.core.records import Header
from harness.core.schedule import Feed


@dataclass(frozen=True, slots=True)
class LoadedRecording:
    """What replay needs of one recording file."""

    path: Path
    header: Header
    feed: Feed
    profile: BehaviourProfile
    tail: TailDamage | None

    def tail_warning(self) -> str | None:
        """One line naming the damage and what is replayed anyway; None for a whole file."""
        if self.tail is None:
            return None
        return (
            f"{self.path}: {self.tail.reason} at byte {self.tail.offset};"
            f" replaying the {self.tail.records_read} records before it"
        )


def load_recording(path: str | os.PathLike[str]) -> LoadedRecording:
    """Read ``path`` and prepare it for replay (see the module docstring)."""
    header, records, tail = read_recording(path)
    return LoadedRecording(
        Path(path), header, Feed.from_records(records), learn_from_recording(records), tail
    )
