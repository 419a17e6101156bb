"""``harness redact``: scrub secrets out of an existing recording."""

from __future__ import annotations

import os

import click

from harness.cli._options import output_option
from harness.core.redact_file import redact_recording
from harness.errors import UsageError


@click.command("redact")
@click.argument("file", type=click.Path(dir_okay=False))
@output_option("Redacted recording to write (a new file; not FILE itself).")
@click.option(
    "--secret-env",
    "secret_envs",
    multiple=True,
    metavar="NAME",
    help="Environment variable holding a secret to replace; repeatable.",
)
def redact_command(file: str, output: str, force: bool, secret_envs: tuple[str, ...]) -> None:
    """Write FILE to OUTPUT with the API token and every WS token replaced by placeholders.

    Tokens the recording reveals itself (token answers, ?t= and ?token= parameters, RapidAPI
    key headers) are found without help; name any other secret with --secret-env.
    """
    secrets = []
    for name in secret_envs:
        value = os.environ.get(name, "")
        if not value:
            raise UsageError(f"--secret-env {name}: the environment variable is not set")
        secrets.append(value)
    report = redact_recording(file, output, secrets, force=force)
    click.echo(
        f"harness redact: wrote {output}: {report.records} records, "
        f"{report.secrets} distinct secrets replaced",
        err=True,
    )
    if report.damage:
        click.echo(
            f"harness redact: warning: {file}: {report.damage.describe()}; "
            "wrote every readable record",
            err=True,
        )


COMMANDS: list[click.Command] = [redact_command]
