"""Fault-injection machinery a case sets up before its nodes start: a small disk and a clock.

:class:`Disk` mounts a tmpfs of a set size for the nodes' data (root or CAP_SYS_ADMIN needed;
otherwise ``unavailable`` says so and disk-full faults are skipped), fills it to the last byte
on demand (``fill``) and frees it (``release``); ``close`` unmounts it. :class:`Clock` is
libfaketime (Debian package ``faketime``) preloaded into a node and driven through its
timestamp file, re-read on every clock call (``FAKETIME_NO_CACHE``): ``set(offset=..)`` jumps
the wall clock, ``set(rate=..)`` makes it run faster or slower, ``set()`` puts it back. The
monotonic clock is left alone (``DONT_FAKE_MONOTONIC``), as a real clock step would.

Both register what they create with :mod:`lab.chaos.cleanup`.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

from lab.chaos import cleanup

FAKETIME_LIBS = (
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
    Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
    Path("/usr/lib/faketime/libfaketime.so.1"),
)
CHUNK = 1 << 20


class Disk:
    """A tmpfs of ``size_mb`` MiB mounted at ``where`` (created), or ``unavailable``."""

    def __init__(self, where: Path, size_mb: int) -> None:
        self.where = Path(where)
        self.size_mb = size_mb
        self.unavailable: str | None = None
        self.filler = self.where / ".lab-filler"
        self.where.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            self.unavailable = "disk-full needs root to mount a small tmpfs"
            return
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755",
                              "lab-chaos", str(self.where)], capture_output=True, text=True,
                             timeout=20)
        if out.returncode != 0:
            self.unavailable = f"could not mount a tmpfs: {out.stderr.strip()}"
            return
        cleanup.track_mount(self.where)

    def fill(self) -> str:
        """Write a filler file until the file system reports ENOSPC; one line saying how much."""
        written = 0
        block = b"\0" * CHUNK
        limit = self.size_mb + 8
        with open(self.filler, "ab", buffering=0) as f:
            for size in (CHUNK, 4096, 1):
                for _ in range(limit * (CHUNK // size if size < CHUNK else 1)):
                    try:
                        written += f.write(block[:size])
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        return f"filled the data disk with {written / CHUNK:.1f} MiB (now full)"

    def release(self) -> str:
        size = self.filler.stat().st_size if self.filler.exists() else 0
        self.filler.unlink(missing_ok=True)
        return f"freed {size / CHUNK:.1f} MiB"

    def close(self) -> None:
        """Unmount (everything on it is gone); safe to call twice. A mount that will not go
        stays recorded, for the next run's reaper, and raises ``OSError``."""
        if self.unavailable is None and cleanup.is_mount(self.where):
            if not cleanup.unmount(self.where):
                raise OSError(f"could not unmount {self.where}")
        cleanup.untrack_mount(self.where)


def faketime_library() -> Path | None:
    return next((p for p in FAKETIME_LIBS if p.exists()), None)


class Clock:
    """libfaketime for one node, controlled through ``stamp`` (a file the case owns)."""

    def __init__(self, stamp: Path) -> None:
        self.stamp = Path(stamp)
        lib = faketime_library()
        self.library = lib
        self.unavailable = None if lib else ("clock faults need libfaketime: "
                                             "apt-get install faketime")
        self.stamp.write_text("+0\n")

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with libfaketime preloaded (after what ``base`` already preloads)."""
        if self.library is None:
            return dict(base)
        preload = " ".join(filter(None, [base.get("LD_PRELOAD", ""), str(self.library)]))
        return {**base, "LD_PRELOAD": preload, "FAKETIME_TIMESTAMP_FILE": str(self.stamp),
                "FAKETIME_NO_CACHE": "1", "DONT_FAKE_MONOTONIC": "1"}

    def set(self, offset: float = 0.0, rate: float | None = None) -> str:
        """Jump the wall clock by ``offset`` seconds, or make it run ``rate`` times as fast.
        libfaketime measures a rate from the process' start, so a rate first moves the clock
        by (seconds the process has run) x (rate - 1), then it drifts; ``set()`` puts the
        real time back."""
        spec = f"{offset:+.3f}s" if rate is None else f"+0 x{rate:g}"
        tmp = self.stamp.with_suffix(".tmp")
        tmp.write_text(spec + "\n")
        tmp.replace(self.stamp)
        if offset == 0 and rate is None:
            return "clock back to real time"
        if rate is None:
            return f"clock {spec}"
        return f"clock x{rate:g} (from the process start: a jump, then a drift)"
