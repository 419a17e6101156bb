"""``harness replay``: serve a recording through the mock server until Ctrl-C."""

from __future__ import annotations

import gc
import itertools
import json
import os
import shlex
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import trio

from harness.cli._options import PORT
from harness.cli._signals import StopSignals
from harness.core.durations import format_duration, parse_duration
from harness.core.faults import FaultTimeline, load_faults
from harness.core.feed_stream import FeedSource
from harness.core.loading import load_recording
from harness.core.player import parse_speed
from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile
from harness.core.protocol import (
    ECHO_CHANNELS,
    PLAN_CHANNELS,
    Channel,
    Plan,
    Scope,
    Subscribe,
    Topic,
    encode_command,
)
from harness.core.schedule import Feed, FeedFrame, ReplayOptions, all_frames
from harness.core.wording import plural
from harness.errors import UsageError
from harness.recordings import default_recording_path
from harness.server.config import SHUTDOWN_GRACE_S, ServerConfig, ServerStats
from harness.server.mock import MockServer, open_mock_server
from harness.server.shutdown import ShutdownReport

DEFAULT_PORT = 8765
PORT_ENVVAR = "HARNESS_PORT"
"""``--port`` from the environment, e.g. ``HARNESS_PORT=0`` where 8765 may be taken."""
DEMO_TOKEN = "demo"
TOKEN_PLACEHOLDER = "<token from /v1/ws/new>"
STATUS_INTERVAL_TTY_S = 0.25
STATUS_INTERVAL_PLAIN_S = 10.0
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Loaded:
    """What to serve: the banner's first line, the feed and the server's configuration."""

    title: str
    feed: FeedSource
    config: ServerConfig
    command: str = "harness replay"
    """Who speaks on stderr (``harness replay: stopping ...``)."""


def _option_duration(name: str, text: str) -> float:
    """``parse_duration``, its one-line error naming the option."""
    try:
        return parse_duration(text)
    except UsageError as exc:
        raise UsageError(f"{name}: {exc}") from None


def _seconds_to_ns(text: str | None) -> int | None:
    return None if text is None else round(parse_duration(text) * 1e9)


class _PlanChoice(click.Choice[str]):
    """Plan names in capitals, as the docs write them; typing them in any case still works."""

    def normalize_choice(self, choice: object, ctx: click.Context | None) -> str:
        return str(choice).upper()


