"""The ``harness`` command line: parsing, exit codes and output, nothing more.

Each sub-command lives in its own module and is registered here.  Errors the harness raises on
purpose (:class:`harness.HarnessError`) become one line on stderr and exit code 1 (2 for usage
errors); never a traceback.  A command may return its exit code (``verify``: 1 when the file is
damaged or invalid).  Click's own usage errors (unknown option, bad value) are one line
too, pointing at ``--help`` instead of printing the usage block.
"""

from __future__ import annotations

import sys

import click

from harness._version import __version__
from harness.errors import HarnessError, UsageError

from . import compare as _compare
from . import fuzz as _fuzz
from . import inspect as _inspect
from . import record as _record
from . import redact as _redact
from . import replay as _replay
from . import synth as _synth
from . import toolbox as _toolbox


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def cli() -> None:
    """Record and replay the Soccer Football API real-time WebSocket feed, offline."""


for _command in (
    *_fuzz.COMMANDS,
    *_inspect.COMMANDS,
    *_record.COMMANDS,
    *_redact.COMMANDS,
    *_replay.COMMANDS,
    *_synth.COMMANDS,
    *_toolbox.COMMANDS,
    *_compare.COMMANDS,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    try:
        result = cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("harness: interrupted", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:  # plain `harness`: the help, as before
        exc.show()
        return int(exc.exit_code)
    except click.exceptions.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "harness"
        click.echo(f"harness: error: {exc.format_message()} (see '{command} --help')", err=True)
        return int(exc.exit_code)
    except click.exceptions.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except UsageError as exc:
        click.echo(f"harness: error: {exc}", err=True)
        return 2
    except HarnessError as exc:
        click.echo(f"harness: error: {exc}", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
