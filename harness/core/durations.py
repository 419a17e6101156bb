"""Durations as users type them: ``90s``, ``25m``, ``2h``, ``1h30m`` or plain seconds."""

from __future__ import annotations

import re

from harness.errors import UsageError

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """Return ``text`` as seconds.

    Accepts plain seconds (``"12"``, ``"1.5"``) or unit parts in any combination of ``h``, ``m``,
    ``s`` and ``ms`` (``"1h30m"``, ``"90s"``, ``"250ms"``).  Raises :class:`UsageError` otherwise.
    """
    cleaned = text.strip().lower()
    try:
        seconds = float(cleaned)
    except ValueError:
        seconds = _parse_parts(cleaned, original=text)
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise UsageError(f"invalid duration {text!r}: must be a finite number of seconds >= 0")
    return seconds


def _parse_parts(cleaned: str, *, original: str) -> float:
    position, total = 0, 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(cleaned) or not cleaned:
        raise UsageError(
            f"invalid duration {original!r}: use e.g. 90s, 25m, 2h, 1h30m or plain seconds"
        )
    return total


def format_duration(seconds: float) -> str:
    """Format seconds compactly for humans: ``1h02m03s``, ``4m05s``, ``12.3s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"


def format_seconds(ns: int) -> str:
    """A recording offset in seconds as precise as it was given (``1999.995s``, ``30s``): the
    words of a bound that was crossed, so two offsets never read alike when they differ."""
    return f"{ns / 1e9:.10g}s"
