"""Fixtures for the tcpip stack's in-process tests: ``tsmod``, the cffi build of
``targets/tcpip`` (recipe ``tcpip-lib``) in the flavor named by ``$LAB_FLAVOR`` (``release``
by default; test_tcpip_sanitizers re-runs this folder's in-process tests on the ASan+UBSan
``debug`` build), and ``net``, a fresh :class:`netsim.Net` on it, freed after the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from netsim import Net

from labtest import FLAVOR


@pytest.fixture(scope="session")
def tsmod() -> Any:
    from lab import native
    from lab.host import get_host

    return native.load(get_host().systems()["tcpip"], "tcpip-lib", FLAVOR)


@pytest.fixture
def net(tsmod: Any) -> Iterator[Net]:
    n = Net(tsmod)
    yield n
    n.close()
