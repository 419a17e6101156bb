"""The toolbox commands end to end: exit codes, messages, outputs that never destroy a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import default_recording_path
from harness.cli import main

BUNDLED = default_recording_path()
GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "v1-small.msgpack"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """The bundled recording with two flipped bytes and a cut end: two blocks (of 114 and 146
    records, format 2.0) and the summary lost."""
    data = bytearray(BUNDLED.read_bytes())
    data[len(data) // 4] ^= 0x40
    data[len(data) // 2] ^= 0x01
    path = tmp_path / "damaged.msgpack"
    path.write_bytes(bytes(data[:-7]))
    return path


# ---------------------------------------------------------------- verify


def test_verify_a_clean_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "verify", str(BUNDLED))
    assert (code, err) == (0, "")
    assert out == f"{BUNDLED}: ok (6,590 records)\n"


def test_verify_a_damaged_file_says_what_and_where(
    damaged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "verify", str(damaged))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{damaged}: 3 problems in 6,329 records (damage 2, truncated 1)"
    assert lines[1].lstrip().startswith("record ")
    assert "checksum mismatch" in lines[1]
    assert "truncated tail" in lines[3]


def test_verify_json(damaged: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--json", str(damaged))
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["counts"] == {"damage": 2, "truncated": 1}
    assert report["damage"]["records_lost"] == 114 + 146 + 1
    first = report["problems"][0]
    assert set(first) == {"check", "index", "offset", "message"}


def test_verify_protocol_problems_in_the_golden_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--json", str(GOLDEN))
    assert code == 1
    checks = [p["check"] for p in json.loads(out)["problems"]]
    assert checks == ["client-command", "server-frame"]


@pytest.mark.parametrize("command", ["verify", "recover", "export", "cut", "filter"])
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    not_a_recording = tmp_path / "x.txt"
    not_a_recording.write_text("hello")
    for path, message in [(tmp_path / "missing", "no such file"), (not_a_recording, "not a")]:
        code, _, err = run(capsys, command, str(path), *_outputs(command, tmp_path))
        assert code == 1
        assert err.count("\n") == 1
        assert message in err
        assert "Traceback" not in err


def _outputs(command: str, tmp_path: Path) -> list[str]:
    return [] if command == "verify" else ["-o", str(tmp_path / "out")]


# ---------------------------------------------------------------- recover


def test_recover_keeps_every_intact_record_and_says_what_was_lost(
    damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "clean.msgpack"
    code, stdout, err = run(capsys, "recover", str(damaged), "-o", str(out))
    assert (code, stdout) == (0, "")
    assert err.startswith(f"harness recover: wrote {out}: kept 6,329 of 6,329 readable records;")
    assert "lost: 3 damaged stretches, 261 records lost, truncated at the end" in err
    assert run(capsys, "verify", str(out))[0] == 0
    # Refused the second time: the output exists.
    code, _, err = run(capsys, "recover", str(damaged), "-o", str(out))
    assert code == 2
    assert "--force" in err


# ---------------------------------------------------------------- export / import


def test_export_then_import_the_bundled_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl, back = tmp_path / "b.jsonl", tmp_path / "b.msgpack"
    code, _, err = run(capsys, "export", str(BUNDLED), "-o", str(jsonl))
    assert code == 0
    assert err == f"harness export: wrote {jsonl}: header + 6,590 records\n"
    code, _, err = run(capsys, "import", str(jsonl), "-o", str(back))
    assert code == 0
    assert err == f"harness import: wrote {back}: 6,590 records\n"
    assert back.read_bytes() == BUNDLED.read_bytes()


def test_export_of_a_damaged_file_warns_once(
    damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "export", str(damaged), "-o", str(tmp_path / "d.jsonl"))
    assert code == 0
    assert err.count("\n") == 2
    assert "warning" in err.splitlines()[1]
    assert "3 damaged stretches" in err


def test_import_of_a_bad_line_is_one_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "bad.jsonl", tmp_path / "out.msgpack"
    source.write_text("{oops\n")
    code, _, err = run(capsys, "import", str(source), "-o", str(out))
    assert code == 1
    assert err.startswith(f"harness: error: {source} line 1: not JSON")
    assert err.count("\n") == 1
    assert not out.exists()
    code, _, err = run(capsys, "import", str(tmp_path / "missing.jsonl"), "-o", str(out))
    assert (code, err.count("\n")) == (1, 1)
    assert "no such file" in err


# ---------------------------------------------------------------- cut / filter


def test_cut_and_filter_write_smaller_recordings_that_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut, filtered = tmp_path / "cut.msgpack", tmp_path / "goals.msgpack"
    code, _, err = run(capsys, "cut", str(BUNDLED), "-o", str(cut), "--start", "30m", "--end", "1h")
    assert code == 0
    assert err.startswith(f"harness cut: wrote {cut}: ")
    assert run(capsys, "verify", str(cut))[0] == 0
    args = ["filter", str(BUNDLED), "-o", str(filtered), "--channel", "MAIN", "--type", "goal"]
    code, _, err = run(capsys, *args)
    assert code == 0
    assert "of 6,590 records" in err
    assert run(capsys, "verify", str(filtered))[0] == 0
    code, out, _ = run(capsys, "info", str(filtered))
    assert "<- MAIN goal" in out
    assert "MAIN halftime" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cut", "--start", "1h", "--end", "30m"], "--end must be after --start"),
        (["cut", "--start", "soon"], "--start: invalid duration"),
        (["filter", "--channel", "NOPE"], "'NOPE' is not one of"),
        (["filter", "--type", "gaol"], "--type 'gaol' is not an event type of the protocol"),
        (["cut", "--start", "5h"], "--start 5h00m00s is past the end of the recording"),
    ],
)
def test_cut_and_filter_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, args[0], str(BUNDLED), "-o", str(tmp_path / "o"), *args[1:])
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_counts_agree_between_the_commands_and_info_shows_a_cut_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recovered, cut = tmp_path / "recovered.msgpack", tmp_path / "cut.msgpack"
    _, _, err = run(capsys, "recover", str(BUNDLED), "-o", str(recovered))
    assert f"kept 6,590 of 6,590 readable records; nothing lost ({BUNDLED} is whole)" in err
    _, _, err = run(capsys, "cut", str(BUNDLED), "-o", str(cut), "--start", "40m", "--end", "65m")
    written = err.split(": ")[-1].split(" of ")[0]
    assert run(capsys, "verify", str(cut))[1] == f"{cut}: ok ({written} records)\n"
    _, out, _ = run(capsys, "info", str(cut))
    assert "  records    from 40m00s: 24m" in out


@pytest.mark.parametrize("command", ["info", "cat"])
def test_readers_skip_mid_file_damage_and_warn_once(
    damaged: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, err = run(capsys, command, str(damaged))
    assert code == 0
    assert err.count("\n") == 1
    assert err.startswith(f"harness: warning: {damaged}: 3 damaged stretches, 261 records lost,")
    assert "byte " in err
    if command == "info":
        assert "records      6,329" in out
        assert "damage       3 damaged stretches" in out
    else:
        assert len(out.splitlines()) == 1 + 6_329


# ---------------------------------------------------------------- merge


def test_cut_then_merge_gives_the_file_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, out = tmp_path / "a.msgpack", tmp_path / "b.msgpack", tmp_path / "m.msgpack"
    assert run(capsys, "cut", str(BUNDLED), "-o", str(a), "--end", "40m")[0] == 0
    assert run(capsys, "cut", str(BUNDLED), "-o", str(b), "--start", "40m")[0] == 0
    code, stdout, err = run(capsys, "merge", "--concat", str(a), str(b), "-o", str(out))
    assert (code, stdout) == (0, "")
    assert err == (
        f"harness merge: wrote {out}: 6,590 records from 2 recordings"
        " (one after another; 1 continued the session before)\n"
    )
    assert out.read_bytes() == BUNDLED.read_bytes()
    code, _, err = run(capsys, "merge", str(a), str(b), "-o", str(out))
    assert (code, err.count("\n")) == (2, 1)
    assert "--force" in err


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["missing.msgpack", str(BUNDLED)], "no such file"),
        ([str(BUNDLED)], "merge needs at least two recordings"),
        ([str(BUNDLED), "out.msgpack"], "-o must differ from the input"),
    ],
)
def test_merge_bad_input_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    if "out.msgpack" in files:
        (tmp_path / "out.msgpack").write_bytes(BUNDLED.read_bytes())
    code, _, err = run(capsys, "merge", *files, "-o", "out.msgpack")
    assert code in (1, 2)
    assert err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err
