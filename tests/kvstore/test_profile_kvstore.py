"""`lab profile kvstore`: the server's C functions sampled by perf while the load runs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_kvstore_profile_samples_the_server_process(run_lab) -> None:
    res = run_lab("profile", "kvstore", "--duration", "2", "--json", timeout=300)
    assert res.code == 0, res.err
    doc = res.json()
    assert (doc["impl"], doc["workload"], doc["source"]) == ("kvstore", "mix", "perf")
    names = [t["name"] for t in doc["top"]]
    assert any(n.startswith("kv_") for n in names), names  # the server's own functions
    svg = Path(doc["files"]["svg"]).read_text()
    assert "kv_loop_run" in svg  # the event loop frame holds the server's work
