"""Plugin discovery: local folders, entry points, broken and invalid plugins."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from labtest import BAD_PLUGINS, TOY_PLUGINS


def test_list_json_describes_local_systems(run_lab) -> None:
    res = run_lab("list", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    names = {s["name"]: s for s in doc["systems"]}
    assert {"compress", "toy"} <= set(names)
    toy = names["toy"]
    assert toy["shape"] == "lib" and toy["offers"] == ["bench", "fuzz"]
    assert toy["source"].startswith("local: ") and toy["source"].endswith("toy")
    assert toy["toolchain"]["ok"] is True
    impls = {i["name"]: i for i in toy["implementations"]}
    assert impls["fast"]["ok"] and not impls["absent"]["ok"]
    assert "lab-no-such-module" in impls["absent"]["missing"][0]["install"]
    assert doc["problems"] == []


def test_broken_and_invalid_plugins_are_reported_and_the_rest_works(run_lab) -> None:
    path = os.pathsep.join([str(TOY_PLUGINS), str(BAD_PLUGINS)])
    res = run_lab("list", "--json", env={"LAB_PLUGIN_PATH": path})
    assert res.code == 0, res.err
    doc = res.json()
    problems = {p["plugin"]: p["reason"] for p in doc["problems"]}
    assert "ImportError: this plugin is broken on purpose" in problems["broken"]
    assert "shape 'teapot' is not one of" in problems["invalid"]
    assert "baseline 'nope' is not one of its implementations (a)" in problems["invalid"]
    assert problems["badhooks"].startswith("lab_register_commands: RuntimeError: boom in commands")
    # a flavor hook that raises costs only that plugin's flavors
    built = run_lab("build", "toy", "--flavor", "release", env={"LAB_PLUGIN_PATH": path})
    assert built.code == 0, built.err
    assert {"compress", "toy"} <= {s["name"] for s in doc["systems"]}
    # the rest of the lab keeps working, and doctor names the broken plugin
    assert run_lab("info", "toy", env={"LAB_PLUGIN_PATH": path}).code == 0
    doctor = run_lab("doctor", "toy", env={"LAB_PLUGIN_PATH": path})
    assert "plugin broken: ImportError: this plugin is broken on purpose" in doctor.out
    assert "plugin badhooks: lab_register_commands: RuntimeError: boom in commands" in doctor.out


def test_entry_point_plugin_is_discovered(run_lab, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pkg = site / "lab_ep_demo"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        import lab

        @lab.hookimpl
        def lab_register_systems():
            return [lab.System(name="epdemo", shape="server", description="from an entry point",
                               impls=(lab.Impl("only", "x", load=lambda ctx: None),),
                               workloads=(), baseline="only")]
    '''))
    dist = site / "lab_ep_demo-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-ep-demo\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text("[lab.plugins]\nepdemo = lab_ep_demo\n")
    res = run_lab("list", "--json", env={"PYTHONPATH": str(site)})
    assert res.code == 0, res.err
    systems = {s["name"]: s for s in res.json()["systems"]}
    assert systems["epdemo"]["shape"] == "server"
    assert systems["epdemo"]["source"] == ("entry point: epdemo = lab_ep_demo "
                                           "(lab-ep-demo 1.2)")


def test_unknown_system_is_a_one_line_usage_error(run_lab) -> None:
    res = run_lab("bench", "nosuch")
    assert res.code == 2
    assert res.err == ("lab: error: unknown system 'nosuch'; valid: compress, gpu, kernel, "
                       "kvstore, tcpip, toy\n")


def test_doctor_print_missing_lists_declared_packages(run_lab) -> None:
    res = run_lab("doctor", "--print-missing", "pip")
    assert res.code == 0
    assert "lab-no-such-module" in res.out.split()


def test_plugins_add_flavors_and_commands(run_lab) -> None:
    res = run_lab("toy-hello")
    assert res.code == 0 and res.out == "hello from the toy plugin\n"
    built = run_lab("build", "toy", "--flavor", "o1")
    assert built.code == 0, built.err
    assert "toy/toy [o1]:" in built.out and "/o1/" in built.out


def test_param_override_selects_declared_values(run_lab) -> None:
    res = run_lab("bench", "toy", "--quick", "--json", "--no-report", "--impl", "fast",
                  "--param", "n=1000,16000")
    assert res.code == 0, res.err
    sizes = {r["params"]["n"] for r in res.json()["results"] if r["status"] == "ok"}
    assert sizes == {1000, 16000}


def test_scaling_percentile_and_baseline_declarations_are_validated() -> None:
    import lab
    from lab.model import validate_system

    def system(**extra: object) -> lab.System:
        workload = lab.Workload(
            name="w", description="d", params={"clients": (1, 8)}, prepare=dict,
            measure=lambda *_: {}, measured=(lab.Metric("p50", "ms", "lower"),
                                             lab.Metric("p99", "ms", "lower")), **extra)
        return lab.System(name="s", shape="server", description="d",
                          impls=(lab.Impl("a", "a", load=lambda ctx: None),),
                          workloads=(workload,), baseline="a")

    assert validate_system(system(scaling=("clients",),
                                  percentiles={"p50": 50, "p99": 99})) == []
    problems = validate_system(system(scaling=("depth",), percentiles={"p50": 50, "p90": 90,
                                                                      "p99": 100}))
    assert "workload 'w': scaling parameter 'depth' is not one of its parameters" in problems
    assert "workload 'w': percentile metric 'p90' is not one of its metrics" in problems
    assert ("workload 'w': percentile of 'p99' must be a number in (0, 100), got 100"
            in problems)
    assert validate_system(system(baseline="zzz")) == [
        "workload 'w': baseline 'zzz' is not one of its system's implementations"]
