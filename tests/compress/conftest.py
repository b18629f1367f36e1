"""Fixtures for the compress core: the codec built in the flavor named by ``$LAB_FLAVOR``
(``release`` by default; the sanitizer test re-runs this folder with ``debug``)."""

from __future__ import annotations

import pytest

from labtest import FLAVOR, INTEROP_SIZE
from plugins.compress import corpus


@pytest.fixture(scope="session")
def codec():  # noqa: ANN201 - plugins.compress.codec.Codec
    from lab import native
    from lab.host import get_host
    from plugins.compress.codec import Codec

    system = get_host().systems()["compress"]
    module = native.load(system, "compress", FLAVOR)
    return Codec(module.ffi, module.lib)


@pytest.fixture(scope="session", params=corpus.KINDS)
def corpus_data(request: pytest.FixtureRequest) -> bytes:
    return corpus.build(request.param, INTEROP_SIZE)
