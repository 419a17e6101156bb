"""The recording I/O benchmark runs at a tiny size and reports sane figures."""

from __future__ import annotations

import pytest

from benchmarks import recording_io

pytestmark = pytest.mark.slow


def test_recording_io_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    result = recording_io.run(quick=True)
    assert result.records == recording_io.QUICK_N
    assert 250 <= result.payload_bytes <= 350
    assert min(result.write_rps, result.reader_rps, result.bare_frames_rps) > 0
    assert 0 < result.peak_bytes < 64 * 2**20
    out = capsys.readouterr().out
    assert "ratio reader / bare frames" in out
    assert "peak read memory" in out
