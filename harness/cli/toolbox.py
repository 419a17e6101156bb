"""The recording toolbox: ``verify``, ``recover``, ``export``, ``import``, ``cut``, ``filter``.

Thin wiring over :mod:`harness.core.verify` and :mod:`harness.core.transform`: parse, call, print.
Every command streams its input; every output goes through :mod:`harness.core.safe_output`
(an existing file only with ``--force``, written beside and renamed into place).
"""

from __future__ import annotations

import json

import click

from harness.cli._options import output_option
from harness.core.damage import DamageLog
from harness.core.jsonl import export_recording, import_recording
from harness.core.transform import recover_recording
from harness.core.verify import VerifyReport, verify_recording

MAX_SHOWN_PROBLEMS = 50
"""Problems printed by ``verify`` without ``--json`` (the counts cover them all)."""


@click.command("verify")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every problem found.")
def verify_command(file: str, as_json: bool) -> int:
    """Check FILE: checksums, truncation, time order, connections, and every frame.

    Server frames are checked against the protocol model, client frames must be commands the
    service accepts.  Exit 0 when clean, 1 when damaged or invalid.
    """
    report = verify_recording(file)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        click.echo("\n".join(_verify_lines(report)))
    return 0 if report.ok else 1


def _verify_lines(report: VerifyReport) -> list[str]:
    records = f"{report.records:,} record{'s' if report.records != 1 else ''}"
    if report.ok:
        return [f"{report.path}: ok ({records})"]
    counts = ", ".join(f"{check} {count:,}" for check, count in sorted(report.counts.items()))
    problems = report.problem_count
    lines = [f"{report.path}: {problems:,} problem{'s' if problems != 1 else ''} in {records}"
             f" ({counts})"]  # fmt: skip
    shown = report.problems[:MAX_SHOWN_PROBLEMS]
    width = max(len(p.where()) for p in shown)
    lines += [f"  {p.where():<{width}}  {p.check:<14} {p.message}" for p in shown]
    if problems > len(shown):
        lines.append(f"  ... {problems - len(shown):,} more (--json lists up to 1,000)")
    return lines


@click.command("recover")
@click.argument("file")
@output_option("Clean recording to write (a new file; not FILE itself).")
def recover_command(file: str, output: str, force: bool) -> None:
    """Write every intact record of a damaged FILE to OUTPUT, and say what was lost.

    Damaged records are skipped and reading resumes at the next whole record, so everything
    after a damaged stretch is kept too, not only what precedes it.
    """
    report = recover_recording(file, output, force=force)
    kept = f"kept {report.records_written:,} of {report.records_read:,} readable records"
    lost = f"lost: {report.damage.describe()}" if report.damage else "nothing lost (FILE is whole)"
    click.echo(f"harness recover: wrote {output}: {kept}; {lost}", err=True)


@click.command("export")
@click.argument("file")
@output_option("JSONL file to write (one JSON object per record, the header first).")
def export_command(file: str, output: str, force: bool) -> None:
    """Write FILE as JSONL: readable, diff-friendly, and imported back byte for byte."""
    report = export_recording(file, output, force=force)
    click.echo(f"harness export: wrote {output}: header + {report.records:,} records", err=True)
    _warn_damage("export", file, report.damage)


@click.command("import")
@click.argument("file")
@output_option("Recording to write from the JSONL FILE.")
def import_command(file: str, output: str, force: bool) -> None:
    """Turn the JSONL FILE (as export writes it, or written by hand) into a recording."""
    records = import_recording(file, output, force=force)
    click.echo(f"harness import: wrote {output}: {records:,} records", err=True)


def _warn_damage(command: str, file: str, damage: DamageLog) -> None:
    if damage:
        click.echo(
            f"harness {command}: warning: {file}: {damage.describe()}; wrote every readable record",
            err=True,
        )


COMMANDS: list[click.Command] = [verify_command, recover_command, export_command, import_command]
