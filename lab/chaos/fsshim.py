"""Crash-consistency faults for files: unsynced data is lost, LazyFS-style, via LD_PRELOAD.

``lab/native/c/lab_chaos_fs.c`` is preloaded into a server (redis-server, kvstore-server, any
child started with :meth:`FsShim.env`). It does not touch ``write(2)``; it appends one record
to a journal per durability event under ``data_dir``: a successful fsync/fdatasync (and
syncfs/sync for every open file), rename, unlink, truncation, an open with ``O_TRUNC`` or with
``O_SYNC``/``O_DSYNC``. After the lab SIGKILLs the process, :meth:`FsShim.crash` replays
baseline + journal and cuts every file under ``data_dir`` back to its *durable length*: what
a power loss would leave under POSIX fsync semantics (the model of LazyFS, Martins et al.,
"LazyFS: a FUSE file system with an internal page cache").

Contract:

* The model is append-only: a file keeps its first ``durable`` bytes and loses the rest.
  Overwrites inside the durable part are not modelled (the new bytes survive), and metadata
  (create, rename, unlink, truncate) counts as durable at once; directory fsyncs are
  irrelevant. A file created since the baseline and never synced is cut to 0 bytes (it is
  not removed). Once opened with ``O_SYNC``/``O_DSYNC`` a file is always durable (``None``)
  until it is unlinked or renamed over. A file moved in from outside ``data_dir`` counts as
  always durable (nothing is known about its syncs).
* The *baseline* (``state_dir/baseline.json``) holds the size of every file at the last
  :meth:`FsShim.mark_durable`; a new :class:`FsShim` on dirs without one takes a baseline
  at once. Call ``mark_durable()`` before each (re)start; ``crash()`` and ``tear()`` call it.
* The caller guarantees that no process writing under ``data_dir`` or to the journal is alive
  when it calls :meth:`FsShim.crash`, :meth:`FsShim.tear` or :meth:`FsShim.mark_durable`.
* The mode (:data:`MODES`) lives in ``state_dir/mode`` and is re-read by the library at every
  fsync-like call on a tracked file, so it can change while the server runs: ``normal``
  syncs and journals, ``fail`` returns EIO without syncing, ``noop`` returns success without
  syncing or journaling (everything written from then on is lost at the next crash).
* Paths holding a tab or newline are not tracked and never truncated; files outside
  ``data_dir`` are never touched.

Not modelled: ``sync_file_range``, ``msync``, ``pwritev2`` with ``RWF_SYNC``, ``O_DIRECT``,
writes through hard links or symlinks from outside, and the exact order of records written
concurrently by threads that sync and rename the same file at the same time.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError
from lab.native import shared_lib

SOURCE = Path(__file__).resolve().parent.parent / "native" / "c" / "lab_chaos_fs.c"
CC = "cc"
CFLAGS = ("-std=c11", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra")
LIBS = ("-ldl", "-pthread")
MODES = ("normal", "fail", "noop")

_KIND_FIELDS = {"S": 3, "T": 3, "R": 3, "X": 3, "U": 2, "A": 2}
_ASAN_FLAG = "verify_asan_link_order=0"


class FsShimError(LabError):
    """The file-system shim cannot be used as asked, or its journal is corrupt."""


@dataclass(frozen=True)
class Loss:
    """What a crash did to one file: it had ``size_before`` bytes, of which ``durable``
    were synced, and now has ``size_after``."""

    path: Path
    size_before: int
    durable: int
    size_after: int

    @property
    def lost(self) -> int:
        """Bytes lost (``size_before - size_after``)."""
        return self.size_before - self.size_after


def build() -> Path:
    """The compiled library, built when the source or the compiler changed.

    Named ``cache_dir()/core/lab_chaos_fs-<hash>.so`` after a hash of the source, the flags
    and the compiler identity, compiled under a temporary name and renamed into place.
    Raises :class:`~lab.errors.BuildError` with the compiler's diagnostics on failure."""
    return shared_lib.build("lab_chaos_fs", SOURCE, CC, CFLAGS, LIBS, what="fs shim")


def missing() -> str | None:
    """One line saying why the shim cannot work on this machine, or None when it can."""
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc/self/fd"):
        return "fs shim: needs Linux with /proc/self/fd (LD_PRELOAD and readlink of fds)"
    if shutil.which(CC) is None:
        return f"fs shim: no C compiler {CC!r} on PATH to build {SOURCE.name}"
    return None


