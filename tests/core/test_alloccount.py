"""The LD_PRELOAD allocation counter (lab/alloccount.py, lab/native/c/lab_alloc.c), for real:
a tiny cffi extension with known allocations is measured in a child process started with
``preload_env()``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cffi
import pytest

from lab import alloccount
from lab.alloccount import AllocCountError, Counter, executable_ranges, preload_env
from lab.errors import LabError
from labtest import ROOT

K, N = 7, 1000          # probe_mallocs(K, N): exactly K mallocs of N bytes, all freed
RA, RB = 100, 5000      # probe_realloc(RA, RB): malloc(RA), realloc to RB, free
AN = 256                # probe_aligned(AN): posix_memalign, aligned_alloc, memalign, calloc(4,)
PY_LIST = 200_000       # a Python list of this many items: 8 bytes each, allocated by Python

PROBE_CDEF = """
int probe_mallocs(int k, size_t n);
int probe_realloc(size_t a, size_t b);
int probe_aligned(size_t n);
void probe_free_null(void);
int probe_strdup(void);
"""

PROBE_SRC = r"""
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void *lab_probe_slots[64];

int probe_mallocs(int k, size_t n)
{
    if (k > 64)
        return -1;
    for (int i = 0; i < k; i++) {
        lab_probe_slots[i] = malloc(n);
        if (lab_probe_slots[i] == NULL)
            return -1;
        memset(lab_probe_slots[i], i, n);
    }
    for (int i = 0; i < k; i++) {
        free(lab_probe_slots[i]);
        lab_probe_slots[i] = NULL;
    }
    return k;
}

int probe_realloc(size_t a, size_t b)
{
    char *p = malloc(a);
    if (p == NULL)
        return -1;
    memset(p, 1, a);
    char *q = realloc(p, b);
    if (q == NULL) {
        free(p);
        return -1;
    }
    lab_probe_slots[0] = q;
    free(lab_probe_slots[0]);
    return 0;
}

int probe_aligned(size_t n)
{
    void *p[4] = {0};
    if (posix_memalign(&p[0], 64, n) != 0)
        return -1;
    p[1] = aligned_alloc(64, n);
    p[2] = memalign(64, n);
    p[3] = calloc(4, n);
    int ok = p[1] && p[2] && p[3] && ((size_t)p[0] % 64 == 0) && ((size_t)p[1] % 64 == 0);
    for (int i = 0; i < 4; i++)
        free(p[i]);
    return ok ? 0 : -1;
}

void probe_free_null(void)
{
    free(NULL);
}

int probe_strdup(void)
{
    char *s = strdup("allocated by libc, freed by the core");
    lab_probe_slots[0] = s;
    free(lab_probe_slots[0]);
    return s != NULL;
}
"""

CHILD = r"""
import json, sys
from dataclasses import asdict

sys.path.insert(0, sys.argv[1])
import _lab_alloc_probe as probe
from lab.alloccount import Counter

K, N, RA, RB, AN, PY_LIST = (int(a) for a in sys.argv[2:8])
lib = probe.lib
out = {"available": Counter.available()}
counter = Counter()
out["at_start"] = asdict(counter.read())
out["ranges"] = counter.add_module(probe)
measured = {}

def measure(name, fn):
    result, counts = counter.measure(fn)
    measured[name] = {"result": result, **asdict(counts)}

def with_python_list():
    big = [0] * PY_LIST
    return lib.probe_mallocs(K, N) + len(big) - PY_LIST

measure("mallocs", lambda: lib.probe_mallocs(K, N))
measure("realloc", lambda: lib.probe_realloc(RA, RB))
measure("aligned", lambda: lib.probe_aligned(AN))
measure("free_null", lambda: lib.probe_free_null())
measure("strdup", lambda: lib.probe_strdup())
measure("python", with_python_list)
measure("nothing", lambda: None)
before = asdict(counter.read())
lib.probe_mallocs(K, N)
junk = [[i] * 100 for i in range(1000)]
out["off_after_measure"] = asdict(counter.read()) == before
try:
    counter.measure(lambda: 1 / 0)
