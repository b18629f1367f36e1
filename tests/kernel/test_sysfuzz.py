"""The ``syscalls`` fuzz target (plugins/kernel/sysfuzz.py): programs of system calls run by
/bin/sysfuzz inside our kernel under QEMU (mode=fuzz, the program as -initrd).

Every boot takes about 0.1 s under TCG; the module boots about twenty.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lab.qemu import QemuResult
from plugins.kernel import sysfuzz as sf

SEEDS = Path(__file__).resolve().parents[2] / "corpora" / "kernel" / "syscalls"
KERNEL_PTR, EFAULT, ENOENT = 0x00100000, -14, -2


@pytest.fixture(scope="module")
def runner() -> sf.Runner:
    from lab import native
    from lab.host import get_host

    host = get_host()
    if "kernel" not in host.systems():
        raise RuntimeError(f"the kernel plugin did not load: {host.problems}")
    return sf.Runner(native.build(host.systems()["kernel"], sf.RECIPE, "release").path)


def test_records_encode_as_the_guest_reads_them() -> None:
    data = sf.encode([(sf.GETPID,), (sf.WRITE, 1, sf.scratch(5), -1)])
    assert len(data) == 2 * sf.RECORD_SIZE
    assert sf.decode(data + b"\x01\x02") == [(8, 0, 0, 0, 0, 0),
                                             (2, 1, 0xB0F00005, 0xFFFFFFFF, 0, 0)]
    assert len(sf.decode(data * 100)) == sf.MAX_RECORDS
    assert sf.string("/bin/true") == 0xB0F10000 and sf.scratch(0x2001) == 0xB0F00001
    assert sf.TARGET.max_len == 128 * 24 and sf.TARGET.invariants == (sf.kernel_survived,)


def test_committed_seeds_are_the_generated_ones() -> None:
    on_disk = {p.name: p.read_bytes() for p in SEEDS.glob("*.bin")}
    assert on_disk == sf.seed_programs()
    notes = (SEEDS / "README.md").read_text()
    assert all(f"`{name}`" in notes for name in on_disk)


def test_every_seed_runs_to_done(runner: sf.Runner) -> None:
    for name, data in sorted(sf.seed_programs().items()):
        out = runner.run(data)
        sf.kernel_survived(data, out)
        assert out.count("calls") is not None, (name, out.tail)
        assert any(line.endswith(" leaked_frames=0") for line in out.tail), out.tail


def test_bad_pointers_give_efault_and_no_panic(runner: sf.Runner) -> None:
    bad = [(KERNEL_PTR, 16), (0, 16), (0xFFFFFFF0, 0x20), (0xFFFFF000, 0x2000),
           (0xC0000000, 4), (0x7FFF0000, 16), (sf.scratch(0x100), 0xFFFFFFFF),
           (sf.scratch(0x1FF0), 0x40000000)]
    calls = [(sf.OPEN, sf.string("/etc/motd"))]
    for ptr, length in bad:
        calls += [(sf.WRITE, 1, ptr, length), (sf.READ, 3, ptr, length)]
    for ptr, _ in bad[:5]:  # sysfuzz skips spawn of a raw user address (0x7fff0000)
        calls += [(sf.OPEN, ptr), (sf.SPAWN, ptr, 0)]
        if ptr != 0:  # NULL is "no argument" to spawn and "no status" to wait
            calls += [(sf.SPAWN, sf.string(0), ptr), (sf.WAIT, 7, ptr)]
    data = sf.encode(calls)
    out = runner.run(data, trace=True)
    sf.kernel_survived(data, out)
    results = [r for _pid, i, _nr, r in out.results if i > 0]
    assert results == [EFAULT] * (len(calls) - 1), out.results
    assert out.count("efault") == len(calls) - 1 and out.count("errors") == len(calls) - 1


def test_pseudo_random_programs_survive(runner: sf.Runner) -> None:
    for seed in range(10):
        rng = random.Random(seed)
        data = sf.random_program(rng, rng.randrange(8, 64))
        out = runner.run(data)
        try:
            sf.kernel_survived(data, out)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}\n{data.hex()}") from None


def test_sysfuzz_does_not_run_the_program_again(runner: sf.Runner) -> None:
    """A copy spawned with "run" (read from the program's own tail) cannot open
    /dev/fuzzprog; nor can a forked child. Only one summary line appears."""
    calls = [(sf.OPEN, sf.string("/dev/fuzzprog")), (sf.READ, 3, sf.scratch(0), 4096),
             (sf.SPAWN, sf.string("/bin/sysfuzz"), sf.scratch(7 * sf.RECORD_SIZE)),
             (sf.WAIT, 0xFFFFFFFF, 0), (sf.FORK,), (sf.OPEN, sf.string("/dev/fuzzprog")),
             (sf.WAIT, 0xFFFFFFFF, 0)]
    data = sf.encode(calls) + b"run\0"
    out = runner.run(data, trace=True)
    sf.kernel_survived(data, out)
    assert sum("LAB FUZZ calls=" in line for line in out.tail) == 1
    by_call = {(pid, i): r for pid, i, _nr, r in out.results}
    root = out.results[0][0]
    assert by_call[(root, 1)] == len(data)  # the whole module, tail included
    assert by_call[(root, 2)] > 0 and by_call[(root, 3)] == by_call[(root, 2)]
    child = by_call[(root, 4)]
    assert child > 0 and by_call[(child, 5)] == ENOENT and by_call[(root, 5)] > 0


def test_console_text_cannot_fake_a_panic(runner: sf.Runner) -> None:
    fake = b"\nLAB PANIC fake\n"
    calls = [(sf.OPEN, sf.string("/dev/fuzzprog")), (sf.READ, 3, sf.scratch(0), 4096),
             (sf.WRITE, 1, sf.scratch(3 * sf.RECORD_SIZE), len(fake))]
    data = sf.encode(calls) + fake
    out = runner.run(data)
    assert "LAB PANIC fake" in out.tail and out.panic is None
    sf.kernel_survived(data, out)


def test_a_kernel_panic_is_a_finding(runner: sf.Runner) -> None:
    out = runner.run(b"", append="mode=panic")
    assert out.outcome == "exit" and out.exit_value == sf.EXIT_PANIC
    with pytest.raises(AssertionError) as info:
        sf.kernel_survived(b"", out)
    message = str(info.value)
    assert message.startswith("kernel panic: page fault in kernel")
    assert not any(ch.isdigit() for ch in message), message


def test_a_timeout_is_a_hang(runner: sf.Runner) -> None:
    data = sf.seed_programs()["sleep-yield.bin"]
    out = runner.run(data, timeout=0.01)
    assert out.outcome == "timeout"
    with pytest.raises(AssertionError, match=r"^hang: guest killed at the timeout"):
        sf.kernel_survived(data, out)


def test_processes_alive_at_the_deadline_are_a_hang(runner: sf.Runner) -> None:
    """The kernel's own detection, with its deadline shortened to one tick (10 ms) while
    the program sleeps 40 ms."""
    data = sf.encode([(sf.SLEEP, 20), (sf.SLEEP, 20)])
    out = runner.run(data, append="mode=fuzz hang_ticks=1")
    assert out.outcome == "exit" and out.exit_value == sf.EXIT_HANG and out.hang
    assert any(line.startswith("LAB FUZZ hang ") for line in out.tail), out.tail
    with pytest.raises(AssertionError, match=r"^hang: user processes alive at the deadline"):
        sf.kernel_survived(data, out)


def test_out_of_memory_in_a_read_does_not_panic(runner: sf.Runner) -> None:
    """With 8 MiB of RAM, 64 processes reading /etc/pattern into fresh pages of an mmap
    exhaust the frames inside sys_read's copy to user memory: the copying process is killed
    (found by this fuzzer: it used to panic the kernel)."""
    calls = [(sf.FORK,)] * 6 + [(sf.MMAP, 0x100000, 1)]
    for k in range(40):
        calls += [(sf.OPEN, sf.string("/etc/pattern")),
                  (sf.READ, 3, 0x60000000 + k * 0x6000, 5000), (sf.CLOSE, 3)]
    data = sf.encode(calls[:sf.MAX_RECORDS])
    out = sf.Runner(runner.art, memory_mb=8).run(data)
    sf.kernel_survived(data, out)
    assert any("LAB KILLED" in line and "page fault" in line for line in out.tail), out.tail


def test_out_of_memory_while_the_heap_grows_does_not_panic(runner: sf.Runner) -> None:
    """With 7 MiB of RAM: 20 pages touched, then forks copying them until the frames run
    out while kmalloc grows the heap for a kernel stack; a later spawn grows it again (found
    by this fuzzer: the failed growth kept its pages and the next one panicked)."""
    calls = [(sf.MMAP, 0x100000, 1)]
    for k in range(10):
        calls += [(sf.OPEN, sf.string("/etc/pattern")),
                  (sf.READ, 3, 0x60000000 + k * 0x6000, 5000), (sf.CLOSE, 3)]
    calls += [(sf.FORK,)] * 5 + [(sf.SLEEP, 20), (sf.SPAWN, sf.string("/bin/true"), 0),
                                 (sf.FORK,)]
    data = sf.encode(calls)
    out = sf.Runner(runner.art, memory_mb=7).run(data)
    sf.kernel_survived(data, out)


def _result(outcome: str, value: int | None, serial: str) -> QemuResult:
    return QemuResult(outcome, value, None, serial, 0.1)


def test_other_endings_have_stable_signatures() -> None:
    hang = sf.summarize(_result("exit", 3, "LAB READY tsc=1\nLAB FUZZ hang 5 9\n"))
    reset = sf.summarize(_result("reset", None, "LAB READY tsc=1\n"))
    cut = sf.summarize(_result("exit", 0, "LAB READY tsc=1\nLAB FUZZ done calls=3"[:20]))
    spoof = sf.summarize(_result("exit", 1, "LAB FUZZ done calls=3\nLAB PANIC x\n"))
    leak = sf.summarize(_result("exit", 0, "LAB FUZZ done calls=4 leaked_frames=3\n"))
    clean = sf.summarize(_result("exit", 0, "LAB FUZZ calls=2 errors=0\n"
                                            "LAB FUZZ done calls=4 leaked_frames=0\n"))
    cases = [(hang, "hang: user processes alive at the deadline"),
             (reset, "triple fault (guest reset)"), (cut, "fuzz run did not finish: "),
             (spoof, "fuzz run did not finish: "), (leak, "frame leak: ")]
    for run, prefix in cases:
        with pytest.raises(AssertionError) as info:
            sf.kernel_survived(b"", run)
        assert str(info.value).startswith(prefix), (prefix, str(info.value))
    sf.kernel_survived(b"", clean)
    assert clean.count("calls") == 2 and clean.count("errors") == 0
    assert sf.panic_signature("page fault in kernel at 0x100000 (eip 0xc01, err 2)") == \
        "page fault in kernel at N (eip N, err N)"
    assert sf.panic_signature("assertion failed: rc == 0 (/w/targets/kernel/mm/kmem.c:70)") == \
        "assertion failed: rc == N (kmem.c:N)"


def test_the_fuzz_image_reports_guest_coverage_and_it_reaches_the_counters(
        runner: sf.Runner) -> None:
    """The fuzz flavor of the image traces mm/proc/sys/fs (lib/kcov.c) and prints its bitmap;
    fed to the kernel-host module it becomes libFuzzer's counters. Different programs reach
    different kernel code; the release image prints no bitmap."""
    from lab import native
    from lab.host import get_host

    system = get_host().systems()["kernel"]
    host = native.load(system, sf.HOST, "release")
    fuzz = sf.Runner(native.build(system, sf.RECIPE, "fuzz").path, feed=host)
    seeds = sf.seed_programs()
    first = fuzz(seeds["getpid-write.bin"])
    assert first.done and len(first.kcov) == host.lib.KHOST_KCOV_BYTES
    bits = {i for i in range(len(first.kcov) * 8) if first.kcov[i >> 3] >> (i & 7) & 1}
    assert len(bits) > 50
    assert all(host.lib.khost_kcov_counter(i) >= 1 for i in bits)
    other = fuzz.run(seeds["fork-wait.bin"])
    assert other.kcov != first.kcov  # fork and wait run code getpid and write do not
    assert runner.run(seeds["getpid-write.bin"]).kcov == b""


def test_a_target_outside_the_process_is_checked_without_native_counters() -> None:
    from lab.fuzz.preflight import OUTSIDE_RUNS, _judge

    out = "INFO: Seed: 1\n#2\tINITED cov: 0 ft: 0 corp: 1/1b exec/s: 0 rss: 60Mb\n"
    assert not _judge("k/native", 0, out).ok
    check = _judge("k/syscalls", 0, out, native=False)
    assert check.ok and f"{OUTSIDE_RUNS} runs" in check.detail
    assert sf.TARGET.native is False


def test_lab_fuzz_runs_the_syscalls_target_on_guest_coverage(run_lab) -> None:  # noqa: ANN001
    from labtest import ROOT

    res = run_lab("fuzz", "kernel", "--target", "syscalls", "--runs", "30", "--seed", "5",
                  "--json", env={"LAB_CORPORA": str(ROOT / "corpora")}, timeout=300)
    assert res.code == 0, res.err
    [result] = res.json()
    assert result["execs"] >= 30 and result["seed_units"] == len(sf.seed_programs())
    assert result["cov"] > 100  # the guest's bitmap, fed as counters
    assert result["crashes"] == [] and result["error"] is None, result
