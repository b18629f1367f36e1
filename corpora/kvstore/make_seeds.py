"""Write the seed corpora of the kvstore fuzz targets (plugins/kvstore/fuzzing/).

Usage: ``.venv/bin/python corpora/kvstore/make_seeds.py [OUT_DIR]`` (default: this script's
folder).  Writes ``resp/``, ``aof_load/`` and ``commands/`` under OUT_DIR, each with its seeds
and a ``README.md`` saying what every seed is; files from earlier runs that are no longer
produced are removed.

Where the bytes come from:

* ``aof_load`` logs: the incremental file of the append-only log that the real
  ``kvstore-server`` (release build, ``--appendonly yes --appendfsync always``) writes for a
  fixed command script, plus hand-made defects of it; snapshots: ``kv_lib_snapshot`` of the
  ``kvlib`` library (release build, ``kv_lib_init(HASH_SEED)``) after a fixed script, plus
  hand-made images and defects written with ``formats.write_snapshot``.  Expiries are absolute
  and far in the future (2100-01-01), so the bytes do not depend on the day they are made.
* ``resp``: request bytes written out here (RESP2 multibulk and inline, edge cases of the
  parser's rules and limits).
* ``commands``: FuzzedDataProvider inputs found by a seeded random search, kept greedily for
  the command kinds, reply kinds and encodings their scripts cover (the README lists each
  script).  The provider's decoding is atheris's: another atheris version may decode the same
  bytes differently, which makes them different, equally valid seeds.

Deterministic for a given build of the core and atheris version.  Every seed is smaller than
4 KiB (the parser's 64 KiB line limits are left to the tests: mutants of a 64 KiB seed slow the
``resp`` target's pure-Python reference down forty-fold).
"""

from __future__ import annotations

import random
import socket
import struct
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

# after the path set-up above:
from plugins.kvstore.fuzzing.formats import crc64, write_snapshot  # noqa: E402
from plugins.kvstore.fuzzing.kvlib import HASH_SEED, RECIPE  # noqa: E402
from plugins.kvstore.fuzzing.model import Model  # noqa: E402
from plugins.kvstore.fuzzing.scripts import Script  # noqa: E402
from plugins.kvstore.fuzzing.wire import (  # noqa: E402
    ReplyError,
    encode_inline,
    encode_multibulk,
    split_replies,
)

LOG, SNAP, SNAP_FIX_CRC = b"\x00", b"\x01", b"\x03"  # aof_load's kind byte
Y2100 = b"4102444800000"  # 2100-01-01T00:00:00Z in Unix ms
Seeds = list[tuple[str, bytes, str]]


def mb(*args: bytes) -> bytes:
    return encode_multibulk(args)


# ---------------------------------------------------------------------------- the real core

LOG_SCRIPT = (
    (b"SET", b"plain", b"value"),
    (b"SET", b"timed", b"t", b"PXAT", Y2100),
    (b"SET", b"timed", b"kept", b"KEEPTTL"),
    (b"INCR", b"counter"),
    (b"INCRBY", b"counter", b"41"),
    (b"DECRBY", b"counter", b"2"),
    (b"APPEND", b"plain", b"-more"),
    (b"MSET", b"m1", b"1", b"m2", b"2", b"bin\x00key", b"\xff\r\n"),
    (b"MSETNX", b"m1", b"x", b"new", b"y"),
    (b"SETNX", b"nx", b"first"),
    (b"GETSET", b"nx", b"second"),
    (b"GETDEL", b"m2"),
    (b"EXPIREAT", b"m1", b"4102444800"),
    (b"PERSIST", b"m1"),
    (b"DEL", b"new", b"missing"),
    (b"SET", b"gone", b"x"),
    (b"PEXPIREAT", b"gone", b"1000"),  # in the past: logged as DEL
)


def _roundtrip(port: int, requests: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"".join(requests))
        buf = b""
        while True:
            try:
                if len(split_replies(buf)) >= len(requests):
                    return
            except ReplyError:
                pass
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("kvstore-server closed the connection")
            buf += chunk