except ZeroDivisionError:
    before = asdict(counter.read())
    lib.probe_mallocs(K, N)
    out["off_after_raise"] = asdict(counter.read()) == before
counter.clear()
measure("cleared", lambda: lib.probe_mallocs(K, N))
out["measured"] = measured
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def cache_env(session_cache: Path) -> Iterator[dict[str, str]]:
    """``LAB_CACHE`` pointed at the session's cache, in this process and for children."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_CACHE", str(session_cache))
        yield {**os.environ, "LAB_CACHE": str(session_cache)}


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the compiled probe extension ``_lab_alloc_probe``."""
    out = tmp_path_factory.mktemp("alloc-probe")
    ffi = cffi.FFI()
    ffi.cdef(PROBE_CDEF)
    # -fno-builtin: the compiler may otherwise elide a malloc/free pair it can see through
    ffi.set_source("_lab_alloc_probe", PROBE_SRC, extra_compile_args=["-fno-builtin"])
    ffi.compile(tmpdir=str(out), verbose=False)
    assert list(out.glob("_lab_alloc_probe*.so"))
    return out


@pytest.fixture(scope="module")
def child(cache_env: dict[str, str], probe_dir: Path) -> dict:
    """The JSON report of the measuring child process (see CHILD)."""
    script = probe_dir / "measure_probe.py"
    script.write_text(CHILD)
    args = [str(v) for v in (K, N, RA, RB, AN, PY_LIST)]
    proc = subprocess.run([sys.executable, str(script), str(probe_dir), *args],
                          capture_output=True, text=True, env=preload_env(cache_env),
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def core(counts: dict) -> tuple[int, int, int]:
    return counts["core_allocs"], counts["core_bytes"], counts["core_frees"]


def test_build_is_cached_and_named_by_hash(cache_env: dict[str, str],
                                           session_cache: Path) -> None:
    first = alloccount.build()
    assert first.parent == session_cache / "core"
    assert re.fullmatch(r"lab_alloc-[0-9a-f]{16}\.so", first.name)
    mtime = first.stat().st_mtime_ns
    assert alloccount.build() == first and first.stat().st_mtime_ns == mtime
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".lab_alloc-")]


def test_preload_env_prepends_once_and_keeps_other_entries(cache_env: dict[str, str]) -> None:
    env = preload_env({"LD_PRELOAD": "/opt/libother.so", "KEEP": "1"})
    lib = str(alloccount.build())
    assert env["LD_PRELOAD"] == f"{lib} /opt/libother.so" and env["KEEP"] == "1"
    assert preload_env(env)["LD_PRELOAD"] == env["LD_PRELOAD"]


@pytest.mark.parametrize("runtime", ["/usr/lib/x86_64-linux-gnu/libasan.so.8",
                                     "/usr/lib/llvm-16/lib/libclang_rt.asan-x86_64.so"])
def test_preload_env_refuses_asan(runtime: str) -> None:
    with pytest.raises(AllocCountError, match="AddressSanitizer") as err:
        preload_env({"LD_PRELOAD": f"/opt/libother.so:{runtime}"})
    assert isinstance(err.value, LabError)
    assert "\n" not in str(err.value) and runtime in str(err.value)


