"""The gpu fuzz targets' model of the contract: NumPy keeps it on any program, and each way an
implementation can break it (a wrong answer, an invalid call accepted, a valid one refused,
a message of several lines) is reported as a violation."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lab.fuzz.programs import no_violation
from plugins.gpu import api
from plugins.gpu.fuzzing import MAX_STEPS, Outcome, Program, Runner
from plugins.gpu.references import Numpy


def _programs(count: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
            for _ in range(count)]


def test_numpy_keeps_the_contract_on_random_programs() -> None:
    runner = Runner(Numpy())
    steps = 0
    for data in _programs(300):
        out = runner.run(data)
        assert out.violation is None, (data.hex(), out)
        steps += out.steps
    assert steps > 300  # programs of several calls, not just one


def test_programs_are_bounded_and_truncated_operands_read_as_zero() -> None:
    p = Program(b"\x05")
    assert (p.u8(), p.u16(), p.u32(), p.left()) == (5, 0, 0, False)
    out = Runner(Numpy()).run(bytes(range(256)) * 8)
    assert out.steps <= MAX_STEPS


def test_the_inputs_cover_invalid_calls_too() -> None:
    """Hostile programs: some calls are invalid (empty, wrong type, bad bins...) and are
    refused; the runner counts a refusal of an invalid call as agreement."""
    refused: list[str] = []

    class Recording(Numpy):
        def __getattribute__(self, name: str):  # noqa: ANN204
            attr = super().__getattribute__(name)
            if name in ("reduce", "scan", "histogram", "transpose", "sgemm", "copy"):
                def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                    try:
                        return attr(*args, **kwargs)
                    except api.GpuError as exc:
                        refused.append(str(exc))
                        raise
                return wrapped
            return attr

    runner = Runner(Recording())
    assert all(runner.run(d).violation is None for d in _programs(200, seed=1))
    kinds = {msg.split(" ")[0] for msg in refused}
    assert {"reduce", "scan", "histogram", "transpose", "sgemm", "copy"} <= kinds, refused


class _AcceptsEmpty(Numpy):
    def copy(self, x: np.ndarray) -> np.ndarray:
        return x.copy()


class _Refuses(Numpy):
    def scan(self, x: np.ndarray, inclusive: bool) -> np.ndarray:
        raise api.GpuError("scan is not available")


class _Wrong(Numpy):
    def transpose(self, a: np.ndarray) -> np.ndarray:
        out = super().transpose(a)
        out.flat[-1] += 1
        return out


class _Chatty(Numpy):
    def reduce(self, x: np.ndarray, op: str) -> float:
        if x.dtype != np.float32:
            raise api.GpuError("bad dtype\nexpected float32")
        return super().reduce(x, op)


COPY_EMPTY = bytes([5, 0])                          # copy of 0 elements
SCAN = bytes([1, 0, 2, 9, 0, 0])                    # inclusive=0, 10 keys, uint32
TRANSPOSE = bytes([3, 3, 5, 1])                     # a 3x5 matrix
REDUCE_F64 = bytes([0, 0, 2, 4, 0, 7])              # sum of 5 values, wrong dtype


@pytest.mark.parametrize(("backend", "data", "violation"), [
    (_AcceptsEmpty(), COPY_EMPTY, "copy n=0: an invalid call was accepted"),
    (_Refuses(), SCAN, "scan inclusive=False n=10: a valid call was refused: scan is not "
                       "available"),
    (_Wrong(), TRANSPOSE, "transpose (3, 5): wrong answer"),
    (_Chatty(), REDUCE_F64, "GpuError message is not one line"),
])
def test_each_way_of_breaking_the_contract_is_a_violation(backend, data: bytes,  # noqa: ANN001
                                                          violation: str) -> None:
    assert Runner(Numpy()).run(data).violation is None
    out = Runner(backend).run(data)
    assert out.violation is not None and out.violation.startswith(violation), out
    with pytest.raises(AssertionError, match="^" + re.escape(violation.split(":")[0])):
        no_violation(data, out)
    no_violation(data, Outcome(1, None))


SEED_CALLS = {
    "reduce-sum-1000.bin": ["reduce"], "reduce-min-max-small.bin": ["reduce", "reduce"],
    "reduce-empty.bin": ["reduce!"], "reduce-wrong-type.bin": ["reduce!"],
    "scan-both.bin": ["scan", "scan"],
    "histogram-bins.bin": ["histogram"] * 3, "histogram-bad-bins.bin": ["histogram!"] * 2,
    "transpose-shapes.bin": ["transpose"] * 3, "transpose-flat.bin": ["transpose!"],
    "sgemm-odd.bin": ["sgemm", "sgemm"], "sgemm-no-chain.bin": ["sgemm!"],
    "copy.bin": ["copy", "copy", "copy!"],
}
DRIVER_SEED_CALLS = {
    "view-offsets.bin": ["view", "reduce"] * 3,
    "view-bad.bin": ["view!"] * 3,
    "alloc.bin": ["empty", "empty", "empty!", "empty!"],
}
RECORDED = ("reduce", "scan", "histogram", "transpose", "sgemm", "copy", "view", "empty",
            "to_device")


class Recorder:
    """A backend that notes each contract call it passes on ("!": refused with GpuError).
    A refusal in ``to_device`` (an empty or wrongly typed upload) is noted for the call the
    upload was for, as the runner judges it."""

    def __init__(self, inner: object, calls: list[str]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str):  # noqa: ANN204
        attr = getattr(self._inner, name)
        if name not in RECORDED:
            return attr

        def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            try:
                out = attr(*args, **kwargs)
            except api.GpuError:
                self._calls.append(name + "!")
                raise
            self._calls.append(name)
            return out
        return wrapped


@pytest.fixture(scope="module")
def real_backends():  # noqa: ANN201 - target -> (our backend, its runner class)
    from lab import native
    from lab.host import get_host
    from labtest import FLAVOR
    from plugins.gpu.avx2 import Avx2
    from plugins.gpu.cl import Driver
    from plugins.gpu.fuzzing import DriverRunner

    module = native.load(get_host().systems()["gpu"], "avx2", FLAVOR)
    driver = Driver()
    yield {"opencl": (driver, DriverRunner), "avx2": (Avx2(module.ffi, module.lib), Runner)}
    driver.close()


@pytest.mark.parametrize("target", ["opencl", "avx2"])
def test_the_committed_seeds_make_the_calls_they_describe(real_backends,  # noqa: ANN001
                                                          target: str) -> None:
    """Every seed replays clean on our implementation and makes the calls its README names
    ("!": a call the contract refuses; a refused upload, of an empty or wrongly typed array,
    stands for the refusal of the call it was for)."""
    from labtest import ROOT

    backend, runner_class = real_backends[target]
    expected = {**SEED_CALLS, **(DRIVER_SEED_CALLS if target == "opencl" else {})}
    folder = ROOT / "corpora" / "gpu" / target
    seeds = sorted(folder.glob("*.bin"))
    assert {p.name for p in seeds} == set(expected)
    readme = (folder / "README.md").read_text()
    calls: list[str] = []
    for path in seeds:
        calls.clear()
        out = runner_class(Recorder(backend, calls)).run(path.read_bytes())
        assert out.violation is None, (path.name, out)
        got = [c for c in calls if c != "to_device"]
        want = expected[path.name]
        assert len(got) == len(want), (path.name, got)
        assert all(g == w or (g == "to_device!" and w.endswith("!"))
                   for g, w in zip(got, want, strict=True)), (path.name, got)
        assert f"`{path.name}`" in readme


def test_our_backends_keep_the_contract_on_random_programs(real_backends) -> None:  # noqa: ANN001
    for target, (backend, runner_class) in real_backends.items():
        runner = runner_class(backend)
        for data in _programs(60, seed=7):
            out = runner.run(data)
            assert out.violation is None, (target, data.hex(), out)
