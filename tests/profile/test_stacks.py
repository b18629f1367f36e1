"""lab.profile.stacks: collapsed text round-trips, py-spy frames merge per function, perf
script samples become root-first stacks filtered by pid, self/total costs count recursion
once, top and diff rank functions, and malformed input is refused with its line number."""

from __future__ import annotations

import pytest

from lab.profile import stacks as st

PYSPY_RAW = """\
<module> (bench.py:12);run (bench.py:40);Codec.compress (plugins/compress/codec.py:176);\
deflate (deflate.c:88);find_match (lz77.c:221) 30
<module> (bench.py:12);run (bench.py:40);Codec.compress (plugins/compress/codec.py:176);\
deflate (deflate.c:88);find_match (lz77.c:230) 12
<module> (bench.py:12);run (bench.py:40);Codec.compress (plugins/compress/codec.py:180);\
deflate (deflate.c:95);emit_block (deflate.c:301) 5

<module> (bench.py:12);run (bench.py:41);Codec.checksum (plugins/compress/codec.py:190);\
0x7f010464524a (libc.so.6) 3
"""

PERF_SCRIPT = """\
kvstore-server  3619 [001]   273.188994:    2004008 cpu-clock: \n\
\t            66df find_match+0x1f (/opt/lab/bin/kvstore-server)
\t            7012 handle_request+0x99 (/opt/lab/bin/kvstore-server)
\t            7f10 main+0x40 (/opt/lab/bin/kvstore-server)

kvstore-server  3619/3621 [002]   273.189994:    2004008 cpu-clock: \n\
\t    7f0104645000 [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t            7012 handle_request+0x99 (/opt/lab/bin/kvstore-server)
\t            7f10 main+0x40 (/opt/lab/bin/kvstore-server)

load gen  4100 [003]   273.190001:    2004008 cpu-clock: \n\
\tffffffff81000000 [unknown] ([kernel.kallsyms])
\t            1234 send_request+0x10 (/opt/lab/bin/loadgen)
\t            1300 main+0x20 (/opt/lab/bin/loadgen)

kvstore-server  3619 [001]   273.191994:    2004008 cpu-clock: \n\
\t            66df find_match+0x22 (/opt/lab/bin/kvstore-server)
\t            7012 handle_request+0x99 (/opt/lab/bin/kvstore-server)
\t            7f10 main+0x40 (/opt/lab/bin/kvstore-server)
"""


def test_parse_folded_adds_repeated_stacks_and_round_trips() -> None:
    s = st.parse_folded("a;b;c 3\n\na;b 2\na;b;c 4\nx 1.5\n")
    assert s.counts == {("a", "b", "c"): 7, ("a", "b"): 2, ("x",): 1.5}
    assert s.total == 10.5
    text = st.to_folded(s)
    assert text == "a;b 2\na;b;c 7\nx 1.5\n"
    assert st.parse_folded(text) == s


@pytest.mark.parametrize("line", ["a;b;c", "a;b;c many", "a;b -3", " 4"])
def test_malformed_folded_line_names_its_number_and_the_valid_form(line: str) -> None:
    with pytest.raises(ValueError) as err:
        st.parse_folded(f"a;b 1\n\n{line}\n")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("line 3: expected")
    assert "COUNT" in message and ";" in message


def test_normalize_frame() -> None:
    assert st.normalize_frame("find_match (lz77.c:221)") == "find_match (lz77.c)"
    assert (
        st.normalize_frame("Codec.compress (plugins/compress/codec.py:176)")
        == "Codec.compress (plugins/compress/codec.py)"
    )
    assert st.normalize_frame("find_match (lz77.c)") == "find_match (lz77.c)"
    assert st.normalize_frame("0x7f010464524a (libc.so.6)") == "[libc.so.6]"
    assert st.normalize_frame("0x7f0104 (/usr/lib/libz.so.1)") == "[libz.so.1]"
    assert st.normalize_frame("process 12:\"python bench.py\"") == "process 12:\"python bench.py\""


def test_pyspy_raw_merges_lines_into_functions() -> None:
    s = st.parse_pyspy_raw(PYSPY_RAW)
    root = ("<module> (bench.py)", "run (bench.py)")
    compress = (*root, "Codec.compress (plugins/compress/codec.py)", "deflate (deflate.c)")
    assert s.counts == {
        (*compress, "find_match (lz77.c)"): 42,
        (*compress, "emit_block (deflate.c)"): 5,
        (*root, "Codec.checksum (plugins/compress/codec.py)", "[libc.so.6]"): 3,
    }
    assert s.total == 50
    best = st.top(s, 1)[0]
    assert (best.name, best.self_weight, best.total_weight) == ("find_match (lz77.c)", 42, 42)


