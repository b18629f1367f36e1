"""`lab fuzz compress --all` on the real plugin: a short run of every target from the committed
seeds, then `lab cover` and `lab report`, whose Fuzzing section must show each target's
corpus, statistics and coverage."""

from __future__ import annotations

from pathlib import Path

from labtest import ROOT

TARGETS = ("inflate", "roundtrip", "gzip_header")


def test_fuzz_cover_and_report_compress(run_lab, lab_env) -> None:  # noqa: ANN001
    seeds = {"LAB_CORPORA": str(ROOT / "corpora")}  # the committed seeds, read only here
    res = run_lab("fuzz", "compress", "--all", "--time", "9", "--seed", "3", "--json",
                  env=seeds, timeout=180)
    assert res.code == 0, res.err
    results = {r["target"]: r for r in res.json()}
    assert set(results) == set(TARGETS)
    for r in results.values():
        assert r["execs"] > 0 and r["cov"] > 0 and r["counters"] > 0, r
        assert r["seed_units"] > 0 and r["corpus_units"] > 0, r
        assert r["crashes"] == [] and r["error"] is None, r

    cover = run_lab("cover", "compress", "--json", env=seeds, timeout=300)
    assert cover.code == 0, cover.err
    totals = {t["target"]: t for t in cover.json()["targets"]}
    for name in TARGETS:
        t = totals[name]
        assert 0 < t["branches_covered"] <= t["branches_total"], t
        assert 0 < t["lines_covered"] <= t["lines_total"], t
    # the streaming round trip runs the compressor too; inflate alone cannot
    assert totals["roundtrip"]["lines_covered"] > totals["inflate"]["lines_covered"]

    report = run_lab("report", "compress", env=seeds)
    assert report.code == 0, report.err
    md = (Path(report.out.split("report: ", 1)[1].strip()).parent / "report.md").read_text()
    assert "## Fuzzing" in md
    for name in TARGETS:
        assert f"| {name} |" in md
        assert f"charts/fuzz-{name}-coverage.png" in md
    assert "llvm-cov report" in md


def test_run_budget_is_shared_among_jobs(run_lab, lab_env) -> None:  # noqa: ANN001
    res = run_lab("fuzz", "compress", "--target", "gzip_header", "--runs", "3000", "--jobs",
                  "2", "--json", env={"LAB_CORPORA": str(ROOT / "corpora")}, timeout=180)
    assert res.code == 0, res.err
    [r] = res.json()
    # each job runs its share of the 3000 runs, plus a replay of the corpus it starts from
    # (the committed seeds and what earlier runs in this cache grew: at most the final corpus)
    limit = 3000 + 2 * r["corpus_units"]
    assert limit < 2 * 3000, r  # the bound still tells a shared budget from one per job
    assert 3000 <= r["execs"] <= limit, r
    assert r["crashes"] == [] and r["error"] is None
