"""Tests for lab.fuzz.triage on real reports from clang-14 sanitizers, libFuzzer and atheris.

The fixtures in ``tests/fuzz/reports`` were produced by building tiny buggy programs in a fake
project at ``/tmp/triage-samples/proj`` (code under test in ``targets/``, fuzz harnesses in
``lab/fuzz/``) and running them; ``reports/README.txt`` holds their sources and the script. The
paths printed in the reports are therefore under that fake root, which is why the tests pass
``PROJECT`` as ``project_roots`` and ``HARNESS`` as ``harness_paths`` -- nothing is read from
those paths, parsing is purely textual.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lab.fuzz.triage import (
    KINDS,
    UNRECOGNIZED,
    Finding,
    Frame,
    artifact_path,
    parse_frame_line,
    parse_report,
    ubsan_kind,
)

REPORTS = Path(__file__).parent / "reports"
PROJECT = "/tmp/triage-samples/proj"
HARNESS = "/tmp/triage-samples/proj/lab/fuzz"
DEMO = "/tmp/triage-samples/proj/targets/demo/demo.c"
CHECKS = "/tmp/triage-samples/proj/targets/pydemo/checks.py"
TOY_STACK = ("toy_scan", "toy_entry")


def report(name: str) -> str:
    return (REPORTS / f"{name}.txt").read_text()


def parse(name: str, roots: tuple[str, ...] = (PROJECT,), harness=(HARNESS,)) -> Finding:
    return parse_report(report(name), roots, harness)


def own_names(finding: Finding) -> list[str]:
    return [frame.function for frame in finding.own_frames]


# fixture -> (kind, summary, own frame functions, signature)
EXPECTED = {
    "asan_heap_overflow": (
        "heap-buffer-overflow",
        "heap-buffer-overflow READ of size 1 in toy_parse_heap",
        ["toy_parse_heap", *TOY_STACK],
        "heap-buffer-overflow: toy_parse_heap < toy_scan < toy_entry",
    ),
    "asan_stack_overflow": (
        "stack-buffer-overflow",
        "stack-buffer-overflow READ of size 4 in toy_parse_stack",
        ["toy_parse_stack", *TOY_STACK],
        "stack-buffer-overflow: toy_parse_stack < toy_scan < toy_entry",
    ),
    "asan_use_after_free": (
        "use-after-free",
        "use-after-free READ of size 1 in toy_use_after_free",
        ["toy_use_after_free", *TOY_STACK],
        "use-after-free: toy_use_after_free < toy_scan < toy_entry",
    ),
    "asan_double_free": (
        "double-free",
        "double-free in toy_double_free",
        ["toy_double_free", *TOY_STACK],
        "double-free: toy_double_free < toy_scan < toy_entry",
    ),
    "asan_segv_null": (
        "segv",
        "segv READ on unknown address 0x000000000000 in toy_null",
        ["toy_null", *TOY_STACK],
        "segv: toy_null < toy_scan < toy_entry",
    ),
    "ubsan_signed_overflow": (
        "ubsan:signed-integer-overflow",
        "signed integer overflow: 2147483632 + 255 cannot be represented in type 'int'"
        " in toy_signed_overflow",
        ["toy_signed_overflow", *TOY_STACK],
        "ubsan:signed-integer-overflow: toy_signed_overflow < toy_scan < toy_entry",
    ),
    "ubsan_shift": (
        "ubsan:shift",
        "shift exponent 137 is too large for 32-bit type 'int' in toy_shift",
        ["toy_shift", *TOY_STACK],
        "ubsan:shift: toy_shift < toy_scan < toy_entry",
    ),
    "ubsan_bounds": (
        "ubsan:bounds",
        "index 7 out of bounds for type 'int[4]' in toy_bounds",
        ["toy_bounds", *TOY_STACK],
        "ubsan:bounds: toy_bounds < toy_scan < toy_entry",
    ),
    "ubsan_division_by_zero": (
        "ubsan:division-by-zero",
        "division by zero in toy_divide",
        ["toy_divide", *TOY_STACK],
        "ubsan:division-by-zero: toy_divide < toy_scan < toy_entry",
    ),
    "assert_failure": (
        "assertion",
        "Assertion `data[1] != 'x'' failed in toy_assert",
        ["toy_assert", *TOY_STACK],
        "assertion: toy_assert < toy_scan < toy_entry",
    ),
    "lsan_leak": (
        "leak",
        "Direct leak of 64 byte(s) in 1 object(s) in toy_leak",
        ["toy_leak", *TOY_STACK],
        "leak: toy_leak < toy_scan < toy_entry",
    ),
    "timeout": (
        "timeout",
        "timeout after 1 seconds in toy_spin",
        ["toy_spin", *TOY_STACK],
        "timeout: toy_spin < toy_scan < toy_entry",
    ),
    "oom": (
        "oom",
        "out-of-memory (used: 1537Mb; limit: 64Mb) in toy_hog",
        ["toy_hog", *TOY_STACK],
        "oom: toy_hog < toy_scan < toy_entry",
    ),
    "py_mismatch": (
        "mismatch",
        "Mismatch: outputs differ for 2-byte input: fast=65 reference=131",
        ["compare"],
        "mismatch: compare",
    ),
    "py_invariant": (
        "invariant",
        "InvariantViolation: header length 4 exceeds declared size 3",
        ["check_header"],
        "invariant: check_header",
    ),
    "py_keyerror": (
        "harness-error",
        "KeyError: b'z'",
        ["lookup"],
        "harness-error[KeyError]: lookup",
    ),
    "py_native_heap_overflow": (
        "heap-buffer-overflow",
        "heap-buffer-overflow READ of size 1 in toy_parse_heap",
        ["toy_parse_heap", *TOY_STACK],
        "heap-buffer-overflow: toy_parse_heap < toy_scan < toy_entry",
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_reports(name: str) -> None:
    kind, summary, own, signature = EXPECTED[name]
    finding = parse(name)
    assert finding.kind == kind
    assert finding.kind in KINDS
    assert finding.summary == summary
    assert own_names(finding) == own
    assert finding.signature == signature
    assert all(frame.file and frame.file.startswith(PROJECT) for frame in finding.own_frames)


def test_native_frames_carry_file_line_and_module() -> None:
    finding = parse("asan_heap_overflow")
    assert finding.frames[0] == Frame("toy_parse_heap", DEMO, 11, None, python=False)
    assert finding.frames[3].function == "LLVMFuzzerTestOneInput"
    assert finding.frames[3].file == f"{HARNESS}/fuzz_demo.c"
    callback = finding.frames[4]
    assert callback.function == (
        "fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)"
    )
    assert callback.module == "/tmp/triage-samples/build/fuzz_demo_O1"
    assert (callback.file, callback.line) == (None, None)
    assert finding.frames[-1].function == "_start"
    # the primary stack only: the "allocated by thread T0 here" stack is not part of it
    assert len(finding.frames) == 11


def test_frames_of_the_handler_stack_are_kept_but_not_own() -> None:
    finding = parse("timeout")
    assert finding.frames[0].function == "__sanitizer_print_stack_trace"
    unnamed = finding.frames[3]  # "#3 0x7f..  (/lib/x86_64-linux-gnu/libc.so.6+0x3c04f)"
    assert (unnamed.function, unnamed.module) == ("??", "/lib/x86_64-linux-gnu/libc.so.6")
    assert finding.own_frames[0] == Frame("toy_spin", DEMO, 57, None, python=False)


def test_python_frames_innermost_first() -> None:
    finding = parse("py_keyerror")
    assert finding.frames == (
        Frame("lookup", CHECKS, 34, None, python=True),
        Frame("test_one_input", f"{HARNESS}/fuzz_py_lookup.py", 12, None, python=True),
    )
    assert finding.own_frames == finding.frames[:1]


def test_harness_frames_count_as_own_without_harness_paths() -> None:
    finding = parse("asan_heap_overflow", harness=())
    assert own_names(finding) == ["toy_parse_heap", *TOY_STACK, "LLVMFuzzerTestOneInput"]
    assert finding.signature == EXPECTED["asan_heap_overflow"][3]
    python = parse("py_mismatch", harness=())
    assert own_names(python) == ["compare", "test_one_input"]
    assert python.signature == "mismatch: compare < test_one_input"


def test_single_harness_file_can_be_excluded() -> None:
    finding = parse("asan_heap_overflow", harness=(f"{HARNESS}/fuzz_demo.c",))
    assert own_names(finding) == ["toy_parse_heap", *TOY_STACK]


def test_runtime_frames_are_never_own_even_under_a_broad_root() -> None:
    """With "/" (or the lab checkout holding the venv) as root, libc, CPython, cffi/libffi,
    site-packages, pybind11 and libFuzzer frames still are not the project's own."""
    for roots in (("/",), (PROJECT, "/work/main")):
        native = parse("py_native_heap_overflow", roots=roots)
        assert own_names(native) == ["toy_parse_heap", *TOY_STACK]
        assert own_names(parse("assert_failure", roots=roots)) == ["toy_assert", *TOY_STACK]
        assert own_names(parse("timeout", roots=roots)) == ["toy_spin", *TOY_STACK]


