"""``lab profile --diff RUN_A RUN_B``: which functions gained or lost time or instructions.

Both runs must hold profiles of one kind: sampled stacks (``lab profile``: py-spy or perf
samples, compared as shares of each profile's total, since sample counts differ) or callgrind
instructions (``lab bench --metric instructions``: compared in absolute instructions, with
shares alongside). Profiles pair by (implementation, workload, parameters); a run with one
profile pairs with a run with one profile whatever they measured.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import UsageError
from lab.profile.report import stacks_of, write_diff
from lab.profile.stacks import DiffRow, diff, diff_costs


@dataclass
class ProfileDiff:
    """One paired diff: what was compared, its rows (largest change first), its files."""

    run_a: int
    run_b: int
    impl: str
    workload: str
    params: dict[str, Any]
    unit: str
    rows: list[DiffRow]
    files: dict[str, str]


def _key(p: dict) -> tuple:
    return (p["impl"], p["workload"], json.dumps(p["params"], sort_keys=True))


def pair(a: list[dict], b: list[dict], run_a: int, run_b: int) -> list[tuple[dict, dict]]:
    """Profiles of the two runs that belong together; UsageError when none do."""
    for run, profiles in ((run_a, a), (run_b, b)):
        if not profiles:
            raise UsageError(f"run {run} has no profile; profiles come from `lab profile` "
                             "or `lab bench --metric instructions`")
    if len(a) == 1 and len(b) == 1:
        pairs = [(a[0], b[0])]
    else:
        by_key = {_key(p): p for p in b}
        pairs = [(p, by_key[_key(p)]) for p in a if _key(p) in by_key]
    if not pairs:
        raise UsageError(f"runs {run_a} and {run_b} profile different implementations, "
                         "workloads or parameters; nothing to compare")
    for pa, pb in pairs:
        if pa["unit"] != pb["unit"]:
            raise UsageError(f"run {run_a} holds {pa['unit']} ({pa['source']}) and run {run_b} "
                             f"{pb['unit']} ({pb['source']}); a diff compares one channel: "
                             "two sampled profiles or two instruction profiles")
    return pairs


def diff_pair(pa: dict, pb: dict, by: str) -> tuple[list[DiffRow], Any, Any]:
    """Rows of one pair, and the two stacks when both profiles kept them."""
    column = 0 if by == "self" else 1
    sa, sb = stacks_of(pa), stacks_of(pb)
    if sa is not None and sb is not None:
        return diff(sa, sb, by=by), sa, sb
    costs_a = {n: float(v[column]) for n, v in pa["functions"].items()}
    costs_b = {n: float(v[column]) for n, v in pb["functions"].items()}
    rows = diff_costs(costs_a, costs_b, pa["total"], pb["total"])
    if pa["unit"] == "instructions":
        rows.sort(key=lambda r: (-abs(r.delta), r.name))
    return rows, None, None


def profile_diff(store: Any, run_a: int, run_b: int, out_root: Path, by: str = "self",
                 limit: int = 30) -> list[ProfileDiff]:
    """Diff every pair of profiles of the two runs, writing each diff's files."""
    ra, rb = store.run(run_a), store.run(run_b)
    if ra.system != rb.system:
        raise UsageError(f"run {run_a} is of {ra.system} and run {run_b} of {rb.system}")
    out = []
    for pa, pb in pair(store.profiles(run_a), store.profiles(run_b), run_a, run_b):
        rows, sa, sb = diff_pair(pa, pb, by)
        title = (f"{ra.system} · {pa['workload']} · {pa['impl']}: run {run_a} → run {run_b} "
                 f"({pa['unit']}, {by})")
        tag = zlib.crc32(json.dumps(pa["params"], sort_keys=True).encode())
        folder = out_root / f"{run_a}-{run_b}" / f"{pa['impl']}-{pa['workload']}-{tag:08x}"
        files = write_diff(folder, title, rows, pa["unit"], limit, sa, sb)
        out.append(ProfileDiff(run_a, run_b, pa["impl"], pa["workload"], pa["params"],
                               pa["unit"], rows, files))
    return out
