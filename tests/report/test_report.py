"""End-to-end tests of the report generator (lab.report.write_report).

A small synthetic run (3 implementations; a `compress` workload with a size parameter of 4
sizes and a `level` parameter; a `checksum` workload without size parameter; one skipped row)
is rendered, then report.md is checked as text and index.html in headless Chromium.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image

from lab.report import ReportInput, WorkloadMeta, write_report
from lab.report.charts import MAX_BAR_GROUPS, MAX_SUBPLOTS, plan_charts
from lab.report.model import results_frame, workload_order

BASELINE = "zlib"
IMPLS = ["zlib", "ours", "fast"]
SIZES = [1024, 16384, 262144, 1048576]
LEVELS = [1, 9]
VARIANTS = ["short", "long", "mixed"]
SKIP_NOTE = "skipped: libfast missing; install with pip install fastlib"
COMMAND = "lab bench compress --workload compress --impl ours --impl fast --impl zlib"


def params_key(params: dict[str, Any]) -> str:
    """Canonical key as produced by the runner: sorted name=value pairs."""
    return ",".join(f"{k}={params[k]}" for k in sorted(params))


def result_row(impl: str, workload: str, params: dict[str, Any], metric: str, unit: str,
               better: str, median: float, rel_ci: float | None, n: int = 10,
               status: str = "ok", note: str = "") -> dict[str, Any]:
    """One results row; `rel_ci` None gives NaN CI bounds (deterministic metric)."""
    nan = math.nan
    ok = status == "ok"
    return {
        "impl": impl, "workload": workload, "params": params, "params_key": params_key(params),
        "metric": metric, "unit": unit, "better": better,
        "median": median if ok else nan,
        "ci_low": median * (1 - rel_ci) if ok and rel_ci is not None else nan,
        "ci_high": median * (1 + rel_ci) if ok and rel_ci is not None else nan,
        "n": n if ok else 0, "status": status, "note": note,
    }


def comparisons_for(results: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Ratios of every ok non-baseline row to the matching baseline row."""
    ok = results[results["status"] == "ok"]
    base = {(r.workload, r.params_key, r.metric): r for r in ok[ok["impl"] == baseline]
            .itertuples(index=False)}
    rows = []
    for r in ok[ok["impl"] != baseline].itertuples(index=False):
        b = base.get((r.workload, r.params_key, r.metric))
        if b is None:
            continue
        ratio = r.median / b.median
        deterministic = math.isnan(r.ci_low)
        half = 0.0 if deterministic else 0.04 * ratio
        if abs(ratio - 1) <= 0.02:
            verdict = "same"
        else:
            verdict = "better" if (ratio > 1) == (r.better == "higher") else "worse"
        rows.append({
            "impl": r.impl, "baseline": baseline, "workload": r.workload,
            "params_key": r.params_key, "metric": r.metric, "ratio": ratio,
            "ci_low": ratio - half, "ci_high": ratio + half,
            "p_value": math.nan if deterministic else (0.4 if verdict == "same" else 0.0004),
            "verdict": verdict,
        })
    return pd.DataFrame(rows)


def small_results() -> pd.DataFrame:
    """3 impls x (compress: 4 sizes x 2 levels x 2 metrics; checksum: 3 variants), 1 skipped."""
    speed = {"zlib": 1.0, "ours": 1.6, "fast": 0.7}
    ratio = {"zlib": 1.0, "ours": 0.95, "fast": 1.0}
    rows = []
    for impl, size, level in itertools.product(IMPLS, SIZES, LEVELS):
        params = {"level": level, "size": size}
        tput = speed[impl] * 40 * math.log2(size) / level ** 0.5
        rows.append(result_row(impl, "compress", params, "throughput", "MB/s", "higher",
                               tput, 0.05))
        rows.append(result_row(impl, "compress", params, "ratio", "x", "higher",
                               ratio[impl] * (2.0 + level / 10), None, n=1))
    latency = {"zlib": 120.0, "ours": 80.0, "fast": 121.0}
    for impl, variant in itertools.product(IMPLS, VARIANTS):
        params = {"variant": variant}
        if impl == "fast" and variant == "mixed":
            rows.append(result_row(impl, "checksum", params, "latency", "ns", "lower", 0, None,
                                   status="skipped", note=SKIP_NOTE))
        else:
            rows.append(result_row(impl, "checksum", params, "latency", "ns", "lower",
                                   latency[impl] * (1 + VARIANTS.index(variant)), 0.03))
    return pd.DataFrame(rows)


