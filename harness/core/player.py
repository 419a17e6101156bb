"""Pure rules of the player services (pause, resume, play-next, seek, speed), as data.

The services are those ``ros2 bag play`` users know; the server (:mod:`harness.server.player`)
applies them to every replay timeline.  Two rules live here:

- :class:`Transport`: where a timeline is in the recording and when a position is due on the
  clock.  A position is *compressed recording time* (``--max-gap`` applied, ``--speed`` not)
  from ``--start-at``, lap ``k`` adding ``k`` lap lengths, as
  :func:`~harness.core.schedule.compressed_lap` measures it.  The transport holds one anchor
  (a clock time and the position then); every due time is computed from it, so a replay stays
  drift-free however often it is paused, resumed, sought or sped up: each of those only moves
  the anchor to "now, here".
- :func:`seek_target`: where a seek to a recording offset lands within a lap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.core.durations import format_seconds
from harness.core.schedule import LapClock, LapView
from harness.errors import UsageError

SPEED_HELP = "use a positive number or 'max'"


def parse_speed(text: str) -> float | None:
    """``max`` (as fast as the client reads: ``None``) or a positive factor such as ``10``."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise UsageError(f"invalid speed {text!r}: {SPEED_HELP}") from None
    return check_speed(speed, shown=text)


def check_speed(speed: float, *, shown: object = None) -> float:
    """``speed`` when it is a finite number > 0; else :class:`UsageError`."""
    if not (math.isfinite(speed) and speed > 0):
        raise UsageError(f"invalid speed {shown if shown is not None else speed!r}: {SPEED_HELP}")
    return speed


@dataclass(slots=True)
class Transport:
    """A timeline's clock: ``speed`` (``None``: max, nothing follows the clock), ``paused``, and
    the anchor (at clock time ``anchor_s`` the timeline was at position ``anchor_ns``)."""

    speed: float | None
    paused: bool = False
    anchor_s: float = 0.0
    anchor_ns: int = 0

    @property
    def timed(self) -> bool:
        """Playing on the clock: a speed is set and not paused."""
        return self.speed is not None and not self.paused

    def clock_ns(self, now_s: float) -> int:
        """Position at ``now_s`` as the clock has it (the anchor's, unless :attr:`timed`)."""
        if self.speed is None or self.paused:
            return self.anchor_ns
        return self.anchor_ns + round((now_s - self.anchor_s) * self.speed * 1e9)

    def due_s(self, position_ns: int) -> float:
        """Clock time at which ``position_ns`` is due (now-or-never unless :attr:`timed`)."""
        if self.speed is None or self.paused:
            return -math.inf if self.speed is None else math.inf
        return self.anchor_s + (position_ns - self.anchor_ns) / (self.speed * 1e9)

    def anchor(self, now_s: float, position_ns: int) -> None:
        """From ``now_s`` on, the timeline is at ``position_ns`` (a start, seek or resume)."""
        self.anchor_s = now_s
        self.anchor_ns = max(0, position_ns)

    def pause(self, now_s: float, position_ns: int) -> None:
        self.anchor(now_s, position_ns)
        self.paused = True

    def resume(self, now_s: float) -> None:
        """Play on from the paused position: the gap until the next frame is kept."""
        self.anchor(now_s, self.anchor_ns)
        self.paused = False

    def set_speed(self, speed: float | None, now_s: float, position_ns: int) -> None:
        """Change speed from ``now_s`` on without a jump in position."""
        self.anchor(now_s, position_ns)
        self.speed = speed


def check_seek(t_ns: int, *, start_at_ns: int, duration_ns: int) -> None:
    """A seek lands between ``--start-at`` and the recording's end; else :class:`UsageError`."""
    if t_ns < start_at_ns:
        raise UsageError(
            f"seek to {format_seconds(t_ns)} is before --start-at {format_seconds(start_at_ns)}"
        )
    if t_ns > duration_ns:
        raise UsageError(
            f"seek to {format_seconds(t_ns)} is past the end of the recording"
            f" ({format_seconds(duration_ns)})"
        )


def seek_target(
    lap: LapView, t_ns: int, *, start_at_ns: int, max_gap_ns: int | None, duration_ns: int
) -> tuple[int, int]:
    """Where a seek to recording offset ``t_ns`` lands in ``lap``: ``(index, position_ns)``.

    ``index`` is the first frame of the lap at or after ``t_ns`` (the frames before it count
    as passed, none of them sent), ``position_ns`` the compressed lap time of ``t_ns`` (the
    gap from the frame before it cut to ``max_gap``, as :class:`LapClock` does).  A ``t_ns``
    before ``--start-at`` or past the recording's end (``duration_ns``) is a
    :class:`UsageError`.
    """
    check_seek(t_ns, start_at_ns=start_at_ns, duration_ns=duration_ns)
    index = lap.index_at_offset(t_ns)
    clock = LapClock(start_at_ns, max_gap_ns)
    if index:
        clock = LapClock(
            start_at_ns, max_gap_ns, lap.frame(index - 1).offset_ns, lap.position_ns(index - 1)
        )
    position = clock.step(t_ns)
    length = lap.length_ns
    return index, position if length is None else min(position, length)