def test_native_crash_under_atheris_keeps_interpreter_frames_in_the_stack() -> None:
    finding = parse("py_native_heap_overflow")
    names = [frame.function for frame in finding.frames]
    assert names[3:9] == [
        "ffi_call_unix64",
        "ffi_call_int",
        "cffistatic_ffi_call",
        "cdata_call",
        "_PyObject_MakeTpCall",
        "_PyEval_EvalFrameDefault",
    ]
    assert finding.frames[4].file == "ffi64.c" and finding.frames[4].line is None
    assert finding.frames[3].module.endswith("_cffi_backend.cpython-311-x86_64-linux-gnu.so")


# ---- stability: same bug -> same signature, different bug -> different signature -------------

SAME_BUG = [
    # two inputs, -O0 and -O1 builds, a fuzzing run, and the same core driven by atheris via cffi
    ("asan_heap_overflow", "asan_heap_overflow_longer_input", "asan_heap_overflow_O0",
     "asan_heap_overflow_color", "py_native_heap_overflow"),
    ("ubsan_signed_overflow", "ubsan_signed_overflow_other_input", "ubsan_signed_overflow_O0"),
    ("asan_use_after_free", "run_found_uaf"),
    ("py_mismatch", "py_mismatch_other_input", "py_run_found_mismatch"),
]