def small_workloads() -> dict[str, WorkloadMeta]:
    """The two workloads of `small_results` (compress has a size parameter)."""
    return {
        "compress": WorkloadMeta("compress", "Compress a <corpus> & measure speed/ratio",
                                 "size", {"size": list(SIZES), "level": list(LEVELS)}),
        "checksum": WorkloadMeta("checksum", "Checksum short and long buffers", None,
                                 {"variant": list(VARIANTS)}),
    }


def make_input(results: pd.DataFrame | None = None, comparisons: pd.DataFrame | None = None,
               workloads: dict[str, WorkloadMeta] | None = None,
               status: str = "interrupted", baseline: str = BASELINE) -> ReportInput:
    """A complete ReportInput (defaults: the small synthetic data set, interrupted run)."""
    results = small_results() if results is None else results
    if comparisons is None:
        comparisons = (comparisons_for(results, baseline) if "impl" in results.columns
                       else pd.DataFrame())
    return ReportInput(
        system="compress", run_id=42, status=status,
        started="2024-05-01T12:00:00Z", finished="2024-05-01T12:03:25Z",
        command=COMMAND, git_commit="0123456789abcdef0123456789abcdef01234567",
        git_dirty=True,
        fingerprint={"cpu": {"model": "Test CPU <x86>", "cores": 2}, "kernel": "6.1.0",
                     "python": "3.11.2", "libraries": {"zlib": "1.2.13"},
                     "governor": "performance", "load": [0.1, 0.2, 0.3]},
        fingerprint_hash="fp-deadbeef",
        baseline=baseline, results=results, comparisons=comparisons,
        workloads=small_workloads() if workloads is None else workloads,
    )


# --------------------------------------------------------------------------- helpers


