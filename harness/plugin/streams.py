"""Property-testing a consumer: frames saved as a recording, and a failing example kept.

``soccer_server.serving(frames, save_failure=...)`` (:meth:`SoccerServer.serving`) resets the
server, plays the frames and, when the block raises, saves them with :func:`save_stream` so a
regression test replays them with ``@pytest.mark.soccer_recording(...)``.  Hypothesis runs the
smallest failing example last, so the file ends up holding the shrunk stream.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

from harness._version import __version__
from harness.core.stream import Frame, replay_losses, timed_frames
from harness.core.wording import plural
from harness.errors import UsageError
from harness.plugin.options import SUFFIX
from harness.recorder.output import write_stream

TOOL = "soccer-ws-harness save_stream"
CREATED_AT = "2024-01-15T14:00:00Z"
"""A fixed header time: the same frames give the same file."""
_OURS: set[Path] = set()
"""Files :func:`save_stream` wrote in this process: it may replace those (a shrinking run
writes one file many times), never a file it did not write."""
_LOCK = threading.Lock()


def save_stream(
    frames: Iterable[Frame],
    path: str | os.PathLike[str],
    *,
    recordings_dir: Path | None = None,
    force: bool = False,
) -> Path:
    """Write ``frames`` as a recording that ``harness replay`` and the ``soccer_recording``
    marker play back; returns its path.

    A relative ``path`` is in ``recordings_dir`` when given (the marker finds it by the same
    name), with ``.msgpack`` added when it has no suffix.  An existing file is refused unless
    ``force`` or this process wrote it.  Replay sends each recorded event frame once: exact
    duplicates within 2 s and frames that are no event are not sent again
    (:func:`losses_note` says how many)."""
    target = Path(path)
    if not target.is_absolute() and recordings_dir is not None:
        target = recordings_dir / target
    if not target.suffix:
        target = target.with_name(target.name + SUFFIX)
    timed = timed_frames(frames)
    with _LOCK:
        replace = force or target.resolve() in _OURS
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot make the folder {target.parent}: {exc.strerror}") from None
        source = {"stream": True, "frames": len(timed)}
        write_stream(
            target, timed, tool=(TOOL, __version__), created_at=CREATED_AT, source=source,
            force=replace,
        )  # fmt: skip
        _OURS.add(target.resolve())
    return target


def losses_note(frames: Iterable[Frame]) -> str:
    """What a replay of the saved stream will not send again ("" when nothing)."""
    duplicates, garbage = replay_losses(timed_frames(frames))
    if not (duplicates or garbage):
        return ""
    return (
        f" (replay sends each recorded event frame once: {plural(duplicates, 'exact duplicate')}"
        f" and {plural(garbage, 'frame')} that are no event are not sent again)"
    )
