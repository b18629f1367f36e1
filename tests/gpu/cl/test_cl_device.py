"""Device selection: by type, by platform or device name, with an index, from
$LAB_GPU_DEVICE; bad specs and a machine without OpenCL give one-line GpuErrors naming what
is valid (and the install command). And the tunables chosen from a device's limits (real
and made-up ones, small to H100-sized) stay within those limits."""

from __future__ import annotations

import pyopencl as cl
import pytest

from plugins.gpu.api import GpuError
from plugins.gpu.cl import Driver, describe, select_device
from plugins.gpu.cl import device as device_mod
from plugins.gpu.cl.params import choose, limit


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_default_prefers_gpu(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_GPU_DEVICE", raising=False)
    dev = select_device()
    pairs = device_mod.all_devices()
    gpus = [d for _, d in pairs if d.type & cl.device_type.GPU]
    assert dev == (gpus[0] if gpus else pairs[0][1])


def test_describe(driver: Driver) -> None:
    info = describe(driver.device)
    assert info == driver.info
    for key in ("platform", "device", "type", "driver_version", "global_mem_bytes",
                "max_alloc_bytes", "compute_units", "max_work_group_size", "local_mem_bytes",
                "base_align_bytes"):
        assert key in info
    assert info["type"] in ("gpu", "cpu", "accelerator", "other")
    assert 0 < info["max_alloc_bytes"] <= info["global_mem_bytes"]
    assert info["base_align_bytes"] >= 4 and info["max_work_group_size"] >= 1


def test_specs(driver: Driver) -> None:
    dev = driver.device
    kind = driver.info["type"]
    assert select_device(kind) == select_device(f"{kind}:0")
    assert select_device("any") == device_mod.all_devices()[0][1]
    name_word = dev.platform.name.split()[0].lower()
    assert name_word in select_device(name_word).platform.name.lower()
    assert select_device(dev.name.strip()[:8].upper()).name == dev.name  # case-insensitive


def test_spec_from_environment(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_GPU_DEVICE", driver.info["type"])
    assert select_device() == select_device(driver.info["type"])
    monkeypatch.setenv("LAB_GPU_DEVICE", "no-such-device")
    with pytest.raises(GpuError, match="matches 0 device"):
        select_device()


@pytest.mark.parametrize("spec, match", [
    ("no-such-device", r"matches 0 device\(s\).*valid are types gpu, cpu"),
    ("any:99", r"matches \d+ device\(s\), so no index 99"),
    ("cpu:x", r"bad device spec 'cpu:x': expected WORD or WORD:INDEX"),
    (":1", r"bad device spec"),
])
def test_bad_specs(driver: Driver, spec: str, match: str) -> None:
    with pytest.raises(GpuError, match=match) as exc:
        select_device(spec)
    assert "devices: 0: " in one_line(exc)
    with pytest.raises(GpuError, match=match):
        Driver(spec)


def test_gpu_spec_without_gpu(driver: Driver) -> None:
    has_gpu = any(d.type & cl.device_type.GPU for _, d in device_mod.all_devices())
    if has_gpu:
        assert select_device("gpu").type & cl.device_type.GPU
    else:
        with pytest.raises(GpuError, match="'gpu' matches 0 device"):
            select_device("gpu")


def test_no_platform_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_platforms() -> list:
        raise cl.LogicError("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")

    monkeypatch.setattr(device_mod.cl, "get_platforms", no_platforms)
    with pytest.raises(GpuError, match=r"apt-get install -y pocl-opencl-icd") as exc:
        select_device()
    assert "no OpenCL platform" in one_line(exc)
    monkeypatch.setattr(device_mod.cl, "get_platforms", lambda: [])
    with pytest.raises(GpuError, match=r"no device: .*apt-get install -y pocl-opencl-icd"):
        Driver()


@pytest.mark.parametrize("limits", [
    {},
    {"max_work_group_size": 1024, "max_work_item_sizes": [1024, 1024, 64],
     "local_mem_size": 49152, "max_compute_units": 132},  # an H100's
    {"max_work_group_size": 64, "max_work_item_sizes": [64, 64, 64], "local_mem_size": 16384},
    {"max_work_group_size": 32, "max_work_item_sizes": [32, 32, 32], "local_mem_size": 8192},
    {"max_work_group_size": 8, "max_work_item_sizes": [8, 8, 8], "local_mem_size": 4096},
    {"type": cl.device_type.CPU, "max_work_group_size": 16, "max_work_item_sizes": [16, 4, 4]},
])
def test_tunables_follow_device_limits(driver: Driver, fake_device: object,
                                       limits: dict) -> None:
    dev = fake_device(driver.device, **limits)
    p = choose(dev)
    max_wg, items, local = (dev.max_work_group_size, dev.max_work_item_sizes,
                            dev.local_mem_size)
    for program in ("reduce.cl", "scan.cl", "histogram.cl", "transpose.cl", "sgemm.cl"):
        assert p.local_size(program) <= max_wg, program
    for size in (p.wg, p.hist_wg, p.hist_copies):
        assert size & (size - 1) == 0  # powers of two
    assert p.wg <= items[0] and p.tdim <= items[0] and p.trows <= items[1]
    ln, lm = p.gemm_local
    assert ln <= items[0] and lm <= items[1]
    assert 4 * (p.scan_tile * 33 // 32 + 1 + p.wg) <= local
    assert 4 * p.tdim * (p.tdim + 1) <= local
    assert 4 * 2 * p.tsk * (p.tsm + 1) <= local
    assert (p.tsm * p.tsk) % (ln * lm) == 0 and (p.tsk * p.tsn) % (ln * lm) == 0


def test_limit_shrinks_to_kernel_work_group(driver: Driver) -> None:
    p = driver.params
    for program in ("reduce.cl", "scan.cl", "histogram.cl", "transpose.cl", "sgemm.cl"):
        for kernel_wg in (1, 16, 100):
            q = limit(p, program, kernel_wg)
            assert q.local_size(program) <= kernel_wg, (program, kernel_wg)
            ln, lm = q.gemm_local
            assert (q.tsm * q.tsk) % (ln * lm) == 0
        assert limit(p, program, 1 << 20) == p