def test_counter_is_off_and_unavailable_without_the_preload(cache_env: dict[str, str]) -> None:
    env = {k: v for k, v in cache_env.items() if k != "LD_PRELOAD"}
    code = ("from lab.alloccount import AllocCountError, Counter\n"
            "print(Counter.available())\n"
            "try:\n    Counter()\nexcept AllocCountError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    available, message = proc.stdout.splitlines()
    assert available == "False"
    assert "not loaded" in message and "preload_env()" in message


def test_child_sees_the_counter_with_nothing_counted_before_measure(child: dict) -> None:
    assert child["available"] is True
    assert child["at_start"] == dict.fromkeys(child["at_start"], 0)
    assert child["ranges"] and all(lo < hi for lo, hi in child["ranges"])


def test_k_mallocs_of_n_bytes_count_exactly(child: dict) -> None:
    m = child["measured"]["mallocs"]
    assert m["result"] == K
    assert core(m) == (K, K * N, K)
    assert m["all_allocs"] >= K and m["all_bytes"] >= K * N


def test_realloc_counts_as_one_allocation_of_the_new_size(child: dict) -> None:
    m = child["measured"]["realloc"]
    assert m["result"] == 0
    assert core(m) == (2, RA + RB, 1)


def test_aligned_and_zeroed_allocations_count(child: dict) -> None:
    m = child["measured"]["aligned"]
    assert m["result"] == 0
    assert core(m) == (4, 3 * AN + 4 * AN, 4)


def test_free_of_null_is_not_counted(child: dict) -> None:
    assert core(child["measured"]["free_null"]) == (0, 0, 0)


def test_libc_allocating_for_the_core_counts_only_in_all(child: dict) -> None:
    m = child["measured"]["strdup"]
    assert m["result"] == 1
    assert core(m) == (0, 0, 1)      # strdup's malloc is called from inside libc
    assert m["all_allocs"] >= 1


def test_python_allocations_count_in_all_but_not_in_core(child: dict) -> None:
    m = child["measured"]["python"]
    assert m["result"] == K
    assert core(m) == (K, K * N, K)
    assert m["all_allocs"] >= K + 1
    assert m["all_bytes"] >= K * N + 8 * PY_LIST
    assert child["measured"]["nothing"]["core_allocs"] == 0


def test_counting_is_off_outside_measure(child: dict) -> None:
    assert child["off_after_measure"] is True
    assert child["off_after_raise"] is True


def test_cleared_ranges_count_nothing_as_core(child: dict) -> None:
    m = child["measured"]["cleared"]
    assert core(m) == (0, 0, 0) and m["all_allocs"] >= K


def test_executable_ranges_parses_maps(tmp_path: Path) -> None:
    lib = tmp_path / "dir with space" / "_core.so"
    maps = "\n".join([
        f"7f0000000000-7f0000001000 r--p 00000000 08:01 42 {lib}",
        f"7f0000001000-7f0000005000 r-xp 00001000 08:01 42 {lib}",
        f"7f0000005000-7f0000006000 rw-p 00005000 08:01 42 {lib}",
        f"7f1000000000-7f1000002000 r-xp 00001000 08:01 43 {lib} (deleted)",
        "7f2000000000-7f2000002000 r-xp 00001000 08:01 44 /usr/lib/other.so",
        "7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0 [vdso]",
        "7ffe00000000-7ffe00001000 rw-p 00000000 00:00 0",
    ])
    assert executable_ranges(lib, maps) == [(0x7F0000001000, 0x7F0000005000),
                                            (0x7F1000000000, 0x7F1000002000)]


def _gcc() -> str:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed")
    return gcc


def test_c_source_is_warning_free_c11() -> None:
    res = subprocess.run([_gcc(), "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                          str(alloccount.SOURCE)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_c_source_builds_with_ubsan(tmp_path: Path) -> None:
    out = tmp_path / "lab_alloc_ubsan.so"
    res = subprocess.run([_gcc(), "-std=c11", "-O1", "-fPIC", "-shared", "-Wall", "-Wextra",
                          "-Werror", "-fsanitize=undefined", "-o", str(out),
                          str(alloccount.SOURCE)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 0


def test_counter_in_this_process_says_how_to_enable_it() -> None:
    if Counter.available():
        pytest.skip("this test process runs with the counter preloaded")
    with pytest.raises(AllocCountError, match=r"preload_env\(\)"):
        Counter()