@pytest.mark.parametrize("names", SAME_BUG, ids=lambda names: names[0])
def test_same_bug_same_signature(names: tuple[str, ...]) -> None:
    findings = [parse(name) for name in names]
    assert len({finding.signature for finding in findings}) == 1
    assert len({finding.kind for finding in findings}) == 1
    # while the raw reports do differ (addresses, inputs, build ids, line numbers)
    assert len({report(name) for name in names}) == len(names)


def test_different_bugs_different_signatures() -> None:
    signatures = [parse(name).signature for name in EXPECTED if name != "py_native_heap_overflow"]
    assert len(set(signatures)) == len(signatures)


def test_signature_has_no_addresses_paths_or_line_numbers() -> None:
    for name in EXPECTED:
        signature = parse(name).signature
        assert "0x" not in signature and "/" not in signature and ".c:" not in signature


# ---- fallbacks ---------------------------------------------------------------------------------


def test_without_own_frames_signature_uses_non_runtime_frames() -> None:
    finding = parse("assert_failure", roots=("/elsewhere",))
    assert finding.own_frames == ()
    # skips __sanitizer_print_stack_trace, fuzzer::*, libc's raise/abort/__assert_fail
    assert finding.signature == "assertion: toy_assert < toy_scan < toy_entry"
    assert finding.summary == "Assertion `data[1] != 'x'' failed in toy_assert"
    leak = parse("lsan_leak", roots=())
    assert leak.signature == "leak: toy_leak < toy_scan < toy_entry"  # malloc skipped


def test_without_any_frame_signature_uses_summary_without_numbers() -> None:
    finding = parse("ubsan_signed_overflow_no_stack")
    assert finding.kind == "ubsan:signed-integer-overflow"
    assert finding.frames == ()
    assert finding.summary == (
        "signed integer overflow: 2147483632 + 255 cannot be represented in type 'int'"
        " at demo.c:36:14"
    )
    assert finding.signature == (
        "ubsan:signed-integer-overflow: signed integer overflow: N + N cannot be represented"
        " in type 'int' at demo.c:N:N"
    )


