"""``harness fuzz``: serve a seeded generated stream through the mock server until Ctrl-C.

The frames come from :mod:`harness.core.fuzz` (the same seed, the same frames in the same
order on every run and machine); serving is ``harness replay``'s (:func:`replay.serve`, the
same REST, tokens, subscriptions, routing and limits), each WebSocket token getting the stream
from its first frame.  ``--save FILE`` writes what was served as a recording.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from harness._version import __version__
from harness.core.durations import format_duration, parse_duration
from harness.core.faults import FaultTimeline
from harness.core.fuzz import DEFAULT_RATE, FuzzOptions, fault_timeline, fuzz_feed
from harness.core.profile import DEFAULT_PROFILE
from harness.core.protocol import Channel
from harness.core.safe_output import check_output
from harness.core.schedule import Feed, ReplayOptions
from harness.core.stream import replay_losses
from harness.core.wording import plural
from harness.errors import UsageError
from harness.recorder.output import write_stream
from harness.server.mock import MockServer

from .replay import Loaded, check_ready_file, serve, server_config, server_options

TOOL = "harness fuzz"
DEFAULT_DURATION_S = 3600.0
MAX_FRAMES = 100_000
"""Frames held at once (about 1 KB each while served): ``--rate`` x ``--duration`` at most."""


@click.command("fuzz")
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Random seed: the same seed gives the same frames.  [default: a random one, printed]",
)
@click.option(
    "--profile",
    metavar="P",
    default="valid",
    show_default=True,
    help="valid: only well-formed frames; hostile: malformed ones mixed in; chaos: hostile,"
    " and a fault timeline generated from the seed.",
)
@click.option(
    "--rate",
    metavar="N",
    type=float,
    default=DEFAULT_RATE,
    show_default=True,
    help="Frames per second, on average.",
)
@click.option(
    "--duration",
    metavar="D",
    default=None,
    help=f"How long the stream runs, then the feed is quiet (or starts again with --loop)."
    f"  [default: 1h, at most {MAX_FRAMES:,} frames]",
)
@click.option(
    "--channel",
    "channels",
    metavar="C",
    multiple=True,
    help="Only frames of this channel (repeatable).  [default: all six]",
)
@click.option(
    "--save",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="On exit, write what was served as a recording (an existing FILE needs --force).",
)
@click.option("--force", is_flag=True, help="Replace the --save FILE if it exists.")
@server_options
def fuzz_command(**options: Any) -> None:
    """Serve a generated stream of feed frames to any client, as the mock server does.

    The stream is seeded: the seed is printed, and the same seed gives the same frames in the
    same order on every run and machine.  Every WebSocket token gets the stream from its
    start.  Durations (D) take 90s, 25m, 2h, 1h30m or plain seconds.
    """
    fuzz = _fuzz_options(options)
    duration_ns = _duration_ns(options["duration"], fuzz.rate)
    save: Path | None = options["save"]
    if save is not None:
        check_output(save, force=options["force"])
    check_ready_file(options)
    feed = fuzz_feed(fuzz, duration_ns)
    replay = ReplayOptions(speed=1.0, loop=options["loop"], rebase_time=options["rebase_time"])
    config = server_config(options, replay, DEFAULT_PROFILE)
    generated = fault_timeline(fuzz, duration_ns)
    if generated is not None:
        given = config.faults.faults if config.faults is not None else ()
        seed = config.faults.seed if config.faults is not None else generated.seed
        config = dataclasses.replace(config, faults=FaultTimeline(given + generated.faults, seed))
    loaded = Loaded(_title(fuzz, feed, options), feed, config, TOOL)
    on_stopped = None
    if save is not None:

        def on_stopped(server: MockServer) -> None:
            _save(save, feed, fuzz, server, force=options["force"])

    serve(loaded, options, on_stopped)


def _fuzz_options(options: dict[str, Any]) -> FuzzOptions:
    seed = options["seed"] if options["seed"] is not None else secrets.randbelow(2**32)
    channels = []
    for name in options["channels"]:
        try:
            channels.append(Channel(name.upper()))
        except ValueError:
            known = ", ".join(channel.value for channel in Channel)
            raise UsageError(f"--channel: unknown channel {name!r} (use {known})") from None
    try:
        return FuzzOptions(
            seed=seed,
            profile=options["profile"].strip().lower(),
            rate=options["rate"],
            channels=tuple(dict.fromkeys(channels)),
        )
    except UsageError as exc:
        name = "--rate" if str(exc).startswith("rate") else "--profile"
        raise UsageError(f"{name}: {exc}") from None


def _duration_ns(text: str | None, rate: float) -> int:
    if text is None:
        return round(min(DEFAULT_DURATION_S, MAX_FRAMES / rate) * 1e9)
    try:
        seconds = parse_duration(text)
    except UsageError as exc:
        raise UsageError(f"--duration: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"--duration must be > 0, got {text!r}")
    if seconds * rate > MAX_FRAMES:
        raise UsageError(
            f"--rate {rate:g} for --duration {text} is about {round(seconds * rate):,} frames;"
            f" at most {MAX_FRAMES:,} are held: shorten it (--loop repeats it)"
        )
    return round(seconds * 1e9)


def _title(fuzz: FuzzOptions, feed: Feed, options: dict[str, Any]) -> str:
    channels = ", ".join(c.value for c in fuzz.channels) if fuzz.channels else "all channels"
    after = "then again (--loop)" if options["loop"] else "then quiet"
    again = f"harness fuzz --seed {fuzz.seed} --profile {fuzz.profile} --rate {fuzz.rate:g}"
    again += "".join(f" --channel {c.value}" for c in fuzz.channels)
    if options["duration"] is not None:
        again += f" --duration {options['duration']}"
    return (
        f"harness fuzz: seed {fuzz.seed}, profile {fuzz.profile}, {fuzz.rate:g} frames/s of"
        f" {channels} for {format_duration(feed.duration_ns / 1e9)}"
        f" ({len(feed.frames)} frames), {after}\n"
        f"  same stream:   {again}"
    )


def _save(path: Path, feed: Feed, fuzz: FuzzOptions, server: MockServer, *, force: bool) -> None:
    """The stream up to the furthest frame any timeline passed (the whole stream once a
    timeline went past its end: one lap)."""
    served = [(f.offset_ns, f.payload) for f in feed.frames[: server.stats.position]]
    source = {
        "fuzz": {
            "seed": fuzz.seed,
            "profile": fuzz.profile,
            "rate": fuzz.rate,
            "channels": [c.value for c in fuzz.channels],
        },
        "frames_served": len(served),
    }
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_stream(
        path, served, tool=(TOOL, __version__), created_at=created, source=source, force=force
    )
    duplicates, garbage = replay_losses(served)
    click.echo(f"harness fuzz: saved {plural(len(served), 'frame')} to {path}", err=True)
    if duplicates or garbage:
        click.echo(
            f"harness fuzz: note: a replay of it sends each recorded event frame once:"
            f" {plural(duplicates, 'exact duplicate')} and {plural(garbage, 'frame')} that are"
            f" no event are not sent again",
            err=True,
        )


COMMANDS: list[click.Command] = [fuzz_command]
