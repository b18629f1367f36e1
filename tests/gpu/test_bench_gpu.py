"""`lab bench gpu --quick`: every implementation measured on every workload it offers (the
rest skipped with the reason), each memory-bound figure also as a fraction of the same
implementation's copy, GEMM compared with CLBlast, the device in the fingerprint, and a report
with the throughput charts; without an OpenCL platform the OpenCL rows are skipped with the
install command and the CPU rows still run."""

from __future__ import annotations

from pathlib import Path

IMPLS = {"opencl", "avx2", "numpy", "pyopencl", "clblast"}
MEMORY_BOUND = ("reduce", "scan", "histogram", "transpose")


def _rows(doc: dict) -> dict[tuple[str, str, str], dict]:
    return {(r["impl"], r["workload"], r["metric"]): r for r in doc["results"]}


def test_quick_bench_measures_every_implementation_against_copy(run_lab) -> None:
    res = run_lab("bench", "gpu", "--quick", "--reps", "2", "--json", timeout=900)
    assert res.code == 0, res.err[-3000:]
    doc = res.json()
    assert doc["system"] == "gpu" and doc["status"] == "ok"
    device = doc["fingerprint"]["data"]["extra"]["gpu"]["device"]
    assert device["platform"] and device["device"] and device["max_alloc_bytes"] > 0, device
    rows = _rows(doc)
    assert {impl for impl, _, _ in rows} == IMPLS
    for (impl, _, _), r in rows.items():
        if r["status"] == "skipped":
            assert f"{impl} offers no" in r["note"], r
            continue
        assert r["status"] == "ok", r
        assert r["median"] > 0 and r["n"] >= 2, r
    for impl in ("opencl", "avx2", "numpy"):  # ours and the baseline offer everything
        for workload in MEMORY_BOUND:
            fraction = rows[(impl, workload, "bandwidth_of_copy")]
            assert fraction["status"] == "ok" and fraction["unit"] == "fraction", fraction
            gbs = rows[(impl, workload, "bandwidth")]["median"]
            copy = rows[(impl, "copy", "bandwidth")]["median"]
            assert 0.2 < fraction["median"] / (gbs / copy) < 5, (fraction, gbs, copy)
        assert rows[(impl, "gemm", "gflops")]["status"] == "ok"
    assert rows[("clblast", "gemm", "gflops")]["status"] == "ok"
    gemm = [c for c in doc["comparisons"] if c["workload"] == "gemm"]
    assert gemm and all(c["baseline"] == "clblast" for c in gemm)
    html = Path(doc["report"]).read_text()
    assert "bandwidth_of_copy" in html and "GFLOP/s" in html


def test_without_an_opencl_platform_the_opencl_rows_say_how_to_install_one(
        run_lab, tmp_path: Path) -> None:
    """No ICD registered (an empty vendors folder): the three OpenCL implementations are
    skipped with the install command; the CPU ones are measured."""
    res = run_lab("bench", "gpu", "--quick", "--reps", "1", "--workload", "reduce", "--json",
                  env={"OCL_ICD_VENDORS": str(tmp_path)}, timeout=600)
    assert res.code == 0, res.err[-3000:]
    doc = res.json()
    assert "device" not in doc["fingerprint"]["data"]["extra"]["gpu"]
    for r in doc["results"]:
        if r["impl"] in ("opencl", "pyopencl", "clblast"):
            assert r["status"] == "skipped", r
            assert "no OpenCL platform" in r["note"], r
            assert "install with apt-get install -y pocl-opencl-icd" in r["note"], r
        elif r["workload"] == "reduce" and r["metric"] == "bandwidth":
            assert r["status"] == "ok", r
    assert {r["workload"] for r in doc["results"]} == {"reduce", "copy"}


def test_the_instruction_channel_counts_the_cpu_implementations_only(run_lab) -> None:
    """Under callgrind, the CPU implementations get instruction counts; the OpenCL ones,
    whose work runs on the device, are skipped with the reason (not run under valgrind)."""
    res = run_lab("bench", "gpu", "--quick", "--metric", "instructions", "--workload", "reduce",
                  "--json", timeout=600)
    assert res.code == 0, res.err[-3000:]
    rows = _rows(res.json())
    for impl in ("avx2", "numpy"):
        assert rows[(impl, "reduce", "vg_instructions")]["status"] == "ok"
        assert rows[(impl, "reduce", "vg_instructions")]["median"] > 1 << 18  # 2^20 floats
    for impl in ("opencl", "pyopencl", "clblast"):
        row = rows[(impl, "reduce", "vg_instructions")]
        assert row["status"] == "skipped" and "runs its work on an OpenCL device" in row["note"]
