"""The replay start benchmark runs at tiny sizes and reports sane figures."""

from __future__ import annotations

import pytest

from benchmarks import replay_start

pytestmark = pytest.mark.slow


def test_replay_start_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    rows = replay_start.run(quick=True)
    assert [row.frames for row in rows] == list(replay_start.QUICK_SIZES)
    for row in rows:
        assert row.file_bytes > row.frames * 100
        assert min(row.ready_s, row.seek_index_s, row.seek_scan_s, row.player_seek_s) > 0
        assert row.rss_bytes > 0
    out = capsys.readouterr().out
    assert "growth 1,000 -> 10,000" in out
