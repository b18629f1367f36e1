"""The unsynced-data-loss shim (lab/chaos/fsshim.py, lab/native/c/lab_chaos_fs.c), for real:
child Pythons and a redis-server run with the library preloaded, write, sync, get SIGKILLed,
and the crash is applied to their data directory."""

from __future__ import annotations

import errno
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.chaos import fsshim
from lab.chaos.fsshim import FsShim, FsShimError, Loss
from lab.errors import LabError

pytestmark = pytest.mark.skipif(fsshim.missing() is not None, reason=str(fsshim.missing()))

PRELUDE = """\
import os, signal, sys
D = sys.argv[1]

def w(name, data, sync=None, flags=os.O_WRONLY | os.O_CREAT | os.O_APPEND):
    fd = os.open(os.path.join(D, name), flags, 0o644)
    os.write(fd, data)
    if sync is not None:
        sync(fd)
    os.close(fd)

"""
RECORD = re.compile(r"(?:[ST]\t\d+\t/[^\t]*|[UA]\t/[^\t]*|[RX]\t/[^\t]*\t/[^\t]*)")


@pytest.fixture(scope="module", autouse=True)
def cache_env(session_cache: Path) -> Iterator[None]:
    """``LAB_CACHE`` pointed at the session's cache, in this process and for children."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_CACHE", str(session_cache))
        yield


@pytest.fixture
def shim(tmp_path: Path) -> FsShim:
    return FsShim(tmp_path / "data", tmp_path / "state")


def run_child(shim: FsShim, body: str, *args: str, kill: bool = True) -> str:
    """Run ``body`` in a shimmed child Python (``D`` = data dir, ``w`` = write helper); it
    SIGKILLs itself at the end unless ``kill`` is false. Returns its stdout."""
    code = PRELUDE + textwrap.dedent(body)
    if kill:
        code += "\nsys.stdout.flush()\nos.kill(os.getpid(), signal.SIGKILL)\n"
    proc = subprocess.run([sys.executable, "-c", code, str(shim.data_dir), *args],
                          env=shim.env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == (-signal.SIGKILL if kill else 0), proc.stderr
    return proc.stdout


def journal(shim: FsShim) -> list[str]:
    return shim.journal.read_text().splitlines()


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---- build and environment -----------------------------------------------------------------


def test_build_is_cached_and_named_by_hash(session_cache: Path) -> None:
    first = fsshim.build()
    assert first.parent == session_cache / "core"
    assert re.fullmatch(r"lab_chaos_fs-[0-9a-f]{16}\.so", first.name)
    mtime = first.stat().st_mtime_ns
    assert fsshim.build() == first and first.stat().st_mtime_ns == mtime
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".lab_chaos_fs-")]
    assert fsshim.missing() is None


def test_env_prepends_the_shim_once(shim: FsShim) -> None:
    env = shim.env({"LD_PRELOAD": "/opt/libother.so", "ASAN_OPTIONS": "detect_leaks=0"})
    lib = str(fsshim.build())
    assert env["LD_PRELOAD"] == f"{lib} /opt/libother.so"
    assert env["ASAN_OPTIONS"] == "detect_leaks=0:verify_asan_link_order=0"
    assert env["LAB_CHAOS_FS_DIR"] == str(shim.data_dir)
    assert env["LAB_CHAOS_FS_LOG"] == str(shim.journal)
    assert env["LAB_CHAOS_FS_CTL"] == str(shim.ctl)
    assert shim.env(env) == env


def test_state_dir_inside_data_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FsShimError, match="inside the data dir") as err:
        FsShim(tmp_path / "data", tmp_path / "data" / "state")
    assert isinstance(err.value, LabError)


# ---- crash ----------------------------------------------------------------------------------


def test_crash_cuts_the_unsynced_tail_and_leaves_outside_files(shim: FsShim,
                                                               tmp_path: Path) -> None:
    outside = tmp_path / "outside.log"
    run_child(shim, """
        w("a", b"x" * 100, os.fsync)
        w("a", b"y" * 50)
        fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"o" * 70)
        """, str(outside))
    a = shim.data_dir / "a"
    assert shim.unsynced() == {a: 50}
    assert shim.crash() == [Loss(a, 150, 100, 100)]
    assert a.read_bytes() == b"x" * 100
    assert outside.read_bytes() == b"o" * 70
    assert shim.unsynced() == {} and journal(shim) == []


def test_fdatasync_counts(shim: FsShim) -> None:
    run_child(shim, """
        w("log", b"1" * 10, os.fdatasync)
        w("log", b"2" * 5)
        """)
    log = shim.data_dir / "log"
    assert journal(shim) == [f"S\t10\t{log}"]
    [loss] = shim.crash()
    assert loss.lost == 5 and log.read_bytes() == b"1" * 10


def test_a_file_created_and_never_synced_becomes_empty(shim: FsShim) -> None:
    run_child(shim, 'w("new", b"n" * 40)')
    new = shim.data_dir / "new"
    assert shim.durable_lengths() == {new: 0}
    assert shim.crash() == [Loss(new, 40, 0, 0)]
    assert new.exists() and new.stat().st_size == 0


def test_rename_of_a_synced_temp_keeps_its_durable_length(shim: FsShim) -> None:
    final = put(shim.data_dir / "sub" / "final", b"old" * 10)
    shim.mark_durable()
    run_child(shim, """
        w("sub/tmp", b"t" * 30, os.fdatasync)
        os.replace(os.path.join(D, "sub/tmp"), os.path.join(D, "sub/final"))
        w("sub/final", b"u" * 10)
        """)
    assert journal(shim)[-1] == f"R\t{shim.data_dir}/sub/tmp\t{final}"
    assert shim.durable_lengths() == {final: 30}
    assert shim.crash() == [Loss(final, 40, 30, 30)]
    assert final.read_bytes() == b"t" * 30


def test_renameat2_exchange_swaps_durable_lengths(shim: FsShim) -> None:
    out = run_child(shim, """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        w("a", b"a" * 10, os.fsync)
        w("b", b"b" * 20, os.fsync)
        a, b = (os.path.join(D, n).encode() for n in "ab")
        rc = libc.renameat2(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE
        print(rc if rc == 0 else f"{rc} errno {ctypes.get_errno()}")
        w("a", b"x" * 3)
        w("b", b"y" * 4)
        """)
    if out.strip() != "0":
        pytest.skip(f"renameat2(RENAME_EXCHANGE) unsupported here: {out.strip()}")
    a, b = shim.data_dir / "a", shim.data_dir / "b"
    assert journal(shim)[-1] == f"X\t{a}\t{b}"
    assert shim.crash() == [Loss(a, 23, 20, 20), Loss(b, 14, 10, 10)]
    assert a.read_bytes() == b"b" * 20 and b.read_bytes() == b"a" * 10


def test_rename_in_from_outside_counts_as_durable(shim: FsShim, tmp_path: Path) -> None:
    src = tmp_path / "elsewhere"
    run_child(shim, """
        fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"e" * 12)
        os.rename(sys.argv[2], os.path.join(D, "moved"))
        """, str(src))
    assert shim.durable_lengths() == {shim.data_dir / "moved": None}
    assert shim.crash() == [] and (shim.data_dir / "moved").stat().st_size == 12


def test_unlink_forgets_the_old_durable_length(shim: FsShim) -> None:
    old = put(shim.data_dir / "old", b"o" * 100)
    keep = put(shim.data_dir / "keep", b"k" * 50)
    shim.mark_durable()
    run_child(shim, """
        os.unlink(os.path.join(D, "old"))
        w("old", b"n" * 20)
        """)
    assert journal(shim) == [f"U\t{old}"]
    assert shim.durable_lengths() == {old: 0, keep: 50}
    assert shim.crash() == [Loss(old, 20, 0, 0)]
    assert keep.read_bytes() == b"k" * 50


def test_open_with_o_trunc_then_unsynced_writes_lose_everything(shim: FsShim) -> None:
    f = put(shim.data_dir / "f", b"f" * 100)
    shim.mark_durable()
    run_child(shim, """
        with open(os.path.join(D, "f"), "wb") as out:
            out.write(b"g" * 40)
        """)
    assert journal(shim) == [f"T\t0\t{f}"]
    assert shim.crash() == [Loss(f, 40, 0, 0)]


def test_ftruncate_and_truncate_lower_the_durable_length(shim: FsShim) -> None:
    f = put(shim.data_dir / "f", bytes(range(100)))
    g = put(shim.data_dir / "g", bytes(range(100)))
    shim.mark_durable()
    run_child(shim, """
        fd = os.open(os.path.join(D, "f"), os.O_RDWR)
        os.ftruncate(fd, 20)
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"z" * 30)
        os.truncate(os.path.join(D, "g"), 60)
        w("g", b"z" * 5)
        """)
    assert journal(shim) == [f"T\t20\t{f}", f"T\t60\t{g}"]
    assert shim.crash() == [Loss(f, 50, 20, 20), Loss(g, 65, 60, 60)]
    assert f.read_bytes() == bytes(range(20)) and g.read_bytes() == bytes(range(60))


def test_o_sync_files_are_always_durable(shim: FsShim) -> None:
    run_child(shim, 'w("s", b"s" * 50, flags=os.O_WRONLY | os.O_CREAT | os.O_SYNC)')
    s = shim.data_dir / "s"
    assert journal(shim) == [f"A\t{s}"]
    assert shim.durable_lengths() == {s: None} and shim.crash() == []
    assert s.stat().st_size == 50


def test_syncfs_and_sync_journal_every_open_file(shim: FsShim) -> None:
    run_child(shim, """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        a = os.open(os.path.join(D, "a"), os.O_WRONLY | os.O_CREAT, 0o644)
        b = os.open(os.path.join(D, "b"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(a, b"a" * 7)
        os.write(b, b"b" * 9)
        assert libc.syncfs(a) == 0, ctypes.get_errno()
        os.write(a, b"a" * 3)
        os.sync()
        os.write(b, b"b" * 1)
        """)
    a, b = shim.data_dir / "a", shim.data_dir / "b"
    assert sorted(journal(shim)) == sorted([f"S\t7\t{a}", f"S\t9\t{b}", f"S\t10\t{a}",
                                            f"S\t9\t{b}"])
    assert shim.crash() == [Loss(b, 10, 9, 9)]


# ---- modes ----------------------------------------------------------------------------------


def test_noop_mode_loses_everything_written_since_it_was_set(shim: FsShim) -> None:
    run_child(shim, """
        w("f", b"1" * 10, os.fsync)
        with open(sys.argv[2], "w") as ctl:
            ctl.write("noop\\n")
        w("f", b"2" * 20, os.fsync)
        w("g", b"3" * 5, os.fdatasync)
        """, str(shim.ctl))
    f, g = shim.data_dir / "f", shim.data_dir / "g"
    assert shim.mode == "noop"
    assert journal(shim) == [f"S\t10\t{f}"]
    assert shim.crash() == [Loss(f, 30, 10, 10), Loss(g, 5, 0, 0)]


def test_fail_mode_gives_eio_only_under_the_data_dir(shim: FsShim, tmp_path: Path) -> None:
    outside = tmp_path / "outside.log"
    shim.set_mode("fail")
    out = run_child(shim, """
        import json
        errs = {}
        for name, sync in (("in", os.fsync), ("in2", os.fdatasync)):
            try:
                w(name, b"i" * 10, sync)
                errs[name] = 0
            except OSError as exc:
                errs[name] = exc.errno
        fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"o" * 10)
        os.fsync(fd)
        print(json.dumps(errs))
        """, str(outside), kill=False)
    assert json.loads(out) == {"in": errno.EIO, "in2": errno.EIO}
    assert journal(shim) == []
    assert [loss.path.name for loss in shim.crash()] == ["in", "in2"]
    assert outside.read_bytes() == b"o" * 10


def test_set_mode_validates_and_is_shared(shim: FsShim) -> None:
    assert shim.mode == "normal"
    with pytest.raises(ValueError, match="normal, fail, noop"):
        shim.set_mode("bogus")
    shim.set_mode("fail")
    assert FsShim(shim.data_dir, shim.state_dir).mode == "fail"
    assert not [p for p in shim.state_dir.iterdir() if p.name.endswith(".tmp")]


def test_mark_durable_resets_and_is_shared(shim: FsShim) -> None:
    run_child(shim, 'w("f", b"f" * 30)')
    f = shim.data_dir / "f"
    assert shim.unsynced() == {f: 30}
    shim.mark_durable()
    assert journal(shim) == [] and shim.unsynced() == {}
    other = FsShim(shim.data_dir, shim.state_dir)
    assert other.durable_lengths() == {f: 30}
    assert other.crash() == [] and f.stat().st_size == 30


# ---- tear -----------------------------------------------------------------------------------


def test_tear_keeps_a_strict_random_prefix_of_the_unsynced_bytes(shim: FsShim) -> None:
    run_child(shim, """
        for i in range(8):
            w(f"f{i}", bytes(range(100)), os.fsync)
            w(f"f{i}", bytes(range(100, 200)))
        """)
    losses = shim.tear(random.Random(7))
    assert len(losses) == 8
    for loss in losses:
        assert loss.size_before == 200 and loss.durable == 100
        assert 100 <= loss.size_after <= 199
        assert loss.path.read_bytes() == bytes(range(loss.size_after))
    assert len({loss.size_after for loss in losses}) > 1
    assert shim.unsynced() == {}


# ---- processes and threads ------------------------------------------------------------------


def test_a_forked_childs_fsync_is_journaled(shim: FsShim) -> None:
    run_child(shim, """
        pid = os.fork()
        if pid == 0:
            w("child", b"c" * 64, os.fsync)
            os._exit(0)
        os.waitpid(pid, 0)
        w("parent", b"p" * 8)
        """)
    child, parent = shim.data_dir / "child", shim.data_dir / "parent"
    assert journal(shim) == [f"S\t64\t{child}"]
    assert shim.crash() == [Loss(parent, 8, 0, 0)]
    assert child.stat().st_size == 64


def test_threads_syncing_distinct_files_write_a_well_formed_journal(shim: FsShim) -> None:
    threads, rounds = 8, 40
    run_child(shim, f"""
        import threading
        def work(i):
            fd = os.open(os.path.join(D, f"t{{i}}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            for r in range({rounds}):
                os.write(fd, b"%d:%d\\n" % (i, r))
                os.fsync(fd)
        ts = [threading.Thread(target=work, args=(i,)) for i in range({threads})]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        """)
    lines = journal(shim)
    assert len(lines) == threads * rounds
    assert all(RECORD.fullmatch(line) and line.startswith("S\t") for line in lines)
    durable = shim.durable_lengths()
    assert len(durable) == threads
    assert all(d == p.stat().st_size for p, d in durable.items())
    assert shim.crash() == []


@pytest.mark.parametrize("bad", ["S\tabc\t/x", "S\t12", "Z\t/x", "U\trelative",
                                 "R\t/a", "S\t1\t/a\textra"])
def test_a_malformed_journal_line_is_named(shim: FsShim, bad: str) -> None:
    shim.journal.write_text(f"S\t1\t{shim.data_dir}/a\n{bad}\n")
    with pytest.raises(FsShimError, match=r"line 2\b"):
        shim.durable_lengths()


def test_a_journal_without_final_newline_is_malformed(shim: FsShim) -> None:
    shim.journal.write_text(f"U\t{shim.data_dir}/a")
    with pytest.raises(FsShimError, match=r"line 1\b"):
        shim.crash()


ASAN_PROBE = r"""
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char *buf = malloc(64);
    int fd = argc > 1 ? open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
    if (buf == NULL || fd < 0)
        return 1;
    memset(buf, 'a', 64);
    if (write(fd, buf, 64) != 64 || fsync(fd) != 0 || write(fd, buf, 16) != 16)
        return 2;
    free(buf);
    raise(SIGKILL);
    return 3;
}
"""


def test_works_in_an_asan_program(shim: FsShim, tmp_path: Path) -> None:
    src, exe = tmp_path / "probe.c", tmp_path / "probe"
    src.write_text(ASAN_PROBE)
    res = subprocess.run([fsshim.CC, "-fsanitize=address", "-o", str(exe), str(src)],
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        pytest.skip(f"no AddressSanitizer here: {res.stderr.strip()[:200]}")
    f = shim.data_dir / "f"
    proc = subprocess.run([str(exe), str(f)], env=shim.env(), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert journal(shim) == [f"S\t64\t{f}"]
    assert shim.crash() == [Loss(f, 80, 64, 64)]


# ---- redis-server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_redis(shim: FsShim, fsync: str, keys: dict[str, str], shimmed: bool = True) -> dict:
    """Start redis-server on the data dir, wait for PING, SET ``keys``, return every key's
    value, then SIGKILL it (always, in a finally)."""
    redis = pytest.importorskip("redis")
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir",
           str(shim.data_dir), "--save", "", "--appendonly", "yes", "--appendfsync", fsync]
    env = shim.env() if shimmed else dict(os.environ)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = redis.Redis(port=port, socket_timeout=5, decode_responses=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        for key, value in keys.items():
            client.set(key, value)
        return {k: client.get(k) for k in client.keys("*")}
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_under_always_loses_nothing_and_under_noop_loses_its_tail(shim: FsShim) -> None:
    run_redis(shim, "always", {f"a{i}": "v" * 50 for i in range(5)})
    aof_dir = shim.data_dir / "appendonlydir"
    records = [line.split("\t") for line in journal(shim)]
    synced = {Path(r[2]) for r in records if r[0] == "S"}
    renamed = {Path(r[2]) for r in records if r[0] == "R"}
    incr = {p for p in aof_dir.iterdir() if p.name.endswith(".incr.aof")}
    assert incr and incr <= synced
    assert set(aof_dir.iterdir()) <= synced | renamed
    durable = shim.durable_lengths()
    assert durable and all(d == p.stat().st_size for p, d in durable.items())
    assert shim.crash() == []

    shim.set_mode("noop")
    run_redis(shim, "no", {f"b{i}": "w" * 50 for i in range(5)})
    assert not [line for line in journal(shim) if line.startswith("S\t")]
    losses = shim.crash()
    assert [loss.path.name for loss in losses] == ["appendonly.aof.1.incr.aof"]
    assert losses[0].lost > 5 * 50

    shim.set_mode("normal")
    after = run_redis(shim, "always", {}, shimmed=False)
    assert after == {f"a{i}": "v" * 50 for i in range(5)}
