"""The info benchmark runs at tiny sizes and reports sane figures."""

from __future__ import annotations

import pytest

from benchmarks import info

pytestmark = pytest.mark.slow


def test_info_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    rows, figures = info.run(quick=True)
    assert [row.frames for row in rows] == list(info.QUICK_SIZES)
    for row in rows:
        assert row.file_bytes > row.frames * 300
        assert min(row.read_s, row.inventory_s, row.cli_s) > 0
        assert 0 < row.peak_bytes < 64 * 2**20
    assert figures.frames == info.QUICK_CLASSIFY_FRAMES
    assert min(figures.classify_us, figures.json_loads_us) > 0
    out = capsys.readouterr().out
    assert "growth 1,000 -> 10,000" in out
    assert "classify_frame" in out
