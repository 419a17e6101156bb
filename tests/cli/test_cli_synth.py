"""``harness synth``: options, output file, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.core.recording import read_recording
from harness.core.synth import SynthOptions, synthetic_bytes

S = 1_000_000_000


def test_synth_writes_the_seeded_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given options for a short session, when synth runs,
    output = tmp_path / "short.msgpack"
    argv = ["synth", "-o", str(output), "--seed", "5", "--matches", "2", "--duration", "12m"]
    assert main(argv) == 0
    # then the file is exactly what the simulator makes for those options, and it reads back.
    expected = synthetic_bytes(SynthOptions(seed=5, matches=2, duration_ns=12 * 60 * S))
    assert output.read_bytes() == expected
    header, records, tail = read_recording(output)
    assert header.source["seed"] == 5
    assert len(header.source["matches"]) == 2
    assert tail is None
    assert records[-1].t_ns == 12 * 60 * S
    err = capsys.readouterr().err
    assert f"wrote {output}: {len(expected)} bytes, 2 matches, 12m00s simulated, seed 5" in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--duration", "soon"], "invalid duration 'soon'"),
        (["--duration", "30s"], "duration must be between 1 minute and 24 hours"),
        (["--matches", "0"], "matches must be between 1 and 20"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    output = tmp_path / "never.msgpack"
    assert main(["synth", "-o", str(output), *options]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not output.exists()


def test_unwritable_output_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "missing-dir" / "x.msgpack"
    assert main(["synth", "-o", str(output), "--duration", "1m", "--matches", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"harness: error: cannot write {output}")
    assert err.count("\n") == 1


def test_synth_refuses_an_existing_file_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out.msgpack"
    output.write_bytes(b"precious")
    argv = ["synth", "-o", str(output), "--duration", "2m", "--matches", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(output) in err
    assert "--force" in err
    assert output.read_bytes() == b"precious"
    assert main([*argv, "--force"]) == 0
    assert output.read_bytes() != b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.msgpack"]
