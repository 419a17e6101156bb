"""``harness record``: record the live service, or your own client through a recording proxy.

Wiring only: check every option, the output and the proxy port, read the token from the
environment, run the session through redaction into a :class:`RecordingOutput` with a status
display and signal handling, report the outcome.  Exit codes: 0 recorded; 1 the session failed
(token refused, upstream unreachable, nothing but errors recorded, write error); 2 bad usage
(options, an existing OUTPUT without --force, subscriptions that do not fit the plan, a busy
port).
"""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import click
import trio

from harness._version import __version__
from harness.cli._options import PORT, output_option
from harness.cli._signals import StopSignals
from harness.core.durations import parse_duration
from harness.core.protocol import Topic
from harness.core.record_plan import parse_subscriptions
from harness.core.records import Header
from harness.core.redact import Redactor
from harness.core.safe_output import check_output
from harness.errors import HarnessError, RecorderError, UsageError
from harness.recorder.credentials import RAPIDAPI_ENV, api_token_from_env
from harness.recorder.live import LiveRecorder, RecorderOptions, RecordResult
from harness.recorder.output import RecordingOutput, redacting_output
from harness.recorder.proxy import DEFAULT_PROXY_PORT, ProxyOptions, ProxyRecorder
from harness.recorder.rest_client import (
    DIRECT_API_BASE,
    RAPIDAPI_BASE,
    default_api_base,
    normalise_api_base,
)
from harness.recorder.status import StatusMode, choose_mode, run_status
from harness.recorder.tee import LiveStats, Tee


class _Recorder(Protocol):
    @property
    def stats(self) -> LiveStats: ...
    def request_stop(self, reason: str = ...) -> None: ...
    async def run(self) -> RecordResult: ...


