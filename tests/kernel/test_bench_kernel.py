"""`lab bench kernel` end to end: both kernels boot under QEMU, the figures come from their
serial consoles, and the report carries our kernel's VGA screenshot and the serial logs."""

from __future__ import annotations

from pathlib import Path


def test_bench_boots_both_kernels_and_reports_side_by_side(run_lab, lab_env: dict) -> None:  # noqa: ANN001
    res = run_lab("bench", "kernel", "--quick", "--reps", "1", "-w", "boot", "-w", "syscall",
                  "--json", timeout=600)
    assert res.code == 0, res.err
    doc = res.json()
    rows = {(r["impl"], r["workload"], r["metric"]): r for r in doc["results"]}
    assert all(r["status"] == "ok" for r in rows.values()), [
        (k, r["status"], r.get("note")) for k, r in rows.items() if r["status"] != "ok"]
    for impl in ("kernel", "linux"):
        # getpid from user mode: tens to a few thousand guest instructions per round trip
        assert 20 < rows[(impl, "syscall", "insns")]["median"] < 5000
        assert rows[(impl, "syscall", "guest_ns")]["median"] > 0
        assert 0 < rows[(impl, "boot", "ready_ms")]["median"] < 60_000
        assert rows[(impl, "boot", "ready_insns")]["median"] > 1e6  # firmware included
    compared = {(c["workload"], c["metric"]) for c in doc["comparisons"]
                if c["impl"] == "kernel" and c["baseline"] == "linux"}
    assert {("syscall", "insns"), ("boot", "ready_ms")} <= compared

    report = Path(lab_env["LAB_REPORTS"]) / "kernel" / str(doc["run_id"])
    shots = sorted(p.name for p in (report / "attachments").glob("*.png"))
    assert shots == ["kernel-boot-vga.png", "kernel-syscall-vga.png"]  # Linux: no VGA console
    from PIL import Image

    with Image.open(report / "attachments" / "kernel-syscall-vga.png") as img:
        low, high = img.convert("L").getextrema()
        assert img.size[0] >= 640 and low != high  # not a blank screen
    log = (report / "attachments" / "linux-syscall-serial.log").read_text()
    assert "LAB READY" in log and "KBENCH syscall iters=1000" in log
    html = (report / "index.html").read_text()
    assert 'id="attachments"' in html and "data:image/png;base64," in html
    assert "kernel-syscall-serial.log" in (report / "report.md").read_text()


def test_kvm_is_used_only_when_asked_for_and_usable(monkeypatch) -> None:  # noqa: ANN001
    import plugins.kernel as kernel

    assert kernel._supports("kernel", {"accel": "tcg"}) is None
    monkeypatch.setattr(kernel, "kvm_usable", lambda: False)
    why = kernel._supports("linux", {"accel": "kvm"})
    assert why is not None and "/dev/kvm" in why and "accel=tcg" in why
    monkeypatch.setattr(kernel, "kvm_usable", lambda: True)
    assert kernel._supports("linux", {"accel": "kvm"}) is None
    assert all(w.default.get("accel") == ("tcg",) for w in kernel.WORKLOADS)
