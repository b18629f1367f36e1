"""The test-only injected slowdown (``CZ_TEST_SLOWDOWN``, ``targets/compress/slowdown.c``):
the slowed core compresses to the same bytes, costs F more instructions on the quick
benchmark, and a malformed value is refused on one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from labtest import FLAVOR, ROOT, SANITIZED
from plugins.compress import corpus

F = 0.05
SIZE = 16 << 10 if SANITIZED else 64 << 10
LEVELS = (0, 1, 6, 9)
FORMATS = ("zlib", "gzip", "raw")

# Run in a child process (the slowed build and the normal one are the same module name, and
# this plugin reads the variable once, at import): compress every corpus at every level and
# format, one shot and streamed in uneven chunks, check each round trip, print the outputs.
CHILD = """
import json, sys
from lab import native
from lab.host import get_host
from plugins.compress import corpus
from plugins.compress.codec import Codec

flavor, size, levels, formats = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), \\
    json.loads(sys.argv[4])
system = get_host().systems()["compress"]
module = native.load(system, "compress", flavor)
codec = Codec(module.ffi, module.lib)
out = {"cflags": list(system.recipe("compress").cflags), "blobs": {}}
for kind in corpus.KINDS:
    data = corpus.build(kind, size)
    for level in levels:
        for fmt in formats:
            one = codec.compress(data, level, fmt)
            c = codec.compressobj(level, fmt)
            streamed = b"".join(c.compress(data[i:i + 10007])
                                for i in range(0, len(data), 10007)) + c.flush()
            assert codec.decompress(one, fmt=fmt) == data, (kind, level, fmt)
            assert codec.decompress(streamed, fmt=fmt) == data, (kind, level, fmt)
            out["blobs"][f"{kind}/{level}/{fmt}"] = [one.hex(), streamed.hex()]
print(json.dumps(out))
"""


def _outputs(lab_env: dict, slowdown: str | None) -> dict:
    env = {**os.environ, **lab_env}
    env.pop("CZ_TEST_SLOWDOWN", None)
    if slowdown is not None:
        env["CZ_TEST_SLOWDOWN"] = slowdown
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, FLAVOR, str(SIZE), json.dumps(LEVELS),
         json.dumps(FORMATS)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_slowed_build_compresses_to_the_same_bytes(lab_env: dict) -> None:
    slowed = _outputs(lab_env, str(F))
    normal = _outputs(lab_env, "")  # empty: the normal build
    assert slowed["cflags"] == ["-DCZ_TEST_SLOWDOWN_PPM=50000"]
    assert normal["cflags"] == []
    assert len(slowed["blobs"]) == len(corpus.KINDS) * len(LEVELS) * len(FORMATS)
    assert slowed["blobs"] == normal["blobs"]


def _instructions(run_lab, env: dict) -> float:
    res = run_lab("bench", "compress", "--quick", "--workload", "compress", "--impl", "ours",
                  "--metric", "instructions", "--no-report", "--json", env=env)
    assert res.code == 0, res.err
    row = next(r for r in res.json()["results"]
               if r["impl"] == "ours" and r["metric"] == "vg_instructions")
    assert row["status"] == "ok" and row["channel"] == "instructions", row
    return row["median"]


@pytest.mark.slow
@pytest.mark.skipif(SANITIZED, reason="callgrind counts the release build (no ASan preload)")
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_slowed_build_costs_the_fraction_more_instructions(run_lab) -> None:
    normal = _instructions(run_lab, {"CZ_TEST_SLOWDOWN": ""})
    slowed = _instructions(run_lab, {"CZ_TEST_SLOWDOWN": str(F)})
    growth = slowed / normal - 1  # deterministic counts: not a timing test
    assert 0.6 * F <= growth <= 1.6 * F, (normal, slowed, growth)


def test_slowdown_values_map_to_parts_per_million() -> None:
    from plugins.compress import slowdown_cflags

    assert slowdown_cflags(None) == slowdown_cflags("") == slowdown_cflags("  ") == ()
    assert slowdown_cflags("0.05") == ("-DCZ_TEST_SLOWDOWN_PPM=50000",)
    assert slowdown_cflags("0.01") == ("-DCZ_TEST_SLOWDOWN_PPM=10000",)
    assert slowdown_cflags("1") == ("-DCZ_TEST_SLOWDOWN_PPM=1000000",)
    for bad in ("5%", "0", "-0.05", "1.01", "nan", "inf", "1e-9"):
        with pytest.raises(ValueError, match=r"CZ_TEST_SLOWDOWN=.* is not valid"):
            slowdown_cflags(bad)


@pytest.mark.parametrize("value", ["fast", "0", "1.5"])
def test_malformed_slowdown_is_refused_on_one_line(run_lab, value: str) -> None:
    env = {"CZ_TEST_SLOWDOWN": value}
    res = run_lab("list", env=env)
    problems = [line for line in res.err.splitlines() if line.startswith("plugin compress:")]
    assert len(problems) == 1, res.err
    assert f"CZ_TEST_SLOWDOWN={value!r} is not valid" in problems[0]
    assert "0 < F <= 1" in problems[0]
    # the other systems still load
    assert "kvstore" in res.out and "Traceback" not in res.err
    bench = run_lab("bench", "compress", "--quick", "--no-report", env=env)
    assert bench.code != 0
    assert len(bench.err.splitlines()) == 1 and bench.err.startswith("lab: error:"), bench.err
    assert "compress" in bench.err and "Traceback" not in bench.err