def _short_duration(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds % 60 == 0 else f"{seconds:g}s"


def server_options(function: F) -> F:
    """The options of every command that serves a feed through the mock (``replay``,
    ``fuzz``), declared once: where it listens, the plan and tokens, the ready file, the
    control API, shutdown and status.  Read them with :func:`server_config`."""
    options = [
        click.option(
            "--host", metavar="H", default="127.0.0.1", show_default=True,
            help="Address to listen on.",
        ),
        click.option(
            "--port", metavar="P", default=DEFAULT_PORT, show_default=True, envvar=PORT_ENVVAR,
            show_envvar=True, type=PORT,
            help="Port to listen on (0: any free port; read it from the banner or --ready-file).",
        ),
        click.option(
            "--ttl", metavar="D", default=_short_duration(DEFAULT_PROFILE.token_ttl_s),
            show_default=True, help="WebSocket token lifetime; wall clock, not scaled by --speed.",
        ),
        click.option(
            "--plan", type=_PlanChoice([p.value for p in Plan]),
            default=DEFAULT_PROFILE.default_plan.value, show_default=True,
            help="Plan of every API token: its channels, and whether /v1/ws/new is allowed.",
        ),
        click.option(
            "--api-token", metavar="T", default=None,
            help="Accept only this API token.  [default: any non-empty token]",
        ),
        click.option(
            "--loop", is_flag=True, help="Start again at the end (replay: from --start-at)."
        ),
        click.option("--broadcast", is_flag=True, help="One shared timeline for every token."),
        click.option(
            "--rebase-time", is_flag=True, help="Rewrite each frame's ts to the time it is sent."
        ),
        click.option("--tls", is_flag=True, help="Serve https:// and wss:// with a throwaway CA."),
        click.option(
            "--ready-file", metavar="F", type=click.Path(dir_okay=False, path_type=Path),
            help="Write the connection details as JSON once listening; removed on exit.",
        ),
        click.option(
            "--shutdown-grace", metavar="D", default=_short_duration(SHUTDOWN_GRACE_S),
            show_default=True,
            help="On Ctrl-C/SIGTERM: how long clients get to answer the 1001 close before they"
            " are cut (a second Ctrl-C cuts at once).",
        ),
        click.option(
            "--control", is_flag=True,
            help="Serve the HTTP control API under /_harness/ on the same port (push, pause,"
            " seek, journal, ...; see the README).",
        ),
        click.option(
            "--faults", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
            help="Run this fault timeline (TOML or JSON; see the README's Faults) from the start.",
        ),
        click.option("--quiet", is_flag=True, help="No status line."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


@click.command("replay")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option(
    "--speed",
    metavar="N|max",
    default="1",
    show_default=True,
    help="Time factor (10 = ten times faster), or 'max': as fast as each client reads.",
)
@server_options
@click.option("--start-at", metavar="D", default="0s", show_default=True, help="Skip this far in.")
@click.option(
    "--max-gap",
    metavar="D",
    default=None,
    help="Cut every lull longer than D to D (recording time; not with --speed max).",
)
def replay_command(file: Path | None, **options: Any) -> None:
    """Replay FILE (default: the bundled synthetic recording) to any client.

    The mock server answers the REST token endpoints and the WebSocket exactly like the real
    service; point your client's API base URL at the printed address.  Durations (D) take
    90s, 25m, 2h, 1h30m or plain seconds.
    """
    if options["max_gap"] is not None and options["speed"].strip().lower() == "max":
        raise UsageError("--max-gap has no effect with --speed max (nothing waits); drop one")
    check_ready_file(options)
    serve(_load(file, options), options)


def check_ready_file(options: dict[str, Any]) -> None:
    """Refuse a ready file that could not be written, before anything starts."""
    if options["ready_file"] is not None:
        _check_ready_folder(options["ready_file"])


def serve(
    loaded: Loaded,
    options: dict[str, Any],
    on_stopped: Callable[[MockServer], None] | None = None,
) -> None:
    """Serve ``loaded`` until Ctrl-C or SIGTERM (see :func:`_serve`); then ``on_stopped``
    (still in the server's trio run, its stats readable).  A port that cannot be listened on
    is one usage error; the ready file is removed on every exit."""
    ready_file: Path | None = options["ready_file"]
    try:
        stop_signals = StopSignals()
        with stop_signals.ignored_outside():
            trio.run(_serve, loaded, options, stop_signals, on_stopped)
    except BrokenPipeError:  # stdout was closed (``| head``): nothing left to tell anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        hint = "; --port 0 (or HARNESS_PORT=0) picks a free port" if options["port"] else ""
        raise UsageError(
            f"cannot listen on {options['host']}:{options['port']}: {exc.strerror or exc}{hint}"
        ) from None
    finally:
        if ready_file is not None:
            _remove_ready_file(ready_file)


def _load(file: Path | None, options: dict[str, Any]) -> Loaded:
    recording = load_recording(file if file is not None else default_recording_path())
    gc.freeze()  # the feed lives as long as the process: full collections need not walk it
    warning = recording.tail_warning()
    if warning is not None:
        click.echo(f"harness replay: warning: {warning}", err=True)
    replay = ReplayOptions(
        speed=parse_speed(options["speed"]),
        max_gap_ns=_seconds_to_ns(options["max_gap"]),
        start_at_ns=_seconds_to_ns(options["start_at"]) or 0,
        loop=options["loop"],
        rebase_time=options["rebase_time"],
    )
    config = server_config(options, replay, recording.profile)
    speed = "max" if replay.speed is None else f"{replay.speed:g}x"
    feed = recording.feed
    length = format_duration(feed.duration_ns / 1e9)
    if isinstance(feed, Feed):
        contents = f"{len(feed.frames)} event frames, {length}"
    else:
        contents = f"{length}, {_megabytes(recording.path)} read from disk as it plays"
    title = f"harness replay: {recording.path} ({contents}) at {speed}"
    return Loaded(title, recording.feed, config)


def server_config(
    options: dict[str, Any], replay: ReplayOptions, profile: BehaviourProfile
) -> ServerConfig:
    """The mock's configuration from :func:`server_options`' values."""
    return ServerConfig(
        host=options["host"],
        port=options["port"],
        api_token=options["api_token"],
        tls=options["tls"],
        profile=profile.with_limits(
            ttl_s=parse_duration(options["ttl"]), plan=Plan(options["plan"])
        ),
        replay=replay,
        broadcast=options["broadcast"],
        shutdown_grace_s=_option_duration("--shutdown-grace", options["shutdown_grace"]),
        control=options["control"],
        faults=None if options["faults"] is None else load_faults(options["faults"]),
    )


async def _serve(
    loaded: Loaded,
    options: dict[str, Any],
    stop_signals: StopSignals,
    on_stopped: Callable[[MockServer], None] | None,
) -> None:
    """Serve until SIGINT (Ctrl-C) or SIGTERM, then close every client with 1001 and stop."""
    with stop_signals.receiver() as signals:
        async with open_mock_server(loaded.feed, loaded.config) as server:
            details = connection_details(server, loaded)
            _print_banner(loaded, details)
            if options["ready_file"] is not None:
                _write_ready_file(options["ready_file"], details)
            async with trio.open_nursery() as nursery:
                if not options["quiet"]:
                    nursery.start_soon(_show_status, server, loaded.feed)
                signum = await signals.next()
                nursery.cancel_scope.cancel()
            count = len(server.connections())
            name = signal.Signals(signum).name
            click.echo(
                f"\n{loaded.command}: stopping ({name}): closing {plural(count, 'connection')}",
                err=True,
            )
            report = await _shut_down(server, signals)
            if on_stopped is not None:
                on_stopped(server)
    click.echo(f"{loaded.command}: stopped ({report.closed} closed, {report.cut} cut)", err=True)


async def _shut_down(server: MockServer, signals: StopSignals) -> ShutdownReport:
    """The server's shutdown; a second signal during the grace cuts the grace short."""
    hurry = trio.Event()

    async def second_signal() -> None:
        await signals.next()
        hurry.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(second_signal)
        report = await server.shut_down(hurry=hurry)
        nursery.cancel_scope.cancel()
    return report


def connection_details(server: MockServer, loaded: Loaded) -> dict[str, Any]:
    """What a client needs: URLs, a token to use, the plan and its limits, what to send.

    ``ws_url`` is the bare WebSocket address (kept for scripts); connecting needs the token that
    ``/v1/ws/new`` returns, as in ``ws_url_template``.  A plan without WebSocket (BASIC) gets no
    ``curl``, template or subscribe command: the mock refuses ``/v1/ws/new`` as the service does.
    """
    config = loaded.config
    token = config.api_token or DEMO_TOKEN
    url = f"{server.base_url}/v1/ws/new/?t={token}"
    curl = ["curl", "--cacert", str(server.ca_path), url] if server.ca_path else ["curl", url]
    limits = config.profile
    plan = limits.default_plan
    channels = [channel.value for channel in Channel if channel in PLAN_CHANNELS[plan]]
    subscribe = _suggested_subscription(loaded.feed, plan)
    return {
        "base_url": server.base_url,
        "ws_url": server.ws_url,
        "api_token": token,
        "ws_new_url": url,
        "curl": shlex.join(curl) if channels else None,
        "ca_file": str(server.ca_path) if server.ca_path else None,
        "pid": os.getpid(),
        "port": server.port,
        "ws_url_template": f"{server.ws_url}?token={TOKEN_PLACEHOLDER}" if channels else None,
        "subscribe": encode_command(Subscribe(subscribe)) if subscribe else None,
        "plan": plan.value,
        "allowed_channels": channels,
        "max_connections": limits.max_connections,
        "max_subscribe_per_connection": limits.max_subscribe_per_connection,
        "ttl_s": limits.token_ttl_s,
        "control_url": server.control_url,
    }


def _megabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:,.0f} MB"


SUGGESTION_FRAMES = 4096
"""Frames of a recording read from disk that the suggested subscription is chosen from."""


def _suggested_subscription(feed: FeedSource, plan: Plan) -> Topic | None:
    """A subscription that receives frames of this recording on this plan, MAIN first (a
    recording read from disk: among its first :data:`SUGGESTION_FRAMES` frames).

    STATS and ODDS frames go only to the topic they were recorded under (section 12), so the
    suggestion is that topic; the other channels are served to ``all``.
    """
    allowed = PLAN_CHANNELS[plan]
    first: dict[Channel, FeedFrame] = {}
    if isinstance(feed, Feed):
        frames: Iterable[FeedFrame] = feed.frames
    else:
        frames = itertools.islice(all_frames(feed.lap(ReplayOptions())), SUGGESTION_FRAMES)
    for frame in frames:
        channel = frame.info.channel
        if channel in allowed and channel not in first:
            first[channel] = frame
    for channel in Channel:
        if channel in first:
            topic = first[channel].info.topic
            if channel in ECHO_CHANNELS and topic is not None:
                return topic
            return Topic(channel, Scope.ALL)
    fallback = next((channel for channel in Channel if channel in allowed), None)
    return Topic(fallback, Scope.ALL) if fallback else None


def _banner_lines(loaded: Loaded, details: dict[str, Any]) -> list[str]:
    config = loaded.config
    any_token = "" if config.api_token else "   (any non-empty token is accepted)"
    lines = [
        f"  API base URL:  {details['base_url']}",
        f"  API token:     {details['api_token']}{any_token}",
        *_plan_lines(details),
    ]
    if details["curl"] is None:
        refusal = config.profile.no_websocket_plan
        lines.append(
            f"  WebSocket:     none: plan {details['plan']} refuses /v1/ws/new"
            f" ({refusal.http_status}, code {refusal.code}); use --plan PRO or higher"
        )
    else:
        lines += [
            f"  try:           {details['curl']}",
            f'  WebSocket URL: {details["ws_url_template"]}   (the answer\'s "server")',
            f"  then send:     {details['subscribe']}",
        ]
    if details["ca_file"]:
        lines.append(f"  CA file:       {details['ca_file']}")
    if details["control_url"]:
        lines.append(f"  control API:   {details['control_url']}   (e.g. POST .../pause)")
    return lines


def _plan_lines(details: dict[str, Any]) -> list[str]:
    if not details["allowed_channels"]:
        return [f"  plan:          {details['plan']} (no WebSocket)"]
    return [
        f"  plan:          {details['plan']}: {details['max_connections']} connections x"
        f" {details['max_subscribe_per_connection']} subscriptions each,"
        f" tokens last {_short_duration(details['ttl_s'])}",
        f"  channels:      {', '.join(details['allowed_channels'])}",
    ]


def _print_banner(loaded: Loaded, details: dict[str, Any]) -> None:
    lines = [
        loaded.title,
        *_fault_lines(loaded.config.faults),
        *_banner_lines(loaded, details),
        "  Ctrl-C stops (clients get a 1001 close).",
    ]
    click.echo("\n".join(lines))
    sys.stdout.flush()


def _fault_lines(faults: FaultTimeline | None) -> list[str]:
    if faults is None:
        return []
    kinds = ", ".join(dict.fromkeys(str(fault.kind) for fault in faults.faults)) or "none"
    return [f"  faults:        {len(faults.faults)} (seed {faults.seed}): {kinds}"]


def _check_ready_folder(path: Path) -> None:
    folder = path.parent
    if path.is_dir():
        raise UsageError(f"--ready-file {path}: is a directory")
    if not folder.is_dir():
        raise UsageError(f"--ready-file {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--ready-file {path}: folder {folder} is not writable")


def _write_ready_file(path: Path, details: dict[str, Any]) -> None:
    """Write atomically (a temporary file in the same folder, then rename): a reader that sees
    the file sees all of it."""
    text = json.dumps(details, indent=2) + "\n"
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"--ready-file {path}: cannot write: {exc.strerror or exc}") from None


def _remove_ready_file(path: Path) -> None:
    """Remove the ready file on any exit, if it is still ours (its ``pid`` is this process)."""
    try:
        ours = json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid()
    except (OSError, ValueError, AttributeError):
        return
    if ours:
        path.unlink(missing_ok=True)


def format_status(stats: ServerStats, feed: FeedSource) -> str:
    """One status line: connections, subscriptions, frames sent, position, end reached."""
    total = format_duration(feed.duration_ns / 1e9)
    position = f"{format_duration(stats.position_s)}/{total}"
    end = "  end of recording" if stats.ended else ""
    end += "  paused" if stats.paused else ""
    return (
        f"connections {stats.connections}  subscriptions {stats.subscriptions}"
        f"  frames sent {stats.frames_sent}  position {position}"
        f" ({stats.position}/{'?' if stats.total_frames is None else stats.total_frames}"
        f" frames){end}"
    )


async def _show_status(server: MockServer, feed: FeedSource) -> None:
    tty = sys.stdout.isatty()
    last = ""
    while True:
        line = format_status(server.stats, feed)
        if tty:
            click.echo(f"\r\x1b[2K{line}", nl=False)
        elif line != last:
            click.echo(line)
        last = line
        await trio.sleep(STATUS_INTERVAL_TTY_S if tty else STATUS_INTERVAL_PLAIN_S)


COMMANDS: list[click.Command] = [replay_command]
