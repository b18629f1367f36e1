"""`lab ci` and `lab bisect` on a small git repository of the toy plugin whose history holds a
real slowdown (commit "slow": toy_finish 64 times slower), and on the working tree (A/A)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ci.test_workflow import workflow_ci_argv

from labtest import TOY_PLUGINS

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "regression.yml"
SUBJECTS = ("start", "docs", "slow", "more docs")


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), "-c", "user.name=lab", "-c",
                          "user.email=lab@example.invalid", *args], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def toy_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A repository holding the toy plugin: start, docs, slow, more docs (HEAD), and a branch
    `broken` whose C does not compile; returns it and the four commits, oldest first."""
    repo = tmp_path_factory.mktemp("toy-repo")
    shutil.copytree(TOY_PLUGINS / "toy", repo / "toy",
                    ignore=shutil.ignore_patterns("__pycache__"))
    _git(repo, "init", "-q", "-b", "main")
    commits = []
    toy_c = repo / "toy" / "targets" / "toy.c"
    for subject in SUBJECTS:
        if subject == "slow":
            toy_c.write_text("#define TOY_SLOW_FINISH 1\n" + toy_c.read_text())
        else:
            (repo / "NOTES").write_text(f"{subject}\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", subject)
        commits.append(_git(repo, "rev-parse", "HEAD"))
    _git(repo, "checkout", "-q", "-b", "broken")
    toy_c.write_text(toy_c.read_text() + "\nthis is not C;\n")
    _git(repo, "commit", "-q", "-am", "broken")
    _git(repo, "checkout", "-q", "main")
    return repo, commits


@pytest.fixture
def in_repo(toy_repo: tuple[Path, list[str]]) -> dict:
    """Environment running the lab with the toy repository as its checkout."""
    repo, _ = toy_repo
    return {"LAB_HOME": str(repo), "LAB_PLUGIN_PATH": str(repo)}


def _doc(res) -> dict:  # noqa: ANN001
    try:
        return res.json()
    except json.JSONDecodeError:
        raise AssertionError(f"exit {res.code}: {res.err[-3000:]}") from None


def _rows(doc: dict, metric: str) -> list[dict]:
    return [r for r in doc["rows"] if r["metric"] == metric and r["impl"] == "fast"]


def test_first_run_is_the_baseline_of_the_next(run_lab, in_repo: dict,
                                              toy_repo: tuple[Path, list[str]]) -> None:
    """The workflow's own command line, restricted to the toy: no history, so nothing is
    compared; the second run compares with the first run's commit."""
    argv = workflow_ci_argv(WORKFLOW)
    assert argv[0] == "ci" and "--json" in argv
    restrict = ["--systems", "toy", "--impl", "fast", "--channel", "instructions", "--no-fuzz"]
    first = run_lab(*argv, *restrict, env=in_repo)
    doc = _doc(first)
    assert first.code == 0 == doc["status"]
    assert doc["baseline"] == {"commit": None, "source": "none (first run)"}
    assert doc["rows"] == [] and "this run is the baseline" in doc["notes"][0]
    assert Path(doc["summary"]).read_text().startswith("# lab ci: ok")
    assert Path(doc["report"]).is_file()
    second = _doc(run_lab(*argv, *restrict, env=in_repo))
    assert second["status"] == 0
    assert second["baseline"] == {"commit": toy_repo[1][-1], "source": "previous ci run"}
    (instr,) = _rows(second, "vg_instructions")
    assert instr["verdict"] == "no change" and instr["ratio"] == 1.0


def test_a_real_slowdown_fails_the_check(run_lab, in_repo: dict,
                                        toy_repo: tuple[Path, list[str]]) -> None:
    res = run_lab("ci", "--baseline", "HEAD~2", "--systems", "toy", "--impl", "fast",
                  "--no-fuzz", "--rounds", "3", "--max-rounds", "3", "--reps", "2", "--json",
                  env=in_repo)
    doc = _doc(res)
    assert res.code == 1 == doc["status"]
    assert doc["baseline"]["commit"] == toy_repo[1][1] and not doc["current"]["dirty"]
    (rate,) = _rows(doc, "rate")
    assert rate["verdict"] == "regression" and rate["channel"] == "wall"
    assert rate["ci_high"] < 1 - rate["band"] and rate["qvalue"] < 0.05
    assert rate["n"] == [6, 6] and rate["calibrated"] is False
    (instr,) = _rows(doc, "vg_instructions")
    assert instr["verdict"] == "regression" and instr["change"] > 0.5
    summary = Path(doc["summary"]).read_text()
    assert summary.startswith("# lab ci: FAILED: 2 regression(s)")
    assert "toy sum [n=4000] fast rate" in summary and "min detectable" in summary
    assert "profile diff" in summary and "toy_finish" in summary
    # HEAD~1 is already slow: nothing changed since
    same = _doc(run_lab("ci", "--baseline", "HEAD~1", "--systems", "toy", "--impl", "fast",
                        "--no-fuzz", "--channel", "instructions", "--json", env=in_repo))
    assert same["status"] == 0 and same["regressions"] == []


def test_a_baseline_that_does_not_build_exits_2(run_lab, in_repo: dict) -> None:
    res = run_lab("ci", "--baseline", "broken", "--systems", "toy", "--no-fuzz", "--json",
                  env=in_repo)
    doc = _doc(res)
    assert res.code == 2 == doc["status"] and doc["rows"] == []
    assert doc["baseline_problems"][0].startswith("baseline does not build toy:")
    assert "baseline does not build: nothing compared" in Path(doc["summary"]).read_text()


