"""The plugin's settings: command-line options, ini keys, the marker, and their precedence.

Precedence, for every setting: the ``soccer_recording`` marker (or a factory call's keywords) >
the command line > the ini file > the default.  Server options exist only on the marker and the
factory; the recording's own behaviour profile supplies everything they leave unset.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.core.durations import parse_duration
from harness.core.profile import BehaviourProfile
from harness.core.protocol import Plan
from harness.core.schedule import ReplayOptions
from harness.errors import UsageError
from harness.recordings import default_recording_path
from harness.server.config import ServerConfig

MARKER = "soccer_recording"
GROUP = "soccer-ws-harness"
DEFAULT_SPEED = "max"
DEFAULT_RECORDINGS_DIR = Path("tests") / "recordings"
"""Relative to the rootdir."""
SUFFIX = ".msgpack"
DEFAULT_API_TOKEN = "soccer-test"
"""The API token a fixture hands out when the marker sets none (any non-empty one works)."""
SHUTDOWN_GRACE_S = 0.25
"""A test's server gives clients this long to answer its 1001 close at teardown."""

SERVER_OPTIONS = frozenset(
    {
        "speed",
        "max_gap",
        "start_at",
        "loop",
        "rebase_time",
        "ttl",
        "plan",
        "max_connections",
        "max_subscribe_per_connection",
        "api_token",
        "broadcast",
    }
)
PLUGIN_OPTIONS = frozenset({"strict", "process", "record_mode"})
RECORD_MODES = ("none", "once", "all")
"""``none``: replay only, a missing recording fails the test; ``once``: record a missing one
through the proxy; ``all``: record every time (replacing the file)."""
DEFAULT_RECORD_MODE = "none"

MARKER_HELP = (
    f"{MARKER}(name_or_path=None, *, speed='max', strict=False, process=False, record_mode=None,"
    " **server_options):"
    " the recording the soccer fixtures serve (by name in --soccer-recordings-dir, with or"
    " without .msgpack, or a path) and how; server options: "
    + ", ".join(sorted(SERVER_OPTIONS - {"speed"}))
)


def add_options(parser: pytest.Parser) -> None:
    """One ``soccer-ws-harness`` group, each option with an ini key of the same name."""
    group = parser.getgroup(GROUP, "soccer-ws-harness: a mock Soccer Football API for tests")
    group.addoption(
        "--soccer-speed",
        dest="soccer_speed",
        metavar="N|max",
        default=None,
        help="Replay speed of the soccer fixtures: a factor or 'max' (ini soccer_speed;"
        " default max).",
    )
    group.addoption(
        "--soccer-recordings-dir",
        dest="soccer_recordings_dir",
        metavar="DIR",
        default=None,
        help="Where recordings named by the soccer_recording marker are found (ini"
        " soccer_recordings_dir; default tests/recordings under the rootdir).",
    )
    group.addoption(
        "--soccer-strict",
        dest="soccer_strict",
        action="store_true",
        default=None,
        help="Fail a test whose subscriptions match no recorded frame or miss recorded frames"
        " (ini soccer_strict).",
    )
    group.addoption(
        "--soccer-process",
        dest="soccer_process",
        action="store_true",
        default=None,
        help="Run each server in a `harness replay --control` subprocess, driven over HTTP"
        " (ini soccer_process; marker process=True).",
    )
    group.addoption(
        "--soccer-record-mode",
        dest="soccer_record_mode",
        choices=RECORD_MODES,
        default=None,
        help="none: a missing recording fails the test; once: record a missing one from the"
        " live service through the recording proxy; all: record every time (ini"
        " soccer_record_mode; default none).",
    )
    group.addoption(
        "--soccer-upstream",
        dest="soccer_upstream",
        metavar="URL",
        default=None,
        help="What the record modes record from: a base URL (ini soccer_upstream; default the"
        " live service, or RapidAPI's with only $RAPIDAPI_KEY set).",
    )
    parser.addini("soccer_speed", "soccer fixtures: replay speed (factor or max)", default="")
    parser.addini("soccer_recordings_dir", "soccer fixtures: recordings folder", default="")
    parser.addini("soccer_strict", "soccer fixtures: strict mode", type="bool", default=False)
    parser.addini("soccer_process", "soccer fixtures: process mode", type="bool", default=False)
    parser.addini("soccer_record_mode", "soccer fixtures: none, once or all", default="")
    parser.addini("soccer_upstream", "soccer fixtures: base URL to record from", default="")


