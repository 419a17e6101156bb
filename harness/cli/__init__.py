"""The ``harness`` command line: parsing, exit codes and output, nothing more.

Each sub-command lives in its own module, registered here and imported when it runs.  Errors the
harness raises on purpose (:class:`harness.HarnessError`) become one line on stderr and exit
code 1 (2 for usage errors); never a traceback.  A command may return its exit code (``verify``:
1 when the file is damaged or invalid).  Click's own usage errors (unknown option, bad value) are
one line too, pointing at ``--help`` instead of printing the usage block.
"""

from __future__ import annotations

import importlib
import sys

import click

from harness._version import __version__
from harness.errors import HarnessError, UsageError

COMMAND_MODULES: dict[str, str] = {
    "fuzz": "fuzz",
    "info": "inspect",
    "cat": "inspect",
    "record": "record",
    "redact": "redact",
    "replay": "replay",
    "synth": "synth",
    **dict.fromkeys(["verify", "recover", "export", "import", "cut", "filter", "merge"], "toolbox"),
    **dict.fromkeys(["check", "diff", "report"], "compare"),
}
"""Each sub-command's module in this package, imported when the command runs (so ``harness
info`` starts without loading the server and the recorder)."""


class _Commands(click.Group):
    """The sub-commands of :data:`COMMAND_MODULES`, each imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        commands: list[click.Command] = importlib.import_module(f"{__name__}.{module}").COMMANDS
        return next(command for command in commands if command.name == cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def cli() -> None:
    """Record and replay the Soccer Football API real-time WebSocket feed, offline."""


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