def _trackable(path: str) -> bool:
    return "\t" not in path and "\n" not in path


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _atomic_write(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Replay:
    """Durable lengths while the journal is replayed over the baseline."""

    def __init__(self, root: str, baseline: dict[str, int]) -> None:
        self.root = root
        self.state: dict[str, int | None] = dict(baseline)
        self.foreign: list[str] = []    # directories moved in from outside: always durable

    def pop_under(self, prefix: str) -> dict[str, int | None]:
        taken = {k: v for k, v in self.state.items() if _under(k, prefix)}
        for k in taken:
            del self.state[k]
        return taken

    def pop_foreign(self, prefix: str) -> list[str]:
        taken = [f for f in self.foreign if _under(f, prefix)]
        self.foreign = [f for f in self.foreign if not _under(f, prefix)]
        return taken

    def put(self, old: str, new: str, entries: dict[str, int | None], foreign: list[str]) -> None:
        if not _under(new, self.root):
            return
        for k, v in entries.items():
            self.state[new + k[len(old):]] = v
        self.foreign.extend(new + f[len(old):] for f in foreign)

    def rename(self, old: str, new: str) -> None:
        entries, foreign = self.pop_under(old), self.pop_foreign(old)
        self.pop_under(new)
        self.pop_foreign(new)
        if not _under(old, self.root):
            entries, foreign = {old: None}, [old]
        self.put(old, new, entries, foreign)

    def exchange(self, a: str, b: str) -> None:
        ea, fa = self.pop_under(a), self.pop_foreign(a)
        eb, fb = self.pop_under(b), self.pop_foreign(b)
        self.put(a, b, ea, fa)
        self.put(b, a, eb, fb)

    def apply(self, kind: str, fields: list[str]) -> None:
        path = fields[-1]
        if kind == "R":
            self.rename(fields[1], fields[2])
        elif kind == "X":
            self.exchange(fields[1], fields[2])
        elif not _under(path, self.root):
            return
        elif kind == "U":
            self.pop_under(path)
            self.pop_foreign(path)
        elif kind == "A":
            self.state[path] = None
        elif kind == "S":
            old = self.state.get(path, 0)
            self.state[path] = None if old is None else max(old, int(fields[1]))
        elif kind == "T" and path in self.state:
            old = self.state[path]
            self.state[path] = None if old is None else min(old, int(fields[1]))

    def durable(self, path: str) -> int | None:
        if path in self.state:
            return self.state[path]
        return None if any(_under(path, f) for f in self.foreign) else 0


class FsShim:
    """Journal, baseline and mode of one data directory; see the module docstring.

    ``data_dir`` is created if needed and resolved; ``state_dir`` (created too, outside
    ``data_dir``) holds ``journal.log``, ``mode`` and ``baseline.json``."""

    def __init__(self, data_dir: Path, state_dir: Path) -> None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir).resolve()
        self.state_dir = Path(state_dir).resolve()
        if _under(str(self.state_dir), str(self.data_dir)):
            raise FsShimError(f"fs shim: state dir {self.state_dir} lies inside the data dir "
                              f"{self.data_dir}; its journal would be cut on crash")
        if not _trackable(str(self.data_dir)):
            raise FsShimError(f"fs shim: data dir {self.data_dir!r} holds a tab or newline")
        self.journal = self.state_dir / "journal.log"
        self.ctl = self.state_dir / "mode"
        self.baseline = self.state_dir / "baseline.json"
        if not self.baseline.exists():
            self.mark_durable()

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """A copy of ``base`` (default ``os.environ``) with the shim first in ``LD_PRELOAD``
        (built if needed, not added twice), ``LAB_CHAOS_FS_DIR/LOG/CTL`` set, and
        ``verify_asan_link_order=0`` in ``ASAN_OPTIONS`` (the shim precedes an ASan runtime).
        Raises :class:`FsShimError` when the library path cannot go in ``LD_PRELOAD``."""
        out = dict(os.environ if base is None else base)
        lib = str(build())
        if " " in lib or ":" in lib:
            raise FsShimError(f"fs shim: cannot preload {lib}: LD_PRELOAD cannot hold a path "
                              "with a space or colon; point $LAB_CACHE elsewhere")
        entries = out.get("LD_PRELOAD", "").replace(":", " ").split()
        out["LD_PRELOAD"] = " ".join([lib, *(e for e in entries if e != lib)])
        out["LAB_CHAOS_FS_DIR"] = str(self.data_dir)
        out["LAB_CHAOS_FS_LOG"] = str(self.journal)
        out["LAB_CHAOS_FS_CTL"] = str(self.ctl)
        asan = [o for o in out.get("ASAN_OPTIONS", "").split(":") if o]
        if _ASAN_FLAG not in asan:
            asan.append(_ASAN_FLAG)
        out["ASAN_OPTIONS"] = ":".join(asan)
        return out

    def set_mode(self, mode: str) -> None:
        """Switch the mode of running and future processes (atomic replacement of the control
        file). Raises ValueError naming the valid modes for any other value."""
        if mode not in MODES:
            raise ValueError(f"fs shim mode {mode!r} is not one of {', '.join(MODES)}")
        _atomic_write(self.ctl, mode + "\n")

    @property
    def mode(self) -> str:
        """The mode as the library reads it (missing, empty or unknown: ``normal``)."""
        try:
            text = self.ctl.read_text().strip()
        except FileNotFoundError:
            return "normal"
        return text if text in MODES else "normal"

    def _files(self) -> dict[str, int]:
        """Size of every trackable regular file under data_dir (symlinks not followed)."""
        out = {}
        for top, dirs, names in os.walk(self.data_dir):
            dirs.sort()
            for name in sorted(names):
                path = os.path.join(top, name)
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode) and _trackable(path):
                    out[path] = st.st_size
        return out

    def mark_durable(self) -> None:
        """Declare the current content of every file under ``data_dir`` durable and empty the
        journal (call with no shimmed process alive, before each (re)start)."""
        self.journal.write_bytes(b"")
        data = {"data_dir": str(self.data_dir), "files": self._files()}
        _atomic_write(self.baseline, json.dumps(data, sort_keys=True))

    def _load_baseline(self) -> dict[str, int]:
        try:
            data = json.loads(self.baseline.read_text())
            files = data["files"]
            if not all(isinstance(v, int) for v in files.values()):
                raise TypeError("sizes must be integers")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FsShimError(f"fs shim: unreadable baseline {self.baseline}: {exc}") from exc
        return files

    def _records(self) -> list[tuple[str, list[str]]]:
        try:
            raw = self.journal.read_bytes()
        except FileNotFoundError:
            return []
        lines = raw.split(b"\n")
        last = lines.pop()
        if last:
            raise FsShimError(f"fs shim: {self.journal}: line {len(lines) + 1}: record "
                              f"{last.decode(errors='replace')!r} has no newline (cut short)")
        return [self._parse(n, line) for n, line in enumerate(lines, 1)]

    def _parse(self, number: int, line: bytes) -> tuple[str, list[str]]:
        fields = [os.fsdecode(f) for f in line.split(b"\t")]
        kind = fields[0]
        ok = len(fields) == _KIND_FIELDS.get(kind, -1)
        sized = kind in ("S", "T")
        if ok and sized:
            ok = fields[1].isascii() and fields[1].isdigit()
        start = 2 if sized else 1
        if ok and not all(f.startswith("/") for f in fields[start:]):
            ok = False
        if not ok:
            raise FsShimError(f"fs shim: {self.journal}: line {number}: malformed record "
                              f"{line.decode(errors='replace')!r}")
        return kind, fields

    def durable_lengths(self) -> dict[Path, int | None]:
        """Per existing file under ``data_dir``, its durable length after replaying baseline
        and journal (None: always durable). Raises :class:`FsShimError` naming the line of a
        malformed journal record."""
        replay = _Replay(str(self.data_dir), self._load_baseline())
        for kind, fields in self._records():
            replay.apply(kind, fields)
        return {Path(p): replay.durable(p) for p in self._files()}

    def unsynced(self) -> dict[Path, int]:
        """Bytes beyond the durable length, per file that has some."""
        out = {}
        for path, durable in self.durable_lengths().items():
            extra = path.stat().st_size - durable if durable is not None else 0
            if extra > 0:
                out[path] = extra
        return out

    def _cut(self, rng: random.Random | None) -> list[Loss]:
        losses = []
        for path, durable in sorted(self.durable_lengths().items()):
            size = path.stat().st_size
            if durable is None or size <= durable:
                continue
            after = durable if rng is None else rng.randint(durable, size - 1)
            os.truncate(path, after)
            losses.append(Loss(path, size, durable, after))
        self.mark_durable()
        return losses

    def crash(self) -> list[Loss]:
        """Apply a crash to ``data_dir``: cut every file to its durable length and return
        the losses (files that lost bytes), then :meth:`mark_durable`. The shimmed process
        must be dead."""
        return self._cut(None)

    def tear(self, rng: random.Random) -> list[Loss]:
        """Like :meth:`crash`, but each file with unsynced bytes keeps a random prefix of
        them (``size_after`` uniform in ``[durable, size_before - 1]``: a torn last write)."""
        return self._cut(rng)
