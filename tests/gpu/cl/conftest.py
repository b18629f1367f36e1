"""Fixtures for the OpenCL driver tests: one session Driver on the default device, and two
more on the same device built with other tunables, so that the code paths a GPU takes run
here too (PoCL is a CPU device):

* ``driver``: the tunables ``params.choose`` picks for this device (on PoCL: chunked loops,
  private sub-histograms, 8x8 GEMM register blocks);
* ``gpu_like``: what a GPU with this device's limits would get (grid-stride loops, float4
  loads, tiled scans, local-atomic sub-histograms, 4x4 GEMM register blocks);
* ``tiny``: a GPU with very small limits (32 work-items, 8 KiB of local memory), so every
  size is small: multi-level scans at modest n, the global-atomics histogram, 16x16 GEMM
  tiles; and scalar loads.

Only a machine without any OpenCL platform skips these tests (PoCL is installed here and in
CI).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pyopencl as cl
import pytest

from plugins.gpu.api import GpuError
from plugins.gpu.cl import Driver
from plugins.gpu.cl.params import Params, choose


def fake_device(real: cl.Device, **limits: object) -> SimpleNamespace:
    """An object with the device attributes ``choose`` reads: ``real``'s, typed GPU, with
    ``limits`` overriding."""
    attrs = {
        "type": cl.device_type.GPU,
        "max_work_group_size": real.max_work_group_size,
        "max_work_item_sizes": list(real.max_work_item_sizes),
        "local_mem_size": real.local_mem_size,
        "max_compute_units": real.max_compute_units,
    }
    attrs.update(limits)
    return SimpleNamespace(**attrs)


def tiny_params(real: cl.Device) -> Params:
    """A tiny GPU's tunables, with scalar loads (VEC=1) for good measure."""
    params = choose(fake_device(real, max_work_group_size=32, max_work_item_sizes=[32, 32, 32],
                                local_mem_size=8192, max_compute_units=1))
    return dataclasses.replace(params, vec=1)


@pytest.fixture(scope="session")
def driver() -> Driver:
    try:
        d = Driver()
    except GpuError as exc:
        if "pocl-opencl-icd" in str(exc):  # no OpenCL platform or device at all
            pytest.skip(str(exc))
        raise
    yield d
    d.close()


@pytest.fixture(scope="session")
def gpu_like(driver: Driver) -> Driver:
    d = Driver(driver.device, params=choose(fake_device(driver.device)))
    yield d
    d.close()


@pytest.fixture(scope="session")
def tiny(driver: Driver) -> Driver:
    d = Driver(driver.device, params=tiny_params(driver.device))
    yield d
    d.close()


@pytest.fixture(params=["driver", "gpu_like", "tiny"])
def any_driver(request: pytest.FixtureRequest) -> Driver:
    """Each of the three drivers in turn."""
    return request.getfixturevalue(request.param)


@pytest.fixture(name="fake_device")
def fake_device_fixture() -> object:
    """``fake_device(real, **limits)`` (see above), for tests of the tunables."""
    return fake_device


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)
