"""The in-process ``table`` workload (plugins/kvstore/table.py): the kvlib table functions count
right, the workload is declared to compare our table with a Python dict only, every other
kvstore workload skips the dict, and `lab bench kvstore --workload table --quick` measures
both sides."""

from __future__ import annotations

from typing import Any

import pytest

import lab
from labtest import FLAVOR
from plugins.kvstore import table


@pytest.fixture(scope="module")
def system() -> lab.System:
    from lab.host import get_host

    return get_host().systems()["kvstore"]


@pytest.fixture(scope="module")
def lib(system: lab.System) -> Any:
    from lab import native

    mod = native.load(system, "kvlib", FLAVOR)
    mod.lib.kv_lib_init(1)
    return mod.lib


def test_keys_and_packing() -> None:
    keys = table.make_keys(1000, 16)
    assert len(set(keys)) == 1000 and {len(k) for k in keys} == {16}
    assert table.make_keys(3, 20)[2] == b"key:000000000002----"
    assert table.pack([b"ab", b""]) == b"\x02\x00\x00\x00ab\x00\x00\x00\x00"


def test_kvlib_table_counts_hits(lib: Any) -> None:
    present = table.make_keys(5000, 16)
    absent = [b"absent:%d" % i for i in range(3000)]
    lib.kv_lib_table_clear()
    packed = table.pack(present)
    assert lib.kv_lib_table_fill(packed, len(packed), 5000) == 5000
    assert lib.kv_lib_table_size() == 5000
    assert lib.kv_lib_table_fill(packed, len(packed), 5000) == 0  # nothing new
    assert lib.kv_lib_table_lookup(packed, len(packed), 5000) == 5000
    mixed = table.pack(absent + present[:1234] + [b""])
    assert lib.kv_lib_table_lookup(mixed, len(mixed), 3000 + 1234 + 1) == 1234
    assert lib.kv_lib_table_lookup(packed, len(packed) - 1, 5000) == -1  # short buffer
    lib.kv_lib_table_clear()
    assert lib.kv_lib_table_size() == 0
    assert lib.kv_lib_table_lookup(packed, len(packed), 5000) == 0


def test_both_sides_run_and_check_their_counts() -> None:
    state = table.prepare({"keys": 20_000, "key_size": 64})
    insert_ns, lookup_ns = table.PythonDictTable().run(state)
    assert insert_ns > 0 and lookup_ns > 0
    ours = table.measure(object(), state, {"keys": 20_000, "key_size": 64})
    assert set(ours) == {"insert_ns", "lookup_ns", "heap_per_key"}
    assert 64 < ours["heap_per_key"] < 400  # at least the key bytes, within reason
    assert table.PythonDictTable().memory(state) > 64


def test_declarations(system: lab.System) -> None:
    work = system.workload("table")
    assert system.baseline_of("table") == "python-dict"
    assert work.measure_every_rep and work.supports is not None
    assert "memory" in (work.supports("redis", {}) or "")
    assert work.supports("kvstore", {}) is None and work.supports("python-dict", {}) is None
    assert system.impl("python-dict").recipes == ()
    for other in system.workloads:
        if other.name == "table":
            continue
        assert other.supports is not None, other.name
        assert "table" in (other.supports("python-dict", {}) or ""), other.name
        assert other.supports("kvstore", {}) is None and other.supports("redis", {}) is None


def test_quick_bench_compares_kvstore_with_python_dict(run_lab, lab_env) -> None:  # noqa: ANN001
    res = run_lab("bench", "kvstore", "--workload", "table", "--quick", "--json", timeout=300)
    assert res.code == 0, res.err
    doc = res.json()
    rows = {(r["impl"], r["metric"]): r for r in doc["results"]}
    for impl in ("kvstore", "python-dict"):
        for metric in ("insert_ns", "lookup_ns", "heap_per_key"):
            row = rows[impl, metric]
            assert row["status"] == "ok" and row["median"] > 0, row
            assert row["params"] == {"keys": 100_000, "key_size": 16}
    assert rows["redis", "insert_ns"]["status"] != "ok"
    assert "memory" in rows["redis", "insert_ns"]["note"]
    compared = {(c["impl"], c["baseline"], c["metric"]) for c in doc["comparisons"]}
    assert {("kvstore", "python-dict", m) for m in ("insert_ns", "lookup_ns",
                                                    "heap_per_key")} <= compared


def test_info_names_the_workloads_own_baseline(run_lab) -> None:  # noqa: ANN001
    res = run_lab("info", "kvstore")
    assert res.code == 0, res.err
    table = res.out.split("\n  table:", 1)[1]
    assert "    compared with: python-dict (this workload's baseline)" in table
    assert "compared with" not in res.out.split("\n  table:", 1)[0]
