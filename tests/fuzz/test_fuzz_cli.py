"""`lab fuzz`, `lab crashes`, `lab repro` and `lab doctor --fuzz` end to end, on the toy
plugin's targets: `parse` has a planted out-of-bounds read behind the 32-bit magic "LAB!"
(reachable only through libFuzzer's comparison feedback), `differential` compares the parser
with a Python reference that disagrees on "MM" payloads, `harness` has a bug in its Python."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.fuzz.preflight import _judge
from labtest import ROOT, TOY_PLUGINS

BUG = "heap-buffer-overflow: toy_checksum < toy_parse"


def _crashes(run_lab) -> list[dict]:  # noqa: ANN001
    res = run_lab("crashes", "toy", "--json")
    assert res.code == 0, res.err
    return res.json()


def test_finds_minimizes_dedups_and_reproduces_the_planted_bug(run_lab, lab_env) -> None:  # noqa: ANN001
    start = time.monotonic()
    first = run_lab("fuzz", "toy", "--target", "parse", "--time", "10", "--seed", "1",
                    "--json", timeout=110)
    assert first.code == 0, first.err
    [result] = first.json()
    new = [c for c in result["crashes"] if c["new"]]
    assert len(new) == 1 and new[0]["signature"] == BUG
    assert new[0]["reliability"] == 1.0
    assert new[0]["minimized_size"] is not None
    assert new[0]["minimized_size"] <= new[0]["input_size"]
    assert result["counters"] > 0 and result["cov"] > 0
    # the shallow bug is found again and again: after three crash exits the worker goes on in
    # libFuzzer's fork mode, whose crash files the engine picks up from the artifacts folder
    log = Path(lab_env["LAB_STORE"]).parent / "fuzz" / "toy" / "parse" / "logs" / "worker-0.log"
    if len(result["crashes"]) > 3:
        assert "fuzzing in separate process" in log.read_text()

    second = run_lab("fuzz", "toy", "--target", "parse", "--time", "5", "--seed", "2",
                     "--json", "--minimize-time", "0", timeout=60)
    assert second.code == 0, second.err
    again = second.json()[0]["crashes"]
    assert again and all(not c["new"] and c["id"] == new[0]["id"] for c in again)

    [row] = _crashes(run_lab)
    assert row["signature"] == BUG and row["kind"] == "heap-buffer-overflow"
    assert row["count"] >= 2 and row["status"] == "open"
    assert row["minimized_size"] <= 8  # "LAB!" + length + at most a few payload bytes

    repro = run_lab("repro", str(row["id"]))
    assert repro.code == 1, repro.err
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in repro.out
    assert f"reproduced: crash #{row['id']}" in repro.out
    elapsed = time.monotonic() - start
    print(f"planted bug: found, minimized, deduplicated and reproduced in {elapsed:.0f} s")
    assert elapsed < 120


def test_export_regression_then_replay_it_on_the_debug_build(run_lab, lab_env) -> None:  # noqa: ANN001
    res = run_lab("fuzz", "toy", "--target", "parse", "--time", "6", "--json",
                  "--minimize-time", "3", "--reliability-runs", "1", timeout=90)
    assert res.code == 0, res.err
    crash_id = res.json()[0]["crashes"][0]["id"]
    exported = run_lab("fuzz", "toy", "--export-regression", str(crash_id))
    assert exported.code == 0, exported.err
    regressions = Path(lab_env["LAB_CORPORA"]) / "toy" / "parse" / "regressions"
    [path] = [p for p in regressions.iterdir() if p.suffix != ".md"]
    assert path.read_bytes().startswith(b"LAB!")
    assert f"crash #{crash_id}" in (regressions / "README.md").read_text()

    debug = run_lab("repro", str(path), "--flavor", "debug")  # target read from the path
    assert debug.code == 1
    assert "heap-buffer-overflow" in debug.out and f"crashed: {BUG}" in debug.out
    again = run_lab("repro", str(path))  # under libFuzzer, which writes crash files...
    assert again.code == 1 and f"crashed: {BUG}" in again.out
    assert sorted(p.name for p in regressions.iterdir()) == sorted([path.name, "README.md"])


def test_differential_mismatch_and_harness_error_are_told_apart(run_lab, tmp_path) -> None:  # noqa: ANN001
    mm = tmp_path / "mm"
    mm.write_bytes(b"LAB!\x02MM")
    res = run_lab("repro", str(mm), "--target", "toy/differential")
    assert res.code == 1
    assert "crashed: mismatch: outputs differ" in res.out

    agree = tmp_path / "agree"
    agree.write_bytes(b"LAB!\x02ab")
    assert run_lab("repro", str(agree), "--target", "toy/differential").code == 0

    ke = tmp_path / "ke"
    ke.write_bytes(b"KEx")
    res = run_lab("repro", str(ke), "--target", "toy/harness")
    assert res.code == 1
    assert "crashed: harness-error[KeyError]" in res.out


def test_bad_targets_get_one_line_errors(run_lab) -> None:  # noqa: ANN001
    res = run_lab("fuzz", "toy", "--target", "nope")
    assert res.code == 2
    assert "unknown fuzz target 'nope' for toy; valid: parse, differential, harness" in res.err
    hello = run_lab("fuzz", "hello", env={
        "LAB_PLUGIN_PATH": f"{TOY_PLUGINS}{os.pathsep}{ROOT / 'docs' / 'examples'}"})
    assert hello.code == 2
    assert "system 'hello' declares no fuzz targets; systems with fuzz targets:" in hello.err
    assert len(hello.err.strip().splitlines()) == 1
    assert run_lab("repro", "12345").code != 0


def test_missing_runtime_is_a_preflight_error_with_the_fix(run_lab) -> None:  # noqa: ANN001
    env = {"LAB_FUZZ_RUNTIME": "/nonexistent/asan_with_fuzzer.so"}
    doctor = run_lab("doctor", "--fuzz", "toy", env=env)
    assert doctor.code == 1
    assert "FAIL atheris runtime" in doctor.out and "fix: run `make setup`" in doctor.out
    fuzz = run_lab("fuzz", "toy", "--target", "parse", "--time", "5", env=env)
    assert fuzz.code == 1
    assert "fuzzing preflight: atheris runtime" in fuzz.err and "make setup" in fuzz.err


def test_doctor_fuzz_sees_native_coverage(run_lab) -> None:  # noqa: ANN001
    res = run_lab("doctor", "--fuzz", "toy", timeout=200)
    assert res.code == 0, res.out + res.err
    assert "ok   clang:" in res.out and "ok   atheris:" in res.out
    line = next(ln for ln in res.out.splitlines() if "toy/parse:" in ln)
    assert line.startswith("ok") and "counters" in line


def test_a_core_without_coverage_instrumentation_is_caught(lab_env) -> None:  # noqa: ANN001
    """The release build has no libFuzzer counters: the preflight must say so."""
    from lab import native
    from lab.fuzz import process
    from lab.host import get_host

    system = get_host().systems()["toy"]
    target = system.fuzz_target("parse")
    native.build(system, "toy", "release")
    env = process.environment(process.spec(system, target))  # the fuzz runtime...
    release = process.environment(process.spec(system, target, flavor="release"))
    env["LAB_FUZZ_SPEC"] = release["LAB_FUZZ_SPEC"]  # ...loading the uninstrumented build
    proc = subprocess.run([str(process.launcher()), "-runs=200", *process.base_flags(target)],
                          env=env, capture_output=True, text=True, timeout=120)
    check = _judge("toy/parse", proc.returncode, proc.stdout + proc.stderr)
    assert not check.ok and "no native coverage counters" in check.detail


def _cmdlines_naming(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(cmd)
    return found


def test_minimizing_stops_at_its_deadline_with_a_smaller_crash(lab_env, tmp_path) -> None:  # noqa: ANN001
    """libFuzzer's -minimize_crash bounds each reduction step, not the loop: every step that
    shrinks the input starts another process (this 14-byte harness error took 10 s at 1 s).
    The lab stops the whole process group at the deadline and keeps the smallest crash."""
    from lab.fuzz import crashes, process
    from lab.host import get_host

    system = get_host().systems()["toy"]
    target = system.fuzz_target("harness")
    crash, out = tmp_path / "crash", tmp_path / "minimized"
    crash.write_bytes(b"KE" + b"y" * 12)
    crashed, _, signature = crashes.reproduce(system, target, crash)
    assert crashed and signature.startswith("harness-error[KeyError]")
    start = time.monotonic()
    assert process.minimize(system, target, crash, out, 1)
    elapsed = time.monotonic() - start
    assert elapsed < process.minimize_deadline(1) + 2, elapsed
    assert _cmdlines_naming(str(out)) == []  # no reduction step left running
    small = out.read_bytes()
    assert len(small) < len(b"KE" + b"y" * 12) and small.startswith(b"KE")
    assert crashes.reproduce(system, target, out)[2] == signature


def test_ctrl_c_keeps_corpus_statistics_and_the_run(lab_env) -> None:  # noqa: ANN001
    env = {**os.environ, **lab_env}
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "fuzz", "toy", "--target",
                             "differential", "--time", "120", "--minimize-time", "0"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    from lab.store import open_store

    deadline = time.monotonic() + 60
    rows: list[dict] = []
    while time.monotonic() < deadline and len(rows) < 2:
        time.sleep(1)
        store = open_store()
        rows = store.fuzz_stats("toy", "differential")
        store.close()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "corpus, statistics and crashes kept" in err
    store = open_store()
    run = store.latest_run("toy", kind="fuzz")
    final = store.fuzz_stats("toy", "differential")
    store.close()
    assert run is not None and run.status == "interrupted"
    assert len(final) >= 2 and final[-1]["execs"] > 0
    corpus = Path(lab_env["LAB_STORE"]).parent / "fuzz" / "toy" / "differential" / "corpus"
    assert any(corpus.iterdir())


def test_merge_minimizes_and_promotes(run_lab, lab_env) -> None:  # noqa: ANN001
    res = run_lab("fuzz", "toy", "--target", "differential", "--time", "8",
                  "--minimize-time", "0", "--reliability-runs", "1", "--json", timeout=120)
    assert res.code == 0, res.err
    merged = run_lab("fuzz", "toy", "--target", "differential", "--merge", "--promote", "3")
    assert merged.code == 0, merged.err
    assert "toy/differential: corpus" in merged.out and "promoted" in merged.out
    seeds = Path(lab_env["LAB_CORPORA"]) / "toy" / "differential"
    promoted = [p for p in seeds.iterdir() if p.name.startswith("promoted-")]
    assert 1 <= len(promoted) <= 3
    assert all(p.name in (seeds / "README.md").read_text() for p in promoted)
    assert json.loads(run_lab("crashes", "--json").out) is not None
