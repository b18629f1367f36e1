"""The compress core's tests again, on the ASan+UBSan build: any memory error or undefined
behaviour aborts the run and fails this test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labtest import assert_passes_under_sanitizers

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(os.environ.get("LAB_FLAVOR") == "debug", reason="already sanitized")
def test_compress_suite_passes_under_asan_and_ubsan(lab_env: dict) -> None:
    assert_passes_under_sanitizers(
        (p for p in sorted(HERE.glob("test_*.py")) if p.name != Path(__file__).name), lab_env)
