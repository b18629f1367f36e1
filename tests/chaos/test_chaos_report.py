"""Tests for ``lab.chaos.report``: the planned fault spans and throughput buckets of a timeline,
the rendered PNG, and the HTML and Markdown pages of a run (escaping, comparison table, missing
and unreadable histories, error cases, anomalies, shrink results). Real rendering, no mocks."""

from __future__ import annotations

import base64
import io
import math
import re
from html import escape
from pathlib import Path

import pytest
from PIL import Image

from lab.chaos.checkers import Verdict
from lab.chaos.checkers.setfull import check as setfull_check
from lab.chaos.history import History
from lab.chaos.report import (
    DPI,
    FIGSIZE,
    MAX_ANOMALIES,
    MIN_BUCKET,
    bucket_size,
    comparison_cells,
    fault_spans,
    latency_points,
    plot_end,
    skipped_marks,
    throughput_series,
    timeline,
    verdict_label,
    write_report,
)
from lab.chaos.results import AppliedFault, Case

T0 = 1000.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert('x')</script>"
PIPE_VALUE = "a|b"


def set_history(crash: float | None, duration: float = 6.0) -> History:
    """A set-full workload against one key: process 0 and 1 add an element every 0.1 s each,
    process 2 reads every 0.5 s. With ``crash``, adds acknowledged in the 0.8 s before it are
    lost (reads after it lack them) and operations within 0.3 s after it end ``info``."""
    h = History()
    acked: list[int] = []
    lost: set[int] = set()
    element = 0
    t = 0.05
    while t < duration:
        for process in (0, 1):
            start = t + 0.01 * process
            inv = h.invoke(process, "add", "s", element, time=T0 + start)
            if crash is not None and crash <= start < crash + 0.3:
                h.complete(inv, "info", time=T0 + start + 0.25)
            else:
                h.complete(inv, "ok", time=T0 + start + 0.004)
                acked.append(element)
                if crash is not None and crash - 0.8 <= start < crash:
                    lost.add(element)
            element += 1
        if round(t * 100) % 50 == 5:  # a read every 0.5 s
            inv = h.invoke(2, "read", "s", time=T0 + t + 0.02)
            seen = [e for e in acked if crash is None or t < crash or e not in lost]
            h.complete(inv, "ok", seen, time=T0 + t + 0.03)
        t = round(t + 0.1, 6)
    return h


