"""The result store: ``open_store()`` gives the configured store (SQLite by default)."""

from __future__ import annotations

from lab import paths
from lab.store.base import RunRecord, Sample, Store


def open_store(url: str | None = None) -> Store:
    """Open the store at ``url`` (default: ``$LAB_STORE`` or ``results/lab.db``).

    Plugins may claim other URLs through ``lab_open_store``; the built-in SQLite store takes
    plain paths and ``sqlite:///path``.
    """
    from lab.errors import StoreError
    from lab.host import get_host

    target = url or str(paths.store_path())
    store = get_host().hook.lab_open_store(url=target)
    if store is None:
        raise StoreError(f"no store plugin understands {target!r}; plain paths and "
                         "sqlite:///PATH are built in")
    return store


__all__ = ["RunRecord", "Sample", "Store", "open_store"]
