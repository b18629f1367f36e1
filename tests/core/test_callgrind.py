"""Tests of the instruction channel: callgrind client requests (lab.callgrind) and the
callgrind profile parser (lab.profile.callgrind_format).

The real tests build a tiny cffi library, run a Python child under ``valgrind_argv`` that
measures it with ``Requests().measure`` and read the dumps back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import cffi
import pytest

from lab.callgrind import Requests, ValgrindMissingError, check_valgrind, valgrind_argv
from lab.errors import LabError
from lab.profile.callgrind_format import (
    CallgrindDump,
    alloc_calls,
    dumps_in,
    parse_callgrind,
)
from labtest import ROOT

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind not installed (apt-get install valgrind)")

TEST_LIB_C = r"""
#include <stdlib.h>

static void *volatile sink;

__attribute__((noinline)) unsigned long spin(unsigned n)
{
    unsigned long x = 1;
    for (unsigned i = 0; i < n; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    return x;
}

__attribute__((noinline)) int alloc_some(int k)
{
    int done = 0;
    for (int i = 0; i < k; i++) {
        void *p = malloc(32);
        if (p) {
            sink = p;
            done++;
            free(p);
        }
    }
    return done;
}
"""

CHILD = """
import importlib.util
import sys

from lab.callgrind import Requests

spec = importlib.util.spec_from_file_location("_cgtest", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
lib = module.lib
requests = Requests()
assert requests.running() == 1, requests.running()
for n in (100000, 200000, 100000, 200000):
    requests.measure(lambda: lib.spin(n), f"spin-{n}", warmup=True)
assert requests.measure(lambda: lib.alloc_some(5), "alloc-5", warmup=True) == 5
"""

SPIN_KEY = "spin (_cgtest.so)"


@pytest.fixture(scope="module")
def cache_env(session_cache: Path) -> Iterator[Path]:
    """``LAB_CACHE`` set to the session's build cache for this module's tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_CACHE", str(session_cache))
        yield session_cache


@pytest.fixture(scope="module")
def test_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny cffi library (``spin``, ``alloc_some``), renamed ``_cgtest.so``."""
    folder = tmp_path_factory.mktemp("cgtest-lib")
    ffi = cffi.FFI()
    ffi.cdef("unsigned long spin(unsigned n); int alloc_some(int k);")
    ffi.set_source("_cgtest", TEST_LIB_C)
    built = Path(ffi.compile(tmpdir=str(folder)))
    return built.rename(folder / "_cgtest.so")


def run_child(out_dir: Path, test_lib: Path, cache: Path) -> list[CallgrindDump]:
    script = out_dir.parent / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "LAB_CACHE": str(cache), "PYTHONHASHSEED": "0"}
    argv = [*valgrind_argv(out_dir), sys.executable, str(script), str(test_lib)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [d for d in dumps_in(out_dir) if d.client_request]


@pytest.fixture(scope="module")
def child_runs(tmp_path_factory: pytest.TempPathFactory, test_lib: Path,
               cache_env: Path) -> list[list[CallgrindDump]]:
    """The client-request dumps of two child processes under callgrind."""
    Requests()  # build the client-request module outside valgrind first
    runs = []
    for i in range(2):
        out = tmp_path_factory.mktemp(f"cg-run{i}") / "out"
        runs.append(run_child(out, test_lib, cache_env))
    return runs


def spin_ir(dump: CallgrindDump) -> int:
    return dump.functions[SPIN_KEY].self["Ir"]


@needs_valgrind
def test_dump_labels_and_file_names(child_runs: list[list[CallgrindDump]]) -> None:
    dumps = child_runs[0]
    assert [d.label for d in dumps] == ["spin-100000", "spin-200000", "spin-100000",
                                        "spin-200000", "alloc-5"]
    assert [d.part for d in dumps] == [1, 2, 3, 4, 5]
    for dump in dumps:
        assert dump.path is not None
        assert dump.path.name == f"callgrind.{dump.pid}.out.{dump.part}"
        assert dump.events[0] == "Ir" and "D1mr" in dump.events
        assert dump.totals["Ir"] == sum(f.self["Ir"] for f in dump.functions.values())
    termination = dumps[0].path.parent / f"callgrind.{dumps[0].pid}.out"
    assert parse_callgrind(termination).label == "Program termination"


@needs_valgrind
def test_spin_scales_with_n(child_runs: list[list[CallgrindDump]]) -> None:
    dumps = child_runs[0]
    assert SPIN_KEY in dumps[0].functions
    ratio = spin_ir(dumps[1]) / spin_ir(dumps[0])
    assert 1.9 <= ratio <= 2.1
    assert dumps[0].functions[SPIN_KEY].calls_to == {}
    wrapper = dumps[0].functions["_cffi_f_spin (_cgtest.so)"]
    assert wrapper.calls_to[SPIN_KEY] == 1
    assert wrapper.inclusive["Ir"] > spin_ir(dumps[0]) > wrapper.self["Ir"]


@needs_valgrind
def test_same_n_is_deterministic(child_runs: list[list[CallgrindDump]]) -> None:
    first, second = child_runs
    pairs = [(first[0], first[2]), (first[1], first[3]), (first[0], second[0]),
             (first[3], second[3])]
    for a, b in pairs:
        assert a.label == b.label
        assert spin_ir(a) == spin_ir(b)
        assert abs(a.totals["Ir"] - b.totals["Ir"]) <= 0.001 * a.totals["Ir"]


@needs_valgrind
def test_alloc_calls_counts_mallocs(child_runs: list[list[CallgrindDump]]) -> None:
    dump = child_runs[0][4]
    assert alloc_calls(dump, {"_cgtest.so"}) == 5
    assert alloc_calls(dump) >= 5
    assert alloc_calls(child_runs[0][0], {"_cgtest.so"}) == 0


@needs_valgrind
def test_requests_outside_valgrind_are_noops(cache_env: Path) -> None:
    requests = Requests()
    assert requests.running() == 0
    calls: list[int] = []
    assert requests.measure(lambda: calls.append(1) or 7, "x") == 7
    assert calls == [1]
    assert requests.measure(lambda: calls.append(2) or 8, "y", warmup=True) == 8
    assert calls == [1, 2, 2]
    with pytest.raises(ZeroDivisionError):
        requests.measure(lambda: 1 // 0, "boom")
    with pytest.raises(ValueError, match="one line"):
        requests.measure(lambda: 1, "two\nlines")


def test_valgrind_argv(tmp_path: Path) -> None:
    argv = valgrind_argv(tmp_path / "out", cache_sim=False)
    assert argv[:2] == ["valgrind", "--tool=callgrind"]
    assert {"--instr-atstart=no", "--collect-atstart=no", "--cache-sim=no",
            "--dump-instr=no"} <= set(argv)
    assert f"--callgrind-out-file={tmp_path / 'out'}/callgrind.%p.out" in argv
    assert (tmp_path / "out").is_dir()
    assert "--cache-sim=yes" in valgrind_argv(tmp_path / "out")
    with pytest.raises(ValueError, match="%"):
        valgrind_argv(tmp_path / "100%")


def test_check_valgrind_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ValgrindMissingError, match="apt-get install valgrind") as info:
        check_valgrind()
    assert isinstance(info.value, LabError)
    assert "\n" not in str(info.value)


SNIPPET = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 42
cmd: python bench.py
part: 2

desc: I1 cache:
desc: Trigger: Client Request: compress-small

positions: line
events: Ir Dr
summary: 480 21

ob=(1) /x/_lab_compress.so
fl=(1) core.c
fn=(1) find_match
10 100 10
+2 50
-1 20 5
cob=(2) /lib/libc.so.6
cfi=(2) malloc.c
cfn=(2) malloc
calls=3 500
* 300 6
fn=(3) compress
20 10
cfn=(1)
calls=1 -10
* 470 21
ob=(2)
fl=(2)
fn=(2)
500 300 6

totals: 480 21
"""


def test_parse_snippet() -> None:
    dump = parse_callgrind(SNIPPET)
    assert dump.label == "compress-small" and dump.client_request
    assert (dump.pid, dump.part, dump.cmd) == (42, 2, "python bench.py")
    assert dump.events == ["Ir", "Dr"]
    assert dump.totals == {"Ir": 480, "Dr": 21}
    find = dump.functions["find_match (_lab_compress.so)"]
    assert find.self == {"Ir": 170, "Dr": 15}  # the calls= cost is not self cost
    assert find.inclusive == {"Ir": 470, "Dr": 21}
    assert find.calls_to == {"malloc (libc.so.6)": 3}
    compress = dump.functions["compress (_lab_compress.so)"]
    assert compress.self == {"Ir": 10, "Dr": 0}
    assert compress.inclusive == {"Ir": 480, "Dr": 21}
    assert compress.calls_to == {"find_match (_lab_compress.so)": 1}
    malloc = dump.functions["malloc (libc.so.6)"]
    assert malloc.self == {"Ir": 300, "Dr": 6} and malloc.object == "libc.so.6"
    assert alloc_calls(dump) == 3
    assert alloc_calls(dump, {"_lab_compress.so"}) == 3
    assert alloc_calls(dump, {"libc.so.6"}) == 0


def test_parse_without_totals_instr_positions_and_jumps() -> None:
    text = textwrap.dedent("""\
        positions: instr line
        events: Ir Bc
        desc: Trigger: Program termination
        fn=main
        0x1000 12 3 1
        +4 * 2
        jump=2 0x1010 +1
        * *
        jcnd=1/2 -8 -1
        +2 +1
        -6 -2 5 1
        """)
    dump = parse_callgrind(text)
    assert dump.label == "Program termination" and not dump.client_request
    assert dump.pid is None
    assert dump.functions["main"].self == {"Ir": 10, "Bc": 2}  # jump lines carry no cost
    assert dump.totals == {"Ir": 10, "Bc": 2}


@pytest.mark.parametrize(("text", "lineno", "expected"), [
    ("events: Ir\nfn=f\n1 2\nthis is not callgrind\n", 4, "a header, specification"),
    ("fn=f\n1 2\n", 2, "'events:' before the first cost line"),
    ("events: Ir\nfn=(3)\n", 2, "a name defined earlier for fn=(3)"),
    ("events: Ir\nfn=f\ncfn=g\ncalls=1 5\n", 4, "a cost line after 'call'"),
    ("events: Ir\nfn=f\n1 2 3\n", 3, "at most 1 decimal costs"),
    ("events: Ir\nfn=f\ncalls=1 5\n2 3\n", 3, "'fn=' and 'cfn=' before 'calls='"),
    ("events: Ir\nfn=f\ncfn=g\ncalls=x 5\n2 3\n", 4, "'calls=COUNT TARGET-POSITION'"),
    ("events: Ir\nfn=f\nzz=1\n", 3, "a known specification"),
    ("events: Ir\n1 2\n", 2, "'fn=' before the first cost line"),
])
def test_malformed_is_one_line_value_error(text: str, lineno: int, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_callgrind(text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"<text>:{lineno}: expected ")
    assert expected in message


def test_malformed_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "callgrind.1.out"
    path.write_text("events: Ir\nfn=f\n1 x\n")
    with pytest.raises(ValueError, match=rf"^{path}:3: expected "):
        parse_callgrind(path)


def test_dumps_in_sorts_by_pid_and_part(tmp_path: Path) -> None:
    for pid, part in [(20, 2), (3, 1), (20, 1), (3, 10), (3, 2)]:
        name = f"callgrind.{pid}.out.{part}"
        (tmp_path / name).write_text(f"pid: {pid}\npart: {part}\nevents: Ir\n"
                                     f"desc: Trigger: Client Request: p{pid}-{part}\n")
    (tmp_path / "other.txt").write_text("not a dump")
    labels = [d.label for d in dumps_in(tmp_path)]
    assert labels == ["p3-1", "p3-2", "p3-10", "p20-1", "p20-2"]
