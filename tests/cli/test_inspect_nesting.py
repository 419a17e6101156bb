"""Readers survive hostile data: deep nesting and malformed URLs never give a traceback.

Records are written here as raw frames with valid checksums, so the poison reaches the decoders
and the commands, as in a recording from a buggy client or a hand-edited file.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from harness.core.recording import MAGIC, open_reader, record_crc
from harness.core.records import MAX_NESTING, Direction, Header, HttpExchange, Note, WsMessage
from harness.recordings import default_recording_path

Frame = tuple[int, list[Any]]
HEADER = Header("2024-01-15T14:00:00+00:00", "test", "0", {"plan": "MEGA"})
COMMANDS = (["info"], ["cat"], ["cat", "--jsonl"], ["replay", "--port", "0", "--start-at", "9999h"])


def _base_records(count: int = 150) -> list[Frame]:
    with open_reader(default_recording_path()) as reader:
        return [(r.KIND, r.fields()) for r in itertools.islice(reader, count)]


BASE = _base_records()


def _nested(depth: int, container: str = "list") -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if container == "list" else {"k": value}
    return value


def _write(path: Path, header_fields: list[Any], frames: list[Frame]) -> None:
    with path.open("wb") as stream:
        stream.write(MAGIC)
        for kind, fields in [(Header.KIND, header_fields), *frames]:
            body = msgpack.packb(fields, use_bin_type=True)
            stream.write(msgpack.packb([kind, record_crc(kind, body), body], use_bin_type=True))


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _assert_clean_everywhere(path: Path) -> None:
    for command in COMMANDS:
        code, _, err = _run([command[0], str(path), *command[1:]])
        assert "Traceback" not in err, (command, err)
        if command[0] == "replay":  # loads the file, then stops at the --start-at probe
            err = "".join(line for line in err.splitlines(True) if "start-at" not in line)
        assert err.count("\n") <= 1, (command, err)
        if command[0] != "replay":
            assert code in (0, 1), (command, code, err)


def _command(depth: int) -> Frame:
    payload = b"[" * depth + b"]" * depth
    return WsMessage.KIND, WsMessage(1, 1, Direction.CLIENT_TO_SERVER, payload).fields()


def _note(depth: int) -> Frame:
    return Note.KIND, Note(1, "error", "m", {"d": _nested(depth, "map")}).fields()


def _url(url: str) -> Frame:
    return HttpExchange.KIND, HttpExchange(1, "GET", url, 200, b"{}").fields()


POISONS: dict[str, Callable[[], Frame]] = {
    "command-1000-deep": lambda: _command(1000),
    "command-5000-deep": lambda: _command(5000),
    "note-500-deep": lambda: _note(500),
    "note-1000-deep": lambda: _note(1000),
    "url-unclosed-ipv6": lambda: _url("http://[::1/v1/ws/renew"),
    "url-bad-ipv6": lambda: _url("http://[zz]/v1/ws/new"),
}


@pytest.mark.parametrize("poison", POISONS)
def test_a_poisoned_record_gives_no_traceback(tmp_path: Path, poison: str) -> None:
    path = tmp_path / "poisoned.msgpack"
    _write(path, HEADER.fields(), [*BASE[:20], POISONS[poison](), *BASE[20:40]])
    _assert_clean_everywhere(path)


@pytest.mark.parametrize("command", ["info", "cat"])
def test_a_note_nested_too_deep_is_one_warning_naming_it(tmp_path: Path, command: str) -> None:
    path = tmp_path / "note.msgpack"
    _write(path, HEADER.fields(), [*BASE[:5], _note(MAX_NESTING + 1)])
    code, _, err = _run([command, str(path)])
    assert code == 0
    assert f"bad note record: data is nested deeper than {MAX_NESTING} levels" in err
    assert "kept 5 records" in err
    assert err.count("\n") == 1


def test_a_note_at_the_nesting_limit_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "note.msgpack"
    _write(path, HEADER.fields(), [_note(MAX_NESTING - 1)])
    code, out, err = _run(["cat", "--jsonl", str(path)])
    assert (code, err) == (0, "")
    assert out.count("\n") == 2


@pytest.mark.parametrize("command", ["info", "cat", "replay"])
def test_a_header_source_nested_too_deep_is_one_error(tmp_path: Path, command: str) -> None:
    path = tmp_path / "source.msgpack"
    header = HEADER.fields()
    header[5] = {"deep": _nested(500)}
    _write(path, header, BASE[:5])
    code, out, err = _run([command, str(path)])
    assert code == 1
    assert out == ""
    assert err == (
        f"harness: error: {path}: corrupt header: source is nested deeper than"
        f" {MAX_NESTING} levels (at byte {len(MAGIC)})\n"
    )


def test_info_names_a_command_nested_too_deep(tmp_path: Path) -> None:
    path = tmp_path / "cmd.msgpack"
    _write(path, HEADER.fields(), [_command(1000)])
    code, out, _ = _run(["info", str(path)])
    assert code == 0
    assert "-> (nested too deep)" in " ".join(out.split())


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


TEMPLATES: list[Frame] = [_note(1), _url("https://api.example/v1/ws/new"), _command(1)]
"""Records readers interpret field by field; each is added to the recording being mutated."""
DEPTHS = st.sampled_from([1000, 500, 101, 100, 99, 2]) | st.integers(0, 1000)
"""Nesting depths: the ones that matter first (hypothesis favours small integers)."""
SLOTS = [(None, 5), (0, 3), (1, 2), (2, 3)]
"""Fields readers walk or parse: header ``source``, note ``data``, http ``url``, a payload."""


@st.composite
def _mutations(draw: st.DrawFn) -> tuple[list[Any], list[Frame]]:
    """The bundled recording's start plus templates, with one field of one record replaced."""
    header = HEADER.fields()
    frames = [(kind, list(fields)) for kind, fields in BASE[:40]]
    templates = [(kind, list(fields)) for kind, fields in TEMPLATES]
    for template in templates:
        frames.insert(draw(st.integers(0, len(frames))), template)
    poison = draw(
        st.one_of(
            _values,
            DEPTHS.map(_nested),
            DEPTHS.map(lambda n: _nested(n, "map")),
            DEPTHS.map(lambda n: b"[" * 3 * n + b"]" * 3 * n),
            st.sampled_from(["http://[::1", "http://[zz]/", "http://[", "ws://[::1]x/"]),
        )
    )
    record, index = draw(st.sampled_from([*SLOTS, (-1, -1)]))
    if record == -1:  # anywhere at all
        fields = draw(st.sampled_from([header, *(f for _, f in frames)]))
        index = draw(st.integers(0, len(fields) - 1))
    else:
        fields = header if record is None else templates[record][1]
    fields[index] = poison
    return header, frames


@given(mutation=_mutations())
def test_mutated_recordings_never_give_a_traceback(
    tmp_path_factory: pytest.TempPathFactory, mutation: tuple[list[Any], list[Frame]]
) -> None:
    path = tmp_path_factory.mktemp("mutated") / "mutated.msgpack"
    header, frames = mutation
    _write(path, header, frames)
    _assert_clean_everywhere(path)
