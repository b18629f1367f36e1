"""The kernel fuzz targets (plugins/kernel/fuzzing.py) without a fuzzer: they are declared
with seeds, the seeds are what corpora/kernel/make_seeds.py writes, every seed runs clean
through the lab's own harness (target, oracle, invariants), a deterministic sweep of random
and mutated inputs finds no disagreement, and a disagreement does surface as a finding.
Plus one short real run: ``lab fuzz kernel --all --runs 1500`` from the committed seeds."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from test_host_common import ROOT, SANITIZED, ctx, system

import lab
from lab.fuzz.harness import InvariantViolation, input_function
from labtest import FLAVOR, assert_fuzz_runs_clean
from plugins.kernel import diskfs, fuzzing

CORPORA = ROOT / "corpora" / "kernel"
TARGETS = {t.name: t for t in fuzzing.FUZZ_TARGETS}
SWEEP = 600 if SANITIZED else 2000

sys.path.insert(0, str(CORPORA))
import make_seeds  # noqa: E402


def _seeds(name: str) -> list[Path]:
    return sorted(p for p in (CORPORA / name).iterdir() if p.suffix in (".bin", ".img"))


def test_targets_are_declared_with_seeds() -> None:
    assert list(TARGETS) == ["frames", "heap", "runq", "elf", "labfs", "uaccess"]
    for t in fuzzing.FUZZ_TARGETS:
        assert t.recipe == "kernel-host" and not t.structured
        assert (t.oracle is not None) == (t.name in ("elf", "labfs"))
        assert t.invariants == (() if t.oracle else (fuzzing.no_violation,))
        assert t.max_len == (64 << 10 if t.name == "labfs" else 4096)
        readme = (CORPORA / t.name / "README.md").read_text()
        assert len(_seeds(t.name)) >= 3, t.name
        assert all(f"`{p.name}`" in readme for p in _seeds(t.name))


def test_committed_seeds_are_what_make_seeds_writes(tmp_path: Path) -> None:
    make_seeds.main(tmp_path)
    for name in TARGETS:
        written = sorted(p.name for p in (tmp_path / name).iterdir())
        assert written == sorted(p.name for p in (CORPORA / name).iterdir())
        for p in (tmp_path / name).iterdir():
            assert p.read_bytes() == (CORPORA / name / p.name).read_bytes(), p


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_seed_runs_clean_through_the_harness(name: str) -> None:
    one = input_function(system(), TARGETS[name], FLAVOR)
    for p in _seeds(name):
        one(p.read_bytes())                         # raises on a mismatch or a violation


def test_seeds_reach_what_they_describe() -> None:
    c = ctx()
    for name in ("frames", "heap", "runq", "uaccess"):
        run = TARGETS[name].load(c)
        for p in _seeds(name):
            out = run(p.read_bytes())
            assert out.violation is None and out.steps >= 3, (name, p.name, out)
    elf = TARGETS["elf"].load(c)
    results = {p.name: elf(p.read_bytes()) for p in _seeds("elf")}
    assert results.pop("nine-loads.bin") == -7
    assert all(isinstance(r, tuple) for r in results.values())
    labfs = TARGETS["labfs"].load(c)
    for p in _seeds("labfs"):
        assert labfs(p.read_bytes()) == diskfs.parse(p.read_bytes())
    assert "/bin/true" in labfs((CORPORA / "labfs" / "bin-true.img").read_bytes())


def _mutate(rng: random.Random, data: bytes) -> bytes:
    d = bytearray(data)
    for _ in range(rng.choice((1, 2, 4, 8))):
        k = rng.randrange(5)
        if not d or k == 0:
            d.insert(rng.randint(0, len(d)), rng.randrange(256))
        elif k == 1:
            d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
        elif k == 2:
            d[rng.randrange(len(d))] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))
        elif k == 3 and len(d) > 1:
            del d[rng.randrange(len(d))]
        else:
            i = rng.randrange(len(d))
            d[i:i + 4] = rng.randrange(1 << 32).to_bytes(4, "little")
    return bytes(d)


@pytest.mark.parametrize("name", list(TARGETS))
def test_random_and_mutated_inputs_find_nothing(name: str) -> None:
    """Deterministic: random bytes, then mutations of the seeds (and of mutants that ran)."""
    target = TARGETS[name]
    one = input_function(system(), target, FLAVOR)
    rng = random.Random(f"kernel-{name}")
    pool = [p.read_bytes() for p in _seeds(name)]
    for i in range(SWEEP):
        if i < SWEEP // 4:
            data = rng.randbytes(rng.randint(0, 700))
        else:
            data = _mutate(rng, rng.choice(pool))[:target.max_len]
            if rng.random() < 0.1:
                pool.append(data)
        one(data)


def test_a_disagreement_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = (CORPORA / "frames" / "boot.bin").read_bytes()
    monkeypatch.setattr(fuzzing.FrameModel, "alloc", lambda self: 0)
    one = input_function(system(), TARGETS["frames"], FLAVOR)
    with pytest.raises(InvariantViolation, match="no_violation: alloc: C gave"):
        one(seed)


def test_labfs_oracle_rejects_what_diskfs_calls_corrupt() -> None:
    oracle = TARGETS["labfs"].oracle(ctx())
    with pytest.raises(lab.Reject, match="magic"):
        oracle(b"x" * 512)
    assert oracle(diskfs.image({"/a": b"1"})) == {"/a": b"1"}


@pytest.mark.skipif(SANITIZED, reason="lab fuzz builds its own sanitized flavor")
def test_lab_fuzz_runs_clean_on_the_seeds(run_lab) -> None:  # noqa: ANN001
    assert_fuzz_runs_clean(run_lab, "kernel", set(TARGETS), timeout=300)
