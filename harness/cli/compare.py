"""``harness check``, ``harness diff`` and ``harness report``: compare and look at recordings.

Thin wiring over :mod:`harness.core.check`, :mod:`harness.core.drift` and
:mod:`harness.core.report_html`: parse, call, print.  ``check`` and ``diff`` exit 0 when
nothing deviates, 1 otherwise; ``--json`` prints one JSON object instead.
"""

from __future__ import annotations

import json

import click

from harness.cli._options import output_option
from harness.cli._progress import with_progress
from harness.core.check import CheckReport, check_recording
from harness.core.drift import DiffReport, diff_recordings
from harness.core.report_html import write_report

MAX_SHOWN = 50
"""Findings printed without ``--json`` (the JSON form lists them all)."""


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@click.command("check")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every finding.")
@with_progress("check")
def check_command(file: str, as_json: bool) -> int:
    """Compare FILE's live traffic with the documented protocol.

    Reports event types, fields, value formats, message texts and close codes the docs do not
    show, and documented fields never seen.  Exit 0 when everything matches, 1 otherwise.
    """
    report = check_recording(file)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        click.echo("\n".join(_check_lines(report)))
    _warn_damage(file, report)
    return 0 if report.ok else 1


def _check_lines(report: CheckReport) -> list[str]:
    frames = _plural(report.frames, "server frame")
    if report.ok:
        return [f"{report.path}: matches the docs ({frames})"]
    findings = report.sorted_findings()
    total = len(findings) + report.more
    lines = [f"{report.path}: {_plural(total, 'difference')} from the docs in {frames}"]
    for found in findings[:MAX_SHOWN]:
        where = f"record {found.index}" if found.index is not None else "overall"
        lines.append(f"  {found.check:<13} {found.describe()}  ({found.count:,}x, first {where})")
    if total > MAX_SHOWN:
        lines.append(f"  ... {total - MAX_SHOWN:,} more (--json lists them)")
    return lines


def _warn_damage(file: str, report: CheckReport) -> None:
    if report.damage:
        click.echo(f"harness check: warning: {file}: {report.damage.describe()}", err=True)


@click.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every drift.")
@with_progress("diff")
def diff_command(a: str, b: str, as_json: bool) -> int:
    """Show how the feed drifted from recording A to recording B.

    Event types, fields and value formats that appeared or vanished, rates per channel, gaps,
    renewal cadence and close behaviour.  Exit 0 when nothing drifted, 1 otherwise.
    """
    report = diff_recordings(a, b)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        click.echo("\n".join(_diff_lines(report)))
    for profile in (report.a, report.b):
        if profile.damage:
            click.echo(
                f"harness diff: warning: {profile.path}: {profile.damage.describe()}", err=True
            )
    return 0 if report.ok else 1


def _diff_lines(report: DiffReport) -> list[str]:
    if report.ok:
        return [f"{report.a.path} -> {report.b.path}: no drift"]
    lines = [f"{report.a.path} -> {report.b.path}: {_plural(len(report.drifts), 'drift')}"]
    lines += [f"  {drift.describe()}" for drift in report.drifts[:MAX_SHOWN]]
    if len(report.drifts) > MAX_SHOWN:
        lines.append(f"  ... {len(report.drifts) - MAX_SHOWN:,} more (--json lists them)")
    return lines


@click.command("report")
@click.argument("file")
@output_option("HTML page to write (self-contained: views offline, runs no script).")
@with_progress("report")
def report_command(file: str, output: str, force: bool) -> None:
    """Write one HTML page picturing FILE: summary, connections, rates, a timeline per match."""
    result = write_report(file, output, force=force)
    click.echo(
        f"harness report: wrote {output}: {result.bytes_written:,} bytes,"
        f" {result.rows:,} match/channel rows",
        err=True,
    )
    if result.damage:
        click.echo(f"harness report: warning: {file}: {result.damage.describe()}", err=True)


COMMANDS: list[click.Command] = [check_command, diff_command, report_command]
