"""`lab profile` end to end on the toy system: flame graphs with the core's C frames, a
profile diff that finds a function slowed on purpose (sampled and instruction profiles), a
crash under the profiler, and the report's Profiles section."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.profile import samplers

SLOW = {"TOY_CFLAGS": "-DTOY_SLOW_FINISH"}


def _profile(run_lab, *args: str, env: dict | None = None) -> dict:
    res = run_lab("profile", "toy", "--impl", "fast", "--param", "n=16000", "--duration", "2",
                  "--json", *args, env=env)
    assert res.code == 0, res.err
    return res.json()


def test_profile_writes_a_flame_graph_with_the_cores_c_functions(run_lab, lab_env) -> None:
    doc = _profile(run_lab)
    assert doc["source"] == "py-spy" and doc["samples"] > 50 and doc["calls"] > 100
    assert doc["note"] is None
    names = [t["name"] for t in doc["top"]]
    assert any(n.startswith("toy_sum (toy.c") for n in names), names
    svg = Path(doc["files"]["svg"])
    titles = [t.text for t in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("toy_sum (toy.c)") for t in titles)
    assert any("(lab/profile/child.py)" in t for t in titles)  # Python frames with the C ones
    speedscope = json.loads(Path(doc["files"]["speedscope"]).read_text())
    assert speedscope["profiles"][0]["type"] == "sampled"
    html = Path(doc["files"]["html"]).read_text()
    assert 'id="top-functions"' in html and "toy_sum (toy.c)" in html
    res = run_lab("runs", "toy")
    assert f"{doc['run_id']:>5}  toy        profile ok" in res.out


def _first(diff: list[dict]) -> dict:
    assert len(diff) == 1
    return diff[0]["rows"][0]


@pytest.mark.slow
def test_profile_diff_finds_the_function_made_slower(run_lab) -> None:
    before = _profile(run_lab)["run_id"]
    after = _profile(run_lab, env=SLOW)["run_id"]
    res = run_lab("profile", "--diff", str(before), str(after), "--json")
    assert res.code == 0, res.err
    top = _first(res.json())
    assert top["name"].startswith("toy_finish (toy.c")
    assert top["share_delta"] > 0.2 and top["after_share"] > top["before_share"]
    assert Path(res.json()[0]["files"]["svg"]).exists()  # the differential flame graph
    text = run_lab("profile", "--diff", str(before), str(after))
    assert text.code == 0 and "toy_finish" in text.out.splitlines()[2]


@pytest.mark.slow
def test_instruction_profiles_diff_in_absolute_instructions(run_lab) -> None:
    runs = []
    for env in (None, SLOW):
        res = run_lab("bench", "toy", "--quick", "--metric", "instructions", "--impl", "fast",
                      "--json", "--no-report", env=env)
        assert res.code == 0, res.err
        runs.append(str(res.json()["run_id"]))
    res = run_lab("profile", "--diff", *runs, "--json")
    assert res.code == 0, res.err
    top = _first(res.json())
    assert top["name"].startswith("toy_finish ")
    # 64 times the mixing rounds: n * 63 / 32 more iterations of a few instructions each
    assert top["delta"] > 4000 * 63 / 32 * 2, top
    profiled = _profile(run_lab)["run_id"]
    mixed = run_lab("profile", "--diff", runs[0], str(profiled))
    assert mixed.code == 2 and "a diff compares one channel" in mixed.err


def test_a_workload_that_crashes_keeps_its_partial_profile(run_lab) -> None:
    doc = _profile(run_lab, env={"TOY_CRASH_AFTER": "2000"})
    assert doc["note"] and doc["note"].startswith("partial profile: the workload failed")
    assert doc["samples"] > 0 and Path(doc["files"]["svg"]).exists()


def test_missing_py_spy_names_the_install_command(monkeypatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(samplers.ProfilerError, match=r"py-spy is not installed; install it "
                                                      r"with: pip install py-spy"):
        samplers.check("py-spy")
    with pytest.raises(samplers.ProfilerError, match="apt-get install linux-perf"):
        samplers.check("perf")


def test_bad_command_lines_get_one_line_errors(run_lab) -> None:
    res = run_lab("profile", "toy", "--workload", "nope")
    assert res.code == 2 and "unknown workload 'nope'; valid: sum" in res.err
    res = run_lab("profile")
    assert res.code == 2 and "name a system to profile" in res.err
    res = run_lab("profile", "--diff", "1", "2")
    assert res.code == 1 and "no run 1" in res.err


def test_the_bench_report_shows_the_latest_profile(run_lab) -> None:
    _profile(run_lab)
    res = run_lab("bench", "toy", "--quick", "--json")
    assert res.code == 0, res.err
    html = Path(res.json()["report"]).read_text()
    assert 'id="profiles"' in html and "data:image/svg+xml;base64," in html
    assert "toy_sum (toy.c)" in html


@pytest.mark.parametrize(("system", "sampler"), [("toy", "py-spy"), ("kvstore", "perf")])
def test_interrupted_profile_leaves_no_process_behind(lab_env, system: str,
                                                      sampler: str) -> None:
    """Servers the profiled implementation started are closed too (kvstore's server)."""
    import os
    import signal
    import subprocess
    import time

    from labtest import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "profile", system, "--duration", "60"],
        env={**os.environ, **lab_env}, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _children(proc.pid, sampler):
        time.sleep(0.2)
    assert _children(proc.pid, sampler), f"{sampler} never started"
    time.sleep(1)
    proc.send_signal(signal.SIGINT)  # to the lab process only, as a CI cancel would
    proc.communicate(timeout=90)
    assert proc.returncode != 0
    time.sleep(0.5)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                 and lab_env["LAB_CACHE"].encode() in _cmdline(p)]
    assert not leftovers, [_cmdline(p) for p in leftovers]


def _cmdline(proc_dir: Path) -> bytes:
    try:
        return (proc_dir / "cmdline").read_bytes()
    except OSError:
        return b""


def _children(pid: int, name: str) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and name.encode() in _cmdline(p):
            out.append(int(p.name))
    return out