def make_case(root: Path, impl: str, scenario: str, *, history: History | None,
              faults: list[AppliedFault], verdicts: list[Verdict], stats: dict,
              seed: int, **extra) -> Case:
    folder = root / f"{impl}-{scenario}"
    folder.mkdir(parents=True)
    if history is not None:
        history.write_jsonl(folder / "history.jsonl")
    return Case(system="kv", impl=impl, scenario=scenario,
                description=f"{scenario} against {impl}", seed=seed, duration=6.0, t0=T0,
                folder=str(folder), faults=faults, verdicts=verdicts, stats=stats,
                settings={"clients": 3, "fsync": "everysec"},
                replay=f"lab chaos kv --impl {impl} --scenario {scenario} --seed {seed} "
                       "--replay faults.jsonl", **extra)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Four cases (two impls × two scenarios) and their rendered report."""
    root = tmp_path_factory.mktemp("chaos")
    ok_history = set_history(crash=None)
    redis = make_case(
        root, "redis", "kill-primary", history=ok_history, seed=11,
        faults=[AppliedFault("kill", "n1", 3.0, 3.4, after_ops=60, effect="SIGKILL pid 4242"),
                AppliedFault("partition", "n2", 4.0, 4.5, after_ops=80,
                             skipped="needs CAP_NET_ADMIN")],
        verdicts=[setfull_check(ok_history)],
        stats={"ops": 130, "acked": 120, "lost": 0, "lost_window": None})
    bad_history = set_history(crash=3.0)
    verdict = setfull_check(bad_history)
    assert verdict.valid is False and verdict.anomalies
    assert len(verdict.anomalies) >= MAX_ANOMALIES  # so the cap matters
    verdict.anomalies.insert(0, {
        "kind": "lost", "explanation": f"element 999 vanished {SCRIPT}",
        "ops": [{"process": 7, "f": "add", "key": "s", "value": PIPE_VALUE, "type": "ok"},
                {"process": 8, "type": "info"}]})  # keys missing on purpose
    ours = make_case(
        root, "ours", "kill-primary", history=bad_history, seed=22,
        faults=[AppliedFault("kill", "n1", 3.0, 3.3, after_ops=58, effect="SIGKILL pid 99"),
                AppliedFault("truncate-aof", "n1", 5.0, None, after_ops=95,
                             effect="truncated appendonly.aof by 412 bytes")],
        verdicts=[verdict, Verdict("linearizable", None, "gave up after 10 s")],
        stats={"ops": 128, "acked": 110, "lost": 16, "lost_window": 0.92, "restarts": 1},
        shrink={"faults": "37 faults -> 2 (23 replays)", "ops": "128 ops -> 40",
                "schedule": [{"nemesis": "kill", "target": "n1", "start": 3.0, "end": 3.3,
                              "after_ops": 58}]})
    missing = make_case(root, "redis", "truncate-aof", history=None, seed=33,
                        faults=[AppliedFault("truncate-aof", "n1", 2.0, 2.1)],
                        verdicts=[], stats={"ops": 0})
    error = make_case(root, "ours", "truncate-aof", history=None, seed=44, faults=[],
                      verdicts=[], stats={}, status="error",
                      error="server binary not found")
    cases = [redis, ours, missing, error]
    out = root / "report"
    index = write_report(cases, out, title="Chaos run: kv", run_id=7,
                         command="lab chaos kv --impl redis,ours")
    return {"cases": cases, "out": out, "index": index, "html": index.read_text(),
            "md": (out / "index.md").read_text(), "ok_history": ok_history,
            "bad_history": bad_history}


# --------------------------------------------------------------------------- pure helpers


def hand_history() -> tuple[History, list[tuple[float, str, str]]]:
    """A small history and its completions as (time, type, f)."""
    h = History()
    plan = [(0, "add", 0.00, 0.10, "ok"), (1, "read", 0.20, 0.45, "ok"),
            (0, "add", 0.30, 0.40, "ok"), (0, "add", 1.10, 1.20, "ok"),
            (1, "add", 1.50, 1.70, "fail"), (2, "read", 1.00, 2.30, "info"),
            (1, "add", 2.60, 2.65, "ok")]
    completions = []
    for process, f, start, end, outcome in plan:
        inv = h.invoke(process, f, "k", 1 if f == "add" else None, time=T0 + start)
        h.complete(inv, outcome, time=T0 + end)
        completions.append((end, outcome, f))
    h.invoke(0, "read", "k", time=T0 + 2.8)  # never completes: not counted
    return h, completions


@pytest.mark.parametrize("bucket", [1.0, 0.5])
def test_throughput_series_counts_completions_per_bucket(bucket: float) -> None:
    h, completions = hand_history()
    series = throughput_series(h, T0, bucket)
    ok_fs = {f for _t, o, f in completions if o == "ok"}
    assert len(ok_fs) > 1  # so ok is split by f
    labels = [f"ok {f}" for f in sorted(ok_fs)] + ["fail", "info"]
    assert list(series) == labels
    last = max(math.floor(t / bucket) for t, _o, _f in completions)
    for label in labels:
        outcome, _, f = label.partition(" ")
        expected = [0] * (last + 1)
        for t, o, fn in completions:
            if o == outcome and (not f or fn == f):
                expected[math.floor(t / bucket)] += 1
        assert [x for x, _ in series[label]] == pytest.approx(
            [(i + 0.5) * bucket for i in range(last + 1)])
        assert [rate * bucket for _, rate in series[label]] == pytest.approx(expected)
    total = sum(rate * bucket for points in series.values() for _, rate in points)
    assert total == pytest.approx(len(completions))


def test_throughput_series_single_f_and_empty() -> None:
    h = History()
    for i in range(4):
        inv = h.invoke(0, "add", None, i, time=T0 + i * 0.3)
        h.complete(inv, "ok", time=T0 + i * 0.3 + 0.01)
    series = throughput_series(h, T0, 0.5)
    assert list(series) == ["ok"]
    assert sum(r * 0.5 for _, r in series["ok"]) == pytest.approx(4)
    assert throughput_series(History(), T0, 0.5) == {}
    with pytest.raises(ValueError):
        throughput_series(h, T0, 0)


def test_latency_points_and_bucket_size() -> None:
    h, completions = hand_history()
    points = latency_points(h, T0)
    assert [o for _t, _lat, o in points] == [o for _t, o, _f in completions]
    assert [t for t, _lat, _o in points] == pytest.approx([t for t, _o, _f in completions])
    pairs = [(inv, done) for inv, done in h.pairs() if done is not None]
    assert [lat for _t, lat, _o in points] == pytest.approx(
        [done.time - inv.time for inv, done in pairs])
    assert bucket_size(60.0) == pytest.approx(60.0 / 100)
    assert bucket_size(1.0) == MIN_BUCKET
    assert bucket_size(0.0) == MIN_BUCKET


def test_fault_spans_follow_the_schedule(run: dict) -> None:
    redis, ours = run["cases"][:2]
    end = plot_end(ours, run["bad_history"])
    last_event = max(op.time for op in run["bad_history"]) - T0
    assert end == pytest.approx(max(ours.duration, last_event))
    spans = fault_spans(ours, end)
    assert spans == [(f.start, f.end if f.end is not None else end, f.nemesis)
                     for f in ours.faults]
    assert spans[1][1] == end  # never healed: shaded to the end of the plot
    # the skipped fault is a dashed mark, not a span
    assert fault_spans(redis, 10.0) == [(3.0, 3.4, "kill")]
    assert skipped_marks(redis) == [(4.0, "partition", "needs CAP_NET_ADMIN")]


def test_verdict_labels_and_comparison_cells(run: dict) -> None:
    redis, ours, missing, error = run["cases"]
    assert [verdict_label(c) for c in run["cases"]] == ["valid", "INVALID", "unknown", "error"]
    assert comparison_cells(ours) == ["INVALID", "acked 110 · lost 16", "lost window 0.92 s",
                                      "faults 2 applied / 0 skipped"]
    assert comparison_cells(redis)[1:] == ["acked 120 · lost 0", "lost window –",
                                           "faults 1 applied / 1 skipped"]
    assert comparison_cells(error)[1:3] == ["acked – · lost –", "lost window –"]


# --------------------------------------------------------------------------- rendering


def test_timeline_png(run: dict) -> None:
    ours = run["cases"][1]
    png = timeline(ours, run["bad_history"])
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.size == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
    # an empty history still draws
    empty = timeline(ours, History())
    assert empty.startswith(PNG_SIGNATURE)


def test_report_files(run: dict) -> None:
    out: Path = run["out"]
    assert run["index"] == out / "index.html"
    assert (out / "index.md").is_file()
    for name in ("redis-kill-primary.png", "ours-kill-primary.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert Image.open(io.BytesIO(data)).size == (round(FIGSIZE[0] * DPI),
                                                     round(FIGSIZE[1] * DPI))
    assert sorted(p.name for p in out.glob("*.png")) == ["ours-kill-primary.png",
                                                        "redis-kill-primary.png"]


def test_html_embeds_timelines_and_escapes_data(run: dict) -> None:
    html = run["html"]
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(embedded) == 2
    assert all(base64.b64decode(b).startswith(PNG_SIGNATURE) for b in embedded)
    assert "<script" not in html
    assert escape(SCRIPT) in html and "&lt;script&gt;" in html
    assert "src=\"redis-kill-primary.png\"" not in html  # self-contained
    for case in run["cases"]:
        assert escape(case.replay) in html
        assert f"<dd>{case.seed}</dd>" in html
        assert escape(case.description) in html
    assert "Chaos run: kv" in html and "run #7" in html
    assert "lab chaos kv --impl redis,ours" in html
    assert "server binary not found" in html
    assert escape("37 faults -> 2 (23 replays)") in html and "128 ops -&gt; 40" in html
    assert "needs CAP_NET_ADMIN" in html and "never healed" in html
    assert "gave up after 10 s" in html
    assert f"({MAX_ANOMALIES} of " in html  # anomalies capped


def test_html_comparison_table(run: dict) -> None:
    html = run["html"]
    table = html.split('id="comparison"', 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>(.*?)</th>", table.split("</tr>", 1)[0])
    assert header == ["scenario", "redis", "ours"]  # impls in first-seen order
    rows = table.split("</tr>")[1:-1]
    assert [re.search(r"<th>(.*?)</th>", r).group(1) for r in rows] == ["kill-primary",
                                                                          "truncate-aof"]
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows]
    assert "acked 120 · lost 0" in cells[0][0] and "valid" in cells[0][0]
    assert "acked 110 · lost 16" in cells[0][1] and "INVALID" in cells[0][1]
    assert "lost window 0.92 s" in cells[0][1]
    assert "faults 1 applied / 1 skipped" in cells[0][0]
    assert "unknown" in cells[1][0] and "acked – · lost –" in cells[1][0]
    assert "error" in cells[1][1]


def test_missing_history_note(run: dict) -> None:
    html, md = run["html"], run["md"]
    assert html.count("No history recorded") == 2  # missing case and the error case
    assert md.count("No history recorded") == 2
    missing_section = html.split('id="case-3"', 1)[1].split("</section>", 1)[0]
    assert "No history recorded" in missing_section and "<img" not in missing_section


def md_tables(md: str) -> list[list[str]]:
    tables, current = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_markdown(run: dict) -> None:
    md = run["md"]
    assert md.startswith("# Chaos run: kv")
    assert "![timeline of kill-primary on redis](redis-kill-primary.png)" in md
    assert "(ours-kill-primary.png)" in md
    assert "a\\|b" in md and " a|b " not in md
    assert "\\<script>" in md and not re.search(r"(?<!\\)<script", md)
    for case in run["cases"]:
        assert case.replay in md
    tables = md_tables(md)
    assert tables
    for table in tables:  # escaped pipes keep every row at the header's width
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table
    comparison = tables[0]
    assert comparison[0] == "| scenario | redis | ours |"
    assert "acked 110 · lost 16" in comparison[2] and "acked 120 · lost 0" in comparison[2]


def test_unreadable_history_and_empty_run(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "history.jsonl").write_text('{"process": 0}\nnot json\n')
    case = Case(system="kv", impl="x", scenario="y", description="", seed=1, duration=1.0,
                t0=0.0, folder=str(folder))
    index = write_report([case], tmp_path / "out", title="t")
    html = index.read_text()
    assert "History unreadable" in html and "<img" not in html
    assert "History unreadable" in (tmp_path / "out" / "index.md").read_text()
    empty = write_report([], tmp_path / "empty", title="nothing")
    assert "No cases in this run" in empty.read_text()



def test_a_saved_case_keeps_the_first_anomalies_and_counts_every_one(tmp_path: Path) -> None:
    """A crash that loses thousands of writes must not make every save (case.json, the store,
    --json) copy and write each lost element's operations: the record keeps the first
    KEPT_ANOMALIES per verdict, the count stays exact, and the report says "10 of N"."""
    from lab.chaos.results import KEPT_ANOMALIES, load_case

    history = set_history(crash=3.0)
    found = 3 * KEPT_ANOMALIES + 7
    verdict = Verdict("set-full", False, f"invalid: {found} lost", stats={
        "lost": found, "lost_elements": list(range(found))}, anomalies=[
        {"kind": "lost", "explanation": f"element {i} vanished",
         "ops": [{"process": i % 3, "f": "add", "key": "s", "value": i, "type": "ok"}]}
        for i in range(found)])
    case = make_case(tmp_path, "ours", "crash", history=history, seed=5, faults=[],
                     verdicts=[verdict], stats={"lost": verdict.stats["lost"]})
    case.save()
    saved = load_case(Path(case.folder)).verdicts[0]
    assert saved.anomalies == verdict.anomalies[:KEPT_ANOMALIES]
    assert saved.omitted == found - KEPT_ANOMALIES and saved.total_anomalies == found
    assert saved.stats["lost_elements"] == verdict.stats["lost_elements"]  # every one
    assert len(verdict.anomalies) == found  # the verdict in memory is left whole
    html = write_report([load_case(Path(case.folder))], tmp_path / "out", title="t").read_text()
    assert f"({MAX_ANOMALIES} of {found} shown)" in html
    assert saved.to_dict(None)["omitted"] == found - KEPT_ANOMALIES  # a reloaded one re-saves


def test_tolerated_failures_are_labelled_as_expected() -> None:
    from lab.chaos.report import verdict_label

    case = Case("kvstore", "redis", "crash-everysec", "", 1, 5.0, 0.0, "/nowhere",
                verdicts=[Verdict("set-full", False, "lost 12"),
                          Verdict("recovery", True, "serving")], tolerated=["set-full"])
    assert verdict_label(case) == "expected: set-full invalid"
    case.tolerated = []
    assert verdict_label(case) == "INVALID"
    case.verdicts[0] = Verdict("set-full", True, "fine")
    assert verdict_label(case) == "valid"


def test_a_finished_case_gzipped_history_is_drawn(tmp_path: Path) -> None:
    from lab.chaos.history import compress

    history = set_history(crash=None)
    case = make_case(tmp_path, "ours", "kill", history=history, seed=3, faults=[],
                     verdicts=[setfull_check(history)], stats={"acked": 1, "lost": 0})
    compress(Path(case.folder) / "history.jsonl")
    page = write_report([case], tmp_path / "out", title="gz")
    assert (page.parent / "ours-kill.png").exists()
    assert "No history recorded" not in page.read_text()
