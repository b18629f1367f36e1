"""The serial protocol of the lab's kernels, parsed: ``LAB``, ``KTEST`` and ``KBENCH`` lines.

Our kernel (``targets/kernel``) and the Linux reference's benchmark program
(``targets/kernel/linux/kbench.c``) print one record per line on the serial console:

- ``LAB READY tsc=<n>``: ready to run the first program (the boot-to-ready point; under
  ``-icount shift=0`` the TSC counts guest instructions since reset).
- ``LAB PANIC <message>`` / ``LAB KILLED pid=<p> <reason>``: a kernel panic, a killed process.
- ``KTEST ok|fail|skip <suite>.<name> [detail]`` and ``KTEST done pass=<n> fail=<m> skip=<k>``:
  the in-guest test suite.
- ``KBENCH <workload> iters=<n> tsc=<cycles> ns=<ns> [key=value...]`` and ``KBENCH done``.

Contract: the parsers never raise on garbage; a malformed record is kept in ``malformed`` so
the caller can report it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KTEST_RE = re.compile(r"^KTEST (ok|fail|skip) (\S+)(?: (.*))?$")
KTEST_DONE_RE = re.compile(r"^KTEST done pass=(\d+) fail=(\d+) skip=(\d+)\s*$")
KBENCH_RE = re.compile(r"^KBENCH (\w+)((?: \w+=\S+)*)\s*$")
READY_RE = re.compile(r"^LAB READY tsc=(\d+)\s*$")


@dataclass(frozen=True)
class TestRecord:
    """One in-guest test: ``status`` is ``ok``, ``fail`` or ``skip``."""

    name: str
    status: str
    detail: str = ""


@dataclass
class SerialReport:
    """Everything the protocol lines of one boot said."""

    ready_tsc: int | None = None
    tests: list[TestRecord] = field(default_factory=list)
    done: tuple[int, int, int] | None = None
    bench: dict[str, dict[str, str]] = field(default_factory=dict)
    bench_done: bool = False
    panic: str | None = None
    killed: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)

    def counts(self) -> tuple[int, int, int]:
        """(ok, fail, skip) among the test records."""
        st = [t.status for t in self.tests]
        return st.count("ok"), st.count("fail"), st.count("skip")


def _line(report: SerialReport, line: str) -> None:
    if line.startswith("LAB READY"):
        m = READY_RE.match(line)
        if m and report.ready_tsc is None:
            report.ready_tsc = int(m.group(1))
        elif not m:
            report.malformed.append(line)
    elif line.startswith("LAB PANIC"):
        report.panic = line[len("LAB PANIC"):].strip() or "panic"
    elif line.startswith("LAB KILLED"):
        report.killed.append(line[len("LAB KILLED"):].strip())
    elif line.startswith("KTEST done"):
        m = KTEST_DONE_RE.match(line)
        if m:
            report.done = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        else:
            report.malformed.append(line)
    elif line.startswith("KTEST"):
        m = KTEST_RE.match(line)
        if m:
            report.tests.append(TestRecord(m.group(2), m.group(1), m.group(3) or ""))
        else:
            report.malformed.append(line)
    elif line.startswith("KBENCH"):
        _bench_line(report, line)


def _bench_line(report: SerialReport, line: str) -> None:
    if line.strip() == "KBENCH done":
        report.bench_done = True
        return
    m = KBENCH_RE.match(line)
    if not m:
        report.malformed.append(line)
        return
    fields = dict(kv.split("=", 1) for kv in m.group(2).split())
    if not all(k in fields and fields[k].isdigit() for k in ("iters", "tsc", "ns")):
        report.malformed.append(line)
        return
    report.bench[m.group(1)] = fields


def parse(serial: str) -> SerialReport:
    """The protocol records of one boot's serial output (other lines are ignored)."""
    report = SerialReport()
    for raw in serial.splitlines():
        _line(report, raw.strip("\r\x00 "))
    return report
