"""A bench run's working folder (``$LAB_RUN_DIR``: servers' data, logs, report attachments)
belongs to one run of one store: run ids restart with every store, and a folder another store's
run left behind must never feed this run's report."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import paths


def test_run_folders_are_per_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LAB_STORE", str(tmp_path / "a.db"))
    first = paths.run_dir(1)
    assert paths.run_dir(1) == first and paths.run_dir(2) != first
    monkeypatch.setenv("LAB_STORE", str(tmp_path / "b.db"))
    assert paths.run_dir(1) != first
    assert first.parent.parent == paths.run_dir(1).parent.parent == tmp_path / "cache" / "runs"


def test_a_new_run_starts_from_an_empty_folder(run_lab, lab_env: dict,  # noqa: ANN001
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """What is left in the folder of the new run's id (a deleted store's run 1 with
    attachments) is gone before the run starts, so its report has no Attachments section."""
    for name, value in lab_env.items():  # the run folder of the test's store and cache
        monkeypatch.setenv(name, value)
    stale = paths.run_dir(1) / "attachments"
    stale.mkdir(parents=True)
    (stale / "other-run.log").write_text("not this run's\n")
    res = run_lab("bench", "toy", "--quick", "--reps", "1", "--json", timeout=300)
    assert res.code == 0, res.err[-2000:]
    doc = res.json()
    assert doc["run_id"] == 1
    assert not stale.exists()
    assert "other-run.log" not in Path(doc["report"]).read_text()
