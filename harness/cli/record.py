"""``harness record``: record the live service, or your own client through a recording proxy.

Wiring only: read the token from the environment, build the options, open the file through
redaction, run the session with a status display and signal handling, report the outcome.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import click
import trio

from harness._version import __version__
from harness.cli._options import output_option
from harness.core.durations import parse_duration
from harness.core.protocol import Topic
from harness.core.record_plan import parse_subscriptions
from harness.core.recording import open_writer
from harness.core.records import Header
from harness.core.redact import MIN_SECRET_LENGTH, Redactor
from harness.errors import HarnessError, UsageError
from harness.recorder.proxy import DEFAULT_PROXY_PORT, ProxyOptions, ProxyRecorder
from harness.recorder.rest import default_api_base
from harness.recorder.session import LiveRecorder, RecorderOptions, RecordResult
from harness.recorder.status import StatusMode, choose_mode, run_status
from harness.recorder.tee import LiveStats, Tee

TOKEN_ENV = "SOCCERFOOTBALL_API_TOKEN"
RAPIDAPI_ENV = "RAPIDAPI_KEY"


class _Recorder(Protocol):
    @property
    def stats(self) -> LiveStats: ...
    def request_stop(self, reason: str = ...) -> None: ...
    async def run(self) -> RecordResult: ...


def api_token_from_env(*, rapidapi: bool, environ: dict[str, str] | None = None) -> str:
    """The API token from the environment; one clear :class:`UsageError` when it is missing."""
    name = RAPIDAPI_ENV if rapidapi else TOKEN_ENV
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise UsageError(f"no API token: set {name} in the environment (never on the command line)")
    if len(value) < MIN_SECRET_LENGTH:
        raise UsageError(f"{name} is too short to be an API token (it could not be redacted)")
    return value


@click.command("record")
@output_option("Recording file to write.")
@click.option(
    "--subscribe",
    "specs",
    multiple=True,
    metavar="CHANNEL[:SCOPE[:ID]]",
    help="Subscription, repeatable (default MAIN:all), e.g. STATS:match:12345.",
)
@click.option("--duration", default=None, metavar="D", help="Stop after D (90s, 25m, 2h).")
@click.option("--api-base", default=None, metavar="URL", help="REST base URL (default: live).")
@click.option("--rapidapi", is_flag=True, help=f"Authenticate via RapidAPI (${RAPIDAPI_ENV}).")
@click.option("--quiet", is_flag=True, help="No status display.")
@click.option("--proxy", is_flag=True, help="Record your own client through a local proxy.")
@click.option(
    "--port",
    type=int,
    default=DEFAULT_PROXY_PORT,
    show_default=True,
    help="Proxy port (0: any free port).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Proxy address.")
def record_command(
    output: str,
    specs: tuple[str, ...],
    duration: str | None,
    api_base: str | None,
    rapidapi: bool,
    quiet: bool,
    proxy: bool,
    port: int,
    host: str,
) -> None:
    """Record the live feed into OUTPUT, secrets redacted.

    The API token comes from $SOCCERFOOTBALL_API_TOKEN (or $RAPIDAPI_KEY with --rapidapi).
    With --proxy, point your own client at the printed base URL instead.
    """
    token = api_token_from_env(rapidapi=rapidapi)
    duration_s = parse_duration(duration) if duration is not None else None
    base = api_base or default_api_base(rapidapi)
    if proxy and specs:
        raise UsageError("--subscribe does not apply to --proxy: your client subscribes itself")
    topics = () if proxy else parse_subscriptions(specs)
    mode = "proxy" if proxy else "rapidapi" if rapidapi else "direct"
    source = {
        "api_base": base,
        "mode": mode,
        "subscriptions": [t.key for t in topics],
        "synthetic": False,
    }
    make = partial(
        _make_recorder,
        token=token,
        base=base,
        rapidapi=rapidapi,
        proxy=proxy,
        topics=topics,
        duration_s=duration_s,
        host=host,
        port=port,
    )
    result = record_to_file(Path(output), source, token, make, quiet=quiet)
    if not quiet:
        _report(output, result)


def _report(output: str, result: RecordResult) -> None:
    stats = result.stats
    click.echo(
        f"harness record: wrote {output}: {stats.frames_in} frames in, {stats.frames_out} out, "
        f"{stats.reconnects} reconnects, {stats.renewals} renewals, {stats.errors} errors "
        f"({result.stopped_by})",
        err=True,
    )


def _make_recorder(
    tee: Tee,
    *,
    token: str,
    base: str,
    rapidapi: bool,
    proxy: bool,
    topics: tuple[Topic, ...],
    duration_s: float | None,
    host: str,
    port: int,
) -> _Recorder:
    """The live recorder, or the proxy with ``--proxy``."""
    if proxy:
        options = ProxyOptions(
            api_base=base, rapidapi=rapidapi, host=host, port=port, duration_s=duration_s
        )
        return ProxyRecorder(tee, options, api_token=token, on_listening=_announce)
    live = RecorderOptions(topics, api_base=base, rapidapi=rapidapi, duration_s=duration_s)
    return LiveRecorder(tee, live, api_token=token)


def _announce(base_url: str) -> None:
    click.echo(f"harness record: proxy listening; use {base_url} as your API base URL", err=True)


def record_to_file(
    path: Path,
    source: dict[str, Any],
    api_token: str,
    make: Callable[[Tee], _Recorder],
    *,
    quiet: bool,
) -> RecordResult:
    """Open ``path`` through redaction and run a recorder on it; remove it on a usage error."""
    redactor = Redactor([api_token])
    header = Header(datetime.now(UTC).isoformat(), "harness record", __version__, source)
    try:
        with open_writer(path, redactor.scrub_header(header)) as writer:
            tee = Tee(writer, redactor)
            recorder = make(tee)
            return trio.run(_run_with_status, recorder, path, quiet)
    except UsageError:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


async def _run_with_status(recorder: _Recorder, path: Path, quiet: bool) -> RecordResult:
    """Run the recorder beside the status display and the signal watcher.

    A :class:`HarnessError` leaves the nursery as itself, not wrapped in an exception group.
    """
    result: RecordResult | None = None
    error: HarnessError | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signals, recorder, nursery.cancel_scope)
        mode = choose_mode(quiet=quiet, stream=sys.stderr)
        nursery.start_soon(_status, recorder.stats, mode, path)
        try:
            result = await recorder.run()
        except HarnessError as exc:
            error = exc
        finally:
            nursery.cancel_scope.cancel()
    if error is not None:
        raise error
    if result is None:  # a second signal cut the session short
        return RecordResult("interrupted", 0, recorder.stats)
    return result


async def _status(stats: LiveStats, mode: StatusMode, path: Path) -> None:
    await run_status(stats, mode=mode, stream=sys.stderr, file_size=_file_size(path))


def _file_size(path: Path) -> Callable[[], int]:
    def size() -> int:
        with contextlib.suppress(OSError):
            return path.stat().st_size
        return 0

    return size


async def _stop_on_signals(recorder: _Recorder, scope: trio.CancelScope) -> None:
    """First SIGINT/SIGTERM: finish politely.  A second one: stop at once (file still closed)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        count = 0
        async for signum in signals:
            count += 1
            if count == 1:
                recorder.request_stop(f"stopped by {signal.Signals(signum).name}")
            else:
                scope.cancel()


COMMANDS: list[click.Command] = [record_command]
