"""The scheduled regression workflow, ``.github/workflows/regression.yml``.

actionlint checks it as GitHub would read it (and a broken copy shows that it checks at all);
PyYAML gives its structure: triggers, the container, the order of the steps and which of them
run ``if: always()``. :func:`workflow_ci_argv` runs the check step's own script with a stub
``lab`` and returns the argument vector the workflow passes to ``lab ci``, so that a test can run
exactly that against a real store.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "regression.yml"

#: What a scheduled run has for inputs: none, so every ``inputs.X`` reads as empty.
SCHEDULED: dict[str, str] = {}


def load(path: Path = WORKFLOW) -> dict:
    """The workflow as PyYAML reads it, with the ``on`` key restored (YAML 1.1 reads it as
    ``True``)."""
    wf = yaml.safe_load(Path(path).read_text())
    if True in wf:
        wf["on"] = wf.pop(True)
    return wf


def only_job(wf: dict) -> dict:
    jobs = wf["jobs"]
    assert len(jobs) == 1, f"expected one job, found {sorted(jobs)}"
    return next(iter(jobs.values()))


def check_step(wf: dict) -> dict:
    """The step that runs ``lab ci`` (id ``check``)."""
    steps = [s for s in only_job(wf)["steps"] if s.get("id") == "check"]
    assert len(steps) == 1, "expected exactly one step with id 'check'"
    return steps[0]


_INPUT_EXPR = re.compile(r"^\$\{\{\s*inputs\.(\w+)\s*(?:\|\|\s*'([^']*)'\s*)?\}\}$")


def _evaluate(value: str, inputs: dict[str, str]) -> str:
    """An ``env:`` value of the forms ``${{ inputs.X }}`` and ``${{ inputs.X || 'default' }}``
    (a missing or empty input is empty, as on a scheduled run); anything else must be plain."""
    m = _INPUT_EXPR.match(str(value).strip())
    if m:
        return inputs.get(m.group(1), "") or (m.group(2) or "")
    if "${{" in str(value):
        raise ValueError(f"unsupported expression in the check step's env: {value!r}")
    return str(value)


def run_check_step(path: Path = WORKFLOW, inputs: dict[str, str] | None = None,
                   lab_status: int = 0) -> tuple[list[str], dict[str, str], int]:
    """Run the check step's script as the runner would (``bash --noprofile --norc -eo pipefail``)
    in a scratch folder whose ``.venv/bin/lab`` is a stub that records its arguments, prints
    ``{}`` and exits ``lab_status``. Returns the stub's argv (without the program name), the
    step's outputs (``$GITHUB_OUTPUT``) and the script's exit status."""
    wf = load(path)
    job = only_job(wf)
    step = check_step(wf)
    shell = step.get("shell") or job.get("defaults", {}).get("run", {}).get("shell")
    assert shell == "bash", f"the check step should run under bash, not {shell!r}"
    env = {k: _evaluate(v, inputs or {}) for k, v in (step.get("env") or {}).items()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stub = work / ".venv" / "bin" / "lab"
        stub.parent.mkdir(parents=True)
        argv_file = work / "argv"
        stub.write_text(
            "#!/bin/bash\n"
            f"printf '%s\\0' \"$@\" > {str(argv_file)!r}\n"
            "echo '{}'\n"
            f"exit {int(lab_status)}\n"
        )
        stub.chmod(0o755)
        script = work / "step.sh"
        script.write_text(step["run"])
        output = work / "github_output"
        output.touch()
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=work, capture_output=True, text=True, timeout=60,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GITHUB_OUTPUT": str(output),
                 **env},
        )
        if not argv_file.exists():
            raise AssertionError(f"the check step never ran .venv/bin/lab:\n{proc.stdout}"
                                 f"{proc.stderr}")
        argv = argv_file.read_text().split("\0")[:-1]
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return argv, outputs, proc.returncode


def workflow_ci_argv(path: Path | str = WORKFLOW) -> list[str]:
    """The arguments the workflow at ``path`` passes to ``.venv/bin/lab`` in its check step, on
    a scheduled run (no inputs: ``BUDGET`` is its default, 30, and there is no baseline), e.g.
    ``["ci", "--budget", "30", "--json"]``.

    The step's own shell script is run under bash with a stub ``lab``, so the argv is exactly
    what the workflow would run, quoting and conditional arguments included; run it with the
    real ``lab`` (``.venv/bin/lab *argv``) to check the workflow against the CLI."""
    argv, _, _ = run_check_step(Path(path), SCHEDULED)
    return argv


# --- actionlint ------------------------------------------------------------------------------


def actionlint_exe() -> str:
    """The venv's actionlint (dev extras: ``make setup`` installs it); else one on PATH."""
    exe = Path(sys.executable).parent / "actionlint"
    found = str(exe) if exe.exists() else shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint is not installed: run `make setup` (it is in the dev extras)")
    return found


