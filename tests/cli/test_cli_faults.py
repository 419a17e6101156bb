"""``--faults FILE`` on replay and fuzz, and ``fuzz --profile chaos``: the banner says what
runs, a client sees it, and a bad file is one line."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harness.cli import main
from harness.core.faults import chaos_timeline
from tests.cli.test_cli_fuzz import _start
from tests.cli.test_cli_replay import _stop

FAULTS = """
seed = 3
[[faults]]
kind = "rest-error"
status = 503
endpoints = ["new"]
"""


def test_replay_runs_the_fault_file_from_the_start(tmp_path: Path) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text(FAULTS)
    process, details = _start(tmp_path, "replay", "--faults", str(faults))
    try:
        refused = httpx.get(details["ws_new_url"], timeout=10)
    finally:
        code, out, err = _stop(process)
    assert code == 0, err
    assert refused.status_code == 503
    assert refused.json()["errors"] == [{"code": 503, "message": "Service Unavailable"}]
    assert "faults:        1 (seed 3): rest-error" in out


def test_fuzz_chaos_prints_its_generated_faults(tmp_path: Path) -> None:
    process, _ = _start(tmp_path, "fuzz", "--seed", "9", "--profile", "chaos", "--duration", "30s")
    code, out, err = _stop(process)
    assert code == 0, err
    generated = chaos_timeline(9, 30.0)
    assert f"faults:        {len(generated.faults)} (seed 9): " in out
    assert "harness fuzz --seed 9 --profile chaos" in out


@pytest.mark.parametrize("command", [["replay"], ["fuzz", "--duration", "1s"]])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "nope.toml: no such fault file"),
        ("[[faults]\n", "nope.toml: not valid TOML"),
        ('[[faults]]\nkind = "teleport"\n', "nope.toml: fault 0: unknown kind 'teleport'"),
    ],
)
def test_a_bad_fault_file_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    content: str | None,
    message: str,
) -> None:
    path = tmp_path / "nope.toml"
    if content is not None:
        path.write_text(content)
    assert main([*command, "--port", "0", "--faults", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
