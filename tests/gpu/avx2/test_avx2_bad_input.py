"""Bad input to the AVX2 backend: the wrapper raises a one-line ``GpuError`` naming what is
valid before any C call, and the C entry points validate the same things themselves
(called directly through cffi: NULL, zero sizes, overflowing size products, misalignment,
overlap, modes, bin and thread ranges), returning a status and leaving the outputs alone."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gpu import api
from plugins.gpu.avx2 import ALIGN, Avx2, aligned_empty


def _raises(fn, *args, match: str) -> str:  # noqa: ANN001
    with pytest.raises(api.GpuError, match=match) as info:
        fn(*args)
    text = str(info.value)
    assert "\n" not in text and text
    return text


F32 = np.arange(64, dtype=np.float32)
U32 = np.arange(64, dtype=np.uint32)
M32 = np.ones((8, 8), dtype=np.float32)


def _misaligned(dtype: type, n: int) -> np.ndarray:
    raw = np.zeros(n * 4 + 8, dtype=np.uint8)
    start = 1 if raw.ctypes.data % 4 == 0 else 0
    arr = raw[start:start + n * 4].view(dtype)
    assert arr.ctypes.data % 4 != 0
    return arr


# ---- the Python wrapper ---------------------------------------------------------------

@pytest.mark.parametrize("call", ["reduce", "scan", "histogram", "transpose", "sgemm_a",
                                  "sgemm_b", "copy"])
def test_operands_are_checked(avx2, call: str) -> None:
    good = {"reduce": F32, "scan": U32, "histogram": U32, "transpose": M32, "sgemm_a": M32,
            "sgemm_b": M32, "copy": F32}[call]

    def run(x):  # noqa: ANN001, ANN202
        if call == "reduce":
            return avx2.reduce(x, "sum")
        if call == "scan":
            return avx2.scan(x, True)
        if call == "histogram":
            return avx2.histogram(x, 10)
        if call == "transpose":
            return avx2.transpose(x)
        if call == "sgemm_a":
            return avx2.sgemm(x, M32)
        if call == "sgemm_b":
            return avx2.sgemm(M32, x)
        return avx2.copy(x)

    run(good)  # the good operand passes
    _raises(run, good.tolist(), match="device array, got a list")
    wrong = good.astype(np.float64)
    _raises(run, wrong, match="float64")
    _raises(run, good.astype(good.dtype.newbyteorder()), match="native byte order")
    if call != "copy":
        rank = good.reshape(-1) if good.ndim == 2 else good.reshape(8, 8)
        _raises(run, rank, match=f"must be {good.ndim}-D")
    _raises(run, good[:0], match="must not be empty")
    strided = good[::2] if good.ndim == 1 else good[:, ::2]
    _raises(run, strided, match="C-contiguous")
    _raises(run, _misaligned(good.dtype.type, good.size).reshape(good.shape),
            match="aligned to 4 bytes")


def test_reduce_op(avx2) -> None:
    for op in ("mean", "SUM", None, 0):
        text = _raises(avx2.reduce, F32, op, match="unknown reduce op")
        assert "sum, min, max" in text


def test_scan_mode(avx2) -> None:
    for bad in (2, -1, "yes", None, 0.5):
        _raises(avx2.scan, U32, bad, match="True or False")
    np.testing.assert_array_equal(avx2.scan(U32, 1), avx2.scan(U32, True))


def test_histogram_nbins(avx2) -> None:
    for bad in (0, -3, api.MAX_BINS + 1, 1 << 40, 2.5, "8", None, True):
        _raises(avx2.histogram, U32, bad, match="from 1 to 65536")
    assert avx2.histogram(U32, api.MAX_BINS).shape == (api.MAX_BINS,)


def test_sgemm_shapes(avx2) -> None:
    text = _raises(avx2.sgemm, np.ones((3, 4), np.float32), np.ones((5, 6), np.float32),
                   match="same k")
    assert "(3, 4)" in text and "(5, 6)" in text


def test_more_memory_than_the_machine_has(avx2) -> None:
    a = np.ones((1 << 20, 1), np.float32)
    _raises(avx2.sgemm, a, a.reshape(1, -1), match="more than the .* bytes of memory")


def test_to_device_and_to_host(avx2) -> None:
    _raises(avx2.to_device, [1.0, 2.0], match="float32 or uint32 NumPy array, got a list")
    _raises(avx2.to_device, np.ones(4), match="float64")
    _raises(avx2.to_device, np.ones((4, 4), np.float32).T, match="C-contiguous")
    _raises(avx2.to_device, np.ones(0, np.float32), match="non-empty")
    _raises(avx2.to_host, [1.0], match="NumPy array")
    dev = avx2.to_device(F32)
    assert dev.ctypes.data % ALIGN == 0
    host = avx2.to_host(dev)
    assert host.ctypes.data != dev.ctypes.data
    np.testing.assert_array_equal(host, F32)
    avx2.finish()
    avx2.close()


@pytest.mark.parametrize("threads", (-1, 257, 1.5, "2", True))
def test_threads_argument(ffi, lib, threads) -> None:  # noqa: ANN001
    _raises(Avx2, ffi, lib, threads, match="from 0 .* to 256")


def test_unsupported_cpu(ffi, lib) -> None:
    class NoAvx2:
        def gpu_avx2_supported(self) -> int:
            return 0

    assert Avx2.supported(lib) is True
    _raises(Avx2, ffi, NoAvx2(), match="lacks AVX2")


def test_c_status_becomes_gpu_error(avx2, lib) -> None:
    text = _raises(avx2._check, lib.GPU_AVX2_ERR_NOMEM, match="out of memory")
    assert f"status {lib.GPU_AVX2_ERR_NOMEM}" in text
    avx2._check(lib.GPU_AVX2_OK)


def test_aligned_empty() -> None:
    for shape, dtype in (((3,), np.float32), ((5, 7), np.uint32), (1, np.float64)):
        arr = aligned_empty(shape, dtype)
        assert arr.ctypes.data % ALIGN == 0 and arr.flags.c_contiguous
        assert arr.shape == ((shape,) if isinstance(shape, int) else shape)
        assert arr.dtype == dtype


# ---- the C entry points, called directly -------------------------------------------------

ERRORS = ("NULL", "EMPTY", "OVERFLOW", "ALIGN", "OVERLAP", "OP", "MODE", "NBINS", "THREADS",
          "NOMEM", "UNSUPPORTED")
HUGE = 1 << 62  # times 4 bytes overflows size_t


def test_strerror_names_every_code(ffi, lib) -> None:
    texts = {ffi.string(lib.gpu_avx2_strerror(getattr(lib, f"GPU_AVX2_ERR_{e}"))).decode()
             for e in ERRORS}
    assert len(texts) == len(ERRORS) and "unknown status code" not in texts
    assert ffi.string(lib.gpu_avx2_strerror(-999)) == b"unknown status code"
    assert ffi.string(lib.gpu_avx2_strerror(0)) == b"ok"
    assert lib.gpu_avx2_supported() in (0, 1) and lib.gpu_avx2_online_cpus() >= 1


class Bufs:
    """Real buffers with sentinels, and pointers to them."""

    def __init__(self, ffi) -> None:  # noqa: ANN001
        self.ffi = ffi
        self.f = np.arange(256, dtype=np.float32)
        self.u = np.arange(256, dtype=np.uint32)
        self.out_f = np.full(256, -7.0, dtype=np.float32)
        self.out_u = np.full(256, 77, dtype=np.uint32)
        self.res = ffi.new("double *", -7.0)

    def fp(self, arr: np.ndarray, offset_bytes: int = 0):  # noqa: ANN201
        return self.ffi.cast("float *", arr.ctypes.data + offset_bytes)

    def up(self, arr: np.ndarray, offset_bytes: int = 0):  # noqa: ANN201
        return self.ffi.cast("uint32_t *", arr.ctypes.data + offset_bytes)

    def untouched(self) -> bool:
        return (self.out_f == -7.0).all() and (self.out_u == 77).all() and self.res[0] == -7.0


def test_c_reduce_validates(ffi, lib) -> None:
    b = Bufs(ffi)
    f, null = b.fp(b.f), ffi.NULL
    cases = [
        ((null, 8, 0, b.res, 1), lib.GPU_AVX2_ERR_NULL),
        ((f, 8, 0, null, 1), lib.GPU_AVX2_ERR_NULL),
        ((f, 0, 0, b.res, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((f, 8, 3, b.res, 1), lib.GPU_AVX2_ERR_OP),
        ((f, 8, -1, b.res, 1), lib.GPU_AVX2_ERR_OP),
        ((f, HUGE, 0, b.res, 1), lib.GPU_AVX2_ERR_OVERFLOW),
        ((b.fp(b.f, 2), 8, 0, b.res, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((f, 8, 0, b.res, -1), lib.GPU_AVX2_ERR_THREADS),
        ((f, 8, 0, b.res, 257), lib.GPU_AVX2_ERR_THREADS),
        ((f, 8, 0, ffi.cast("double *", b.f.ctypes.data + 8), 1), lib.GPU_AVX2_ERR_OVERLAP),
    ]
    for args, want in cases:
        assert lib.gpu_avx2_reduce(*args) == want, args
    assert b.untouched() and (b.f == np.arange(256)).all()
    assert lib.gpu_avx2_reduce(f, 8, lib.GPU_AVX2_MAX, b.res, 0) == 0 and b.res[0] == 7.0


def test_c_scan_validates(ffi, lib) -> None:
    b = Bufs(ffi)
    i, o, null = b.up(b.u), b.up(b.out_u), ffi.NULL
    cases = [
        ((null, o, 8, 1, 1), lib.GPU_AVX2_ERR_NULL),
        ((i, null, 8, 1, 1), lib.GPU_AVX2_ERR_NULL),
        ((i, o, 0, 1, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((i, o, 8, 2, 1), lib.GPU_AVX2_ERR_MODE),
        ((i, o, 8, -1, 1), lib.GPU_AVX2_ERR_MODE),
        ((i, o, HUGE, 1, 1), lib.GPU_AVX2_ERR_OVERFLOW),
        ((b.up(b.u, 1), o, 8, 1, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((i, b.up(b.out_u, 3), 8, 1, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((i, o, 8, 1, 300), lib.GPU_AVX2_ERR_THREADS),
        ((b.up(b.out_u), b.up(b.out_u, 4), 8, 1, 1), lib.GPU_AVX2_ERR_OVERLAP),
        ((b.up(b.out_u, 4), b.up(b.out_u), 8, 1, 1), lib.GPU_AVX2_ERR_OVERLAP),
    ]
    for args, want in cases:
        assert lib.gpu_avx2_scan(*args) == want, args
    assert b.untouched()


def test_c_histogram_validates(ffi, lib) -> None:
    b = Bufs(ffi)
    k, c, null = b.up(b.u), b.up(b.out_u), ffi.NULL
    cases = [
        ((null, 8, 4, c, 1), lib.GPU_AVX2_ERR_NULL),
        ((k, 8, 4, null, 1), lib.GPU_AVX2_ERR_NULL),
        ((k, 0, 4, c, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((k, 8, 0, c, 1), lib.GPU_AVX2_ERR_NBINS),
        ((k, 8, lib.GPU_AVX2_MAX_BINS + 1, c, 1), lib.GPU_AVX2_ERR_NBINS),
        ((k, HUGE, 4, c, 1), lib.GPU_AVX2_ERR_OVERFLOW),
        ((b.up(b.u, 2), 8, 4, c, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((k, 8, 4, b.up(b.out_u, 2), 1), lib.GPU_AVX2_ERR_ALIGN),
        ((k, 8, 4, c, -5), lib.GPU_AVX2_ERR_THREADS),
        ((k, 8, 4, b.up(b.u, 16), 1), lib.GPU_AVX2_ERR_OVERLAP),
    ]
    for args, want in cases:
        assert lib.gpu_avx2_histogram(*args) == want, args
    assert b.untouched() and (b.u == np.arange(256)).all()


def test_c_transpose_validates(ffi, lib) -> None:
    b = Bufs(ffi)
    i, o, null = b.fp(b.f), b.fp(b.out_f), ffi.NULL
    cases = [
        ((null, 4, 4, o, 1), lib.GPU_AVX2_ERR_NULL),
        ((i, 4, 4, null, 1), lib.GPU_AVX2_ERR_NULL),
        ((i, 0, 4, o, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((i, 4, 0, o, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((i, 1 << 32, 1 << 32, o, 1), lib.GPU_AVX2_ERR_OVERFLOW),
        ((i, 1 << 31, 1 << 31, o, 1), lib.GPU_AVX2_ERR_OVERFLOW),  # * 4 bytes
        ((b.fp(b.f, 1), 4, 4, o, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((i, 4, 4, b.fp(b.out_f, 2), 1), lib.GPU_AVX2_ERR_ALIGN),
        ((i, 4, 4, o, -1), lib.GPU_AVX2_ERR_THREADS),
        ((i, 4, 4, b.fp(b.f, 60), 1), lib.GPU_AVX2_ERR_OVERLAP),
        ((i, 4, 4, i, 1), lib.GPU_AVX2_ERR_OVERLAP),
    ]
    for args, want in cases:
        assert lib.gpu_avx2_transpose(*args) == want, args
    assert b.untouched() and (b.f == np.arange(256)).all()


def test_c_sgemm_validates(ffi, lib) -> None:
    b = Bufs(ffi)
    a, bb, c, null = b.fp(b.f), b.fp(b.f, 256), b.fp(b.out_f), ffi.NULL
    cases = [
        ((null, bb, c, 4, 4, 4, 1), lib.GPU_AVX2_ERR_NULL),
        ((a, null, c, 4, 4, 4, 1), lib.GPU_AVX2_ERR_NULL),
        ((a, bb, null, 4, 4, 4, 1), lib.GPU_AVX2_ERR_NULL),
        ((a, bb, c, 0, 4, 4, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((a, bb, c, 4, 0, 4, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((a, bb, c, 4, 4, 0, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((a, bb, c, HUGE, 4, 1, 1), lib.GPU_AVX2_ERR_OVERFLOW),
        ((a, bb, c, 1, HUGE, 1, 1), lib.GPU_AVX2_ERR_OVERFLOW),
        ((a, bb, c, 1, 1, HUGE, 1), lib.GPU_AVX2_ERR_OVERFLOW),
        ((a, bb, c, 1 << 22, 1 << 22, 1 << 22, 1), lib.GPU_AVX2_ERR_OVERFLOW),  # m n k
        ((b.fp(b.f, 2), bb, c, 4, 4, 4, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((a, b.fp(b.f, 3), c, 4, 4, 4, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((a, bb, b.fp(b.out_f, 1), 4, 4, 4, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((a, bb, c, 4, 4, 4, 999), lib.GPU_AVX2_ERR_THREADS),
        ((a, bb, b.fp(b.f, 32), 4, 4, 4, 1), lib.GPU_AVX2_ERR_OVERLAP),
        ((a, bb, bb, 4, 4, 4, 1), lib.GPU_AVX2_ERR_OVERLAP),
    ]
    for args, want in cases:
        assert lib.gpu_avx2_sgemm(*args) == want, args
    assert b.untouched() and (b.f == np.arange(256)).all()


def test_c_copy_validates(ffi, lib) -> None:
    b = Bufs(ffi)
    s, d, null = b.fp(b.f), b.fp(b.out_f), ffi.NULL
    cases = [
        ((null, d, 8, 1), lib.GPU_AVX2_ERR_NULL),
        ((s, null, 8, 1), lib.GPU_AVX2_ERR_NULL),
        ((s, d, 0, 1), lib.GPU_AVX2_ERR_EMPTY),
        ((s, d, HUGE, 1), lib.GPU_AVX2_ERR_OVERFLOW),
        ((b.fp(b.f, 1), d, 8, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((s, b.fp(b.out_f, 2), 8, 1), lib.GPU_AVX2_ERR_ALIGN),
        ((s, d, 8, -2), lib.GPU_AVX2_ERR_THREADS),
        ((s, b.fp(b.f, 4), 8, 1), lib.GPU_AVX2_ERR_OVERLAP),
        ((s, s, 8, 1), lib.GPU_AVX2_ERR_OVERLAP),
    ]
    for args, want in cases:
        assert lib.gpu_avx2_copy(*args) == want, args
    assert b.untouched() and (b.f == np.arange(256)).all()
