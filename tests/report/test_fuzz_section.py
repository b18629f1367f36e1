"""The fuzzing section of ``lab report``: fuzz statistics, crashes and coverage rows written
straight into an isolated store, then rendered as a fuzzing-only report (no bench run) and as
a section of a bench report."""

from __future__ import annotations

from pathlib import Path

import pytest

SIGNATURE = "heap-buffer-overflow READ toy_checksum<u8> parse.c:22"
ESCAPED = "heap-buffer-overflow READ toy_checksum&lt;u8&gt; parse.c:22"
MD_ESCAPED = "heap-buffer-overflow READ toy_checksum\\<u8> parse.c:22"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(store, kind: str) -> int:  # noqa: ANN001
    return store.begin_run(system="toy", kind=kind, command=["lab", kind, "toy"],
                           fingerprint={"cpu_model": "test"}, fingerprint_hash="f" * 16,
                           git_commit=None, git_dirty=False, options={})


@pytest.fixture
def fuzz_data(lab_env: dict) -> dict:
    """Two fuzz runs of ``parse`` with statistics, one crash, one coverage measurement whose
    llvm-cov HTML exists where ``lab cover`` writes it."""
    from lab.store import open_store

    store = open_store()
    for k in range(2):
        run_id = _run(store, "fuzz")
        store.add_fuzz_stats(run_id, [
            {"target": "parse", "elapsed": float(t), "execs": 5000 * t, "exec_per_s": 5000.0,
             "cov": 10 + (k + 1) * t, "ft": 20 + 2 * t, "corpus_units": 4, "corpus_bytes": 40}
            for t in range(1, 6)])
        store.finish_run(run_id, "ok")
    crash_id, _ = store.record_crash(run_id, {
        "system": "toy", "target": "parse", "kind": "heap-buffer-overflow",
        "signature": SIGNATURE, "summary": "READ of size 1", "input": b"LAB!\xff",
        "report": "==1==ERROR: AddressSanitizer: heap-buffer-overflow"})
    store.update_crash(crash_id, reliability=0.8)
    html = Path(lab_env["LAB_REPORTS"]) / "toy" / "coverage" / "parse" / "index.html"
    html.parent.mkdir(parents=True)
    html.write_text("<html>llvm-cov</html>")
    cover_id = _run(store, "cover")
    store.add_coverage(cover_id, {
        "target": "parse", "corpus_units": 7, "lines_covered": 19, "lines_total": 33,
        "branches_covered": 6, "branches_total": 12, "functions_covered": 3,
        "functions_total": 5, "regions_covered": 14, "regions_total": 23, "html": str(html)})
    store.finish_run(cover_id, "ok")
    store.close()
    return {"crash_id": crash_id}


def _check_section(index: Path, fuzz_data: dict) -> None:
    html = index.read_text()
    md = (index.parent / "report.md").read_text()
    assert 'id="fuzzing"' in html and "## Fuzzing" in md
    # crashes table
    assert ESCAPED in html and SIGNATURE not in html
    assert MD_ESCAPED in md
    assert f"#{fuzz_data['crash_id']}" in html and "80%" in html and "80%" in md
    assert 'class="crash-open"' in html
    # latest statistics of the latest run: execs 25,000, cov 10 + 2 * 5
    assert "25,000" in html and ">20<" in html and "| 25,000 | 5,000 | 20 | 30 |" in md
    # coverage totals and the relative link to llvm-cov's HTML
    for text in ("57.6% (19/33)", "50.0% (6/12)", "60.0% (3/5)"):
        assert text in html and text in md
    assert 'href="../coverage/parse/index.html"' in html
    assert "](../coverage/parse/index.html)" in md
    assert (index.parent / "../coverage/parse/index.html").resolve().is_file()
    # the coverage-over-time chart: embedded in the HTML, a PNG file for the Markdown
    chart = index.parent / "charts" / "fuzz-parse-coverage.png"
    assert chart.read_bytes().startswith(PNG_MAGIC)
    assert "charts/fuzz-parse-coverage.png" in md
    assert 'id="fuzz-chart-parse"' in html and "data:image/png;base64," in html


def test_fuzz_only_report(fuzz_data: dict, run_lab, lab_env: dict) -> None:
    res = run_lab("report", "toy")
    assert res.code == 0, res.err
    index = Path(res.out.split("report: ", 1)[1].strip())
    assert index == Path(lab_env["LAB_REPORTS"]) / "toy" / "fuzz" / "index.html"
    assert "Fuzzing report: toy" in index.read_text()
    _check_section(index, fuzz_data)


def test_bench_report_carries_the_fuzz_section(fuzz_data: dict, run_lab, lab_env: dict) -> None:
    from lab.store import open_store

    store = open_store()
    bench_id = _run(store, "bench")
    store.save_summary(bench_id, [], [])
    store.finish_run(bench_id, "ok")
    store.close()
    res = run_lab("report", "toy")
    assert res.code == 0, res.err
    index = Path(lab_env["LAB_REPORTS"]) / "toy" / str(bench_id) / "index.html"
    assert res.out.strip() == f"report: {index}"
    html = index.read_text()
    assert "Benchmark report: toy" in html and 'href="#fuzzing"' in html
    assert html.index('id="fuzzing"') < html.index('id="environment"')
    _check_section(index, fuzz_data)


def test_no_bench_run_and_no_fuzz_data_is_still_an_error(run_lab) -> None:
    res = run_lab("report", "toy")
    assert res.code == 2 and "no bench run of toy recorded yet" in res.err


def test_section_model_edge_cases(tmp_path: Path) -> None:
    from lab.report.fuzz import TargetInfo, crashes_table, make_section, overview_table

    assert make_section("toy", [TargetInfo("parse")], [], [], [], tmp_path) is None
    crash = {"id": 3, "target": "other", "kind": "timeout", "signature": "timeout",
             "first_seen": "2026-01-01T00:00:00+00:00", "last_seen": None, "count": 2,
             "reliability": None, "status": "fixed"}
    section = make_section("toy", [TargetInfo("parse", seeds=2)], [], [crash], [], tmp_path)
    assert section is not None and [t.info.name for t in section.targets] == ["parse", "other"]
    assert section.charts == []  # no statistics, no chart
    row = crashes_table(section).iloc[0]
    assert (row["Reliability"], row["Last seen"], row["Status"]) == ("—", "—", "fixed")
    assert list(overview_table(section)["Seeds"]) == ["2", "0"]
