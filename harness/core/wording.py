"""How counts read in the messages the harness prints and writes."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """``1 connection``, ``2 connections``: ``noun`` takes an ``s`` unless ``count`` is 1."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