def _setting(config: pytest.Config, name: str) -> Any:
    """Command line, else ini (None when neither sets it)."""
    value = config.getoption(name)
    if value is not None:
        return value
    ini = config.getini(name)
    return ini if ini not in ("", None) else None


def process_mode(config: pytest.Config) -> bool:
    return bool(_setting(config, "soccer_process"))


def recordings_dir(config: pytest.Config) -> Path:
    """``--soccer-recordings-dir`` (relative to the current folder), else the ini key
    (relative to the ini file's folder), else ``tests/recordings`` under the rootdir."""
    option = config.getoption("soccer_recordings_dir")
    if option:
        return Path(option).resolve()
    ini = config.getini("soccer_recordings_dir")
    if ini:
        base = config.inipath.parent if config.inipath else config.rootpath
        return (base / str(ini)).resolve()
    return config.rootpath / DEFAULT_RECORDINGS_DIR


def find_recording(name: str | os.PathLike[str] | None, folder: Path) -> Path:
    """The file a marker names (see :func:`locate_recording`); UsageError when it is missing."""
    path, found = locate_recording(name, folder)
    if not found:
        raise UsageError(missing_message(path, name))
    return path


def locate_recording(name: str | os.PathLike[str] | None, folder: Path) -> tuple[Path, bool]:
    """Where the recording a marker names is, and whether it exists: None is the bundled
    default; an absolute path is itself; a name or relative path is looked up in ``folder``,
    with or without ``.msgpack`` (a missing one would be written with the suffix)."""
    if name is None:
        return default_recording_path(), True
    given = Path(name)
    candidates = [given] if given.is_absolute() else [folder / given]
    if candidates[0].suffix != SUFFIX:
        candidates.append(candidates[0].with_name(candidates[0].name + SUFFIX))
    for candidate in candidates:
        if candidate.is_file():
            return candidate, True
    return candidates[-1], False


