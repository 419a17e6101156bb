"""No command destroys a recording: existing outputs are refused, partial files never replace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.recording import open_writer, read_recording
from harness.core.records import Direction, Header, WsMessage
from harness.core.safe_output import commit, create_partial, partial_path
from harness.errors import UsageError

HEADER = Header("2024-01-01T00:00:00+00:00", "test", "0", {})


def _recording(path: Path) -> bytes:
    with open_writer(path, HEADER) as writer:
        writer.add(WsMessage(1, 1, Direction.SERVER_TO_CLIENT, b'{"type":"goal"}'))
    return path.read_bytes()


def test_redact_refuses_an_existing_output_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, dest = tmp_path / "in.msgpack", tmp_path / "out.msgpack"
    _recording(source)
    dest.write_bytes(b"precious")
    assert main(["redact", str(source), "-o", str(dest)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(dest) in err
    assert "--force" in err
    assert dest.read_bytes() == b"precious"
    assert main(["redact", str(source), "-o", str(dest), "--force"]) == 0
    assert read_recording(dest)[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.msgpack", "out.msgpack"]


def test_redact_refuses_its_own_input_even_forced_or_through_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.msgpack"
    data = _recording(source)
    link = tmp_path / "link.msgpack"
    os.link(source, link)
    for target in (source, link):
        assert main(["redact", str(source), "-o", str(target), "--force"]) == 2
        assert "-o must differ from the input" in capsys.readouterr().err
    assert source.read_bytes() == data


def test_a_leftover_partial_file_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "r.msgpack"
    partial_path(target).write_bytes(b"killed recorder data")
    with pytest.raises(UsageError, match=r"r\.msgpack\.partial exists"):
        create_partial(target, force=True)
    assert partial_path(target).read_bytes() == b"killed recorder data"


def test_commit_without_force_never_replaces_a_file_that_appeared_meanwhile(
    tmp_path: Path,
) -> None:
    target = tmp_path / "r.msgpack"
    with create_partial(target, force=False) as stream:
        stream.write(b"new")
    target.write_bytes(b"appeared")
    with pytest.raises(UsageError, match="appeared while writing"):
        commit(target, force=False)
    assert target.read_bytes() == b"appeared"
    assert partial_path(target).read_bytes() == b"new"
