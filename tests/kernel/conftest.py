"""The kernel's in-guest test suite as pytest tests.

``inguest.ktest`` lists boots of our kernel (a name, then the QEMU mode and the kernel's
command line). Collecting it builds ``kernel-image`` (release), boots each line under QEMU
and turns every ``KTEST`` record the guest printed on its serial console into one test item:
``inguest.ktest::tcg::frames.alloc`` passes, fails with the guest's ``file:line: message``,
or is skipped with the guest's reason. One more item per boot checks the boot itself: it
reached ``KTEST done``, the counts agree with the records, nothing panicked and the
isa-debug-exit value is 0 exactly when no test failed. The keyboard test gets the keys
``lab\\n`` through QEMU's ``sendkey`` when the guest prints ``LAB WAITKEY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

BOOT_TIMEOUT = 120.0


def _boot(line: str) -> tuple[str, str, str]:
    name, mode, append = (line.split(None, 2) + ["", ""])[:3]
    if mode not in ("tcg", "icount"):
        raise pytest.UsageError(f"inguest.ktest: mode {mode!r} in {line!r} is not tcg or icount")
    return name, mode, append


def _run_boot(mode: str, append: str) -> Any:
    from lab import native
    from lab.host import get_host
    from lab.qemu import QemuConfig, boot

    host = get_host()
    if "kernel" not in host.systems():
        raise RuntimeError(f"the kernel plugin did not load: {host.problems}")
    art = native.build(host.systems()["kernel"], "kernel-image", "release").path
    config = QemuConfig(kernel=art / "kernel.elf", append=append, disks=(art / "disk.img",),
                        icount_shift=0 if mode == "icount" else None, timeout=BOOT_TIMEOUT)
    actions = {"LAB WAITKEY": lambda s, _line: s.send_keys("lab\n"),
               "LAB SCREENSHOT": lambda s, _line: s.write_serial(b"\n")}
    return boot(config, actions=actions)


class InGuestFile(pytest.File):
    def collect(self):  # noqa: ANN201
        from plugins.kernel import ktest

        for raw in self.path.read_text().splitlines():
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            name, mode, append = _boot(raw.strip())
            result = _run_boot(mode, append)
            report = ktest.parse(result.serial)
            for rec in report.tests:
                yield InGuestItem.from_parent(self, name=f"{name}::{rec.name}", record=rec)
            yield BootItem.from_parent(self, name=f"{name}::boot", result=result, report=report)


class InGuestItem(pytest.Item):
    def __init__(self, *, record: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record = record

    def runtest(self) -> None:
        if self.record.status == "skip":
            pytest.skip(f"in guest: {self.record.detail}")
        if self.record.status != "ok":
            raise InGuestFailure(self.record.detail)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:  # noqa: ARG002
        if isinstance(excinfo.value, InGuestFailure):
            return f"in-guest test {self.record.name} failed: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"in-guest {self.name}"


class BootItem(pytest.Item):
    def __init__(self, *, result: Any, report: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result, self.report = result, report

    def runtest(self) -> None:
        r, rep = self.result, self.report
        tail = "\n".join(r.serial.splitlines()[-15:])
        assert rep.panic is None, f"kernel panic: {rep.panic}\n{tail}"
        assert r.outcome == "exit", f"boot ended with {r.outcome} {r.error}\n{tail}"
        assert rep.done is not None, f"no 'KTEST done' line\n{tail}"
        assert rep.done == rep.counts(), (rep.done, rep.counts())
        assert rep.malformed == [], rep.malformed
        assert rep.tests, "the suite printed no test"
        assert r.exit_value == (1 if rep.done[1] else 0), (r.exit_value, rep.done)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"in-guest {self.name}"


class InGuestFailure(Exception):
    """An in-guest test printed ``KTEST fail``."""


def pytest_collect_file(file_path: Path, parent: Any) -> Any:
    if file_path.suffix == ".ktest":
        return InGuestFile.from_parent(parent, path=file_path)
    return None
