"""The recording toolbox: ``verify``, ``recover``, ``export``, ``import``, ``cut``, ``filter``,
``merge``.

Thin wiring over :mod:`harness.core.verify` and :mod:`harness.core.transform`: parse, call, print.
Every command streams its input; every output goes through :mod:`harness.core.safe_output`
(an existing file only with ``--force``, written beside and renamed into place).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import click

from harness.cli._options import output_option
from harness.cli._progress import with_progress
from harness.core.damage import DamageLog
from harness.core.durations import parse_duration
from harness.core.jsonl import export_recording, import_recording
from harness.core.merge import merge_recordings
from harness.core.protocol import Channel
from harness.core.records import Record
from harness.core.selection import FrameFilter, check_event_types, cut_records, filter_records
from harness.core.transform import recover_recording, select_records
from harness.core.verify import VerifyReport, verify_recording
from harness.errors import UsageError

MAX_SHOWN_PROBLEMS = 50
"""Problems printed by ``verify`` without ``--json`` (the counts cover them all)."""


@click.command("verify")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every problem found.")
@with_progress("verify")
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
@with_progress("recover")
def recover_command(file: str, output: str, force: bool) -> None:
    """Write every intact record of a damaged FILE to OUTPUT, and say what was lost.

    Damaged records are skipped and reading resumes at the next whole record, so everything
    after a damaged stretch is kept too, not only what precedes it.
    """
    report = recover_recording(file, output, force=force)
    kept = f"kept {report.records_written:,} of {report.records_read:,} readable records"
    lost = (
        f"lost: {report.damage.describe()}" if report.damage else f"nothing lost ({file} is whole)"
    )
    click.echo(f"harness recover: wrote {output}: {kept}; {lost}", err=True)


@click.command("export")
@click.argument("file")
@output_option("JSONL file to write (one JSON object per record, the header first).")
@with_progress("export")
def export_command(file: str, output: str, force: bool) -> None:
    """Write FILE as JSONL: readable, diff-friendly, and imported back byte for byte."""
    report = export_recording(file, output, force=force)
    click.echo(f"harness export: wrote {output}: header + {report.records:,} records", err=True)
    _warn_damage("export", file, report.damage)


@click.command("import")
@click.argument("file")
@output_option("Recording to write from the JSONL FILE.")
@with_progress("import")
def import_command(file: str, output: str, force: bool) -> None:
    """Turn the JSONL FILE (as export writes it, or written by hand) into a recording."""
    records = import_recording(file, output, force=force)
    click.echo(f"harness import: wrote {output}: {records:,} records", err=True)


def _duration_ns(option: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None
    return round(seconds * 1e9)


@click.command("cut")
@click.argument("file")
@output_option("Recording to write: the window, with what replaying it needs.")
@click.option("--start", metavar="D", help="Keep records from this time on (e.g. 25m, 1h30m).")
@click.option("--end", metavar="D", help="Keep records before this time.")
@with_progress("cut")
def cut_command(file: str, output: str, force: bool, start: str | None, end: str | None) -> None:
    """Write the part of FILE between --start and --end (times since the session start).

    The token calls, connections and subscriptions active at --start are kept (moved to
    --start), so the result still replays.
    """
    start_ns, end_ns = _duration_ns("--start", start), _duration_ns("--end", end)
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise UsageError("--end must be after --start")

    def select(records: Iterable[Record]) -> Iterator[Record]:
        return cut_records(records, start_ns=start_ns, end_ns=end_ns)

    report = select_records(file, output, select, force=force, command="cut")
    _written("cut", output, report.records_written, report.records_read)
    _warn_damage("cut", file, report.damage)


@click.command("filter")
@click.argument("file")
@output_option("Recording to write: the frames kept, with the subscriptions involved.")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="C",
    type=click.Choice([c.value for c in Channel], case_sensitive=False),
    help="Keep event frames of this channel; repeatable.",
)
@click.option(
    "--match",
    "matches",
    multiple=True,
    metavar="ID",
    help="Keep event frames of this match; repeatable.",
)
@click.option(
    "--league",
    "leagues",
    multiple=True,
    metavar="ID",
    help="Keep event frames of this league; repeatable.",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="T",
    help="Keep event frames of this event type (goal, stats_update...); repeatable.",
)
@with_progress("filter")
def filter_command(file: str, output: str, force: bool, channels: tuple[str, ...],
                   matches: tuple[str, ...], leagues: tuple[str, ...],
                   types: tuple[str, ...]) -> None:  # fmt: skip
    """Write FILE without the event frames that miss a criterion (all given must hold).

    Everything else is kept (REST calls, connections, notes, replies), and the subscriptions
    involved, so the result still replays.
    """
    check_event_types(types)
    criteria = FrameFilter(
        frozenset(Channel(c.upper()) for c in channels), frozenset(matches),
        frozenset(leagues), frozenset(types),
    )  # fmt: skip

    def select(records: Iterable[Record]) -> Iterator[Record]:
        return filter_records(records, criteria)

    report = select_records(file, output, select, force=force, command="filter")
    _written("filter", output, report.records_written, report.records_read)
    _warn_damage("filter", file, report.damage)


@click.command("merge")
@click.argument("files", nargs=-1, required=True)
@output_option("Recording to write: every record of every FILE on one timeline.")
@click.option(
    "--concat", is_flag=True, help="One after another, in the order given (default: by start time)."
)
@with_progress("merge")
def merge_command(files: tuple[str, ...], output: str, force: bool, concat: bool) -> None:
    """Write one recording of several FILES: aligned by wall-clock start, or --concat.

    Connection ids are renumbered so none collide; every record is kept, so the result
    replays.  Pieces of one cut session are put back together as that session.
    """
    report = merge_recordings(files, output, concat=concat, force=force)
    pieces = sum(item.continues for item in report.inputs)
    how = "interleaved by time" if report.interleaved else "one after another"
    joined = f"; {pieces} continued the session before" if pieces else ""
    click.echo(
        f"harness merge: wrote {output}: {report.records_written:,} records from"
        f" {len(files)} recordings ({how}{joined})",
        err=True,
    )
    for item in report.inputs:
        _warn_damage("merge", item.path, item.damage)


def _written(command: str, output: str, written: int, read: int) -> None:
    click.echo(f"harness {command}: wrote {output}: {written:,} of {read:,} records", err=True)


def _warn_damage(command: str, file: str, damage: DamageLog) -> None:
    if damage:
        click.echo(
            f"harness {command}: warning: {file}: {damage.describe()}; wrote every readable record",
            err=True,
        )


COMMANDS: list[click.Command] = [
    verify_command,
    recover_command,
    export_command,
    import_command,
    cut_command,
    filter_command,
    merge_command,
]
