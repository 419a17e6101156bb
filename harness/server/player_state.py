"""The player settings every timeline of a server shares, and a pulse to wait on progress."""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from harness.core.player import Transport


class Pulse:
    """A broadcast wake-up: :meth:`wait` returns at the next :meth:`pulse` (no polling)."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def pulse(self) -> None:
        event, self._event = self._event, trio.Event()
        event.set()

    async def wait(self) -> None:
        await self._event.wait()


@dataclass(slots=True)
class PlayerState:
    """Server-wide ``paused`` and ``speed`` (a timeline made later starts with them), and the
    pulse timelines send when they start, finish a lap, end, or their audience changes."""

    speed: float | None
    paused: bool = False
    progress: Pulse = field(default_factory=Pulse)

    def new_transport(self) -> Transport:
        return Transport(self.speed, self.paused)
