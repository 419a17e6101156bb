"""``load_recording``: what replay needs of a file, as the CLI and the plugin load it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import default_recording_path, load_recording
from harness.core.feed_stream import StreamedFeed
from harness.core.schedule import Feed


def test_the_bundled_recording_loads_with_its_feed_and_profile() -> None:
    loaded = load_recording(default_recording_path())
    assert isinstance(loaded.feed, Feed)
    assert len(loaded.feed.frames) == 4039
    assert loaded.header.source["synthetic"] is True
    assert loaded.profile.subscribed_message == "Successfully subscribed"
    assert loaded.tail is None
    assert loaded.tail_warning() is None


def test_a_cut_file_loads_what_precedes_the_damage(tmp_path: Path) -> None:
    whole = default_recording_path().read_bytes()
    cut = tmp_path / "cut.msgpack"
    cut.write_bytes(whole[: len(whole) // 2])
    loaded = load_recording(cut)
    assert isinstance(loaded.feed, Feed)
    assert 0 < len(loaded.feed.frames) < 4039
    warning = loaded.tail_warning()
    assert warning is not None
    assert warning.startswith(f"{cut}: ")
    assert "replaying the" in warning


def test_mid_file_damage_loses_one_block_and_is_not_called_a_tail(tmp_path: Path) -> None:
    data = bytearray(default_recording_path().read_bytes())
    data[len(data) // 4] ^= 0x40
    damaged = tmp_path / "damaged.msgpack"
    damaged.write_bytes(bytes(data))
    loaded = load_recording(damaged)
    assert isinstance(loaded.feed, Feed)
    lost = loaded.damage.records_lost
    assert 1 < lost <= 4096  # the records of the one block the byte fell in (format 2.0)
    assert len(loaded.feed.frames) >= 4039 - lost
    assert loaded.tail is None
    warning = loaded.tail_warning()
    assert warning is not None
    assert "tail" not in warning
    assert f"{lost:,} records lost" in warning
    assert "replaying the readable records" in warning


@pytest.mark.parametrize("cut", [True, False], ids=["cut", "flipped-byte"])
def test_a_damaged_file_read_from_disk_warns_as_one_read_whole(tmp_path: Path, cut: bool) -> None:
    # Given the bundled recording damaged (its end cut off, or one byte flipped)
    data = bytearray(default_recording_path().read_bytes())
    if cut:
        data = data[: len(data) // 2]
    else:
        data[len(data) // 4] ^= 0x40
    damaged = tmp_path / "damaged.msgpack"
    damaged.write_bytes(bytes(data))
    # When it is loaded to be read from disk as it plays
    streamed = load_recording(damaged, stream_above_bytes=0)
    whole = load_recording(damaged)
    # Then it names the same damage as when it is read whole
    assert isinstance(streamed.feed, StreamedFeed)
    assert streamed.tail_warning() == whole.tail_warning() is not None
    assert streamed.profile == whole.profile