def test_bad_command_lines_get_one_line_errors(run_lab, in_repo: dict) -> None:
    for args, words in ((("--baseline", "no-such-ref"), "is not a commit"),
                        (("--current-env", "NOVALUE"), "is not NAME=VALUE"),
                        (("--systems", "nope"), "unknown system 'nope'"),
                        (("--calibrate", "2", "--baseline", "HEAD"), "takes no --baseline")):
        res = run_lab("ci", *args, env=in_repo, timeout=60)
        lines = [line for line in res.err.splitlines() if line.strip()]
        assert res.code == 2 and len(lines) == 1 and words in lines[0], (args, res.err)


def test_bisect_finds_and_confirms_the_slow_commit(run_lab, in_repo: dict,
                                                   toy_repo: tuple[Path, list[str]]) -> None:
    commits = toy_repo[1]
    res = run_lab("bisect", "toy", "--workload", "sum", "--impl", "fast", "--good", commits[0],
                  "--bad", "HEAD", "--metric", "vg_instructions", "--json", env=in_repo)
    doc = _doc(res)
    assert res.code == 0, doc
    assert doc["culprit"] == commits[2] and doc["culprit_subject"] == "slow"
    assert doc["candidates"] == 3 and [s["verdict"] for s in doc["steps"]] == ["bad", "good"]
    assert doc["confirmation"]["verdict"] == "regression"
    # on wall time, one candidate: measured against its parent, then confirmed
    wall = run_lab("bisect", "toy", "--workload", "sum", "--impl", "fast", "--good", "HEAD~2",
                   "--bad", "HEAD~1", "--rounds", "2", "--reps", "2", env=in_repo)
    assert wall.code == 0, wall.err
    assert f"culprit: {commits[2][:10]} slow (confirmed against its parent: -" in wall.out


def test_calibrated_a_a_check_reports_nothing(run_lab) -> None:
    """A/A runs of the working tree give each benchmark a noise band; a check of identical
    builds against those bands finds no change."""
    common = ("--systems", "toy", "--impl", "fast", "--channel", "wall", "--reps", "3")
    cal = run_lab("ci", "--calibrate", "3", "--rounds", "2", *common, "--json")
    assert cal.code == 0, cal.err
    doc = cal.json()
    bands = {json.loads(b["bench"])[3]: b for b in doc["bands"]}
    rate = bands["rate"]
    assert len(rate["aa_ratios"]) == 3 and 0.005 <= rate["half_width"] < 0.5
    assert rate["min_detectable"] >= rate["half_width"]
    assert "checksum" not in bands  # deterministic: judged exactly, no band
    assert len(doc["false_alarms"]) == 3 and doc["exact_changes"] == []
    assert "A/A runs" in Path(doc["summary"]).read_text()
    res = run_lab("ci", "--baseline", ".", "--no-fuzz", "--rounds", "3", "--max-rounds", "3",
                  *common, "--json")
    check = _doc(res)
    assert res.code == 0 == check["status"] and check["regressions"] == []
    (row,) = [r for r in check["rows"] if r["metric"] == "rate"]
    assert row["calibrated"] is True and row["band"] == pytest.approx(rate["half_width"])
    assert row["verdict"] == "no change"


def test_only_crashes_the_baseline_lacks_are_new(run_lab) -> None:
    """The baseline is built with the parser fixed: the parser's crash is new."""
    res = run_lab("ci", "--baseline", ".", "--baseline-env", "TOY_CFLAGS=-DTOY_FIXED_PARSE",
                  "--systems", "toy", "--impl", "fast", "--channel", "instructions",
                  "--budget", "0.5", "--json", timeout=600)
    doc = _doc(res)
    assert res.code == 1 == doc["status"] and doc["regressions"] == []
    fuzz = {t["target"]: t for t in doc["fuzz"]}
    assert set(fuzz) == {"parse", "differential", "harness"}
    assert all(5 <= t["seconds"] <= 30 for t in fuzz.values())
    parse = fuzz["parse"]["crashes"]
    assert parse and all(c["verdict"] == "new" for c in parse)
    assert "runs cleanly on the baseline" in parse[0]["note"]
    ids = [c["id"] for t in doc["fuzz"] for c in t["crashes"]]
    assert len(ids) == len(set(ids))
    assert "new crash(es)" in Path(doc["summary"]).read_text()


def test_a_crash_is_old_only_if_the_baseline_crashes_alike(lab_env: dict) -> None:
    """Replays of the planted overflow: the same crash on a baseline with the same bug, none
    on one with the parser fixed, another one when the signature differs."""
    import os

    from lab.ci import fuzzgate, trees
    from lab.ci.measure import Side

    record = b"LAB!" + bytes([60]) + b"abc"
    sig = "heap-buffer-overflow: toy_checksum < toy_parse"
    repo = trees.repository()
    same = Side(trees.working(repo, "baseline"), Path(lab_env["LAB_STORE"]), dict(os.environ))
    assert fuzzgate._replay_on_baseline(same, "toy", "parse", record, sig) == (fuzzgate.OLD, "")
    verdict, note = fuzzgate._replay_on_baseline(same, "toy", "parse", record, "other: f < g")
    assert verdict == fuzzgate.NEW and note == f"the baseline crashes differently: {sig}"
    fixed = trees.working(repo, "baseline")
    fixed.env = {"TOY_CFLAGS": "-DTOY_FIXED_PARSE"}
    side = Side(fixed, Path(lab_env["LAB_STORE"]), dict(os.environ))
    assert fuzzgate._replay_on_baseline(side, "toy", "parse", record, sig) == (
        fuzzgate.NEW, "runs cleanly on the baseline")
