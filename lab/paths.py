"""Where the lab keeps things: the project root and its results, reports and caches.

The root is ``$LAB_HOME`` when set, else the checkout that holds this package (an editable
install), else the current directory. Every other location can be overridden by an
environment variable so tests and CI can point the lab at temporary folders.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def root() -> Path:
    """The project root: it holds ``plugins/``, ``targets/``, ``corpora/``."""
    env = os.environ.get("LAB_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "plugins").is_dir() and (here / "targets").is_dir():
        return here
    return Path.cwd()


def plugins_dir() -> Path:
    return root() / "plugins"


def targets_dir(system: str) -> Path:
    return root() / "targets" / system


def corpora_dir(system: str) -> Path:
    """Committed fuzz seeds of ``system`` (``$LAB_CORPORA/<system>`` overrides)."""
    return Path(os.environ.get("LAB_CORPORA") or root() / "corpora") / system


def fuzz_dir() -> Path:
    """Fuzzing state (grown corpora, crash artifacts, logs): ``results/fuzz`` beside the
    store (``$LAB_FUZZ_DIR`` overrides)."""
    return Path(os.environ.get("LAB_FUZZ_DIR") or store_path().parent / "fuzz")


def store_path() -> Path:
    """The default SQLite store, ``results/lab.db`` (``$LAB_STORE`` overrides)."""
    return Path(os.environ.get("LAB_STORE") or root() / "results" / "lab.db")


def reports_dir() -> Path:
    return Path(os.environ.get("LAB_REPORTS") or root() / "reports")


def cache_dir() -> Path:
    """Build cache and other regenerable state (``$LAB_CACHE`` overrides)."""
    return Path(os.environ.get("LAB_CACHE") or root() / ".lab" / "cache")


def run_dir(run_id: int) -> Path:
    """The working folder of bench run ``run_id`` of the current store (servers' data, logs,
    attachments): ``<cache>/runs/<store digest>/<id>``, so runs of different stores that share
    an id never share a folder."""
    digest = hashlib.sha256(str(store_path().resolve()).encode()).hexdigest()[:12]
    return cache_dir() / "runs" / digest / str(run_id)

