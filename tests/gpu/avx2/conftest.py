"""Fixtures for the gpu plugin's AVX2 kernels: the cffi module built in the flavor named by
``$LAB_FLAVOR`` (``release`` by default; test_avx2_sanitizers.py re-runs this folder with the
ASan+UBSan ``debug`` build) and ``Avx2`` backends over it."""

from __future__ import annotations

import numpy as np
import pytest

from labtest import FLAVOR


@pytest.fixture(scope="session")
def avx2_module():  # noqa: ANN201 - the cffi extension module
    from lab import native
    from lab.host import get_host

    return native.load(get_host().systems()["gpu"], "avx2", FLAVOR)


@pytest.fixture(scope="session")
def ffi(avx2_module):  # noqa: ANN001, ANN201
    return avx2_module.ffi


@pytest.fixture(scope="session")
def lib(avx2_module):  # noqa: ANN001, ANN201
    return avx2_module.lib


@pytest.fixture(scope="session")
def avx2(avx2_module):  # noqa: ANN001, ANN201 - plugins.gpu.avx2.Avx2 on all CPUs
    from plugins.gpu.avx2 import Avx2

    if not Avx2.supported(avx2_module.lib):
        pytest.skip("this CPU lacks AVX2/FMA")
    return Avx2(avx2_module.ffi, avx2_module.lib)


@pytest.fixture(scope="session")
def backends(avx2_module):  # noqa: ANN001, ANN201 - {threads: Avx2}
    """Backends with 1, 2, 3 and 5 threads (more than this machine's CPUs is fine)."""
    from plugins.gpu.avx2 import Avx2

    if not Avx2.supported(avx2_module.lib):
        pytest.skip("this CPU lacks AVX2/FMA")
    return {t: Avx2(avx2_module.ffi, avx2_module.lib, threads=t) for t in (1, 2, 3, 5)}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)