# ---- several reports, whole run logs -----------------------------------------------------------


def test_first_of_several_reports_wins() -> None:
    text = report("asan_stack_overflow") + report("asan_heap_overflow") + report("py_mismatch")
    assert parse_report(text, [PROJECT], [HARNESS]).kind == "stack-buffer-overflow"
    text = report("ubsan_shift") + report("asan_use_after_free")
    assert parse_report(text, [PROJECT], [HARNESS]).signature == EXPECTED["ubsan_shift"][3]
    text = report("py_keyerror") + report("oom")
    assert parse_report(text, [PROJECT], [HARNESS]).kind == "harness-error"


def test_python_exception_beats_the_libfuzzer_exit_report_after_it() -> None:
    # the traceback is followed by "ERROR: libFuzzer: fuzz target exited"
    finding = parse("py_run_found_mismatch")
    assert finding.kind == "mismatch"
    assert finding.summary == "Mismatch: outputs differ for 3-byte input: fast=14 reference=80"


def test_run_logs_without_crash_are_unrecognized() -> None:
    for name in ("run_clean", "run_large_corpus", "run_two_modules", "py_run_clean"):
        finding = parse(name)
        assert (finding.kind, finding.summary) == ("crash", UNRECOGNIZED)
        assert finding.signature == f"crash: {UNRECOGNIZED}"


def test_artifact_path() -> None:
    assert artifact_path(report("run_found_uaf")) == (
        "./crash-52e85ab8efac60d09fb47d7358d7c2858e5cf97f"
    )
    assert artifact_path(report("py_run_found_mismatch")) == (
        "./crash-5f9541e3360189c810a85f7c2196a0463f5ba3f7"
    )
    assert artifact_path(report("asan_heap_overflow")) is None  # reproduction of a given input
    assert artifact_path("") is None
    slow = (
        "Slowest unit: 3 s:\nartifact_prefix='out/'; Test unit written to out/slow-unit-ab12\n"
        "artifact_prefix='out/'; Test unit written to out/timeout-cd34\n"
    )
    assert artifact_path(slow) == "out/timeout-cd34"


# ---- robustness ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "hello world", "\x00\xff\ufffd", "#0 0x in", "==1==ERROR: AddressSanitizer: ",
     "SUMMARY: ", ": runtime error: ", "=== Uncaught Python exception: ===",
     "Traceback (most recent call last):\n  File", "    #0 0xZZ in (", "(" * 10000, "#" * 5000],
)
def test_garbage_never_raises(text: str) -> None:
    finding = parse_report(text, [PROJECT], [HARNESS])
    assert finding.kind in KINDS
    assert isinstance(finding.signature, str) and finding.signature


def test_plain_garbage_is_an_unrecognized_crash() -> None:
    unrecognized = Finding("crash", UNRECOGNIZED, (), (), f"crash: {UNRECOGNIZED}")
    assert parse_report("", [PROJECT]) == unrecognized
    assert parse_report("INFO: Seed: 1\nDone 10 runs", [PROJECT]).summary == UNRECOGNIZED