def missing_message(path: Path, name: object) -> str:
    """A missing recording: which file, and the two ways to record it."""
    target = shlex.quote(str(path))
    return (
        f"recording {path} not found (the {MARKER} marker names {name!r}); record it with"
        f" `SOCCERFOOTBALL_API_TOKEN=... harness record --proxy --port 0 -o {target}` and your"
        " client pointed at the printed URL, or run this test with --soccer-record-mode=once"
        " and $SOCCERFOOTBALL_API_TOKEN (or $RAPIDAPI_KEY) set"
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """What one server of a test is: its recording, server options and plugin switches.

    ``record``: the test records ``recording`` through the proxy instead of replaying it
    (``record_mode`` once with the file missing, or all), from ``upstream`` (None: the live
    service)."""

    recording: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    strict: bool = False
    process: bool = False
    record: bool = False
    record_mode: str = DEFAULT_RECORD_MODE
    upstream: str | None = None


def resolve(
    config: pytest.Config,
    marker: pytest.Mark | None,
    overrides: Mapping[str, Any] | None = None,
    recording: str | os.PathLike[str] | None = None,
) -> Settings:
    """Settings for one server: ``overrides`` (a factory call) > marker > command line > ini.

    Raises :class:`UsageError` (one line) for an unknown option or a missing recording."""
    marked: dict[str, Any] = dict(marker.kwargs) if marker else {}
    if marker and len(marker.args) > 1:
        raise UsageError(f"{MARKER} takes one recording name, got {len(marker.args)}")
    merged = {**marked, **(overrides or {})}
    unknown = sorted(set(merged) - SERVER_OPTIONS - PLUGIN_OPTIONS)
    if unknown:
        raise UsageError(
            f"unknown soccer server option(s) {', '.join(unknown)};"
            f" known: {', '.join(sorted(SERVER_OPTIONS | PLUGIN_OPTIONS))}"
        )
    process = merged.get("process")
    if process is None:
        process = process_mode(config)
    name = (
        recording if recording is not None else (marker.args[0] if marker and marker.args else None)
    )
    path, found = locate_recording(name, recordings_dir(config))
    mode = record_mode(config, merged.get("record_mode"))
    record = name is not None and (mode == "all" or (mode == "once" and not found))
    if not found and not record:
        raise UsageError(missing_message(path, name))
    options = {key: merged[key] for key in SERVER_OPTIONS if key in merged}
    options.setdefault("speed", _setting(config, "soccer_speed") or DEFAULT_SPEED)
    strict = merged.get("strict")
    if strict is None:
        strict = bool(_setting(config, "soccer_strict"))
    upstream = _setting(config, "soccer_upstream")
    return Settings(
        path,
        options,
        bool(strict),
        bool(process),
        record,
        mode,
        str(upstream) if upstream else None,
    )


def record_mode(config: pytest.Config, marked: Any = None) -> str:
    """The marker's ``record_mode``, else ``--soccer-record-mode``, else the ini's, else none."""
    mode = marked if marked is not None else _setting(config, "soccer_record_mode")
    mode = DEFAULT_RECORD_MODE if mode is None else str(mode).strip().lower()
    if mode not in RECORD_MODES:
        raise UsageError(f"invalid record mode {mode!r}: use one of {', '.join(RECORD_MODES)}")
    return mode


def server_config(options: Mapping[str, Any], profile: BehaviourProfile) -> ServerConfig:
    """The mock's configuration from server options (numbers in seconds or duration text)."""
    replay = ReplayOptions(
        speed=_speed(options.get("speed", DEFAULT_SPEED)),
        max_gap_ns=_ns(options.get("max_gap")),
        start_at_ns=_ns(options.get("start_at")) or 0,
        loop=bool(options.get("loop", False)),
        rebase_time=bool(options.get("rebase_time", False)),
    )
    if replay.speed is None and replay.max_gap_ns is not None:
        raise UsageError("max_gap has no effect with speed max (nothing waits); drop one")
    plan = options.get("plan")
    ttl = options.get("ttl")
    limits = profile.with_limits(
        ttl_s=None if ttl is None else _seconds(ttl),
        plan=None if plan is None else _plan(plan),
        max_connections=options.get("max_connections"),
        max_subscribe_per_connection=options.get("max_subscribe_per_connection"),
    )
    return ServerConfig(
        api_token=options.get("api_token"),
        profile=limits,
        replay=replay,
        broadcast=bool(options.get("broadcast", False)),
        shutdown_grace_s=SHUTDOWN_GRACE_S,
    )


def _speed(value: Any) -> float | None:
    """``max``/None: as fast as the client reads; else a factor (ReplayOptions checks it)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == DEFAULT_SPEED):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"invalid speed {value!r}: use a positive number or 'max'") from None


def _seconds(value: Any) -> float:
    """A number of seconds or duration text (``90s``, ``25m``)."""
    return parse_duration(str(value))


def _ns(value: Any) -> int | None:
    return None if value is None else round(_seconds(value) * 1e9)


def _plan(value: Any) -> Plan:
    try:
        return Plan(str(value).upper())
    except ValueError:
        names = ", ".join(p.value for p in Plan)
        raise UsageError(f"invalid plan {value!r}: use one of {names}") from None
