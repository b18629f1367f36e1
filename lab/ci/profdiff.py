"""The profile diff ``lab ci`` shows under a changed benchmark: the functions whose
instruction counts moved most between the two builds.

Both sides' instruction runs keep one callgrind profile per item (``lab bench --metric
instructions``); the baseline's is in its scratch store, the current one's in the lab's store.
The profiles of the changed benchmark's (implementation, workload, parameters) are diffed by
self cost with :func:`lab.profile.compare.diff_pair`, the largest absolute changes first.

Contract. ``diff_for`` returns ``None`` when either run has no profile of that item, else a
dict with ``label``, ``unit``, ``total_before``, ``total_after`` and up to ``limit`` ``rows``
(``name``, ``before``, ``after``, ``delta``).
"""

from __future__ import annotations

import json
from typing import Any

from lab.ci.measure import Key


def _profile(store: Any, run_id: int, key: Key) -> dict | None:
    params = json.loads(key.params)
    for p in store.profiles(run_id):
        if (p["impl"], p["workload"], p["params"]) == (key.impl, key.workload, params):
            return p
    return None


def diff_for(base_store: Any, base_run: int, store: Any, run: int, key: Key,
             limit: int = 8) -> dict | None:
    """The self-cost diff of ``key``'s item between ``base_run`` and ``run``."""
    from lab.profile.compare import diff_pair

    pa, pb = _profile(base_store, base_run, key), _profile(store, run, key)
    if pa is None or pb is None or pa["unit"] != pb["unit"]:
        return None
    rows, _, _ = diff_pair(pa, pb, "self")
    rows = sorted(rows, key=lambda r: (-abs(r.delta), r.name))[:limit]
    return {"label": Key(key.system, key.workload, key.impl, key.params, "").label.strip(),
            "unit": pa["unit"], "total_before": pa["total"], "total_after": pb["total"],
            "rows": [{"name": r.name, "before": r.before, "after": r.after, "delta": r.delta}
                     for r in rows if r.delta]}
