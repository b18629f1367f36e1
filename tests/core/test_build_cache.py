"""The cffi build cache: no rebuild when unchanged, flavors apart, concurrent builders,
compiler errors shown as compiler messages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labtest import TOY_PLUGINS


@pytest.fixture
def toy_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab_env: dict) -> Path:
    """A private copy of the toy sources and a private cache, so edits affect only this test."""
    targets = tmp_path / "targets"
    shutil.copytree(TOY_PLUGINS / "toy" / "targets", targets)
    monkeypatch.setenv("TOY_TARGETS", str(targets))
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    lab_env.update(TOY_TARGETS=str(targets), LAB_CACHE=str(tmp_path / "cache"))
    return targets


def _toy():  # noqa: ANN202
    from lab.host import get_host, reset_host

    reset_host()
    return get_host().systems()["toy"]


def test_no_rebuild_when_nothing_changed_and_rebuild_on_change(toy_targets: Path) -> None:
    from lab import native

    first = native.build(_toy(), "toy", "release")
    assert first.rebuilt and (first.path / first.info["so"]).exists()
    mtime = (first.path / first.info["so"]).stat().st_mtime_ns
    again = native.build(_toy(), "toy", "release")
    assert not again.rebuilt and again.path == first.path
    assert (again.path / again.info["so"]).stat().st_mtime_ns == mtime
    src = toy_targets / "toy.c"
    src.write_text(src.read_text() + "\n/* changed */\n")
    changed = native.build(_toy(), "toy", "release")
    assert changed.rebuilt and changed.key != first.key


def test_flavors_never_collide(toy_targets: Path) -> None:
    from lab import native

    arts = {f: native.build(_toy(), "toy", f) for f in ("release", "debug", "profile")}
    assert len({a.path for a in arts.values()}) == 3
    assert len({a.key for a in arts.values()}) == 3
    assert all(a.path.name and a.path.parent.name == f for f, a in arts.items())
    log = (arts["debug"].path / "build.log").read_text()
    assert "-fsanitize=address,undefined" in log
    assert "-O2" in (arts["release"].path / "build.log").read_text()
    assert arts["release"].info["warnings"] == []


def test_release_artifact_loads_and_computes(toy_targets: Path) -> None:
    from lab import native

    mod = native.load(_toy(), "toy", "release")
    buf = mod.ffi.new("uint32_t[]", [1, 2, 3, 4])
    assert mod.lib.toy_sum(buf, 4) == 10


def test_debug_flavor_refuses_to_load_without_its_runtime(toy_targets: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from lab import native
    from lab.errors import LabError

    monkeypatch.delenv("LD_PRELOAD", raising=False)
    with pytest.raises(LabError, match="lab exec --flavor debug"):
        native.load(_toy(), "toy", "debug")


def test_concurrent_builds_share_one_artifact(toy_targets: Path, lab_env: dict) -> None:
    import os

    env = {**os.environ, **lab_env}
    procs = [subprocess.Popen([sys.executable, "-m", "lab.cli", "build", "toy", "--recipe",
                               "toy", "--flavor", "profile"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    built = [o for o, _ in outs if "built in" in o]
    assert len(built) == 1, outs
    folder = Path(lab_env["LAB_CACHE"]) / "build" / "toy" / "toy" / "profile"
    artifacts = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(artifacts) == 1
    assert not [p for p in folder.iterdir() if p.name.startswith(".building")]


def test_compile_error_shows_compiler_message(toy_targets: Path, run_lab) -> None:
    (toy_targets / "toy.c").write_text('#include "toy.h"\nuint64_t toy_sum(const uint32_t *v, '
                                       'size_t n) { return v[0] + undeclared_name; }\n')
    res = run_lab("build", "toy")
    assert res.code == 1
    assert "Traceback" not in res.err
    assert "build of toy/toy (release) failed" in res.err
    assert "toy.c:2" in res.err and "undeclared_name" in res.err and "error:" in res.err
    # the failed build left nothing half-made in the cache
    folder = Path(toy_targets.parent / "cache" / "build" / "toy" / "toy" / "release")
    assert not [p for p in folder.iterdir() if p.name != ".lock"]


def test_debug_flavor_runs_under_lab_exec_with_assertions_and_sanitizers(
        toy_targets: Path, run_lab) -> None:
    script = ("from lab.host import get_host; from lab import native; "
              "t = get_host().systems()['toy']; m = native.load(t, 'toy', 'debug'); "
              "b = m.ffi.new('uint32_t[]', [5, 6]); print('sum', m.lib.toy_sum(b, 2), flush=True); "
              "m.lib.toy_sum_repeated(b, 2, 0)")
    res = run_lab("exec", "--flavor", "debug", "--", sys.executable, "-c", script)
    assert "sum 11" in res.out, res.err
    assert res.code != 0 and "Assertion `times > 0' failed" in res.err


def test_executable_recipe_builds_per_flavor_and_runs(run_lab, lab_env) -> None:  # noqa: ANN001
    import subprocess

    from lab import native
    from lab.host import get_host

    res = run_lab("build", "toy", "--recipe", "toy-upper", "--flavor", "release", "--flavor",
                  "debug")
    assert res.code == 0, res.err
    assert "toy/toy-upper [release]" in res.out and "toy/toy-upper [debug]" in res.out
    system = get_host().systems()["toy"]
    release = native.load(system, "toy-upper", "release")
    out = subprocess.run([str(release)], input="abc", capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == "ABC"
    assert subprocess.run([str(release), "overflow"], capture_output=True,
                          timeout=30).returncode in (0, 1)  # undetected without sanitizers
    debug = native.load(system, "toy-upper", "debug")
    env = {**native.flavors_runtime_env("debug"), "LD_PRELOAD": ""}
    bad = subprocess.run([str(debug), "overflow"], capture_output=True, text=True, timeout=30,
                         env=env)
    assert bad.returncode != 0 and "heap-buffer-overflow" in bad.stderr
    again = run_lab("build", "toy", "--recipe", "toy-upper")
    assert "up to date" in again.out
