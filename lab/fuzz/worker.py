"""A fuzzing or replay process: ``python -m lab.fuzz.worker`` (or the launcher script).

The spec comes in ``$LAB_FUZZ_SPEC`` (JSON: system, target, flavor, mode) so that the command
line belongs to libFuzzer alone: libFuzzer re-executes ``argv[0]`` with extra flags for
``-merge=1`` and ``-minimize_crash=1``, which is why argv[0] is an executable launcher.

Modes:

* ``fuzz``: hand ``one(data)`` to atheris and run libFuzzer with ``argv``. Every
  ``heartbeat`` seconds a line ``#LAB execs=N`` on stderr tells the parent the execution count
  (libFuzzer itself prints only on new coverage and at powers of two).
* ``replay``: run each file named in ``argv[1:]`` once, in order, printing ``#LAB run PATH``
  before and ``#LAB ok PATH`` or ``#LAB error PATH <one-line reason>`` after it; a native fault
  ends the process after ``#LAB run`` (the parent knows which input did it). No atheris, so
  it also runs under the debug (gcc ASan+UBSan) and coverage flavors.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

SPEC_ENV = "LAB_FUZZ_SPEC"


def _load(spec: dict) -> Callable[[bytes], None]:
    from lab.fuzz.harness import input_function
    from lab.host import get_host

    system = get_host().systems()[spec["system"]]
    return input_function(system, system.fuzz_target(spec["target"]), spec["flavor"])


def _counting(one: Callable[[bytes], None], every: float) -> Callable[[bytes], None]:
    count = 0
    due = time.monotonic() + every

    def counted(data: bytes) -> None:
        nonlocal count, due
        count += 1
        if not count & 63 and time.monotonic() >= due:
            due = time.monotonic() + every
            os.write(2, f"#LAB execs={count}\n".encode())
        one(data)

    return counted


def fuzz(spec: dict, argv: list[str]) -> None:
    import atheris

    one = _counting(_load(spec), float(spec.get("heartbeat", 1.0)))
    _instrument_python(spec)
    atheris.Setup(argv, one)
    atheris.Fuzz()


def _instrument_python(spec: dict) -> None:
    """Atheris coverage of the Python modules the target names (``python_coverage``)."""
    from lab.fuzz.pycoverage import instrument_modules
    from lab.host import get_host

    target = get_host().systems()[spec["system"]].fuzz_target(spec["target"])
    if target.python_coverage:
        instrument_modules(target.python_coverage)


def replay(spec: dict, files: list[str]) -> int:
    one = _load(spec)
    failures = 0
    for name in files:
        print(f"#LAB run {name}", flush=True)
        try:
            one(Path(name).read_bytes())
        except Exception as exc:  # noqa: BLE001 - every finding is reported, then the next
            failures += 1
            last = traceback.format_exception_only(exc)[-1].strip().replace("\n", " ")
            print(f"#LAB error {name} {last}", flush=True)
            print("=== Uncaught Python exception: ===", file=sys.stderr)
            traceback.print_exc()
            sys.stderr.flush()
        else:
            print(f"#LAB ok {name}", flush=True)
    return 1 if failures else 0


def main() -> None:
    raw = os.environ.get(SPEC_ENV)
    if not raw:
        sys.exit(f"{SPEC_ENV} is not set; this process is started by `lab fuzz`")
    spec = json.loads(raw)
    if spec.get("mode", "fuzz") == "replay":
        sys.exit(replay(spec, sys.argv[1:]))
    fuzz(spec, sys.argv)


if __name__ == "__main__":
    main()
