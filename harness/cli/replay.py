"""``harness replay``: serve a recording through the mock server until Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import trio

from harness.core.durations import format_duration, parse_duration
from harness.core.profile import learn_from_recording
from harness.core.protocol import Plan
from harness.core.recording import read_recording
from harness.core.schedule import Feed, ReplayOptions
from harness.errors import UsageError
from harness.recordings import default_recording_path
from harness.server.config import ServerConfig, ServerStats
from harness.server.mock import MockServer, open_mock_server

DEFAULT_PORT = 8765
DEMO_TOKEN = "demo"
STATUS_INTERVAL_TTY_S = 0.25
STATUS_INTERVAL_PLAIN_S = 10.0


@dataclass(frozen=True, slots=True)
class _Loaded:
    path: Path
    feed: Feed
    config: ServerConfig


def parse_speed(text: str) -> float | None:
    """``max`` (as fast as the client reads) or a positive factor such as ``10`` or ``0.5``."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise UsageError(f"invalid speed {text!r}: use a positive number or 'max'") from None
    if not speed > 0 or speed == float("inf"):
        raise UsageError(f"invalid speed {text!r}: use a positive number or 'max'")
    return speed


def _seconds_to_ns(text: str | None) -> int | None:
    return None if text is None else round(parse_duration(text) * 1e9)


@click.command("replay")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option(
    "--speed", default="1", show_default=True, help="Time factor (10 = ten times faster) or 'max'."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free port).",
)
@click.option(
    "--ttl",
    default=None,
    help="WebSocket token lifetime (e.g. 25m, 90s); wall clock, not scaled by --speed.",
)
@click.option(
    "--plan",
    type=click.Choice([p.value for p in Plan], case_sensitive=False),
    default=None,
    help="Plan of every API token (default MEGA).",
)
@click.option(
    "--api-token", default=None, help="Accept only this API token (default: any non-empty token)."
)
@click.option("--loop", is_flag=True, help="Start again at the end of the recording.")
@click.option("--start-at", default=None, help="Skip this far into the recording (e.g. 45m).")
@click.option("--max-gap", default=None, help="Compress lulls longer than this (e.g. 5s).")
@click.option("--broadcast", is_flag=True, help="One shared timeline for every token.")
@click.option("--rebase-time", is_flag=True, help="Rewrite each frame's ts to the time it is sent.")
@click.option("--tls", is_flag=True, help="Serve https:// and wss:// with a throwaway CA.")
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the connection details as JSON once listening.",
)
@click.option("--quiet", is_flag=True, help="No status line.")
def replay_command(file: Path | None, **options: Any) -> None:
    """Replay FILE (default: the bundled synthetic recording) to any client.

    The mock server answers the REST token endpoints and the WebSocket exactly like the real
    service; point your client's API base URL at the printed address.
    """
    loaded = _load(file, options)
    try:
        trio.run(_serve, loaded, options)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {options['host']}:{options['port']}: {exc.strerror or exc}"
        ) from None


def _load(file: Path | None, options: dict[str, Any]) -> _Loaded:
    path = file if file is not None else default_recording_path()
    _header, records, tail = read_recording(path)
    if tail is not None:
        click.echo(
            f"harness replay: warning: {path}: {tail.reason} at byte {tail.offset};"
            f" replaying the {tail.records_read} records before it",
            err=True,
        )
    replay = ReplayOptions(
        speed=parse_speed(options["speed"]),
        max_gap_ns=_seconds_to_ns(options["max_gap"]),
        start_at_ns=_seconds_to_ns(options["start_at"]) or 0,
        loop=options["loop"],
        rebase_time=options["rebase_time"],
    )
    ttl = options["ttl"]
    config = ServerConfig(
        host=options["host"],
        port=options["port"],
        ttl_s=parse_duration(ttl) if ttl is not None else None,
        plan=Plan(options["plan"].upper()) if options["plan"] else None,
        api_token=options["api_token"],
        tls=options["tls"],
        profile=learn_from_recording(records),
        replay=replay,
        broadcast=options["broadcast"],
    )
    return _Loaded(path, Feed.from_records(records), config)


async def _serve(loaded: _Loaded, options: dict[str, Any]) -> None:
    """Serve until SIGINT (Ctrl-C) or SIGTERM, then stop cleanly."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_mock_server(loaded.feed, loaded.config) as server:
            details = connection_details(server, options["api_token"])
            _print_banner(loaded, details)
            if options["ready_file"] is not None:
                _write_ready_file(options["ready_file"], details)
            async with trio.open_nursery() as nursery:
                if not options["quiet"]:
                    nursery.start_soon(_show_status, server, loaded.feed)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break
    click.echo("\nharness replay: stopped", err=True)


def connection_details(server: MockServer, api_token: str | None) -> dict[str, Any]:
    """What a client needs: URLs, a token to use, a ready-to-paste ``curl``, the CA file."""
    token = api_token or DEMO_TOKEN
    url = f"{server.base_url}/v1/ws/new/?t={token}"
    curl = ["curl", "--cacert", str(server.ca_path), url] if server.ca_path else ["curl", url]
    return {
        "base_url": server.base_url,
        "ws_url": server.ws_url,
        "api_token": token,
        "ws_new_url": url,
        "curl": shlex.join(curl),
        "ca_file": str(server.ca_path) if server.ca_path else None,
        "pid": os.getpid(),
    }


def _print_banner(loaded: _Loaded, details: dict[str, Any]) -> None:
    feed, replay = loaded.feed, loaded.config.replay
    speed = "max" if replay.speed is None else f"{replay.speed:g}x"
    any_token = "" if loaded.config.api_token else "   (any non-empty token is accepted)"
    lines = [
        f"harness replay: {loaded.path} ({len(feed.frames)} event frames,"
        f" {format_duration(feed.duration_ns / 1e9)}) at {speed}",
        f"  API base URL:  {details['base_url']}",
        f"  WebSocket URL: {details['ws_url']}",
        f"  API token:     {details['api_token']}{any_token}",
        f"  try:           {details['curl']}",
    ]
    if details["ca_file"]:
        lines.append(f"  CA file:       {details['ca_file']}")
    lines.append("  Ctrl-C stops.")
    click.echo("\n".join(lines))
    sys.stdout.flush()


def _write_ready_file(path: Path, details: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(details, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


def format_status(stats: ServerStats, feed: Feed) -> str:
    """One status line: connections, subscriptions, frames sent, position, end reached."""
    total = format_duration(feed.duration_ns / 1e9)
    position = f"{format_duration(stats.position_s)}/{total}"
    end = "  end of recording" if stats.ended else ""
    return (
        f"connections {stats.connections}  subscriptions {stats.subscriptions}"
        f"  frames sent {stats.frames_sent}  position {position}"
        f" ({stats.position}/{stats.total_frames} frames){end}"
    )


async def _show_status(server: MockServer, feed: Feed) -> None:
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
