"""Shared fixtures: every test gets its own result store, reports folder and (per session)
build cache, and runs the real ``lab`` command line in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labtest import ROOT, TOY_PLUGINS


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab-cache")


@pytest.fixture
def lab_env(tmp_path: Path, session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Environment variables isolating the lab's state in ``tmp_path`` (also set in-process)."""
    env = {
        "LAB_STORE": str(tmp_path / "results" / "lab.db"),
        "LAB_REPORTS": str(tmp_path / "reports"),
        "LAB_CACHE": str(session_cache),
        "LAB_PLUGIN_PATH": str(TOY_PLUGINS),
        "LAB_CORPORA": str(tmp_path / "corpora"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from lab.host import reset_host

    reset_host()
    yield env
    reset_host()


class LabRun:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.code, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def run_lab(lab_env: dict):
    """Run ``lab ARGS`` in a subprocess with the isolated environment; returns a LabRun."""
    def run(*args: str, env: dict | None = None, timeout: float = 300) -> LabRun:
        full = {**os.environ, **lab_env, **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True,
                              text=True, env=full, timeout=timeout, cwd=ROOT)
        return LabRun(proc)

    return run
