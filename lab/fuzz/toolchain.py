"""Where the fuzzing toolchain lives, and the ``fuzz`` and ``coverage`` build flavors.

The fuzz flavor compiles a native core with clang and ``-fsanitize=fuzzer-no-link,address,
undefined`` so that libFuzzer sees its edge and comparison counters; the process that loads it
must preload atheris's ``asan_with_fuzzer.so`` (libFuzzer linked into the ASan runtime; only a
source build of atheris made with clang deploys it). The coverage flavor compiles with clang's
source-based coverage (``-fprofile-instr-generate -fcoverage-mapping``), read back by
``llvm-profdata`` and ``llvm-cov`` of the same LLVM version.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from functools import cache
from pathlib import Path

from lab.native.flavors import Flavor

LLVM_VERSION = "14"
LLVM_BIN = Path(f"/usr/lib/llvm-{LLVM_VERSION}/bin")
MERGED_RUNTIME = "asan_with_fuzzer.so"
APT_PACKAGES = ("clang-14", "libclang-rt-14-dev", "llvm-14")
INSTALL_HINT = ("run `make setup` (apt-get install clang-14 libclang-rt-14-dev llvm-14, then "
                "CLANG_BIN=/usr/bin/clang-14 pip install --no-binary atheris atheris==3.0.0)")


def llvm_tool(name: str) -> str | None:
    """Absolute path of an LLVM tool of the fuzzing LLVM version (clang, llvm-cov...)."""
    for candidate in (LLVM_BIN / name, Path(f"/usr/bin/{name}-{LLVM_VERSION}")):
        if candidate.exists():
            return str(candidate)
    return shutil.which(f"{name}-{LLVM_VERSION}")


def clang() -> str:
    """The clang used for fuzz and coverage builds (``$LAB_FUZZ_CC`` overrides)."""
    return os.environ.get("LAB_FUZZ_CC") or llvm_tool("clang") or f"clang-{LLVM_VERSION}"


@cache
def atheris_site() -> Path | None:
    """The directory atheris deploys its runtimes into (site-packages), or None."""
    spec = importlib.util.find_spec("atheris")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent.parent


def merged_runtime() -> Path:
    """Path of atheris's libFuzzer+ASan runtime (``$LAB_FUZZ_RUNTIME`` overrides); it may not
    exist, which :mod:`lab.fuzz.preflight` reports."""
    if os.environ.get("LAB_FUZZ_RUNTIME"):
        return Path(os.environ["LAB_FUZZ_RUNTIME"])
    site = atheris_site()
    return (site / MERGED_RUNTIME) if site else Path(MERGED_RUNTIME)


def symbolizer() -> str | None:
    return llvm_tool("llvm-symbolizer")


FUZZ_SANITIZERS = "-fsanitize=fuzzer-no-link,address,undefined"

ASAN_OPTIONS = ":".join((
    "detect_leaks=0",           # CPython's own allocations would be reported as leaks
    "allocator_may_return_null=1",
    "handle_abort=1",
    "symbolize=1",
    "detect_odr_violation=0",
    # A quarter of the default 256 MB: harnesses that build a fresh fixture per input churn
    # through memory, and a smaller quarantine keeps it in already-mapped pages (about 1.5x
    # faster for tcpip's stateful targets) while freed blocks still wait 64 MB before reuse.
    "quarantine_size_mb=64",
))
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1:symbolize=1"


def fuzz_flavor() -> Flavor:
    env = {"ASAN_OPTIONS": ASAN_OPTIONS, "UBSAN_OPTIONS": UBSAN_OPTIONS}
    llvm_symbolizer = symbolizer()
    if llvm_symbolizer:
        env["ASAN_SYMBOLIZER_PATH"] = llvm_symbolizer
    return Flavor(
        "fuzz",
        "clang -O1 -g with libFuzzer coverage/comparison counters, ASan and UBSan (lab fuzz)",
        ("-O1", "-g", "-UNDEBUG", "-fno-omit-frame-pointer", FUZZ_SANITIZERS,
         "-fno-sanitize-recover=undefined"),
        ldflags=(FUZZ_SANITIZERS,),
        compiler=clang(),
        preload=(str(merged_runtime()),),
        env=env,
    )


def coverage_flavor() -> Flavor:
    return Flavor(
        "coverage",
        "clang -O0 -g with source-based coverage (lab cover)",
        ("-O0", "-g", "-UNDEBUG", "-fprofile-instr-generate", "-fcoverage-mapping"),
        ldflags=("-fprofile-instr-generate",),
        compiler=clang(),
    )
