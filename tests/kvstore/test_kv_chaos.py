"""`lab chaos kvstore`: our server and redis-server under kills, crashes that lose unsynced
data, torn writes, a full disk, pauses, partitions and clock jumps; the test build that skips
fsync is caught, shrunk and replayed; whatever way a run ends, nothing is left behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labtest import ROOT

pytestmark = pytest.mark.slow


def _cases(doc: dict) -> dict[tuple[str, str], dict]:
    return {(c["impl"], c["scenario"]): c for c in doc["cases"]}


def _verdicts(case: dict) -> dict[str, dict]:
    return {v["checker"]: v for v in case["verdicts"]}


def test_fifty_kills_under_always_lose_nothing_on_either_server(run_lab) -> None:
    res = run_lab("chaos", "kvstore", "--scenario", "kill-always", "--quick", "--seed", "11",
                  "--json", timeout=400)
    assert res.code == 0, res.err[-3000:]
    doc = res.json()
    cases = _cases(doc)
    assert set(cases) == {("kvstore", "kill-always"), ("redis", "kill-always")}
    for case in cases.values():
        assert case["status"] == "ok", case["error"]
        applied = [f for f in case["faults"] if not f["skipped"]]
        assert len(applied) == 50 and {f["nemesis"] for f in applied} == {"kill"}
        assert case["stats"]["restarts"] == 50
        assert case["stats"]["lost"] == 0
        assert case["stats"]["acked"] > 1000
        verdicts = _verdicts(case)
        assert verdicts["set-full"]["valid"] is True
        assert verdicts["required"]["valid"] is True
        assert verdicts["recovery"]["valid"] is True
        assert case["replay"] == (f"lab chaos --replay {doc['run_id']} --impl {case['impl']} "
                                  "--scenario kill-always")
    html = Path(doc["report"]).read_text()
    table = html[html.index("<table"):html.index("</table>")]
    assert "kvstore" in table and "redis" in table  # the side-by-side comparison
    assert (Path(doc["report"]).parent / "kvstore-kill-always.png").exists()
    Path(doc["report"]).unlink()
    again = run_lab("report", "kvstore", "--run", str(doc["run_id"]), timeout=120)
    assert again.code == 0 and again.out.strip() == f"report: {doc['report']}", again.err
    assert "kill-always" in Path(doc["report"]).read_text()  # written again from the cases


def test_a_store_that_skips_fsync_is_caught_shrunk_and_replayed(run_lab) -> None:
    res = run_lab("chaos", "kvstore", "--impl", "kvstore-nofsync", "--scenario",
                  "crash-always", "--time", "3", "--seed", "3", "--shrink-replays", "5",
                  "--json", timeout=600)
    assert res.code == 1, res.err[-3000:]
    doc = res.json()
    assert doc["failed"] == ["kvstore-nofsync/crash-always"]
    case = doc["cases"][0]
    assert case["stats"]["lost"] > 0
    setfull = _verdicts(case)["set-full"]
    assert setfull["valid"] is False
    assert any(a["kind"] == "lost" for a in setfull["anomalies"])
    applied = [f for f in case["faults"] if not f["skipped"]]
    shrink = case["shrink"]
    match = re.match(r"(\d+) faults -> (\d+) \(", shrink["faults"])
    assert match, shrink
    assert int(match[1]) == len(applied) >= 2
    assert int(match[2]) == len(shrink["schedule"]) < len(applied)
    assert all(f["nemesis"] == "crash" for f in shrink["schedule"])
    assert re.match(r"\d+ ops -> \d+ \(", shrink["ops"])
    evidence = Path(shrink["evidence"])  # the smallest failing replay, kept
    assert (evidence / "history.jsonl.gz").exists()
    assert len(list(evidence.parent.iterdir())) == 1

    again = run_lab("chaos", "--replay", str(doc["run_id"]), "--json", timeout=300)
    assert again.code == 1, again.err[-3000:]
    replayed = again.json()["cases"][0]
    assert replayed["impl"] == "kvstore-nofsync"
    assert replayed["stats"]["lost"] > 0
    assert _verdicts(replayed)["set-full"]["valid"] is False
    assert len([f for f in replayed["faults"] if not f["skipped"]]) == len(shrink["schedule"])


def test_ours_survives_crashes_torn_writes_and_a_full_disk_under_always(run_lab) -> None:
    """Built with ASan and UBSan (the debug flavor): recovery code runs under the sanitizers."""
    res = run_lab("chaos", "kvstore", "--impl", "kvstore", "--scenario", "crash-always",
                  "--scenario", "torn-tail", "--scenario", "disk-full", "--quick",
                  "--flavor", "debug", "--seed", "5", "--json", timeout=600)
    assert res.code == 0, res.err[-3000:]
    cases = _cases(res.json())
    for (_impl, scenario), case in cases.items():
        assert case["status"] == "ok", case["error"]
        assert case["stats"]["lost"] == 0, (scenario, case["stats"])
        assert _verdicts(case)["recovery"]["valid"] is True
        applied = [f for f in case["faults"] if not f["skipped"]]
        if os.geteuid() == 0 or scenario != "disk-full":
            assert applied, (scenario, case["faults"])
    full = [f for f in cases[("kvstore", "disk-full")]["faults"] if not f["skipped"]]
    if full:
        assert all("filled the data disk" in f["effect"] and "freed" in f["effect"]
                   for f in full)
        assert cases[("kvstore", "disk-full")]["stats"]["fail"] > 0  # clear refusals
    torn = cases[("kvstore", "torn-tail")]["faults"]
    assert any("torn last write" in f["effect"] for f in torn)


def test_everysec_losses_are_counted_with_their_window(run_lab) -> None:
    res = run_lab("chaos", "kvstore", "--scenario", "crash-everysec", "--time", "5", "--seed",
                  "2", "--json", timeout=400)
    assert res.code == 0, res.err[-3000:]  # tolerated: the report says how much went
    for case in res.json()["cases"]:
        stats = case["stats"]
        assert stats["acked"] > 0 and stats["lost"] >= 0
        if stats["lost"]:
            assert stats["lost_window"] is not None and stats["lost_window"] >= 0
            assert _verdicts(case)["set-full"]["valid"] is False


def test_register_histories_stay_linearizable_under_pauses_and_kills(run_lab) -> None:
    res = run_lab("chaos", "kvstore", "--impl", "kvstore", "--scenario", "pause",
                  "--scenario", "kill-register", "--quick", "--seed", "9", "--json",
                  timeout=400)
    assert res.code == 0, res.err[-3000:]
    for case in res.json()["cases"]:
        verdicts = _verdicts(case)
        assert verdicts["linearizable"]["valid"] is True, verdicts["linearizable"]["summary"]
        assert verdicts["convergence"]["valid"] is True
        applied = [f for f in case["faults"] if not f["skipped"]]
        assert applied and all(f["effect"] for f in applied)
        if case["scenario"] == "kill-register":
            assert case["stats"]["info"] + case["stats"]["fail"] > 0  # the kills were felt


def test_partitions_and_clock_faults_apply_or_say_why_not(run_lab) -> None:
    res = run_lab("chaos", "kvstore", "--impl", "kvstore", "--scenario", "partition",
                  "--scenario", "clock", "--quick", "--seed", "4", "--json", timeout=400)
    assert res.code == 0, res.err[-3000:]
    cases = _cases(res.json())
    for case in cases.values():
        assert case["status"] == "ok", case["error"]
        assert _verdicts(case)["recovery"]["valid"] is True
        for f in case["faults"]:
            assert f["skipped"] or f["effect"], f
    parts = cases[("kvstore", "partition")]["faults"]
    if os.geteuid() == 0:
        assert any(not f["skipped"] and "cut off" in f["effect"] or "dropped" in f["effect"]
                   for f in parts)


def test_bad_command_lines_get_one_line_errors(run_lab) -> None:
    for args, words in ((("chaos", "kvstore", "--scenario", "nope"), "valid: kill-always"),
                        (("chaos", "kvstore", "--impl", "memcached"), "valid: kvstore"),
                        (("chaos", "compress"), "declares no chaos scenarios"),
                        (("chaos", "kvstore", "--flavor", "fast"), "unknown flavor 'fast'"),
                        (("chaos", "--replay", "999"), "no run 999"),
                        (("chaos",), "name a system")):
        res = run_lab(*args, timeout=60)
        assert res.code != 0
        lines = [line for line in res.err.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], (args, res.err)


# ---- nothing is left behind ------------------------------------------------------------

def _owner_file(cache: Path, pid: int) -> Path:
    return cache / "chaos" / "owners" / f"{pid}.json"


def _wait_for_server(cache: Path, lab: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = _owner_file(cache, lab.pid)
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError:
                data = {}
            if data.get("pids") and data.get("mounts"):
                return data
        assert lab.poll() is None, lab.stderr.read() if lab.stderr else ""
        time.sleep(0.1)
    raise AssertionError("the chaos run never started its server")


def _gone(pid: int, started: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return True
    return int(fields[19]) != started or fields[0] == "Z"


def _mounted(where: str) -> bool:
    return any(line.split()[1] == where for line in Path("/proc/mounts").read_text().splitlines())


def _start_long_run(lab_env: dict) -> subprocess.Popen:
    env = {**os.environ, **lab_env}
    return subprocess.Popen([sys.executable, "-m", "lab.cli", "chaos", "kvstore", "--impl",
                             "kvstore", "--scenario", "disk-full", "--time", "60",
                             "--no-shrink"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the disk-full scenario mounts a tmpfs (root)")
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_removes_its_server_and_mount(lab_env: dict, how: int) -> None:
    cache = Path(lab_env["LAB_CACHE"])
    lab = _start_long_run(lab_env)
    try:
        left = _wait_for_server(cache, lab)
        time.sleep(1.0)
        lab.send_signal(how)
        lab.wait(timeout=120)
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()
    for pid, started in left["pids"]:
        assert _gone(pid, started), f"server {pid} still runs"
    for where in left["mounts"]:
        assert not _mounted(where), f"{where} still mounted"
    assert not _owner_file(cache, lab.pid).exists()
    from lab.store import open_store

    store = open_store()
    run = store.runs("kvstore")[0]
    assert (run.kind, run.status) == ("chaos", "interrupted")
    (case,) = store.chaos_cases(run.id)
    assert case["status"] == "interrupted"
    from lab.chaos.history import read_jsonl

    assert len(read_jsonl(Path(case["folder"]) / "history.jsonl.gz")) > 0  # kept


@pytest.mark.skipif(os.geteuid() != 0, reason="the disk-full scenario mounts a tmpfs (root)")
def test_a_killed_run_is_cleaned_by_the_next_one(lab_env: dict, run_lab) -> None:
    cache = Path(lab_env["LAB_CACHE"])
    lab = _start_long_run(lab_env)
    try:
        left = _wait_for_server(cache, lab)
        lab.kill()
        lab.wait(timeout=30)
    finally:
        if lab.poll() is None:
            lab.kill()
    assert any(not _gone(pid, started) for pid, started in left["pids"])  # orphaned
    res = run_lab("chaos", "kvstore", "--impl", "kvstore", "--scenario", "bitflip", "--time",
                  "1", "--no-shrink", timeout=200)
    assert "killed process" in res.err and "unmounted" in res.err, res.out + res.err
    for pid, started in left["pids"]:
        assert _gone(pid, started)
    for where in left["mounts"]:
        assert not _mounted(where)