def actionlint(path: Path) -> subprocess.CompletedProcess:
    # shellcheck (and pyflakes) integration off: set-up does not install shellcheck, so turning
    # it on wherever a shellcheck happens to be on PATH would make this test's result depend on
    # the machine. The workflow's scripts were checked with shellcheck 0.9.0 (Debian 12) when
    # written, clean.
    return subprocess.run(
        [actionlint_exe(), "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", str(path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )


def test_actionlint_passes():
    proc = actionlint(WORKFLOW)
    assert proc.returncode == 0, f"actionlint:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("    runs-on: ubuntu-latest\n", "    runs-onn: ubuntu-latest\n",
         'unexpected key "runs-onn"'),
        ("${{ inputs.budget || '30' }}", "${{ inputs.budgett || '30' }}",
         'property "budgett" is not defined'),
        ("if: always() && steps.restore.outcome == 'success'",
         "if: always() && steps.restore.outcome == success", 'undefined variable "success"'),
    ],
    ids=["unknown-key", "undefined-input", "bad-expression"],
)
def test_actionlint_catches_a_broken_copy(tmp_path, old, new, expect):
    text = WORKFLOW.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in the workflow"
    broken = tmp_path / "regression.yml"
    broken.write_text(text.replace(old, new))
    proc = actionlint(broken)
    assert proc.returncode != 0, "actionlint accepted a broken workflow"
    assert expect in proc.stdout, proc.stdout


# --- structure -------------------------------------------------------------------------------


CRON_FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]


def cron_ok(expr: str) -> bool:
    """A 5-field cron expression with numbers, ``*``, ranges, steps and lists within bounds."""
    fields = expr.split()
    if len(fields) != 5:
        return False
    for field, (lo, hi) in zip(fields, CRON_FIELDS, strict=True):
        for part in field.split(","):
            m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
            if not m:
                return False
            nums = [int(g) for g in m.group(2, 3) if g is not None]
            if any(not lo <= n <= hi for n in nums) or (m.group(4) and int(m.group(4)) < 1):
                return False
    return True


def test_cron_ok_rejects_bad_expressions():
    assert cron_ok("17 3 * * *") and cron_ok("*/15 0-6 1,15 * 1-5")
    for bad in ["17 3 * *", "60 3 * * *", "17 24 * * *", "17 3 * * * *", "a 3 * * *"]:
        assert not cron_ok(bad), bad


def test_triggers_nightly_and_on_demand():
    on = load()["on"]
    assert set(on) == {"schedule", "workflow_dispatch"}
    crons = [entry["cron"] for entry in on["schedule"]]
    assert len(crons) == 1 and cron_ok(crons[0]), crons
    minute, hour, dom, month, dow = crons[0].split()
    assert minute.isdigit() and hour.isdigit(), "once a day at a fixed time"
    assert (dom, month, dow) == ("*", "*", "*"), "every night"
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"baseline", "budget"}
    assert inputs["baseline"].get("required") is False
    assert inputs["baseline"].get("default", "") == ""
    assert str(inputs["budget"]["default"]) == "30"


def test_job_runs_in_debian12_container():
    job = only_job(load())
    assert job["container"]["image"] == "debian:12"
    assert "--privileged" in job["container"].get("options", "")
    assert job.get("defaults", {}).get("run", {}).get("shell") == "bash"


def _index(steps: list[dict], pred, what: str) -> int:
    found = [i for i, s in enumerate(steps) if pred(s)]
    assert len(found) == 1, f"expected one step that {what}, found {len(found)}"
    return found[0]


