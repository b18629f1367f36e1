"""tables.c is exactly what its generator produces (RFC 1951 tables, CRC-32 tables)."""

from __future__ import annotations

import subprocess
import sys

from labtest import ROOT


def test_tables_c_matches_its_generator() -> None:
    script = ROOT / "targets" / "compress" / "tools" / "gentables.py"
    assert subprocess.run([sys.executable, str(script), "--check"]).returncode == 0