def _positive_duration(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> float | None:
    """``--duration``: a duration over 0 (leave the option out to record until stopped)."""
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds <= 0:
        raise UsageError(
            f"--duration {value!r} must be longer than 0 (leave it out to record until stopped)"
        )
    return seconds


@click.command("record")
@output_option("Recording file to write.")
@click.option(
    "--subscribe",
    "specs",
    multiple=True,
    metavar="CHANNEL[:SCOPE[:ID]]",
    help="Subscription, repeatable, e.g. STATS:match:12345; what fits depends on the token's "
    "plan (PRO, ULTRA, MEGA).  Not with --proxy.  [default: MAIN:all]",
)
@click.option(
    "--duration",
    "duration_s",
    default=None,
    metavar="D",
    callback=_positive_duration,
    help="Stop after D (90s, 25m, 2h).  [default: until Ctrl-C or SIGTERM]",
)
@click.option(
    "--api-base",
    default=None,
    metavar="URL",
    help="REST base URL, with or without /v1.  "
    f"[default: {DIRECT_API_BASE}; {RAPIDAPI_BASE} with --rapidapi]",
)
@click.option("--rapidapi", is_flag=True, help=f"Authenticate via RapidAPI (${RAPIDAPI_ENV}).")
@click.option("--quiet", is_flag=True, help="No status display.")
@click.option("--proxy", is_flag=True, help="Record your own client through a local proxy.")
@click.option(
    "--port",
    type=PORT,
    default=DEFAULT_PROXY_PORT,
    show_default=True,
    help="Proxy port (0: any free port).  Only with --proxy.",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Proxy address.  Only with --proxy."
)
@click.pass_context
def record_command(
    ctx: click.Context,
    output: str,
    force: bool,
    specs: tuple[str, ...],
    duration_s: float | None,
    api_base: str | None,
    rapidapi: bool,
    quiet: bool,
    proxy: bool,
    port: int,
    host: str,
) -> None:
    """Record the live feed into OUTPUT, secrets redacted.

    The API token comes from $SOCCERFOOTBALL_API_TOKEN (or $RAPIDAPI_KEY with --rapidapi).
    With --proxy, point your own client at the printed base URL instead.  An existing OUTPUT
    is refused without --force; while recording, data goes to OUTPUT.partial, renamed to
    OUTPUT at the end.
    """
    _check_mode_options(ctx, proxy=proxy, specs=specs)
    check_output(output, force=force)
    token = api_token_from_env(rapidapi=rapidapi)
    base = normalise_api_base(api_base or default_api_base(rapidapi))
    topics = () if proxy else parse_subscriptions(specs)
    if proxy:
        _check_port_free(host, port)
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
    result = record_to_file(Path(output), source, token, make, quiet=quiet, force=force)
    if not quiet:
        _report(output, result)
    stats = result.stats
    if stats.events == 0 and stats.errors:
        raise RecorderError(
            f"recorded no event: {stats.errors} errors, the last: {stats.last_error} "
            f"(kept {output}; see harness cat)"
        )


def _check_mode_options(ctx: click.Context, *, proxy: bool, specs: tuple[str, ...]) -> None:
    """Options that the chosen mode would ignore are errors, not silently dropped."""
    if proxy and specs:
        raise UsageError("--subscribe does not apply to --proxy: your client subscribes itself")
    if not proxy:
        for name in ("port", "host"):
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                raise UsageError(f"--{name} applies only to --proxy")


def _check_port_free(host: str, port: int) -> None:
    """Fail before anything is touched when the proxy cannot listen (same socket options as
    trio's listeners, so a port trio could take passes)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _name, address in infos:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as exc:
        raise UsageError(_listen_error(host, port, exc)) from None


def _listen_error(host: str, port: int, exc: OSError) -> str:
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


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
    started: Callable[[], None],
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
    """The live recorder, or the proxy with ``--proxy``; ``started`` creates the file."""
    if proxy:
        options = ProxyOptions(
            api_base=base, rapidapi=rapidapi, host=host, port=port, duration_s=duration_s
        )

        def listening(base_url: str) -> None:
            started()
            _announce(base_url)

        return ProxyRecorder(tee, options, api_token=token, on_listening=listening)
    live = RecorderOptions(topics, api_base=base, rapidapi=rapidapi, duration_s=duration_s)
    return LiveRecorder(tee, live, api_token=token, on_started=started)


def _announce(base_url: str) -> None:
    click.echo(f"harness record: proxy listening; use {base_url} as your API base URL", err=True)


def record_to_file(
    path: Path,
    source: dict[str, Any],
    api_token: str,
    make: Callable[[Tee, Callable[[], None]], _Recorder],
    *,
    quiet: bool,
    force: bool = False,
) -> RecordResult:
    """Run a recorder into ``path`` through redaction (see :mod:`harness.recorder.output`).

    Every error leaves the command as one line, secrets scrubbed; the file exists only if the
    session started, and then it is kept.
    """
    header = Header(datetime.now(UTC).isoformat(), "harness record", __version__, source)
    output, tee = redacting_output(path, header, [api_token], force=force)
    recorder = make(tee, output.start)
    output.on_write_error = recorder.request_stop
    try:
        try:
            stop_signals = StopSignals()
            with stop_signals.ignored_outside():
                result = trio.run(_run_with_status, recorder, output, quiet, stop_signals)
        finally:
            output.close(t_ns=tee.now_ns())
        if output.error is not None:
            raise output.error
    except HarnessError as exc:
        raise _scrubbed(exc, tee.redactor) from None
    return result


def _scrubbed(exc: HarnessError, redactor: Redactor) -> HarnessError:
    """The same error with every known secret replaced (a server may echo the token)."""
    text = str(exc)
    clean = redactor.scrub_text(text)
    if clean == text:
        return exc
    return UsageError(clean) if isinstance(exc, UsageError) else RecorderError(clean)


async def _run_with_status(
    recorder: _Recorder, output: RecordingOutput, quiet: bool, stop_signals: StopSignals
) -> RecordResult:
    """Run the recorder beside the status display and the signal watcher.

    A :class:`HarnessError` leaves the nursery as itself, not wrapped in an exception group, and
    so does a failure to listen (the proxy's port taken meanwhile).
    """
    result: RecordResult | None = None
    error: HarnessError | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signals, recorder, stop_signals, nursery.cancel_scope)
        mode = choose_mode(quiet=quiet, stream=sys.stderr)
        nursery.start_soon(_status, recorder.stats, mode, output.size)
        try:
            result = await recorder.run()
        except HarnessError as exc:
            error = exc
        except BaseExceptionGroup as group:
            error = _first_harness_error(group)
            if error is None:
                raise
        except OSError as exc:  # trio.open_tcp_listeners
            error = RecorderError(f"cannot listen: {exc.strerror or exc}")
        finally:
            nursery.cancel_scope.cancel()
    if error is not None:
        raise error
    if result is None:  # a second signal cut the session short
        return RecordResult("interrupted", 0, recorder.stats)
    return result


def _first_harness_error(group: BaseExceptionGroup[BaseException]) -> HarnessError | None:
    """The error to report from a group made only of harness errors; None otherwise."""
    matched, rest = group.split(HarnessError)
    if matched is None or rest is not None:
        return None
    first: BaseException = matched
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first if isinstance(first, HarnessError) else None


async def _status(stats: LiveStats, mode: StatusMode, file_size: Callable[[], int]) -> None:
    await run_status(stats, mode=mode, stream=sys.stderr, file_size=file_size)


async def _stop_on_signals(
    recorder: _Recorder, stop_signals: StopSignals, scope: trio.CancelScope
) -> None:
    """First SIGINT/SIGTERM: finish politely.  A second one: stop at once (file still closed)."""
    with stop_signals.receiver() as signals:
        signum = await signals.next()
        recorder.request_stop(f"stopped by {signal.Signals(signum).name}")
        await signals.next()
        scope.cancel()


COMMANDS: list[click.Command] = [record_command]
