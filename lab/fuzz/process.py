"""Starting fuzz workers: the executable launcher, their environment and libFuzzer flags, and
the one-shot runs triage needs (reproduce one input, minimize a crash).

libFuzzer re-executes ``argv[0]`` for ``-merge=1`` and ``-minimize_crash=1``, so workers start
through a launcher script (``#!<this Python>``) kept in the build cache; the target travels in
``$LAB_FUZZ_SPEC``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lab import native, paths
from lab.fuzz.worker import SPEC_ENV
from lab.model import FuzzTarget, System

RSS_LIMIT_MB = 2048
PATH_VARS = ("LAB_PLUGIN_PATH", "LAB_HOME", "LAB_STORE", "LAB_REPORTS", "LAB_CACHE", "LAB_CORPORA",
             "LAB_FUZZ_DIR", "TOY_TARGETS")


def launcher() -> Path:
    """An executable script running the worker with this interpreter (created once)."""
    text = f"#!{sys.executable}\nfrom lab.fuzz.worker import main\nmain()\n"
    tag = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = paths.cache_dir() / "fuzz" / f"lab-fuzz-worker-{tag}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(path)
    return path


def spec(system: System, target: FuzzTarget, flavor: str = "fuzz", mode: str = "fuzz") -> dict:
    return {"system": system.name, "target": target.name, "flavor": flavor, "mode": mode}


def environment(spec_: dict) -> dict[str, str]:
    """This process's environment plus the flavor's runtime (LD_PRELOAD...) and the spec."""
    env = dict(os.environ)
    for key in PATH_VARS:  # workers run in other folders: make the lab's paths absolute
        if env.get(key):
            env[key] = os.pathsep.join(os.path.abspath(p) for p in env[key].split(os.pathsep))
    env.update(native.flavors_runtime_env(spec_["flavor"]))
    env[SPEC_ENV] = json.dumps(spec_)
    return env


def dictionary_file(target: FuzzTarget, folder: Path) -> Path | None:
    """The target's dictionary in libFuzzer's format (``"\\xNN"`` escapes), or None."""
    if not target.dictionary:
        return None
    lines = []
    for i, token in enumerate(target.dictionary):
        escaped = "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02x}"
                          for b in token)
        lines.append(f'tok{i}="{escaped}"')
    path = folder / "dict.txt"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def base_flags(target: FuzzTarget) -> list[str]:
    """Flags every libFuzzer invocation of ``target`` shares."""
    return [f"-timeout={target.timeout}", f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-max_len={target.max_len}", "-detect_leaks=0"]


@dataclass
class OneShot:
    """The outcome of running libFuzzer once on one input."""

    returncode: int
    output: str
    timed_out: bool

    @property
    def crashed(self) -> bool:
        return self.returncode != 0 and not self.timed_out


def run_input(system: System, target: FuzzTarget, data_file: Path, *,
              flavor: str = "fuzz", extra: list[str] | None = None,
              timeout: float | None = None) -> OneShot:
    """Run ``data_file`` through the target once, as libFuzzer does (``prog FILE``). The
    crash files libFuzzer writes go to a private folder that is removed afterwards, never
    beside the input (which may be a committed seed, or the artifacts folder being scanned)."""
    sp = spec(system, target, flavor)
    limit = timeout if timeout is not None else target.timeout * 3 + 60
    with tempfile.TemporaryDirectory(prefix="lab-run-") as scratch:
        argv = [str(launcher()), *base_flags(target), f"-artifact_prefix={scratch}/",
                *(extra or []), str(data_file.resolve())]
        try:
            proc = subprocess.run(argv, env=environment(sp), capture_output=True, text=True,
                                  errors="replace", timeout=limit, cwd=scratch)
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or "") + (exc.stderr or "")
            text = out if isinstance(out, str) else out.decode(errors="replace")
            return OneShot(-9, text, True)
    return OneShot(proc.returncode, proc.stdout + proc.stderr, False)


def minimize_deadline(seconds: int) -> float:
    """Wall seconds a ``seconds`` minimization may take in all: one reduction step (which
    libFuzzer bounds by ``-max_total_time``), its start-up, and as many more as fit."""
    return 2.0 * max(1, seconds) + 2.0


def minimize(system: System, target: FuzzTarget, crash_file: Path, out: Path,
             seconds: int) -> bool:
    """libFuzzer's ``-minimize_crash=1``, stopped at :func:`minimize_deadline`; True when
    ``out`` holds an input no larger than ``crash_file`` (the smallest crashing one found).

    libFuzzer bounds each reduction step by ``-max_total_time`` but not the loop: every step
    that shrinks the input starts another process (a 10-byte Python exception took 10 s at
    ``seconds=1``). The whole process group is killed at the deadline; ``out`` keeps the
    last step's result, and the caller re-runs it to confirm the crash."""
    sp = spec(system, target)
    with tempfile.TemporaryDirectory(prefix="lab-min-") as scratch:
        argv = [str(launcher()), *base_flags(target), f"-artifact_prefix={scratch}/",
                "-minimize_crash=1", f"-max_total_time={max(1, seconds)}",
                f"-exact_artifact_path={out}", str(crash_file.resolve())]
        proc = subprocess.Popen(argv, env=environment(sp), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                cwd=scratch, start_new_session=True)
        try:
            proc.wait(timeout=minimize_deadline(seconds))
        except subprocess.TimeoutExpired:
            pass
        finally:  # the steps libFuzzer started (through a shell) go with the group
            _kill_group(proc)
    return out.exists() and out.stat().st_size <= crash_file.stat().st_size


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