def server_log(script: tuple[tuple[bytes, ...], ...]) -> bytes:
    """The incremental log file kvstore-server writes while executing ``script``."""
    from lab import native
    from lab.host import get_host
    from plugins.kvstore import servers

    system = get_host().systems()["kvstore"]
    exe = native.build(system, "kvstore-server", "release").path / "kvstore-server"
    server = servers.ours(exe, extra=("--appendonly", "yes", "--appendfsync", "always"))
    server.start()
    try:
        _roundtrip(server.port, [mb(*cmd) for cmd in script])
        server.stop()
        [incr] = sorted((server.workdir / "appendonlydir").glob("*.incr.aof"))
        return incr.read_bytes()
    finally:
        server.close()


def kvlib_snapshot(script: tuple[tuple[bytes, ...], ...]) -> bytes:
    """``kv_lib_snapshot`` after ``script`` ran on a fresh keyspace (seed ``HASH_SEED``)."""
    from lab import native
    from lab.host import get_host

    mod = native.load(get_host().systems()["kvstore"], RECIPE, "release")
    ffi, lib = mod.ffi, mod.lib
    lib.kv_lib_init(HASH_SEED)
    wire = b"".join(mb(*cmd) for cmd in script)
    out, outlen = ffi.new("const char **"), ffi.new("size_t *")
    if lib.kv_lib_exec(wire, len(wire), out, outlen) != len(script):
        raise RuntimeError("kv_lib_exec did not run the whole script")
    lib.kv_lib_snapshot(out, outlen)
    return ffi.buffer(out[0], outlen[0])[:]


SNAP_SCRIPT = tuple(
    [(b"SET", b"key:%03d" % i, b"value-%d" % (i * i)) for i in range(16)]
    + [(b"SET", b"exp:%d" % i, b"e", b"PXAT", b"%d" % (4102444800000 + i)) for i in range(4)]
    + [(b"SET", b"\x00\x01bin", bytes(range(256))), (b"SET", b"", b"empty key"),
       (b"SET", b"big", b"x" * 1000), (b"INCRBY", b"n", b"-9223372036854775808")])


# ---------------------------------------------------------------------------- aof_load


def _flip(blob: bytes, at: int, mask: int = 0x01) -> bytes:
    return blob[:at] + bytes([blob[at] ^ mask]) + blob[at + 1:]


