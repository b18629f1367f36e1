"""LABFS both ways: plugins.kernel.diskfs writes images and parses them back, refuses bad
names with a message naming the problem, and its reader and fs/labfs.c (through the
kernel-host build and khost_disk_read) agree on corruption, one broken field at a time."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from test_host_common import kmod

from plugins.kernel import diskfs

EIO, EBADFS, ENOENT, ENAMETOOLONG = 5, 117, 2, 36
FILES = {"/bin/true": b"\x7fELF" + bytes(200), "/etc/motd": b"hello\n", "/empty": b"",
         "/data/big": bytes(range(256)) * 9 + b"tail"}


class Disk:
    def __init__(self, data: bytes, fail_after: int = -1) -> None:
        self.ffi, self.lib = ffi, lib = kmod().ffi, kmod().lib
        self.data = ffi.from_buffer(data)
        self.disk = ffi.new("struct khost_disk *", {"data": self.data, "len": len(data),
                                                    "fail_after": fail_after})
        self.fs = ffi.new("struct k_labfs *")
        self.rc = lib.k_labfs_mount(self.fs, lib.khost_disk_read_fn(), self.disk)

    def lookup(self, path: bytes) -> tuple[int, Any]:
        e = self.ffi.new("struct k_labfs_entry *")
        return self.lib.k_labfs_lookup(self.fs, path, e), e

    def read(self, e: Any, off: int, n: int) -> bytes | int:
        buf = self.ffi.new("char[]", max(n, 1))
        got = self.lib.k_labfs_read(self.fs, e, off, buf, n)
        return got if got < 0 else self.ffi.buffer(buf, got)[:]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "disk.img"
    diskfs.build(path, FILES)
    data = path.read_bytes()
    assert len(data) % 512 == 0
    assert diskfs.parse(data) == dict(sorted(FILES.items()))
    d = Disk(data)
    assert d.rc == 0 and d.fs.nfiles == 4 and d.fs.total_sectors == len(data) // 512
    names = []
    e = d.ffi.new("struct k_labfs_entry *")
    for i in range(4):
        assert d.lib.k_labfs_entry_at(d.fs, i, e) == 0
        names.append(d.ffi.string(e.name).decode())
    assert names == sorted(FILES)
    assert d.lib.k_labfs_entry_at(d.fs, 4, e) == -ENOENT


def test_reads_at_every_offset_and_length() -> None:
    d = Disk(diskfs.image(FILES))
    rc, e = d.lookup(b"/data/big")
    body = FILES["/data/big"]
    assert rc == 0 and e.size == len(body) and e.crc == zlib.crc32(body)
    for off in (0, 1, 511, 512, 513, 1000, len(body) - 1, len(body), len(body) + 5, 1 << 31):
        for n in (0, 1, 100, 512, 1024, 1537, 1 << 20):
            assert d.read(e, off, n) == body[off:off + n], (off, n)
    rc, empty = d.lookup(b"/empty")
    assert rc == 0 and d.read(empty, 0, 100) == b""


def test_lookup_misses() -> None:
    d = Disk(diskfs.image(FILES))
    for path in (b"", b"/", b"/bin", b"/bin/tru", b"/bin/truee", b"/zzz", b"/a"):
        assert d.lookup(path)[0] == -ENOENT, path
    assert d.lookup(b"/" + b"x" * 47)[0] == -ENAMETOOLONG
    assert d.lookup(b"/" + b"x" * 46)[0] == -ENOENT


def test_io_errors() -> None:
    data = diskfs.image(FILES)
    assert Disk(data, fail_after=0).rc == -EIO
    assert Disk(data, fail_after=2).rc == -EIO      # superblock and size probe, then a dir read
    assert Disk(data[:-512]).rc == -EIO             # the device is smaller than total_sectors
    d = Disk(data)
    rc, e = d.lookup(b"/data/big")
    d.disk.fail_after = d.disk.reads
    assert d.read(e, 0, 100) == -EIO
    d.disk.fail_after = -1
    e.start = d.fs.total_sectors                    # an entry pointing past the disk
    assert d.read(e, 0, 100) == -EIO


def test_crc32_matches_zlib() -> None:
    lib = kmod().lib
    for blob in (b"", b"a", b"123456789", bytes(range(256)) * 3):
        assert lib.k_labfs_crc32(0, blob, len(blob)) == zlib.crc32(blob)
    assert lib.k_labfs_crc32(lib.k_labfs_crc32(0, b"1234", 4), b"56789", 5) == 0xCBF43926


def _corrupt(data: bytes, offset: int, fmt: str, value: Any, fix_dir_crc: bool = True) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    if fix_dir_crc:
        nfiles = struct.unpack_from("<I", out, 12)[0]
        raw = bytes(out[512:512 + 64 * min(nfiles, 1024)])
        struct.pack_into("<I", out, 28, zlib.crc32(raw))
    return bytes(out)


E0 = 512  # the first directory entry (sorted: /bin/true)
CORRUPTIONS = {
    "magic": (0, "<8s", b"LABFS2\0\0"), "version": (8, "<I", 2), "nfiles-huge": (12, "<I", 5000),
    "nfiles-more": (12, "<I", 9), "dir-start-0": (16, "<I", 0), "dir-sectors": (20, "<I", 2),
    "total-small": (24, "<I", 2), "total-large": (24, "<I", 1000),
    "name-relative": (E0, "<4s", b"bin/"), "name-space": (E0 + 4, "<B", 0x20),
    "name-slashes": (E0 + 3, "<B", 0x2F), "name-unterminated": (E0, "<48s", b"/" * 48),
    "name-padding": (E0 + 40, "<B", 0x41), "name-root": (E0, "<48s", b"/"),
    "name-trailing-slash": (E0, "<48s", b"/bin/"), "start-0": (E0 + 48, "<I", 0),
    "start-in-dir": (E0 + 48, "<I", 1), "start-past-end": (E0 + 48, "<I", 0xFFFFFFFF),
    "size-past-end": (E0 + 52, "<I", 0xFFFFFFFF), "flags": (E0 + 60, "<I", 1),
    "unsorted": (E0 + 64, "<4s", b"/a\0\0"), "duplicate": (E0 + 64, "<48s", b"/bin/true"),
    "data-crc": (E0 + 56, "<I", 0),
}


@pytest.mark.parametrize("what", sorted(CORRUPTIONS))
def test_corruption_is_refused_by_both_readers(what: str) -> None:
    data = _corrupt(diskfs.image(FILES), *CORRUPTIONS[what])
    with pytest.raises(diskfs.Corrupt):
        diskfs.parse(data)
    d = Disk(data)
    if what == "data-crc":                          # found when the file is read whole
        rc, e = d.lookup(b"/bin/true")
        body = d.read(e, 0, e.size)
        assert rc == 0 and kmod().lib.k_labfs_crc32(0, body, len(body)) != e.crc
    else:
        assert d.rc in (-EBADFS, -EIO), d.rc


def test_directory_crc_and_short_images() -> None:
    data = diskfs.image(FILES)
    bad = _corrupt(data, 28, "<I", 0, fix_dir_crc=False)
    with pytest.raises(diskfs.Corrupt, match="CRC"):
        diskfs.parse(bad)
    assert Disk(bad).rc == -EBADFS
    for n in (0, 100, 511):
        with pytest.raises(diskfs.Corrupt):
            diskfs.parse(data[:n])
        assert Disk(data[:n]).rc == -EIO


@pytest.mark.parametrize(("files", "match"), [
    ({"bin/true": b""}, "not absolute"), ({"/": b""}, "1 bytes long"),
    ({"/" + "x" * 47: b""}, "48 bytes long"), ({"/a b": b""}, "printable ASCII"),
    ({"/caf\u00e9": b""}, "not ASCII"), ({"/a//b": b""}, "empty component"),
    ({"/a/": b""}, "empty component"), ({"/a": "text"}, "valid: bytes"),
    ({f"/f{i}": b"" for i in range(1025)}, "at most 1024"),
])
def test_build_refuses_bad_input(tmp_path: Path, files: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as err:
        diskfs.build(tmp_path / "x.img", files)
    assert "\n" not in str(err.value) and "valid" in str(err.value)
    assert not (tmp_path / "x.img").exists()


def test_layout_is_as_documented() -> None:
    data = diskfs.image({"/b": b"x" * 600, "/a": b"", "/c": b"y"})
    magic, version, nfiles, dir_start, dir_sectors, total, dir_crc = \
        struct.unpack_from("<8s6I", data)
    assert (magic, version, nfiles, dir_start, dir_sectors, total) == \
        (b"LABFS1\0\0", 1, 3, 1, 1, 5)
    entries = [struct.unpack_from("<48s4I", data, 512 + 64 * i) for i in range(3)]
    assert [(e[0].rstrip(b"\0"), e[1], e[2]) for e in entries] == \
        [(b"/a", 2, 0), (b"/b", 2, 600), (b"/c", 4, 1)]
    assert dir_crc == zlib.crc32(data[512:512 + 192]) and data[1024:1624] == b"x" * 600
    assert data[512 + 192:1024] == bytes(320) and data[32:512] == bytes(480)