def test_random_bytes_never_raise() -> None:
    rng = random.Random(1234)
    for _ in range(200):
        text = bytes(rng.randrange(256) for _ in range(rng.randrange(400))).decode("latin-1")
        assert parse_report(text, [PROJECT], [HARNESS]).kind in KINDS


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_truncated_reports_never_raise(name: str) -> None:
    text = report(name)
    for cut in range(0, len(text), max(1, len(text) // 60)):
        assert parse_report(text[:cut], [PROJECT], [HARNESS]).kind in KINDS
        assert parse_report(text[cut:], [PROJECT], [HARNESS]).kind in KINDS


def test_report_missing_its_head_falls_back_to_summary_line() -> None:
    text = report("asan_heap_overflow")
    tail = text[text.index("0x602000000055 is located") :]
    finding = parse_report(tail, [PROJECT], [HARNESS])
    assert finding.kind == "heap-buffer-overflow"
    assert own_names(finding)[0] == "toy_parse_heap"  # from the allocation stack that is left


def test_report_cut_before_its_stack() -> None:
    text = report("asan_segv_null")
    head = text[: text.index("    #0 ")]
    finding = parse_report(head, [PROJECT], [HARNESS])
    assert (finding.kind, finding.frames) == ("segv", ())
    assert finding.signature == "segv: segv READ on unknown address N"


def test_windows_line_endings() -> None:
    text = report("asan_use_after_free").replace("\n", "\r\n")
    assert parse_report(text, [PROJECT], [HARNESS]) == parse("asan_use_after_free")


def test_path_objects_are_accepted() -> None:
    finding = parse_report(report("lsan_leak"), [Path(PROJECT)], [Path(HARNESS)])
    assert finding == parse("lsan_leak")


# ---- frame lines and UBSan messages ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "frame"),
    [
        ("    #3 0x7f00 in cz_inflate_block /work/main/targets/compress/inflate.c:123:9",
         Frame("cz_inflate_block", "/work/main/targets/compress/inflate.c", 123, None, False)),
        ("#0 0x55 in toy_parse+0x12 (/path/x.so+0x1a2b)",
         Frame("toy_parse", None, None, "/path/x.so", False)),
        ("    #5 0x4 in _PyEval_EvalFrameDefault /usr/src/python/Python/ceval.c:4769",
         Frame("_PyEval_EvalFrameDefault", "/usr/src/python/Python/ceval.c", 4769, None, False)),
        ("    #4 0x7f in ffi_call_int ffi64.c",
         Frame("ffi_call_int", "ffi64.c", None, None, False)),
        ("    #5 0x7f80a44420af  (<unknown module>)",
         Frame("??", None, None, "<unknown module>", False)),
        ("    #1 0x1 in foo(int) const", Frame("foo(int) const", None, None, None, False)),
    ],
)
def test_parse_frame_line(line: str, frame: Frame) -> None:
    assert parse_frame_line(line) == frame


def test_parse_frame_line_rejects_other_lines() -> None:
    assert parse_frame_line("#1234\tNEW    cov: 12 ft: 13") is None
    assert parse_frame_line("READ of size 1 at 0x602000000055 thread T0") is None


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("signed integer overflow: 1 + 2147483647 cannot be represented in type 'int'",
         "ubsan:signed-integer-overflow"),
        ("negation of -2147483648 cannot be represented in type 'int'",
         "ubsan:signed-integer-overflow"),
        ("left shift of negative value -1", "ubsan:shift"),
        ("shift exponent 40 is too large for 32-bit type 'int'", "ubsan:shift"),
        ("load of null pointer of type 'int'", "ubsan:null"),
        ("member access within null pointer of type 'struct s'", "ubsan:null"),
        ("applying non-zero offset 8 to null pointer", "ubsan:pointer-overflow"),
        ("index 9 out of bounds for type 'int[4]'", "ubsan:bounds"),
        ("load of misaligned address 0x01 for type 'int', which requires 4 byte alignment",
         "ubsan:alignment"),
        ("division by zero", "ubsan:division-by-zero"),
        ("load of value 7, which is not a valid value for type 'bool'", "ubsan:invalid-value"),
        ("execution reached an unreachable program point", "ubsan:other"),
    ],
)
def test_ubsan_kind(message: str, kind: str) -> None:
    assert ubsan_kind(message) == kind
    assert kind in KINDS


def test_invariant_findings_are_told_apart_by_their_message() -> None:
    from lab.fuzz.crashes import _message_category

    panic = ("Traceback (most recent call last):\nlab.fuzz.harness.InvariantViolation: "
             "kernel_survived: kernel panic: page fault in kernel at 0x60048000 (err 0x2); "
             "serial: LAB PANIC ...\n")
    hang = "InvariantViolation: kernel_survived: hang: guest killed at the timeout; serial: x"
    assert _message_category(panic) == "kernel_survived: kernel panic: page fault in kernel " \
                                       "at N (err N)"
    assert _message_category(hang) == "kernel_survived: hang: guest killed at the timeout"
    assert _message_category("Mismatch: target rejected, oracle accepted: target x; oracle y") \
        == "target rejected, oracle accepted"
    assert _message_category("no finding here") == ""
