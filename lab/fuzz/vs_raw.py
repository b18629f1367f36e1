"""``lab fuzz SYSTEM --target T --vs-raw``: the engine against its physical limit.

The target's plain libFuzzer harness (``FuzzTarget.raw_harness``, C, built directly with
``-fsanitize=fuzzer,address,undefined`` together with the recipe's sources) and ``lab fuzz``
(atheris driving the fuzz-flavor build from Python) each fuzz the target for the same time,
one worker each, from the same seeds into fresh corpora. Reported: executions per second of
both and their ratio, and the coverage each corpus reaches, measured the same way for both by
replaying it on the coverage build (line and branch coverage of the core's own sources).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from lab import paths
from lab.errors import BuildError, UsageError
from lab.fuzz import process, toolchain
from lab.fuzz.engine import FuzzOptions, fuzz_system
from lab.fuzz.layout import corpus_size, layout
from lab.fuzz.progress import parse_final_stat, parse_status
from lab.model import CffiLib, FuzzTarget, System

RAW_CFLAGS = ("-std=c11", "-Wall", "-Wextra", "-g", "-O1", "-fno-omit-frame-pointer",
              "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined")


def _recipe(system: System, target: FuzzTarget) -> CffiLib:
    from lab.fuzz.cover import recipe_of

    recipe = recipe_of(system, target)
    if not isinstance(recipe, CffiLib):
        raise UsageError(f"--vs-raw needs a C library recipe; {system.name}/{recipe.name} is "
                         f"{recipe.kind}")
    return recipe


def build_raw(system: System, target: FuzzTarget) -> Path:
    """Compile the raw harness with the recipe's sources (cached by content)."""
    from lab.native.cffi_builder import source_files

    if not target.raw_harness or system.targets is None:
        valid = [t.name for t in system.fuzz_targets if t.raw_harness]
        raise UsageError(f"{system.name}/{target.name} has no raw libFuzzer harness; targets "
                         f"with one: {', '.join(valid) or 'none'}")
    recipe = _recipe(system, target)
    harness = system.targets / target.raw_harness
    files = [*source_files(system, recipe), harness]
    cmd = [toolchain.clang(), *RAW_CFLAGS, *recipe.cflags, f"-I{system.targets}",
           *map(str, files), *recipe.ldflags,
           *[f"-l{lib}" for lib in (*recipe.libraries, *target.raw_libraries)]]
    digest = hashlib.sha256(repr(cmd).encode())
    for f in files + sorted(system.targets.rglob("*.h")):
        digest.update(f.read_bytes())
    out = paths.cache_dir() / "fuzz" / "raw" / f"{system.name}-{target.name}-" \
                                               f"{digest.hexdigest()[:16]}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    proc = subprocess.run([*cmd, "-o", str(tmp)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise BuildError(f"raw harness {harness} failed to build:\n{proc.stderr[-3000:]}")
    tmp.replace(out)
    return out


def run_raw(system: System, target: FuzzTarget, binary: Path, corpus: Path, seconds: float,
            seed: int | None) -> dict[str, Any]:
    lay = layout(system, target)
    argv = [str(binary), *process.base_flags(target), f"-max_total_time={int(seconds)}",
            "-print_final_stats=1", f"-artifact_prefix={corpus.parent}/raw-"]
    if seed is not None:
        argv.append(f"-seed={seed}")
    dict_file = process.dictionary_file(target, corpus.parent)
    if dict_file:
        argv.append(f"-dict={dict_file}")
    argv += [str(corpus), *([str(lay.seeds)] if lay.seeds.is_dir() else [])]
    env = {**process.environment(process.spec(system, target)), "LD_PRELOAD": ""}
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, errors="replace",
                          timeout=seconds + 120, cwd=corpus.parent)
    elapsed = time.monotonic() - start
    lines = (proc.stdout + proc.stderr).splitlines()
    stats = dict(s for s in map(parse_final_stat, lines) if s is not None)
    statuses = [s for s in map(parse_status, lines) if s is not None]
    execs = stats.get("number_of_executed_units") or max((s.execs for s in statuses), default=0)
    return {"execs": execs, "seconds": round(elapsed, 1),
            "exec_per_s": round(execs / elapsed, 1) if elapsed else 0.0,
            "cov": max((s.cov or 0 for s in statuses), default=0),
            "corpus_units": corpus_size(corpus)[0],
            "crashed": proc.returncode != 0 and any("ERROR:" in ln for ln in lines)}


def _coverage(system: System, target: FuzzTarget, corpus: Path) -> dict[str, Any]:
    from lab.fuzz.cover import measure

    files = layout(system, target).input_files(regressions=False)
    seeds_only = [f for f in files if not f.is_relative_to(layout(system, target).corpus)]
    inputs = seeds_only + sorted(p for p in corpus.iterdir() if p.is_file())
    totals = measure(system, target, out_html=None, inputs=inputs)
    return {k: totals.get(k) for k in ("lines_covered", "lines_total", "branches_covered",
                                       "branches_total")}


def _pct(covered: int | None, total: int | None) -> str:
    return f"{100 * covered / total:.1f}%" if covered is not None and total else "-"


def compare_with_raw(system: System, target: FuzzTarget, seconds: float,
                     seed: int | None) -> dict[str, Any]:
    """Fuzz with both engines for ``seconds`` each; returns figures and a printable text."""
    binary = build_raw(system, target)
    with tempfile.TemporaryDirectory(prefix="lab-vs-raw-") as tmp:
        raw_corpus, lab_corpus = Path(tmp) / "raw" / "corpus", Path(tmp) / "lab" / "corpus"
        raw_corpus.mkdir(parents=True)
        lab_corpus.mkdir(parents=True)
        raw = run_raw(system, target, binary, raw_corpus, seconds, seed)
        options = FuzzOptions(seconds=seconds, jobs=1, seed=seed, corpus=lab_corpus)
        res = fuzz_system(system, [target], options, ["lab", "fuzz", system.name, "--target",
                                                      target.name, "--vs-raw"])[0]
        ours = {"execs": res.execs, "seconds": res.seconds, "exec_per_s": res.exec_per_s,
                "cov": res.cov, "corpus_units": corpus_size(lab_corpus)[0],
                "crashes": len(res.crashes)}
        raw.update(_coverage(system, target, raw_corpus))
        ours.update(_coverage(system, target, lab_corpus))
        shutil.rmtree(Path(tmp) / "raw", ignore_errors=True)
    ratio = ours["exec_per_s"] / raw["exec_per_s"] if raw["exec_per_s"] else None
    rows = [("raw libFuzzer", raw), ("lab fuzz", ours)]
    text = [f"{system.name}/{target.name}, {seconds:.0f} s each, 1 worker:"]
    for name, r in rows:
        text.append(f"  {name:13} {r['exec_per_s']:>10.0f} exec/s  corpus {r['corpus_units']:>5}"
                    f"  lines {_pct(r['lines_covered'], r['lines_total']):>6}"
                    f"  branches {_pct(r['branches_covered'], r['branches_total']):>6}")
    text.append(f"  lab/raw exec/s ratio: {ratio:.2f}" if ratio else "  lab/raw ratio: -")
    return {"system": system.name, "target": target.name, "seconds": seconds, "raw": raw,
            "lab": ours, "exec_ratio": round(ratio, 3) if ratio else None,
            "text": "\n".join(text)}

