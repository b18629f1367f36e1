"""Source-based coverage of a fuzz target's inputs: ``lab cover``.

:func:`measure` builds the ``coverage`` flavor of the target's recipe (``target.recipe``, else
the system's first recipe), replays every input of the target (seeds, regressions and the
grown corpus, see :meth:`lab.fuzz.layout.TargetLayout.input_files`) through
``python -m lab.fuzz.worker`` in replay mode, a few hundred files per process, each process
writing its own raw profile into a temporary folder (``$LLVM_PROFILE_FILE``). The raw
profiles are merged with ``llvm-profdata merge -sparse`` and summarized with
``llvm-cov export -summary-only``, restricted to the recipe's own C sources under
``system.targets`` (so the cffi glue does not count). With ``out_html`` it also writes
``llvm-cov show -format=html`` there.

A replay process that dies on an input (a native fault, or no progress within the target's
timeout) loses the profile of everything it ran, so the inputs before the culprit are replayed
again in a new process together with the rest; the culprit is skipped and listed in
``crashed_inputs``. More than :data:`MAX_CRASHED` such inputs stop the measurement.

:func:`run_cover` records one run of kind ``cover`` and one ``coverage`` row per measured
target. Every expected failure (missing LLVM tools, no inputs, a failing llvm tool) raises
:class:`lab.errors.LabError` with a one-line message naming the fix.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import native, paths
from lab.errors import LabError
from lab.fuzz.layout import layout
from lab.fuzz.toolchain import LLVM_VERSION, llvm_tool
from lab.fuzz.worker import SPEC_ENV
from lab.model import FuzzTarget, Recipe, System

FLAVOR = "coverage"
CHUNK = 256
"""Inputs per replay process (also keeps command lines short)."""
MAX_CRASHED = 20
"""Inputs that may kill a replay process before the measurement gives up."""
STARTUP_S = 60.0
"""Time a replay process gets to start (imports, loading the core) before its first input."""
SETUP_HINT = (f"run `make setup` (apt-get install clang-{LLVM_VERSION} llvm-{LLVM_VERSION})")
METRICS = ("lines", "branches", "functions", "regions")


@dataclass(frozen=True)
class Tools:
    profdata: str
    cov: str


@dataclass
class Replayed:
    """What replaying a target's inputs left: the raw profiles and the inputs skipped."""

    profiles: list[Path] = field(default_factory=list)
    crashed: list[tuple[Path, str]] = field(default_factory=list)
    processes: int = 0


# ----------------------------------------------------------------------------- preflight


def tools() -> Tools:
    """The LLVM tools of the fuzzing LLVM version, or a LabError naming ``make setup``."""
    found = {name: llvm_tool(name) for name in ("llvm-profdata", "llvm-cov")}
    missing = [name for name, path in found.items() if path is None]
    if shutil.which(native.flavor(FLAVOR).cc()) is None:
        missing.insert(0, "clang")
    if missing:
        raise LabError(f"{' and '.join(missing)} of LLVM {LLVM_VERSION} not found; {SETUP_HINT}")
    return Tools(str(found["llvm-profdata"]), str(found["llvm-cov"]))


def recipe_of(system: System, target: FuzzTarget) -> Recipe:
    """The recipe a target's coverage is measured on."""
    if target.recipe is not None:
        return system.recipe(target.recipe)
    if not system.recipes:
        raise LabError(f"system {system.name!r} declares no build recipe; there is no native "
                       "core to measure coverage on")
    return system.recipes[0]


def source_files(system: System, recipe: Recipe) -> list[Path]:
    """The recipe's own ``.c`` files under ``system.targets`` (all of them when the recipe
    does not list its sources)."""
    if system.targets is None:
        raise LabError(f"system {system.name!r} has no targets folder; no sources to measure")
    patterns = getattr(recipe, "sources", None) or ("**/*.c",)
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in system.targets.glob(pattern) if p.suffix == ".c" and p.is_file())
    if not found:
        raise LabError(f"{system.name}/{recipe.name}: no C source in {system.targets} matches "
                       f"{', '.join(patterns)}")
    return sorted(found)


def no_inputs_message(system: System, target: FuzzTarget) -> str:
    lay = layout(system, target)
    return (f"{system.name}/{target.name} has no inputs to replay (no seeds in {lay.seeds}, "
            f"no grown corpus in {lay.corpus}); run `lab fuzz {system.name} --target "
            f"{target.name}` to grow a corpus")


# ----------------------------------------------------------------------------- replay


