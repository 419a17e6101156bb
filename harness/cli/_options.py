"""Options shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def output_option(help_text: str) -> Callable[[F], F]:
    """The required ``-o/--output FILE`` of every command that writes a recording."""
    return click.option(
        "-o",
        "--output",
        "output",
        required=True,
        type=click.Path(dir_okay=False),
        help=help_text,
    )