def expected_chart_counts(data: ReportInput) -> tuple[int, int]:
    """(bar, scaling) charts implied by the data when no split is needed.

    One bar chart per (workload, metric) with an ok row; one scaling chart per (workload with
    a size parameter, throughput metric = higher-is-better unit ending in /s).
    """
    ok = data.results[data.results["status"] == "ok"]
    pairs = ok[["workload", "metric", "unit", "better"]].drop_duplicates()
    for (_, _), grp in ok.groupby(["workload", "metric"]):
        assert grp["params_key"].nunique() <= MAX_BAR_GROUPS  # precondition: no split
    bars = len(pairs)
    scaling = sum(1 for r in pairs.itertuples()
                  if data.workloads.get(r.workload) is not None
                  and data.workloads[r.workload].size_param
                  and r.better == "higher" and r.unit.endswith("/s"))
    return bars, scaling


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file; asserts the PNG signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def open_page(browser: Any, index: Path) -> tuple[Any, list[str]]:
    """Open index.html in a new page; returns the page and every URL it requested."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto(index.as_uri(), wait_until="load")
    return page, requested


def assert_images_loaded(page: Any) -> int:
    """Every <img> decoded with a non-zero natural size; returns the number of images."""
    imgs = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight, e.alt])")
    for complete, width, height, alt in imgs:
        assert complete and width > 0 and height > 0, f"image not rendered: {alt!r}"
    return len(imgs)


def assert_self_contained(html: str, requested: list[str]) -> None:
    """No external URL in the page and nothing but the page itself and data: URIs loaded."""
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "url(" not in html
    for url in requested:
        assert url.startswith(("file:", "data:")), f"external request: {url}"


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportInput, Path]:
    """The small synthetic run rendered once into a fresh, not yet existing directory."""
    data = make_input()
    out = tmp_path_factory.mktemp("report") / "nested" / "out"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("not ours")
    index = write_report(data, out)
    assert index == out / "index.html"
    return data, out


def test_files_and_markdown(report: tuple[ReportInput, Path]) -> None:
    data, out = report
    assert (out / "index.html").is_file() and (out / "report.md").is_file()
    assert (out / "keep.txt").read_text() == "not ours"
    md = (out / "report.md").read_text(encoding="utf-8")

    assert "INTERRUPTED" in md
    assert f"```sh\n{COMMAND}\n```" in md
    assert "0123456789abcdef0123456789abcdef01234567` (dirty)" in md
    assert "fp-deadbeef" in md

    header = "| Params | Metric | Impl | Baseline | Ratio | 95% CI | p-value | Verdict |"
    assert md.count(header) == 2  # one comparison table per workload
    verdict_rows = [line for line in md.splitlines()
                    if line.startswith("| ") and re.search(r"\| (✅|❌|➖) \w+ \|$", line)]
    assert len(verdict_rows) == len(data.comparisons)
    ours_row = next(line for line in verdict_rows
                    if line.startswith("| size=1 KiB, level=1 | throughput ↑ | ours |"))
    assert "1.600×" in ours_row and "✅ better" in ours_row

    assert SKIP_NOTE in md
    links = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", md)
    bars, scaling = expected_chart_counts(data)
    assert len(links) == bars + scaling
    for link in links:
        assert not link.startswith(("/", "http")), link
        width, height = png_size(out / link)
        assert width >= 400 and height >= 200


def test_html_in_chromium(report: tuple[ReportInput, Path], browser: Any,
                          tmp_path: Path) -> None:
    data, out = report
    html = (out / "index.html").read_text(encoding="utf-8")
    page, requested = open_page(browser, out / "index.html")
    try:
        bars, scaling = expected_chart_counts(data)
        assert (bars, scaling) == (3, 1)
        assert page.locator("figure.chart-bar img").count() == bars
        assert page.locator("figure.chart-scaling img").count() == scaling
        assert assert_images_loaded(page) == bars + scaling
        assert_self_contained(html, requested)

        rows = page.locator("table.comparisons tbody tr")
        assert rows.count() == len(data.comparisons)
        for verdict in ("better", "worse", "same"):
            expected = int((data.comparisons["verdict"] == verdict).sum())
            assert expected > 0
            assert page.locator(f"table.comparisons tr.verdict-{verdict}").count() == expected
        colors = {v: page.eval_on_selector(
            f"tr.verdict-{v} td.verdict", "e => getComputedStyle(e).backgroundColor")
            for v in ("better", "worse", "same")}
        assert len(set(colors.values())) == 3, colors
        r, g, _ = (int(x) for x in re.findall(r"\d+", colors["better"])[:3])
        assert g > r, f"'better' should be green: {colors['better']}"
        r, g, _ = (int(x) for x in re.findall(r"\d+", colors["worse"])[:3])
        assert r > g, f"'worse' should be red: {colors['worse']}"
        first = rows.first.inner_text()
        assert first.split("\t")[:4] == ["size=1 KiB, level=1", "throughput ↑", "fast", "zlib"]

        assert page.locator("table.results tbody tr").count() == len(data.results)
        skipped = page.locator("table.results tr.row-skipped")
        assert skipped.count() == 1 and SKIP_NOTE in skipped.inner_text()
        assert page.locator("#status-banner").is_visible()
        assert "INTERRUPTED" in page.locator("#status-banner").inner_text()
        assert page.locator("#reproduce-command").inner_text().strip() == COMMAND
        assert "dirty" in page.locator("dl.meta").inner_text()
        body = page.locator("body").inner_text()
        assert "Compress a <corpus> & measure speed/ratio" in body  # escaped, shown verbatim
        assert "Test CPU <x86>" in body and "fp-deadbeef" in body

        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        width, height = png_size(shot)
        assert width >= 1000 and height >= 2000
        with Image.open(shot) as img:
            colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 200, "screenshot looks blank"
    finally:
        page.close()


def _all_skipped() -> pd.DataFrame:
    res = small_results()
    res["status"] = "skipped"
    res["note"] = SKIP_NOTE
    for col in ("median", "ci_low", "ci_high"):
        res[col] = math.nan
    return res


def _nan_cis() -> pd.DataFrame:
    res = small_results()
    res["ci_low"] = math.nan
    res["ci_high"] = math.nan
    return res


EDGE_CASES: dict[str, dict[str, Any]] = {
    "empty": dict(results=pd.DataFrame(), comparisons=pd.DataFrame(), workloads={}),
    "empty-declared": dict(results=pd.DataFrame(columns=["impl", "workload", "metric"]),
                           comparisons=pd.DataFrame()),
    "all-skipped": dict(results=_all_skipped(), comparisons=pd.DataFrame()),
    "single-impl": dict(results=small_results().query("impl == 'zlib'")),
    "nan-ci": dict(results=_nan_cis()),
    "no-meta": dict(workloads={}, status="failed"),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_render(case: str, tmp_path: Path) -> None:
    data = make_input(**EDGE_CASES[case])
    index = write_report(data, tmp_path / case)
    html = index.read_text(encoding="utf-8")
    md = (tmp_path / case / "report.md").read_text(encoding="utf-8")
    assert COMMAND in html and COMMAND in md
    n_charts = html.count('<figure class="chart')
    links = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", md)
    assert len(links) == n_charts
    for link in links:
        png_size(tmp_path / case / link)
    if case.startswith("empty"):
        assert "Nothing to report" in html and "Nothing to report" in md
        assert n_charts == 0
    if case == "empty-declared":
        assert html.count("No results for this workload") == 2
    if case == "all-skipped":
        assert "Nothing was measured" in html and SKIP_NOTE in html and n_charts == 0
    if case == "single-impl":
        assert n_charts == 4 and 'class="comparisons"' not in html
        assert "No comparisons" in html
    if case == "nan-ci":
        assert n_charts == 4
    if case == "no-meta":
        assert n_charts == 3  # bars only: no size parameter is known
        assert "FAILED" in html and "FAILED" in md


def test_empty_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    data = make_input(results=pd.DataFrame(), comparisons=pd.DataFrame(), workloads={},
                      status="ok")
    index = write_report(data, tmp_path / "empty")
    page, requested = open_page(browser, index)
    try:
        assert page.locator("#no-results").is_visible()
        assert page.locator("img").count() == 0
        assert page.locator("#status-banner").count() == 0
        assert page.locator("#reproduce-command").inner_text().strip() == COMMAND
        assert_self_contained(index.read_text(encoding="utf-8"), requested)
    finally:
        page.close()


def big_results() -> tuple[pd.DataFrame, dict[str, WorkloadMeta]]:
    """~500 rows: 5 corpora x 4 sizes x 3 levels x 3 impls x 2 metrics + a 141-row workload."""
    corpora = ["text", "binary", "random", "json", "logs"]
    levels = [1, 6, 9]
    rows = []
    for impl, corpus, size, level in itertools.product(IMPLS, corpora, SIZES, levels):
        params = {"corpus": corpus, "level": level, "size": size}
        speed = {"zlib": 1.0, "ours": 1.3, "fast": 2.0}[impl] * math.log2(size) * 10 / level
        rows.append(result_row(impl, "compress", params, "throughput", "MB/s", "higher",
                               speed, 0.04))
        rows.append(result_row(impl, "compress", params, "ratio", "x", "higher",
                               2 + corpora.index(corpus) / 3 + level / 9, None, n=1))
    for impl, variant in itertools.product(IMPLS, range(47)):
        rows.append(result_row(impl, "checksum", {"variant": variant}, "latency", "ns",
                               "lower", 100 + variant, 0.02))
    meta = {
        "compress": WorkloadMeta("compress", "big", "size",
                                 {"corpus": corpora, "size": SIZES, "level": levels}),
        "checksum": WorkloadMeta("checksum", "many variants", None,
                                 {"variant": list(range(47))}),
    }
    return pd.DataFrame(rows), meta


def test_many_combinations_are_split(tmp_path: Path, browser: Any) -> None:
    results, meta = big_results()
    data = make_input(results=results, workloads=meta, status="ok")
    assert len(results) >= 500

    norm = results_frame(data)
    specs = plan_charts(norm, meta, BASELINE, workload_order(data, norm))
    for workload, metric, n_combos in (("compress", "throughput", 60),
                                       ("compress", "ratio", 60), ("checksum", "latency", 47)):
        figs = [s for s in specs if s.kind == "bar" and (s.workload, s.metric)
                == (workload, metric)]
        assert len(figs) > 1
        assert all(1 <= len(s.groups) <= MAX_BAR_GROUPS for s in figs)
        assert sum(len(s.groups) for s in figs) == n_combos
    compress_tput = [s for s in specs if s.workload == "compress" and s.metric == "throughput"
                     and s.kind == "bar"]
    assert len(compress_tput) == 5  # faceted by corpus: 12 (size x level) groups each
    scaling = [s for s in specs if s.kind == "scaling"]
    assert [s.metric for s in scaling] == ["throughput"] * len(scaling)
    assert all(len(s.facets) <= MAX_SUBPLOTS for s in scaling)
    assert sum(len(s.facets) for s in scaling) == 15  # corpus x level
    assert len({s.slug for s in specs}) == len(specs)

    index = write_report(data, tmp_path / "big")
    page, _ = open_page(browser, index)
    try:
        assert assert_images_loaded(page) == len(specs)
        assert page.locator("table.comparisons tbody tr").count() == len(data.comparisons)
    finally:
        page.close()


# --------------------------------------------------------------------------- server workloads


def server_results() -> tuple[pd.DataFrame, dict[str, WorkloadMeta]]:
    """2 impls x clients (1, 8, 64) x pipeline (1, 16): ops/s and p50/p99/p99.9 latency."""
    rows = []
    for impl, clients, pipeline in itertools.product(("redis", "ours"), (1, 8, 64), (1, 16)):
        params = {"clients": clients, "pipeline": pipeline}
        speed = 1.1 if impl == "ours" else 1.0
        rows.append(result_row(impl, "mix", params, "ops", "ops/s", "higher",
                               speed * 1e4 * clients ** 0.5 * pipeline ** 0.7, 0.03))
        for metric, scale in (("p50", 1.0), ("p99", 3.0), ("p999", 9.0)):
            rows.append(result_row(impl, "mix", params, metric, "ms", "lower",
                                   scale * 0.05 * clients / speed, 0.05))
    meta = {"mix": WorkloadMeta("mix", "GET/SET mix", None,
                                {"clients": [1, 8, 64], "pipeline": [1, 16]},
                                scaling=["clients", "pipeline"],
                                percentiles={"p50": 50, "p99": 99, "p999": 99.9})}
    return pd.DataFrame(rows), meta


def test_scaling_over_parameters_and_latency_percentiles(tmp_path: Path, browser: Any) -> None:
    results, meta = server_results()
    data = make_input(results=results, workloads=meta, status="ok", baseline="redis")
    norm = results_frame(data)
    specs = plan_charts(norm, meta, "redis", workload_order(data, norm))

    by_param = {s.x_param: s for s in specs if s.kind == "scaling"}
    assert set(by_param) == {"clients", "pipeline"}  # throughput only, one per parameter
    clients = by_param["clients"]
    assert clients.metric == "ops" and not clients.x_bytes
    assert [label for label, _ in clients.facets] == ["pipeline=1", "pipeline=16"]
    xs = [x for x, _ in clients.facets[1][1]["ours"]]
    assert xs == [1.0, 8.0, 64.0]
    pipeline = by_param["pipeline"]
    assert len(pipeline.facets) == 3 and [x for x, _ in pipeline.facets[0][1]["redis"]] == [1, 16]

    (pct,) = [s for s in specs if s.kind == "percentile"]
    assert len(pct.facets) == 6  # one subplot per parameter set
    label, series = pct.facets[0]
    assert label == "clients=1, pipeline=1"
    assert [q for q, _ in series["ours"]] == [50.0, 99.0, 99.9]
    medians = [p.median for _, p in series["redis"]]
    assert medians == sorted(medians) and medians[0] == pytest.approx(0.05)
    assert len({s.slug for s in specs}) == len(specs)

    index = write_report(data, tmp_path / "server")
    page, _ = open_page(browser, index)
    try:
        assert page.locator("figure.chart-percentile img").count() == 1
        assert page.locator("figure.chart-scaling img").count() == 2
        assert assert_images_loaded(page) == len(specs)
    finally:
        page.close()


def test_percentile_chart_needs_two_percentiles() -> None:
    results, meta = server_results()
    only_p99 = results[~results["metric"].isin(["p50", "p999"])]
    data = make_input(results=only_p99, workloads=meta, status="ok", baseline="redis")
    norm = results_frame(data)
    specs = plan_charts(norm, meta, "redis", workload_order(data, norm))
    assert not [s for s in specs if s.kind == "percentile"]
    assert len([s for s in specs if s.kind == "scaling"]) == 2


def test_limit_fractions_get_scaling_charts_like_throughput() -> None:
    """A bandwidth and its `lab.Limit` fraction over element counts: one scaling chart each,
    none for a metric that is neither (a latency)."""
    rows = []
    for impl, n in itertools.product(("numpy", "ours"), (1 << 10, 1 << 20, 1 << 26)):
        params = {"elements": n}
        rows.append(result_row(impl, "reduce", params, "bandwidth", "GB/s", "higher",
                               math.log2(n), 0.05))
        rows.append(result_row(impl, "reduce", params, "bandwidth_of_copy", "fraction",
                               "higher", math.log2(n) / 30, 0.05))
        rows.append(result_row(impl, "reduce", params, "time", "s", "lower", 1.0, 0.05))
    meta = {"reduce": WorkloadMeta("reduce", "reduction", None,
                                   {"elements": [1 << 10, 1 << 20, 1 << 26]},
                                   scaling=["elements"])}
    data = make_input(results=pd.DataFrame(rows), workloads=meta, status="ok",
                      baseline="numpy")
    norm = results_frame(data)
    specs = plan_charts(norm, meta, "numpy", workload_order(data, norm))
    scaling = sorted(s.metric for s in specs if s.kind.startswith("by-") or s.kind == "scaling")
    assert scaling == ["bandwidth", "bandwidth_of_copy"]