def _worker_env(system: System, target: FuzzTarget, profile_pattern: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(native.flavors_runtime_env(FLAVOR))
    env[SPEC_ENV] = json.dumps({"system": system.name, "target": target.name,
                                "flavor": FLAVOR, "mode": "replay"})
    env["LLVM_PROFILE_FILE"] = str(profile_pattern)
    return env


@dataclass
class _Batch:
    """How one replay process went: ``started``/``done`` count ``#LAB run`` and
    ``#LAB ok|error`` lines; ``hung`` when it was killed for making no progress."""

    started: int = 0
    done: int = 0
    hung: bool = False
    returncode: int = 0


def _follow(proc: subprocess.Popen, per_input: float) -> _Batch:
    """Count the worker's progress lines until it exits or stalls (then kill it)."""
    assert proc.stdout is not None
    state = _Batch()
    fd = proc.stdout.fileno()
    pending = b""
    deadline = time.monotonic() + STARTUP_S + per_input
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                state.hung = True
                proc.kill()
                break
            if not sel.select(left):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                tag = line[line.find(b"#LAB "):] if b"#LAB " in line else b""
                if tag.startswith(b"#LAB run "):
                    state.started += 1
                    deadline = time.monotonic() + per_input
                elif tag.startswith((b"#LAB ok ", b"#LAB error ")):
                    state.done += 1
    state.returncode = proc.wait()
    return state


def _run_batch(system: System, target: FuzzTarget, batch: list[Path], profile_dir: Path,
               log: Path) -> _Batch:
    profile_dir.mkdir(parents=True)
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.fuzz.worker", *map(str, batch)],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
            env=_worker_env(system, target, profile_dir / "%p.profraw"))
        try:
            return _follow(proc, per_input=float(target.timeout) * 2 + 5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _why(state: _Batch) -> str:
    if state.hung:
        return "no progress within the target's timeout"
    code = state.returncode
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _last_line(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:200] if lines else ""


def replay(system: System, target: FuzzTarget, files: Sequence[Path], work: Path,
           log: Path) -> Replayed:
    """Replay ``files`` in worker processes whose raw profiles land under ``work``."""
    out = Replayed()
    queue = [list(files[i:i + CHUNK]) for i in range(0, len(files), CHUNK)]
    while queue:
        batch = queue.pop(0)
        out.processes += 1
        state = _run_batch(system, target, batch, work / f"p{out.processes}", log)
        if state.done >= len(batch) and not state.hung:
            continue
        if state.started == 0:
            raise LabError(f"the coverage replay of {system.name}/{target.name} failed before its "
                           f"first input ({_why(state)}): {_last_line(log) or 'no output'}; "
                           f"log: {log}")
        culprit = state.started - 1
        out.crashed.append((batch[culprit], _why(state)))
        if len(out.crashed) > MAX_CRASHED:
            raise LabError(f"more than {MAX_CRASHED} inputs of {system.name}/{target.name} kill "
                           f"the coverage build (last: {batch[culprit].name}, {_why(state)}); "
                           f"fix the crashes first (`lab fuzz {system.name}` triages them)")
        rest = batch[:culprit] + batch[culprit + 1:]  # the profile of the prefix was lost
        if rest:
            queue.insert(0, rest)
    out.profiles = sorted(work.glob("p*/*.profraw"))
    return out


# ----------------------------------------------------------------------------- llvm tools


def _tool(argv: list[str], what: str, fix: str) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{what} failed: {exc}; {fix}") from None
    if proc.returncode != 0:
        first = next((ln.strip() for ln in proc.stderr.splitlines() if ln.strip()),
                     f"exit status {proc.returncode}")
        raise LabError(f"{what} failed: {first}; {fix}")
    return proc.stdout


def merge(t: Tools, profiles: list[Path], out: Path) -> Path:
    """Merge raw profiles into ``out``; no profile (the core was never loaded) gives an empty
    profile, i.e. zero coverage."""
    inputs = [str(p) for p in profiles]
    if not inputs:
        empty = out.with_suffix(".proftext")
        empty.write_text("")
        inputs = [str(empty)]
    _tool([t.profdata, "merge", "-sparse", "-o", str(out), *inputs], "llvm-profdata merge",
          f"rebuild the coverage flavor with clang-{LLVM_VERSION} ({SETUP_HINT})")
    return out


def export_totals(t: Tools, profdata: Path, so: Path, sources: list[Path]) -> dict[str, Any]:
    """Covered and total lines, branches, functions and regions over ``sources``, and the
    same per file under ``files`` (keyed by the path relative to the first source's folder,
    the system's ``targets/<system>/``)."""
    text = _tool([t.cov, "export", "-summary-only", "-instr-profile", str(profdata), str(so),
                  *map(str, sources)], "llvm-cov export", SETUP_HINT)
    try:
        data = json.loads(text)["data"][0]
    except (ValueError, KeyError, IndexError):
        raise LabError(f"llvm-cov export printed no coverage summary; {SETUP_HINT}") from None
    if not data.get("files"):
        raise LabError(f"the coverage build {so.name} has no mapping for "
                       f"{', '.join(s.name for s in sources)}; delete the build cache "
                       f"({paths.cache_dir() / 'build'}) and retry")
    out: dict[str, Any] = _counts(data["totals"])
    out["files"] = {Path(f["filename"]).relative_to(sources[0].parent).as_posix()
                    if Path(f["filename"]).is_relative_to(sources[0].parent)
                    else f["filename"]: _counts(f["summary"]) for f in data["files"]}
    return out


def _counts(summary: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for metric in METRICS:
        out[f"{metric}_covered"] = int(summary.get(metric, {}).get("covered", 0))
        out[f"{metric}_total"] = int(summary.get(metric, {}).get("count", 0))
    return out


def show_html(t: Tools, profdata: Path, so: Path, sources: list[Path], out_dir: Path,
              title: str) -> Path:
    """Write llvm-cov's annotated-source HTML into ``out_dir``; return its index.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _tool([t.cov, "show", "-format=html", "-show-branches=count", f"-project-title={title}",
           f"-output-dir={out_dir}", "-instr-profile", str(profdata), str(so),
           *map(str, sources)], "llvm-cov show", SETUP_HINT)
    return out_dir / "index.html"


# ----------------------------------------------------------------------------- measuring


def measure(system: System, target: FuzzTarget, *, out_html: Path | None,
            inputs: Sequence[Path] | None = None) -> dict[str, Any]:
    """Coverage of the target's inputs (see the module docstring), or of ``inputs`` when
    given (``lab fuzz --vs-raw`` measures two corpora that way).

    Returns ``target``, ``corpus_units`` (inputs replayed), ``<m>_covered`` and ``<m>_total``
    for lines, branches, functions and regions, ``files`` (the same counts per source file),
    ``html`` (the index.html written, or None),
    ``crashed_inputs`` (``[[path, why], ...]``) and ``processes``.
    """
    t = tools()
    files = list(inputs) if inputs is not None else layout(system, target).input_files()
    if not files:
        raise LabError(no_inputs_message(system, target))
    recipe = recipe_of(system, target)
    sources = source_files(system, recipe)
    artifact = native.build(system, recipe.name, FLAVOR)
    so = artifact.path / artifact.info["so"]
    logs = layout(system, target).logs
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "cover.log"
    log.write_text("")
    with tempfile.TemporaryDirectory(prefix="lab-cover-") as tmp:
        work = Path(tmp)
        replayed = replay(system, target, files, work, log)
        profdata = merge(t, replayed.profiles, work / "merged.profdata")
        totals = export_totals(t, profdata, so, sources)
        html = None
        if out_html is not None:
            html = show_html(t, profdata, so, sources, out_html, f"{system.name}/{target.name}")
    return {"target": target.name, "corpus_units": len(files), **totals,
            "html": str(html) if html else None,
            "crashed_inputs": [[str(p), why] for p, why in replayed.crashed],
            "processes": replayed.processes}


def html_dir(system: System, target: FuzzTarget) -> Path:
    """Where ``lab cover`` writes a target's llvm-cov HTML: reports/<system>/coverage/<t>/."""
    return paths.reports_dir() / system.name / "coverage" / target.name


def _begin(store: Any, system: System, targets: Sequence[FuzzTarget], argv: list[str]) -> int:
    from lab.bench.engine import fingerprint_for
    from lab.gitinfo import commit_and_dirty

    fp, fp_hash = fingerprint_for(system)
    commit, dirty = commit_and_dirty(paths.root())
    return store.begin_run(system=system.name, kind="cover", command=argv, fingerprint=fp,
                           fingerprint_hash=fp_hash, git_commit=commit, git_dirty=dirty,
                           options={"targets": [t.name for t in targets]})


def run_cover(system: System, targets: Sequence[FuzzTarget], store: Any, *,
              argv: list[str] | None = None, html: bool = True) -> list[dict[str, Any]]:
    """Measure ``targets`` in one recorded run of kind ``cover``; one dict per target.

    A target without inputs is skipped (its dict has ``skipped``: the reason) when others
    have inputs; when none has, nothing is recorded and a LabError says how to grow a corpus.
    Each dict also carries ``system`` and ``run_id``.
    """
    tools()
    ready = [t for t in targets if layout(system, t).input_files()]
    if not ready:
        if len(targets) == 1:
            raise LabError(no_inputs_message(system, targets[0]))
        raise LabError(f"no fuzz target of {system.name} has inputs to replay; run "
                       f"`lab fuzz {system.name}` to grow a corpus")
    run_id = _begin(store, system, ready, argv or ["lab", "cover", system.name])
    rows: list[dict[str, Any]] = []
    status, error = "ok", None
    try:
        for target in targets:
            if target not in ready:
                rows.append({"system": system.name, "run_id": run_id, "target": target.name,
                             "skipped": no_inputs_message(system, target)})
                continue
            row = measure(system, target, out_html=html_dir(system, target) if html else None)
            store.add_coverage(run_id, row)
            rows.append({"system": system.name, "run_id": run_id, **row})
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception as exc:
        status, error = "failed", str(exc)
        raise
    finally:
        store.finish_run(run_id, status, error)
    return rows
