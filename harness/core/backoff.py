"""Jittered exponential backoff between reconnect and retry attempts.

Policy ("equal jitter"): attempt ``n`` (0-based) waits a uniformly random time between half and
all of ``min(max_s, initial_s * factor**n)``.  Never zero, so a flapping server is not hammered;
always bounded by ``max_s``, so a recorder comes back within a known time once the service does;
jittered, so many clients that lost the same server do not reconnect in lockstep.  Optionally a
server-provided ``retry_after_s`` (429) raises the floor, still capped by ``max_s``.

The random source is injected, so tests are deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.errors import UsageError

INITIAL_S = 0.5
FACTOR = 2.0
MAX_S = 30.0
JITTER = 0.5


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How long to wait before attempt ``n``; ``max_attempts`` None means keep trying."""

    initial_s: float = INITIAL_S
    factor: float = FACTOR
    max_s: float = MAX_S
    jitter: float = JITTER
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s):
            raise UsageError("backoff needs 0 < initial_s <= max_s")
        if self.factor < 1:
            raise UsageError("backoff factor must be >= 1")
        if not (0 <= self.jitter <= 1):
            raise UsageError("backoff jitter must be between 0 and 1")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise UsageError("backoff max_attempts must be >= 1")

    def ceiling_s(self, attempt: int) -> float:
        """The un-jittered delay of ``attempt`` (0-based), capped at ``max_s``."""
        if attempt < 0:
            raise UsageError("attempt must be >= 0")
        # Cap the exponent so huge attempt numbers cannot overflow a float.
        exponent = min(attempt, 64)
        return min(self.max_s, self.initial_s * self.factor**exponent)

    def delay_s(
        self, attempt: int, rng: random.Random, *, retry_after_s: float | None = None
    ) -> float:
        """The jittered delay before ``attempt``, in ``[ceiling*(1-jitter), max_s]``."""
        ceiling = self.ceiling_s(attempt)
        delay = ceiling * (1.0 - self.jitter * rng.random())
        if retry_after_s is not None and retry_after_s > delay:
            delay = retry_after_s
        return min(delay, self.max_s)

    def gives_up(self, attempt: int) -> bool:
        """True when ``attempt`` (0-based) is beyond ``max_attempts``."""
        return self.max_attempts is not None and attempt >= self.max_attempts
