"""The serial protocol parser of the kernel plugin: records found, garbage kept aside."""

from __future__ import annotations

from plugins.kernel import ktest

SERIAL = """\
SeaBIOS (version 1.16)
Booting from ROM..
LAB READY tsc=123456
KTEST ok frames.alloc
KTEST fail paging.map mm/paging.c:42: expected 0x1000, got 0
KTEST skip kbd.typed no keys sent
KTEST bogus
KBENCH syscall iters=1000 tsc=250000 ns=300000
KBENCH spawn iters=20 tsc=xx ns=1
LAB KILLED pid=3 page fault at 0x0
KTEST done pass=1 fail=1 skip=1
KBENCH done
"""


def test_records_are_parsed() -> None:
    rep = ktest.parse(SERIAL)
    assert rep.ready_tsc == 123456
    assert [(t.name, t.status) for t in rep.tests] == [
        ("frames.alloc", "ok"), ("paging.map", "fail"), ("kbd.typed", "skip")]
    assert rep.tests[1].detail == "mm/paging.c:42: expected 0x1000, got 0"
    assert rep.done == (1, 1, 1) == rep.counts()
    assert rep.bench == {"syscall": {"iters": "1000", "tsc": "250000", "ns": "300000"}}
    assert rep.bench_done and rep.panic is None
    assert rep.killed == ["pid=3 page fault at 0x0"]
    assert rep.malformed == ["KTEST bogus", "KBENCH spawn iters=20 tsc=xx ns=1"]


def test_panic_and_carriage_returns() -> None:
    rep = ktest.parse("LAB READY tsc=5\r\nLAB PANIC page fault in kernel at 0xc0000000\r\n")
    assert rep.ready_tsc == 5 and rep.panic == "page fault in kernel at 0xc0000000"
    assert rep.tests == [] and rep.done is None


def test_garbage_never_raises() -> None:
    rep = ktest.parse("\x00\xff LAB READY tsc=\nKTEST done pass=x\nKBENCH\n" * 3)
    assert rep.ready_tsc is None and rep.done is None and len(rep.malformed) >= 3
