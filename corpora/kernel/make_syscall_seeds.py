"""Write the seed corpus of the kernel's ``syscalls`` fuzz target (plugins/kernel/sysfuzz.py).

Usage::

    .venv/bin/python corpora/kernel/make_syscall_seeds.py [OUT_DIR]

OUT_DIR defaults to ``syscalls/`` next to this script; its ``*.bin`` seeds and README.md are
rewritten from :func:`plugins.kernel.sysfuzz.seed_programs` (programs of 24-byte records,
``u32 nr, u32 a[5]``, built with :func:`plugins.kernel.sysfuzz.encode`).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from plugins.kernel import sysfuzz  # noqa: E402


def main(out: Path) -> None:
    for path in sysfuzz.write_seeds(out):
        print(path.relative_to(out.parent) if path.is_relative_to(out.parent) else path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "syscalls")