def aof_load_seeds() -> Seeds:
    log = server_log(LOG_SCRIPT)
    snap = kvlib_snapshot(SNAP_SCRIPT)
    empty = kvlib_snapshot(())
    small = write_snapshot([(b"a", b"1", None), (b"b", b"2", 4102444800000)])
    body = small[:-8]
    overlong = write_snapshot([])[:8] + b"\x01\x81\x80\x80\x00a\x01v\xff"
    overlong += struct.pack("<Q", crc64(overlong))
    return [
        ("log_server.bin", LOG + log,
         "log; the incremental file kvstore-server wrote for a 17-command script (SET PXAT/"
         "KEEPTTL, INCR/INCRBY/DECRBY, APPEND, MSET with a binary key, MSETNX, SETNX, GETSET, "
         "GETDEL, EXPIREAT, PERSIST, DEL, an expiry in the past)"),
        ("log_empty.bin", LOG, "log; empty (accepted, empty keyspace)"),
        ("log_truncated.bin", LOG + log[:-5],
         "log; the server's log less its last 5 bytes (rejected at the last command)"),
        ("log_read_command.bin", LOG + log + mb(b"GET", b"plain"),
         "log; the server's log then GET (not a write command: rejected there)"),
        ("log_failing_command.bin", LOG + mb(b"SET", b"s", b"abc") + mb(b"INCR", b"s"),
         "log; INCR on a non-integer (the command fails: rejected at it)"),
        ("log_inline.bin", LOG + mb(b"SET", b"a", b"1") + encode_inline([b"SET", b"b", b"2"]),
         "log; an inline command after a valid one (logs are multibulk only: rejected)"),
        ("log_bad_crlf.bin", LOG + b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nvXX",
         "log; a bulk not followed by CRLF (rejected)"),
        ("log_loading_expiry.bin",
         LOG + mb(b"SET", b"k", b"5") + mb(b"PEXPIREAT", b"k", b"1000") + mb(b"INCR", b"k")
         + mb(b"SET", b"keep", b"1", b"PXAT", Y2100),
         "log; an expiry in the past, then INCR of the same key: while loading keys do not "
         "expire, so INCR gives 6 with the old expiry, and the key is dropped after the load"),
        ("log_option_with_nul.bin", LOG + mb(b"SET", b"k", b"v", b"PXAT\x00junk", Y2100),
         "log; SET with the option word PXAT\\0junk: Redis compares option words as C "
         "strings, so this is PXAT (accepted, k expires in 2100)"),
        ("snap_kvlib.bin", SNAP + snap,
         "snapshot; kv_lib_snapshot of 24 keys (4 with expiries in 2100, a binary key, the "
         "empty key, a 1000-byte value)"),
        ("snap_empty.bin", SNAP + empty, "snapshot; kv_lib_snapshot of an empty keyspace"),
        ("snap_fix_crc.bin", SNAP_FIX_CRC + body + b"\0" * 8,
         "snapshot with the CRC fix-up bit: 2 keys, CRC zeroed (the harness recomputes it)"),
        ("snap_bad_crc.bin", SNAP + _flip(small, len(small) - 1),
         "snapshot; the 2-key image with a wrong CRC (rejected)"),
        ("snap_truncated.bin", SNAP + snap[:len(snap) // 2],
         "snapshot; the first half of snap_kvlib (rejected)"),
        ("snap_trailing_byte.bin", SNAP + small + b"\0",
         "snapshot; a byte after the CRC (rejected)"),
        ("snap_repeated_key.bin",
         SNAP + write_snapshot([(b"a", b"1", None), (b"a", b"2", None)]),
         "snapshot; the same key twice (rejected)"),
        ("snap_expired_key.bin",
         SNAP + write_snapshot([(b"old", b"x", 1000), (b"new", b"y", None)]),
         "snapshot; a key that expired in 1970 (skipped) and one without expiry"),
        ("snap_overlong_varint.bin", SNAP + overlong,
         "snapshot; a key length written in 4 bytes (0x81 0x80 0x80 0x00 = 1)"),
        ("snap_bad_version.bin", SNAP_FIX_CRC + body[:6] + b"\x02\x00" + body[8:] + b"\0" * 8,
         "snapshot with the CRC fix-up bit; version 2 (rejected)"),
        ("snap_unknown_tag.bin", SNAP_FIX_CRC + body[:8] + b"\x07" + body[8:] + b"\0" * 8,
         "snapshot with the CRC fix-up bit; an entry tag 0x07 (rejected)"),
    ]


# ---------------------------------------------------------------------------- resp


def resp_seeds() -> Seeds:
    pipeline = (mb(b"SET", b"k", b"v") + mb(b"GET", b"k") + b"INCR n\r\n" + b"*0\r\n"
                + b"*-1\r\n" + b"\r\n" + b"  \r\n" + mb(b"MGET", b"k", b"n"))
    return [
        ("ping_inline.bin", b"PING\r\n", "one inline PING"),
        ("pipeline_mixed.bin", pipeline,
         "multibulk SET/GET, inline INCR, *0, *-1 and blank lines (skipped), multibulk MGET"),
        ("inline_quoting.bin",
         b'ECHO "a\\x41\\n\\"q" \'it\\\'s\' plain\r\nSET "" \'\'\r\nECHO "\\xzz"\n',
         "inline double quotes with \\x and \\n escapes, single quotes with \\', empty quoted "
         "words, an invalid \\x escape, an LF-only line end"),
        ("inline_unbalanced.bin", b'ECHO "open\r\n', "unbalanced quote (protocol error)"),
        ("inline_quote_then_char.bin", b'ECHO "a"b\r\n',
         "closing quote not followed by a space (protocol error)"),
        ("bulk_17.bin", mb(b"ECHO", b"x" * 17),
         "a 17-byte bulk: fine by default, over the target's 16-byte second limit"),
        ("bad_count.bin", b"*1x\r\n$4\r\nPING\r\n", "invalid multibulk length"),
        ("bad_bulk_len.bin", b"*1\r\n$-2\r\nPING\r\n", "invalid bulk length"),
        ("expected_dollar.bin", b"*2\r\n$4\r\nECHO\r\n:3\r\nabc\r\n", "expected '$', got ':'"),
        ("unchecked_crlf.bin", b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\rX",
         "the two bytes after a bulk and the byte after a CR are not checked (two PINGs)"),
        ("incomplete_tail.bin", mb(b"PING") + b"*2\r\n$4\r\nECHO\r\n$5\r\nab",
         "a PING then an incomplete request (count 1, no error)"),
        ("quit_midway.bin", b"PING\r\nQUIT\r\nPING\r\n", "QUIT ends the input: 2 executed"),
        ("array_limit.bin", b"*1048577\r\n",
         "a count one over 1M (Redis 7.0 accepts counts up to INT_MAX and waits for the "
         "elements; Redis 6.2 and old kvstore: protocol error)"),
        ("nul_before_cr.bin", mb(b"PING") + b"*1\x00\r\n",
         "a NUL before the CR of a count line hides the line end (Redis's strchr): a PING, "
         "then an incomplete request"),
        ("inline_nul_before_lf.bin", b"PING\x00x\nPING\n",
         "a NUL before the LF of an inline line hides the line end (Redis's strchr): one "
         "incomplete request, nothing executed"),
    ]


# ---------------------------------------------------------------------------- commands


def _features(script: Script) -> set[str]:
    """What a script exercises: command names, reply kinds (error texts up to their first
    quote), inline encoding, several batches."""
    model = Model()
    out = set()
    for args in script.commands():
        name = args[0].lower()
        reply = model.execute(args)
        out.add(name.decode("latin-1"))
        out.add(f"{name.decode('latin-1')}:{reply[:1].decode()}"
                + (reply[:reply.find(b"'")].decode("latin-1") if reply[:1] == b"-" else ""))
    if any(inline for batch in script.batches for _, inline in batch):
        out.add("inline")
    if len(script.batches) > 2:
        out.add("batches")
    return out


def commands_seeds() -> Seeds:
    """Greedy cover of the features of 4000 seeded random inputs, at most 12 seeds."""
    import atheris

    rng = random.Random(7)
    candidates = [rng.randbytes(rng.randrange(40, 600)) for _ in range(4000)]
    scored = [(data, _features(Script.build(atheris.FuzzedDataProvider(data))))
              for data in candidates]
    covered: set[str] = set()
    out: Seeds = []
    while len(out) < 12:
        data, feats = max(scored, key=lambda pair: len(pair[1] - covered))
        if not feats - covered:
            break
        covered |= feats
        script = Script.build(atheris.FuzzedDataProvider(data))
        names = Counter(a[0].upper().decode("latin-1").encode("unicode_escape").decode()
                        for a in script.commands())
        about = ", ".join(f"{n}×{c}" if c > 1 else n for n, c in names.most_common())
        out.append((f"script_{len(out):02d}.bin", data,
                    f"{len(script.commands())} commands in {len(script.batches)} batches: "
                    f"{about}"))
    return out


TARGETS: dict[str, tuple[Callable[[], Seeds], str]] = {
    "resp": (resp_seeds, "Each file is raw client bytes (requests as a connection receives "
                         "them)."),
    "aof_load": (aof_load_seeds, "Byte 0 picks the kind: 0x00 log of commands, 0x01 snapshot, "
                                 "0x03 snapshot whose last 8 bytes the harness replaces with "
                                 "the CRC-64 of the rest."),
    "commands": (commands_seeds, "Structured target: atheris' FuzzedDataProvider decodes each "
                                 "file into a command script (`Script.build` in "
                                 "plugins/kvstore/fuzzing/scripts.py); the list below is what "
                                 "they decode to."),
}


def write(out: Path) -> None:
    """Write every target's seeds and README under ``out``."""
    for target, (make, about) in TARGETS.items():
        folder = out / target
        folder.mkdir(parents=True, exist_ok=True)
        seeds = make()
        names = {name for name, _, _ in seeds}
        assert len(names) == len(seeds), f"{target}: duplicate seed names"
        for stale in folder.iterdir():
            if stale.is_file() and stale.name != "README.md" and stale.name not in names:
                stale.unlink()
        rows = []
        for name, data, what in seeds:
            (folder / name).write_bytes(data)
            rows.append(f"| `{name}` | {len(data)} | {what.replace('|', '/')} |")
        (folder / "README.md").write_text(
            f"# Seeds of the kvstore `{target}` fuzz target\n\n"
            f"Generated by `corpora/kvstore/make_seeds.py`; do not edit by hand, rerun the "
            f"script. {about}\n\n| seed | bytes | what it is |\n|---|---|---|\n"
            + "\n".join(rows) + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