def _uses(action: str):
    return lambda s: str(s.get("uses", "")).split("@")[0] == action


def _runs(text: str):
    return lambda s: text in str(s.get("run", ""))


def test_steps_in_order():
    steps = only_job(load())["steps"]
    apt = _index(steps, _runs("apt-get install"), "installs apt packages")
    checkout = _index(steps, _uses("actions/checkout"), "checks out")
    safe = _index(steps, _runs("safe.directory"), "marks the workspace safe")
    setup = _index(steps, _runs("make setup"), "runs make setup")
    restore = _index(steps, _uses("actions/cache/restore"), "restores the store")
    check = _index(steps, lambda s: s.get("id") == "check", "is the check")
    summary = _index(steps, _runs("GITHUB_STEP_SUMMARY"), "writes the summary")
    upload = _index(steps, _uses("actions/upload-artifact"), "uploads the report")
    save = _index(steps, _uses("actions/cache/save"), "saves the store")
    assert apt < checkout < safe < setup < restore < check < min(summary, upload, save)
    fail = len(steps) - 1
    assert fail > max(summary, upload, save)
    assert "exit" in steps[fail]["run"] and "if" not in steps[fail]
    assert steps[fail]["env"]["STATUS"].replace(" ", "") == "${{steps.check.outputs.status}}"

    for pkg in ("git", "make", "ca-certificates", "jq"):
        assert re.search(rf"\b{re.escape(pkg)}\b", steps[apt]["run"]), pkg
    assert steps[checkout]["with"]["fetch-depth"] == 0


def test_always_steps():
    steps = only_job(load())["steps"]
    for pred, what in [(_runs("GITHUB_STEP_SUMMARY"), "summary"),
                       (_uses("actions/upload-artifact"), "upload"),
                       (_uses("actions/cache/save"), "cache save")]:
        step = steps[_index(steps, pred, what)]
        assert "always()" in str(step.get("if", "")), f"{what} should run if: always()"


def test_store_cache_round_trip():
    steps = only_job(load())["steps"]
    restore = steps[_index(steps, _uses("actions/cache/restore"), "restores")]
    save = steps[_index(steps, _uses("actions/cache/save"), "saves")]
    key = restore["with"]["key"]
    assert "github.run_id" in key
    prefixes = str(restore["with"]["restore-keys"]).split()
    assert prefixes and all(key.startswith(p) for p in prefixes)
    assert restore["with"]["path"].rstrip("/") == save["with"]["path"].rstrip("/") == "results"
    assert save["with"]["key"].replace(" ", "") in (
        key.replace(" ", ""), f"${{{{steps.{restore['id']}.outputs.cache-primary-key}}}}")
    upload = steps[_index(steps, _uses("actions/upload-artifact"), "uploads")]
    assert "reports/ci/" in upload["with"]["path"].split()


def test_check_step_command():
    step = check_step(load())
    script = step["run"]
    assert "lab ci" in script and "--json" in script and "set +e" in script
    assert "GITHUB_OUTPUT" in script
    env = {k: str(v).replace(" ", "") for k, v in step["env"].items()}
    assert env == {"BASELINE": "${{inputs.baseline}}", "BUDGET": "${{inputs.budget||'30'}}"}


def test_no_expressions_inside_scripts():
    """Inputs and outputs reach scripts through env (script injection)."""
    for step in only_job(load())["steps"]:
        assert "${{" not in str(step.get("run", "")), step.get("name")


# --- the argv the workflow runs --------------------------------------------------------------


def test_workflow_ci_argv():
    assert workflow_ci_argv(WORKFLOW) == ["ci", "--budget", "30", "--json"]


def test_check_step_with_inputs():
    argv, _, _ = run_check_step(inputs={"baseline": "v1.2 tag", "budget": "5"})
    assert argv == ["ci", "--budget", "5", "--baseline", "v1.2 tag", "--json"]


@pytest.mark.parametrize("status", [0, 1, 2])
def test_check_step_records_the_status_and_passes(status):
    _, outputs, rc = run_check_step(inputs=SCHEDULED, lab_status=status)
    assert rc == 0, "the check step itself must not fail: the last step does"
    assert outputs == {"status": str(status)}
