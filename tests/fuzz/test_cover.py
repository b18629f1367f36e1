"""``lab cover``: source coverage of the toy ``parse`` target's inputs, replayed through the
clang coverage build (no sanitizer, so no input here triggers the planted out-of-bounds read:
every ``LAB!`` record's length byte fits its payload)."""

from __future__ import annotations

import dataclasses
import os
import re
import textwrap
from pathlib import Path

import pytest

from labtest import TOY_PLUGINS

RECORD = b"LAB!\x03abc"  # reaches the checksum loop
NOT_A_RECORD = b"xyz"  # rejected by the magic check


@pytest.fixture(scope="module", autouse=True)
def llvm_tools() -> None:
    """The coverage build needs clang-14, llvm-profdata and llvm-cov (``make setup``)."""
    from lab.errors import LabError
    from lab.fuzz.cover import tools

    try:
        tools()
    except LabError as exc:
        pytest.fail(str(exc), pytrace=False)


def corpus(lab_env: dict, system: str = "toy", target: str = "parse") -> Path:
    """The grown corpus folder of a target in the isolated environment."""
    from lab.fuzz.layout import layout
    from lab.host import get_host

    s = get_host().systems()[system]
    folder = layout(s, s.fuzz_target(target)).corpus
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cover_json(run_lab, *args: str) -> dict:
    res = run_lab("cover", "toy", *args, "--json")
    assert res.code == 0, res.err
    return res.json()


def test_cover_counts_lines_and_grows_with_the_record(lab_env: dict, run_lab) -> None:
    folder = corpus(lab_env)
    (folder / "plain").write_bytes(NOT_A_RECORD)
    before = cover_json(run_lab, "--target", "parse")["targets"][0]
    (folder / "record").write_bytes(RECORD)
    doc = cover_json(run_lab, "--target", "parse")
    after = doc["targets"][0]

    assert doc["system"] == "toy" and after["target"] == "parse"
    assert (before["corpus_units"], after["corpus_units"]) == (1, 2)
    for metric in ("lines", "branches", "functions", "regions"):
        assert 0 < after[f"{metric}_covered"] <= after[f"{metric}_total"], metric
    assert after["lines_total"] == before["lines_total"]
    assert after["lines_covered"] > before["lines_covered"]
    assert after["branches_covered"] > before["branches_covered"]
    assert after["crashed_inputs"] == []

    html = Path(after["html"])
    assert html == Path(lab_env["LAB_REPORTS"]) / "toy" / "coverage" / "parse" / "index.html"
    assert html.is_file() and "parse.c" in html.read_text()

    from lab.store import open_store

    store = open_store()
    rows = store.coverage("toy")
    runs = [store.run(r["run_id"]) for r in rows]
    store.close()
    assert [r["lines_covered"] for r in rows] == [before["lines_covered"],
                                                  after["lines_covered"]]
    assert rows[-1]["corpus_units"] == 2 and rows[-1]["html"] == str(html)
    assert {(r.kind, r.status) for r in runs} == {("cover", "ok")}
    assert runs[-1].command == ["lab", "cover", "toy", "--target", "parse"]


def test_cover_prints_one_line_per_target(lab_env: dict, run_lab) -> None:
    (corpus(lab_env) / "record").write_bytes(RECORD)
    res = run_lab("cover", "toy")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert re.fullmatch(r"toy/parse: lines \d+\.\d% \(\d+/\d+\)  branches \d+\.\d% \(\d+/\d+\)  "
                        r"functions \d+\.\d% \(\d+/\d+\)  corpus 1 inputs  html: \S+index\.html",
                        lines[0]), lines[0]
    # the other targets have no inputs: skipped, with the command that grows a corpus
    assert [ln.split(":")[0] for ln in lines[1:]] == ["toy/differential", "toy/harness"]
    assert all("skipped" in ln and "lab fuzz toy" in ln for ln in lines[1:])


