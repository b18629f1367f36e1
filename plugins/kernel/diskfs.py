"""LABFS images: the writer the kernel image recipe uses for its disk, and an independent
reader (the ``labfs`` fuzz target's oracle against ``targets/kernel/fs/labfs.c``).

The format is ``targets/kernel/fs/labfs.h``'s (little-endian, 512-byte sectors): a
superblock in sector 0 (``LABFS1\\0\\0``, version 1, nfiles, dir_start, dir_sectors,
total_sectors, the CRC-32 of the directory entries), the directory of 64-byte entries (name[48],
start sector, size, CRC-32 of the data, flags 0) from sector 1, then each file contiguous and
padded to a sector, in name order. An empty file takes no sector; its start is where the next
file would begin.

:func:`parse` applies exactly the rules of ``labfs.c`` (see its header comment) plus the data
CRC of every file, and raises :class:`Corrupt` naming the first broken one.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

SECTOR = 512
MAGIC = b"LABFS1\0\0"
VERSION = 1
NAME_MAX = 48
ENTRY_SIZE = 64
MAX_FILES = 1024
SUPER = struct.Struct("<8s6I")
ENTRY = struct.Struct("<48s4I")


class Corrupt(ValueError):
    """The bytes are not a valid LABFS image; the message says what is wrong."""


def _sectors(nbytes: int) -> int:
    return -(-nbytes // SECTOR)


def name_problem(name: bytes) -> str | None:
    """Why ``name`` (the bytes before the NUL) is not a valid LABFS path, or None."""
    if not 2 <= len(name) < NAME_MAX:
        return f"is {len(name)} bytes long (valid: 2 to {NAME_MAX - 1})"
    if name[:1] != b"/":
        return "is not absolute (valid paths start with '/')"
    if any(not 0x21 <= c <= 0x7E for c in name):
        return "has a byte outside printable ASCII (valid: '!'..'~', no spaces or controls)"
    if b"//" in name or name.endswith(b"/"):
        return "has an empty component (valid: no '//' and no trailing '/')"
    return None


def _check_names(files: Mapping[str, bytes]) -> list[tuple[bytes, bytes]]:
    if len(files) > MAX_FILES:
        raise ValueError(f"{len(files)} files (valid: at most {MAX_FILES})")
    out = []
    for name, data in files.items():
        if not isinstance(name, str):
            raise ValueError(f"file name {name!r} is not a str (valid: an absolute ASCII path)")
        if not name.isascii():
            raise ValueError(f"file name {name!r} is not ASCII (valid: printable ASCII '!'..'~')")
        raw = name.encode("ascii")
        problem = name_problem(raw)
        if problem:
            raise ValueError(f"file name {name!r} {problem}")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(f"contents of {name!r} are {type(data).__name__} (valid: bytes)")
        if len(data) >= 1 << 32:
            raise ValueError(f"{name!r} is {len(data)} bytes (valid: under 4 GiB)")
        out.append((raw, bytes(data)))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError("duplicate file names (valid: every path once)")
    return sorted(out)


def image(files: Mapping[str, bytes]) -> bytes:
    """The LABFS image holding ``files`` (path -> contents) as bytes."""
    entries = _check_names(files)
    dir_sectors = _sectors(len(entries) * ENTRY_SIZE)
    next_sector = 1 + dir_sectors
    directory, data = bytearray(), bytearray()
    for name, contents in entries:
        directory += ENTRY.pack(name, next_sector, len(contents), zlib.crc32(contents), 0)
        data += contents + bytes(-len(contents) % SECTOR)
        next_sector += _sectors(len(contents))
    sb = SUPER.pack(MAGIC, VERSION, len(entries), 1, dir_sectors, next_sector,
                    zlib.crc32(bytes(directory)))
    out = sb + bytes(SECTOR - len(sb)) + directory + bytes(dir_sectors * SECTOR - len(directory))
    out += data
    assert len(out) == next_sector * SECTOR
    return bytes(out)


def build(path: Path, files: Mapping[str, bytes]) -> None:
    """Write the LABFS image holding ``files`` (absolute ASCII path -> contents) to ``path``.
    Raises ValueError naming a bad path or contents."""
    Path(path).write_bytes(image(files))


def parse(data: bytes) -> dict[str, bytes]:
    """Every file of the LABFS image ``data`` (path -> contents), in directory order.
    Raises :class:`Corrupt` for anything labfs.c would refuse or a file whose CRC differs."""
    data = bytes(data)
    if len(data) < SECTOR:
        raise Corrupt(f"image of {len(data)} bytes has no superblock (needs {SECTOR})")
    magic, version, nfiles, dir_start, dir_sectors, total, dir_crc = SUPER.unpack_from(data)
    if magic != MAGIC:
        raise Corrupt(f"bad magic {magic!r} (expected {MAGIC!r})")
    if version != VERSION:
        raise Corrupt(f"version {version} (expected {VERSION})")
    if nfiles > MAX_FILES:
        raise Corrupt(f"{nfiles} files (at most {MAX_FILES})")
    if dir_sectors != _sectors(nfiles * ENTRY_SIZE):
        raise Corrupt(f"{dir_sectors} directory sectors for {nfiles} files "
                      f"(expected {_sectors(nfiles * ENTRY_SIZE)})")
    if dir_start == 0 or dir_start + dir_sectors > total:
        raise Corrupt(f"directory at sectors {dir_start}+{dir_sectors} outside 1..{total}")
    if total * SECTOR > len(data):
        raise Corrupt(f"{total} sectors claimed, the image has {len(data) // SECTOR}")
    raw_dir = data[dir_start * SECTOR:dir_start * SECTOR + nfiles * ENTRY_SIZE]
    entries: list[tuple[str, int, int, int]] = []
    prev = b""
    for i in range(nfiles):
        raw_name, start, size, crc, flags = ENTRY.unpack_from(raw_dir, i * ENTRY_SIZE)
        name, nul, pad = raw_name.partition(b"\0")
        problem = name_problem(name) if nul else "has no NUL terminator"
        if problem is None and pad.strip(b"\0"):
            problem = "is not NUL-padded"
        if problem is not None:
            raise Corrupt(f"entry {i}: name {raw_name!r} {problem}")
        if flags != 0:
            raise Corrupt(f"entry {i} ({name!r}): flags {flags:#x} (expected 0)")
        end = start + _sectors(size)
        if start == 0 or end > total:
            raise Corrupt(f"entry {i} ({name!r}): sectors {start}..{end} outside 1..{total}")
        if size and start < dir_start + dir_sectors and dir_start < end:
            raise Corrupt(f"entry {i} ({name!r}): data overlaps the directory")
        if i and name <= prev:
            raise Corrupt(f"entry {i} ({name!r}): not after {prev!r} (names sorted, unique)")
        prev = name
        entries.append((name.decode("ascii"), start, size, crc))
    if zlib.crc32(raw_dir) != dir_crc:
        raise Corrupt(f"directory CRC {zlib.crc32(raw_dir):#010x} != superblock's {dir_crc:#010x}")
    out = {}
    for name, start, size, crc in entries:
        contents = data[start * SECTOR:start * SECTOR + size]
        if zlib.crc32(contents) != crc:
            raise Corrupt(f"{name}: data CRC {zlib.crc32(contents):#010x} != entry's {crc:#010x}")
        out[name] = contents
    return out
