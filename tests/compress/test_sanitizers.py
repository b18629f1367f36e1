"""The compress core's tests again, on the ASan+UBSan build: any memory error or undefined
behaviour aborts the run and fails this test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labtest import assert_passes_under_sanitizers

HERE = Path(__file__).resolve().parent

# end-to-end `lab bench/profile` runs whose figures, not the core, are under test: the core
# functions they call are the ones the unit modules exercise, and under ASan they took 37 s
# of the 59 s re-run
NOT_RERUN = {Path(__file__).name, "test_bench_compress.py", "test_profile_compress.py",
             "test_channels_compress.py"}


@pytest.mark.skipif(os.environ.get("LAB_FLAVOR") == "debug", reason="already sanitized")
def test_compress_suite_passes_under_asan_and_ubsan(lab_env: dict) -> None:
    modules = [p for p in sorted(HERE.glob("test_*.py")) if p.name not in NOT_RERUN]
    assert {"test_deflate.py", "test_inflate.py", "test_stream.py"} <= {p.name for p in modules}
    assert_passes_under_sanitizers(modules, lab_env)