def test_cover_reports_each_source_file(lab_env: dict, run_lab) -> None:
    """--files prints the matching files' own coverage; --json carries every file's."""
    (corpus(lab_env) / "record").write_bytes(RECORD)
    doc = cover_json(run_lab, "--target", "parse")["targets"][0]
    assert "parse.c" in doc["files"]
    per_file = doc["files"]["parse.c"]
    assert 0 < per_file["branches_covered"] <= per_file["branches_total"]
    assert sum(f["lines_total"] for f in doc["files"].values()) == doc["lines_total"]
    res = run_lab("cover", "toy", "--target", "parse", "--files", "pars*.c")
    assert res.code == 0, res.err
    c, t = per_file["branches_covered"], per_file["branches_total"]
    assert "  parse.c: lines " in res.out and f"branches {100 * c / t:.1f}% ({c}/{t})" in res.out
    none = run_lab("cover", "toy", "--target", "parse", "--files", "nothing*.c")
    assert "no source file matches nothing*.c" in none.out


def test_unknown_target_names_the_valid_ones(run_lab) -> None:
    res = run_lab("cover", "toy", "--target", "nope")
    assert res.code == 2
    assert res.err.strip() == ("lab: error: unknown fuzz target 'nope' of toy; valid: parse, "
                               "differential, harness")


def test_unknown_system(run_lab) -> None:
    res = run_lab("cover", "no-such-system")
    assert res.code == 2 and "unknown system 'no-such-system'" in res.err


def test_no_inputs_says_how_to_grow_a_corpus(lab_env: dict, run_lab) -> None:
    for args in (("--target", "parse"), ()):
        res = run_lab("cover", "toy", *args)
        assert res.code == 1
        assert len(res.err.strip().splitlines()) == 1
        assert "no inputs" in res.err or "has inputs" in res.err
        assert "lab fuzz toy" in res.err
    from lab.store import open_store

    store = open_store()
    assert store.runs("toy") == []  # nothing was recorded
    store.close()


def test_system_without_fuzz_targets_is_a_usage_error(lab_env: dict) -> None:
    from lab.builtins.covering import pick_targets
    from lab.errors import UsageError
    from lab.host import get_host

    bare = dataclasses.replace(get_host().systems()["toy"], fuzz_targets=())
    with pytest.raises(UsageError, match=r"declares no fuzz targets; systems with fuzz targets"):
        pick_targets(bare, None)


CRASHY = '''
import os
from pathlib import Path

import lab

TOY = Path({targets!r})


def _load(ctx):
    lib = ctx.build("toy").lib

    def run(data):
        if data.startswith(b"ABORT"):
            os.abort()
        return lib.toy_parse(data, len(data))

    return run


@lab.hookimpl
def lab_register_systems():
    return [lab.System(
        name="crashy", shape="lib", description="a target one input kills",
        impls=(lab.Impl("none", "nothing", load=lambda ctx: None),), workloads=(),
        baseline="none", recipes=(lab.CffiLib("toy", sources=("*.c",), header="toy.h"),),
        targets=TOY, offers=("fuzz",),
        fuzz_targets=(lab.FuzzTarget("t", "aborts on ABORT", load=_load, recipe="toy"),))]
'''


def test_an_input_that_kills_the_replay_is_skipped(lab_env: dict, run_lab,
                                                   tmp_path: Path) -> None:
    plugin = tmp_path / "more-plugins" / "crashy"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text(textwrap.dedent(CRASHY).format(
        targets=str(TOY_PLUGINS / "toy" / "targets")))
    env = {"LAB_PLUGIN_PATH": os.pathsep.join([str(TOY_PLUGINS), str(plugin.parent)])}
    folder = Path(lab_env["LAB_STORE"]).parent / "fuzz" / "crashy" / "t" / "corpus"
    folder.mkdir(parents=True)
    (folder / "a-record").write_bytes(RECORD)
    clean = run_lab("cover", "crashy", "--json", env=env)
    assert clean.code == 0, clean.err
    (folder / "b-abort").write_bytes(b"ABORT")
    (folder / "c-plain").write_bytes(NOT_A_RECORD)
    res = run_lab("cover", "crashy", "--json", env=env)
    assert res.code == 0, res.err
    row, base = res.json()["targets"][0], clean.json()["targets"][0]
    assert [Path(p).name for p, _ in row["crashed_inputs"]] == ["b-abort"]
    assert "SIGABRT" in row["crashed_inputs"][0][1]
    assert row["processes"] == 2  # the first one died; the second replayed the others
    # the record's coverage, lost with the killed process, was measured again
    assert row["lines_covered"] >= base["lines_covered"] > 0
    assert row["corpus_units"] == 3
