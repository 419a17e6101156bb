"""Options shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class _Port(click.IntRange):
    """0..65535; anything else is named as not a port, not as "not a valid integer range"."""

    name = "port"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(
                f"{value!r} is not a port number (0 to 65535; 0 picks a free one)", param, ctx
            )


PORT = _Port(0, 65535)
"""A TCP port to listen on (0: any free port): the one rule for every listening command."""


def output_option(help_text: str) -> Callable[[F], F]:
    """The required ``-o/--output FILE`` of every command that writes a recording, and ``--force``.

    An existing FILE is refused unless ``--force`` is given (see :mod:`harness.core.safe_output`).
    """
    output = click.option(
        "-o",
        "--output",
        "output",
        required=True,
        type=click.Path(dir_okay=False),
        help=help_text,
    )
    force = click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")

    def decorate(function: F) -> F:
        return output(force(function))

    return decorate
