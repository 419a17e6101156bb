"""Process mode: each server is a ``harness replay --control`` subprocess, driven over HTTP.

The server then has a process (and a GIL) of its own, so a busy client cannot slow it down, nor
it the client.  :class:`ProcessSoccerServer` has the thread-mode API: each control call is one
request to the control API under ``/_harness/`` (JSON in and out); the waits poll it with a
bounded timeout.  The journal and stats are read once more when the server stops, so a failed
test's report and strict mode see them after teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx

import harness
import harness.errors
from harness.core.faults import FaultTimeline
from harness.core.stream import Frame, StreamFrame, TimedFrame, frame_bytes, timed_frames
from harness.errors import HarnessError, UsageError, WaitTimeout
from harness.plugin.fixture import SoccerServer
from harness.plugin.options import DEFAULT_API_TOKEN, SHUTDOWN_GRACE_S
from harness.server.config import ServerStats
from harness.server.journal import JournalEntry

CONTROL = "/_harness"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 15.0
POLL_S = 0.01
"""How often a wait, or the start, looks again (bounded by its timeout)."""
FLAGS = {
    "speed": "--speed",
    "max_gap": "--max-gap",
    "start_at": "--start-at",
    "ttl": "--ttl",
    "plan": "--plan",
    "api_token": "--api-token",
}
SWITCHES = {"loop": "--loop", "rebase_time": "--rebase-time", "broadcast": "--broadcast"}
NOT_IN_PROCESS_MODE = frozenset({"max_connections", "max_subscribe_per_connection"})


def _harness_env() -> dict[str, str]:
    """The subprocess imports the very ``harness`` this plugin runs."""
    root = str(Path(harness.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def replay_command(recording: Path, options: Mapping[str, Any], ready: Path) -> list[str]:
    """The ``harness replay`` command line for a server with these options."""
    refused = sorted(NOT_IN_PROCESS_MODE & set(options))
    if refused:
        raise UsageError(f"{', '.join(refused)}: not available in process mode (thread mode only)")
    command = [sys.executable, "-m", "harness", "replay", str(recording), "--port", "0"]
    command += ["--ready-file", str(ready), "--control", "--quiet"]
    command += ["--shutdown-grace", f"{SHUTDOWN_GRACE_S}s"]
    for key, flag in FLAGS.items():
        value = options.get(key)
        if value is not None:
            command += [flag, str(value).upper() if key == "plan" else str(value)]
    command += [flag for key, flag in SWITCHES.items() if options.get(key)]
    return command


def _wait_timeout(what: str, timeout: float) -> WaitTimeout:
    """The same error a thread-mode wait raises."""
    return WaitTimeout(what, timeout)


class ProcessSoccerServer(SoccerServer):
    """A ``harness replay --control`` subprocess and an HTTP client for its control API."""

    mode = "process"

    def __init__(self, recording: Path, options: Mapping[str, Any]) -> None:
        command = replay_command(recording, options, Path("ready.json"))
        self._folder = Path(tempfile.mkdtemp(prefix="soccer-ws-harness-"))
        ready = self._folder / "ready.json"
        self._errors = self._folder / "stderr.txt"
        with self._errors.open("wb") as stderr:  # a file: a full pipe would block the server
            self._process = subprocess.Popen(
                [str(ready) if part == "ready.json" else part for part in command],
                env=_harness_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            details = self._wait_ready(ready)
        except BaseException:
            self._terminate()
            raise
        super().__init__(
            api_base=details["base_url"],
            ws_url=details["ws_url"],
            port=int(details["port"]),
            api_token=options.get("api_token") or DEFAULT_API_TOKEN,
            recording=recording,
        )
        self.pid = self._process.pid
        self._http = httpx.Client(base_url=details["base_url"] + CONTROL, timeout=HTTP_TIMEOUT_S)
        self._last: tuple[list[JournalEntry], ServerStats] | None = None

    def _wait_ready(self, ready: Path) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise UsageError(f"harness replay did not start: {self._stderr_tail()}")
            with contextlib.suppress(OSError, ValueError):
                details: dict[str, Any] = json.loads(ready.read_text(encoding="utf-8"))
                return details
            time.sleep(POLL_S)
        raise UsageError(f"harness replay did not start within {START_TIMEOUT_S:.0f} s")

    def _stderr_tail(self) -> str:
        try:
            lines = self._errors.read_text("utf-8", "replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1].removeprefix("harness: error: ") if lines else "no message"

    # --- the control API over HTTP -------------------------------------------------------------

    def _request(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> Any:
        try:
            answer = self._http.request(method, f"/{endpoint}", json=body)
        except httpx.HTTPError as exc:
            raise UsageError(f"control API {endpoint}: {exc}") from None
        data = answer.json()
        if answer.status_code != 200:
            errors = data.get("errors") or [{}]
            raise UsageError(f"control API {endpoint}: {errors[0].get('message', answer.text)}")
        return data

    def _post(self, endpoint: str, body: dict[str, Any] | None = None) -> Any:
        return self._request("POST", endpoint, body or {})

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        call: Callable[..., Any] | None = getattr(self, f"_do_{name}", None)
        if call is None:  # pragma: no cover - every public method has its _do_
            raise NotImplementedError(f"SoccerServer.{name}() in process mode")
        return call(*args, **kwargs)

    def _do_new_ws_token(self, api_token: str) -> str:
        answer = httpx.get(f"{self.api_base}/v1/ws/new/", params={"t": api_token})
        return str(answer.json()["result"][0]["token"])

    def _do_push(self, frame: bytes | str | dict[str, Any], token: str | None = None) -> int:
        text = frame.decode() if isinstance(frame, bytes) else frame
        body: dict[str, Any] = {"frame": text}
        if token is not None:
            body["token"] = token
        return int(self._post("push", body)["connections"])

    def _do_expire_token(self, token: str | None = None) -> int:
        return int(self._post("expire-token", {} if token is None else {"token": token})["expired"])

    def _do_set_api_token_state(self, api_token: str, state: str) -> None:
        self._post("api-token-state", {"api_token": api_token, "state": str(state)})

    def _do_stop_answering_pings(self, stop: bool = True) -> None:
        self._post("pings", {"answer": not stop})

    def _do_close_connections(
        self, code: int = 1000, reason: str = "", abrupt: bool = False
    ) -> int:
        body = {"code": code, "reason": reason, "abrupt": abrupt}
        return int(self._post("close-connections", body)["closed"])

    def _do_pause(self) -> None:
        self._post("pause")

    def _do_resume(self) -> None:
        self._post("resume")

    def _do_play_next(self, n: int = 1) -> int:
        return int(self._post("play-next", {"n": n})["sent"])

    def _do_seek(self, t: float | str) -> None:
        self._post("seek", {"t": t})

    def _do_set_speed(self, speed: float | str | None) -> None:
        self._post("speed", {"speed": "max" if speed is None else speed})

    def _do_reset(self) -> None:
        self._post("reset")

    def _do_inject_faults(self, timeline: FaultTimeline) -> None:
        self._post("faults", timeline.to_json())

    def _do_play(
        self,
        frames: list[Frame],
        speed: float | str | None = "max",
        close_when_delivered: bool = False,
    ) -> int:
        """``POST play``: objects stay JSON (the server writes them as compact JSON, as thread
        mode does), text and bytes go as strings, offsets beside them."""
        body: dict[str, Any] = {
            "frames": [_json_frame(frame) for frame in frames],
            "speed": "max" if speed is None else speed,
            "close_when_delivered": close_when_delivered,
        }
        if any(isinstance(frame, StreamFrame | TimedFrame) for frame in frames):
            offsets = [offset / 1e9 for offset, _ in timed_frames(frames)]
            body["offsets_s"] = offsets
        return int(self._post("play", body)["frames"])

    def _do_wait_for_subscription(self, topic: Any, timeout: float = 5) -> JournalEntry:
        key = str(getattr(topic, "key", topic))
        wanted = f'"topicKey":"{key}"'
        deadline = time.monotonic() + timeout
        while True:
            for entry in self._journal():
                if (
                    entry.kind == "ws_out"
                    and '"type":"subscribed"' in entry.summary
                    and wanted in entry.summary
                ):
                    return entry
            if time.monotonic() >= deadline:
                raise _wait_timeout(f"a subscribed reply for {key}", timeout)
            time.sleep(POLL_S)

    def _do_wait_delivered(self, timeout: float = 5) -> ServerStats:
        deadline = time.monotonic() + timeout
        while True:
            stats = self._stats()
            if stats.ended:
                return stats
            if time.monotonic() >= deadline:
                raise _wait_timeout("the recording to be delivered", timeout)
            time.sleep(POLL_S)

    def _journal(self) -> list[JournalEntry]:
        if self._last is not None:
            return self._last[0]
        data = self._request("GET", "journal")
        return [_entry(item) for item in data["entries"]]

    def _stats(self) -> ServerStats:
        if self._last is not None:
            return self._last[1]
        return _server_stats(self._request("GET", "stats"))

    # --- stop ----------------------------------------------------------------------------------

    def _stop(self) -> None:
        """Keep the journal and stats, then stop the subprocess (SIGTERM: its clients get
        the 1001 close); raise if it had died."""
        died = self._process.poll()
        if died is None:
            with contextlib.suppress(HarnessError):
                self._last = (self._journal(), self._stats())
        self._http.close()
        why = self._stderr_tail() if died is not None else ""
        self._terminate()
        if died is not None:
            raise UsageError(f"harness replay exited ({died}) during the test: {why}")

    def _terminate(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(STOP_TIMEOUT_S)
        shutil.rmtree(self._folder, ignore_errors=True)


def _json_frame(frame: Frame) -> dict[str, Any] | str:
    if isinstance(frame, StreamFrame):
        return frame.event
    if isinstance(frame, dict):
        return frame
    return frame_bytes(frame).decode()


def _entry(item: Mapping[str, Any]) -> JournalEntry:
    return JournalEntry(
        float(item["time"]), str(item["kind"]), item.get("conn_id"), item["summary"]
    )


def _server_stats(data: Mapping[str, Any]) -> ServerStats:
    """The stats as this version's :class:`ServerStats` (fields it lacks are dropped)."""
    known = {f.name for f in fields(ServerStats)}
    return ServerStats(**{key: value for key, value in data.items() if key in known})
