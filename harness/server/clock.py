"""The mock's one clock: trio's clock, read as wall-clock time through an offset taken once.

Every deadline the server keeps (replay due times, token expiry, the slow-reader stall) is a
deadline on trio's clock, and every wall-clock value it shows (``expires_at``, ``pong`` times,
a rebased ``ts``, the ``Date`` header, journal times) is that same clock plus one offset.  So
under ``trio.testing.MockClock`` the whole server runs on virtual time: a 25-minute token
expires in no real time, and what the client reads stays consistent with what it waits for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import trio


@dataclass(frozen=True, slots=True)
class ServerClock:
    """Wall-clock seconds = ``trio.current_time() + offset``."""

    offset: float

    @classmethod
    def start(cls, wall_time: float | None = None) -> ServerClock:
        """Taken inside a trio run: now reads as ``wall_time`` (default: the real time)."""
        return cls((time.time() if wall_time is None else wall_time) - trio.current_time())

    def now(self) -> float:
        """Wall-clock seconds, on trio's clock."""
        return trio.current_time() + self.offset
