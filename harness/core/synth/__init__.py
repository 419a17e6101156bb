"""The match simulator behind ``harness synth`` and the bundled recording.

:mod:`.recording` assembles a session from :mod:`.match` (the football), :mod:`.odds` (prices
that follow it), :mod:`.frames` (their wire shapes), :mod:`.feed` (the six channels' cadence)
and :mod:`.session` (token calls, subscriptions, pings and routing, as a recorder sees them).
"""

from __future__ import annotations

from harness.core.synth.recording import (
    DEFAULT_DURATION_NS,
    DEFAULT_MATCHES,
    DEFAULT_SEED,
    LEAGUES,
    SynthOptions,
    synthesize,
    synthetic_bytes,
    write_synthetic,
)

__all__ = [
    "DEFAULT_DURATION_NS",
    "DEFAULT_MATCHES",
    "DEFAULT_SEED",
    "LEAGUES",
    "SynthOptions",
    "synthesize",
    "synthetic_bytes",
    "write_synthetic",
]
