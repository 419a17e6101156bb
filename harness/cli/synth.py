"""``harness synth``: write a synthetic recording made by the seeded match simulator."""

from __future__ import annotations

from typing import BinaryIO

import click

from harness.cli._options import output_option
from harness.core.durations import format_duration, parse_duration
from harness.core.safe_output import check_output, safe_output
from harness.core.synth import (
    DEFAULT_DURATION_NS,
    DEFAULT_MATCHES,
    DEFAULT_SEED,
    SynthOptions,
    synthetic_bytes,
)
from harness.errors import UsageError


@click.command("synth")
@output_option("Recording to write (an existing file needs --force).")
@click.option(
    "--seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="Random seed: the same seed gives the same bytes.",
)
@click.option(
    "--matches",
    type=int,
    default=DEFAULT_MATCHES,
    show_default=True,
    help="How many matches to simulate (1-20), over ceil(N/2) leagues.",
)
@click.option(
    "--duration",
    default=format_duration(DEFAULT_DURATION_NS / 1e9),
    show_default=True,
    help="Simulated session length, e.g. 2h, 90m, 1h30m (1 minute to 24 hours).",
)
def synth_command(output: str, force: bool, seed: int, matches: int, duration: str) -> None:
    """Write a synthetic recording of simulated matches on all six channels to OUTPUT.

    The session is what a recorder would capture from a MEGA token: the token call and its
    renewals, subscriptions on every channel and scope, pings, and the feed.  Nothing is random
    but the seed, so the file is reproducible byte for byte.
    """
    check_output(output, force=force)
    options = SynthOptions(
        seed=seed, matches=matches, duration_ns=round(parse_duration(duration) * 1e9)
    )
    data = synthetic_bytes(options)
    with safe_output(output, force=force) as stream:
        _write(stream, output, data)
    size = len(data)
    click.echo(
        f"harness synth: wrote {output}: {size} bytes, {matches} matches, "
        f"{format_duration(options.duration_ns / 1e9)} simulated, seed {seed}",
        err=True,
    )


def _write(stream: BinaryIO, path: str, data: bytes) -> None:
    try:
        stream.write(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


COMMANDS: list[click.Command] = [synth_command]