def test_perf_script_gives_root_first_stacks_with_comm_root() -> None:
    s = st.parse_perf_script(PERF_SCRIPT)
    assert s.counts == {
        ("kvstore-server", "main", "handle_request", "find_match"): 2,
        ("kvstore-server", "main", "handle_request", "[libc.so.6]"): 1,
        ("load gen", "main", "send_request", "[kernel.kallsyms]"): 1,
    }


def test_perf_script_filters_by_process_id_not_thread_id() -> None:
    kv = st.parse_perf_script(PERF_SCRIPT, pids={3619})
    assert kv.total == 3 and {s[0] for s in kv.counts} == {"kvstore-server"}
    assert st.parse_perf_script(PERF_SCRIPT, pids={3621}).total == 0
    load = st.parse_perf_script(PERF_SCRIPT, pids={4100})
    assert list(load.counts) == [("load gen", "main", "send_request", "[kernel.kallsyms]")]


def test_perf_script_without_call_chains_and_bad_lines() -> None:
    flat = "perf 10 [000] 1.000001: 1 cycles:\nperf 10 [000] 1.000002: 1 cycles:\n"
    assert st.parse_perf_script(flat).counts == {("perf",): 2}
    with pytest.raises(ValueError, match="perf script line 1"):
        st.parse_perf_script("this is not perf output\n")


def test_self_and_total_count_recursion_once_per_stack() -> None:
    s = st.Stacks()
    s.add(("main", "fib", "fib", "fib"), 6)
    s.add(("main", "fib", "add"), 3)
    s.add(("main",), 1)
    costs = st.functions(s)
    assert costs["fib"] == st.FunctionCost("fib", 6, 9)
    assert costs["main"] == st.FunctionCost("main", 1, 10)
    assert costs["add"] == st.FunctionCost("add", 3, 3)
    assert all(c.total_weight <= s.total for c in costs.values())


def test_top_orders_by_cost_then_name() -> None:
    s = st.parse_folded("m;b 5\nm;a 5\nm;c 7\nm 1\n")
    assert [c.name for c in st.top(s)] == ["c", "a", "b", "m"]
    assert [c.name for c in st.top(s, 2)] == ["c", "a"]
    assert [c.name for c in st.top(s, by="total")][0] == "m"
    with pytest.raises(ValueError, match="by must be one of"):
        st.top(s, by="inclusive")


def test_merge_and_scaled() -> None:
    a = st.parse_folded("m;f 2\n")
    b = st.parse_folded("m;f 1\nm;g 1\n")
    assert a.merge(b) is a and a.counts == {("m", "f"): 3, ("m", "g"): 1}
    half = a.scaled(0.5)
    assert half.total == 2 and a.total == 4
    with pytest.raises(ValueError):
        a.add((), 1)
    with pytest.raises(ValueError):
        a.scaled(-1)


def test_diff_finds_the_function_whose_share_grew() -> None:
    before = st.parse_folded("m;hash 50\nm;find_match 30\nm;emit 20\n")   # total 100
    after = st.parse_folded("m;hash 50\nm;find_match 140\nm;crc 10\n")    # total 200
    rows = st.diff(before, after)
    top_row = rows[0]
    assert top_row.name == "find_match"
    assert top_row.before_share == pytest.approx(0.3)
    assert top_row.after_share == pytest.approx(0.7)
    assert top_row.share_delta == pytest.approx(0.4) and top_row.delta == 110
    by_name = {r.name: r for r in rows}
    assert by_name["hash"].share_delta == pytest.approx(-0.25)     # same count, smaller share
    assert by_name["emit"].after == 0 and by_name["crc"].before == 0
    assert [abs(r.share_delta) for r in rows] == sorted(
        (abs(r.share_delta) for r in rows), reverse=True
    )
    assert {r.name for r in st.diff(before, after, min_share=0.1)} == {"find_match", "hash", "emit"}
    assert st.diff(before, after, by="total")[0].name == "find_match"


def test_diff_costs_keeps_absolute_deltas() -> None:
    rows = st.diff_costs({"f": 1000, "g": 3000}, {"f": 1500, "g": 2500}, 4000, 4000)
    assert [(r.name, r.delta) for r in rows] == [("f", 500), ("g", -500)]    # tie: by name
    assert rows[0].share_delta == pytest.approx(0.125)
    assert st.diff_costs({"f": 1}, {}, 0, 0)[0].before_share == 0.0
