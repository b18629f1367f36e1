"""The default result store (SQLite), claimed for plain paths and ``sqlite:///PATH`` URLs."""

from __future__ import annotations

from pathlib import Path

import lab
from lab.store.sqlite import SQLiteStore


@lab.hookimpl
def lab_open_store(url: str) -> SQLiteStore | None:
    if url.startswith("sqlite:///"):
        return SQLiteStore(Path(url[len("sqlite:///") - 1:]))
    if "://" in url:
        return None
    return SQLiteStore(Path(url))
