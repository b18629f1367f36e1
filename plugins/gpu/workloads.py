"""The gpu bench: one workload per operation, sizes in elements from 2^10 to 2^28, GB/s for
the memory-bound operations (each also as a fraction of the same implementation's copy in the
same run, ``lab.Limit``) and GFLOP/s for GEMM.

Bytes counted per element (float32 or uint32, 4 bytes): reduction and histogram read each
element once (4); scan, transpose and copy read and write it (8), so a copy's GB/s is the
rate at which the device moves data both ways, the ceiling a memory-bound kernel can reach.
GEMM counts 2 n^3 floating-point operations for an n x n x n product.

Every timed call runs to completion (``finish``) and returns nothing; before timing, each
implementation's answer on the bench input is checked against NumPy (``api.reference``)
within the stated tolerance, so a wrong answer fails the row instead of being timed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import lab
from plugins.gpu import api
from plugins.gpu.api import OFFERS

if TYPE_CHECKING:
    import numpy as np

SIZES = tuple(1 << p for p in range(10, 29, 2))  # 2^10 .. 2^28 elements
DEFAULT_SIZES = (1 << 10, 1 << 14, 1 << 18, 1 << 22, 1 << 26)
QUICK = {"elements": (1 << 20,)}
GEMM_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)
BYTES = {"reduce": 4, "histogram": 4, "scan": 8, "transpose": 8, "copy": 8}
OURS = ("opencl", "avx2")


def _bandwidth(workload: str) -> lab.TimedMetric:
    per = BYTES[workload]
    return lab.TimedMetric(lab.Metric("bandwidth", "GB/s", "higher"),
                           lambda seconds, params: params["elements"] * per / seconds / 1e9)


GFLOPS = lab.TimedMetric(lab.Metric("gflops", "GFLOP/s", "higher"),
                         lambda seconds, params: 2 * params["n"] ** 3 / seconds / 1e9)
LIMIT = lab.Limit("copy", "bandwidth")


def matrix_shape(size: int) -> tuple[int, int]:
    """A ``size``-element matrix as near square as a power of two allows (rows <= cols)."""
    rows = 1 << (max(size.bit_length() - 1, 0) // 2)
    return rows, size // rows


def _rng(*parts: int) -> np.random.Generator:
    import numpy as np

    return np.random.default_rng(list(parts))


def _floats(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    import numpy as np

    size = params["elements"]
    return {"x": _rng(1, size).standard_normal(size, dtype=np.float32)}


def _keys(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    import numpy as np

    size = params["elements"]
    return {"x": _rng(2, size).integers(0, 1 << 32, size, dtype=np.uint32)}


def _matrix(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    import numpy as np

    size = params["elements"]
    return {"x": _rng(3, size).standard_normal(matrix_shape(size), dtype=np.float32)}


def _pair(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    import numpy as np

    n = params["n"]
    rng = _rng(4, n)
    return {"a": rng.standard_normal((n, n), dtype=np.float32),
            "b": rng.standard_normal((n, n), dtype=np.float32)}


def _synced(obj: Any, run: Callable[[], object]) -> Callable[[], None]:
    def call() -> None:
        run()
        obj.finish()
    return call


def _check(got: Any, want: Any, what: str, tol: Any = 0) -> None:
    import numpy as np

    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape}, expected {want.shape}")
    bad = np.flatnonzero(~(np.abs(got - want) <= tol))
    if bad.size:
        i = int(bad[0])
        limit = np.broadcast_to(tol, want.shape).flat[i]
        raise AssertionError(f"{what}: wrong at {i} of {got.size}: {got.flat[i]!r} vs "
                             f"{want.flat[i]!r} (tolerance {limit!r})")


def _reduce(obj: Any, state: dict, params: Mapping[str, Any]) -> Callable[[], object]:
    x, op = state["x"], params["op"]
    dx = obj.to_device(x)
    tol = api.sum_tolerance(x) if op == "sum" else 0
    _check(obj.reduce(dx, op), api.reference(op, x), f"reduce {op}", tol)
    return lambda: obj.reduce(dx, op)


def _scan(obj: Any, state: dict, params: Mapping[str, Any]) -> Callable[[], object]:
    x, inclusive = state["x"], params["kind"] == "inclusive"
    dx = obj.to_device(x)
    _check(obj.to_host(obj.scan(dx, inclusive)), api.reference("scan", x, inclusive),
           f"{params['kind']} scan")
    return _synced(obj, lambda: obj.scan(dx, inclusive))


def _histogram(obj: Any, state: dict, params: Mapping[str, Any]) -> Callable[[], object]:
    keys, bins = state["x"], params["bins"]
    dk = obj.to_device(keys)
    _check(obj.to_host(obj.histogram(dk, bins)), api.reference("histogram", keys, bins),
           "histogram")
    return _synced(obj, lambda: obj.histogram(dk, bins))


def _transpose(obj: Any, state: dict, params: Mapping[str, Any]) -> Callable[[], object]:
    a = state["x"]
    da = obj.to_device(a)
    _check(obj.to_host(obj.transpose(da)), api.reference("transpose", a), "transpose")
    return _synced(obj, lambda: obj.transpose(da))


def _copy(obj: Any, state: dict, params: Mapping[str, Any]) -> Callable[[], object]:
    x = state["x"]
    dx = obj.to_device(x)
    _check(obj.to_host(obj.copy(dx)), x, "copy")
    return _synced(obj, lambda: obj.copy(dx))


def _gemm(obj: Any, state: dict, params: Mapping[str, Any]) -> Callable[[], object]:
    a, b = state["a"], state["b"]
    da, db = obj.to_device(a), obj.to_device(b)
    _check(obj.to_host(obj.sgemm(da, db)), api.reference("sgemm", a, b), "sgemm",
           api.gemm_tolerance(a, b))
    return _synced(obj, lambda: obj.sgemm(da, db))


def _supports(operations: Callable[[Mapping[str, Any]], str]
              ) -> Callable[[str, Mapping[str, Any]], str | None]:
    def supports(impl: str, params: Mapping[str, Any]) -> str | None:
        offered = OFFERS.get(impl)
        op = operations(params)
        if offered is None or op in offered:
            return None
        return f"{impl} offers no {op} ({', '.join(sorted(offered))} only)"
    return supports


def _workload(name: str, description: str, params: dict[str, tuple],
              prepare: Callable[[Mapping[str, Any]], dict], timed: Callable,
              operation: Callable[[Mapping[str, Any]], str], default: dict, quick: dict,
              metric: lab.TimedMetric, limit: lab.Limit | None = LIMIT,
              baseline: str | None = None) -> lab.Workload:
    return lab.Workload(name=name, description=description, params=params, prepare=prepare,
                        timed=timed, metrics=(metric,), default=default, quick=quick,
                        scaling=("elements",) if "elements" in params else ("n",),
                        supports=_supports(operation), limit=limit, baseline=baseline)


WORKLOADS = (
    _workload("copy", "copy a float32 buffer on the device (GB/s read + written): the "
              "ceiling the other memory-bound workloads are shown against",
              {"elements": SIZES}, _floats, _copy, lambda p: "copy",
              {"elements": DEFAULT_SIZES}, QUICK, _bandwidth("copy"), limit=None),
    _workload("reduce", "sum, min or max of float32 elements to one value (GB/s read)",
              {"elements": SIZES, "op": api.REDUCE_OPS}, _floats, _reduce, lambda p: p["op"],
              {"elements": DEFAULT_SIZES, "op": ("sum", "max")}, {**QUICK, "op": ("sum",)},
              _bandwidth("reduce")),
    _workload("scan", "prefix sums of uint32 elements, wrapping (GB/s read + written)",
              {"elements": SIZES, "kind": ("exclusive", "inclusive")}, _keys, _scan,
              lambda p: "scan", {"elements": DEFAULT_SIZES, "kind": ("exclusive",)},
              {**QUICK, "kind": ("exclusive",)}, _bandwidth("scan")),
    _workload("histogram", "counts of uint32 keys modulo the bin count (GB/s read)",
              {"elements": SIZES, "bins": (256, 4096, 65536)}, _keys, _histogram,
              lambda p: "histogram", {"elements": DEFAULT_SIZES, "bins": (256,)},
              {**QUICK, "bins": (256,)}, _bandwidth("histogram")),
    _workload("transpose", "transpose a float32 matrix as near square as the size allows "
              "(GB/s read + written)", {"elements": SIZES}, _matrix, _transpose,
              lambda p: "transpose", {"elements": DEFAULT_SIZES}, QUICK, _bandwidth("transpose")),
    _workload("gemm", "C = A B for n x n float32 matrices, row-major (GFLOP/s)",
              {"n": GEMM_SIZES}, _pair, _gemm, lambda p: "sgemm", {"n": (256, 1024, 2048)},
              {"n": (256,)}, GFLOPS, limit=None, baseline="clblast"),
)
