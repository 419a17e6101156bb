"""``harness info`` and ``harness cat``: look inside a recording."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
