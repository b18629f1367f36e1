"""Constants shared by the test folders (imported as ``labtest``; pytest puts tests/ on the
path through ``pythonpath`` in pyproject.toml)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TOY_PLUGINS = FIXTURES / "plugins"
BAD_PLUGINS = FIXTURES / "bad_plugins"

# The compress core's tests run on the build flavor named by $LAB_FLAVOR (release by
# default); the sanitizer test re-runs them on the ASan+UBSan ``debug`` build, at -O0, where
# smaller inputs keep the suite quick.
FLAVOR = os.environ.get("LAB_FLAVOR", "release")
SANITIZED = FLAVOR == "debug"
INTEROP_SIZE = 48 << 10 if SANITIZED else 256 << 10
