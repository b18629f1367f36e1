"""The ``exe`` recipe kind: a C program compiled in one compiler call into the build cache.

Used for servers and load generators that run as processes of their own. The flavor's flags
apply as for libraries; sanitizer runtimes are linked in (``-fsanitize=...`` in the flavor's
ldflags), so only the flavor's environment (ASAN_OPTIONS...) is needed at run time. A failed
compile raises :class:`BuildError` with the compiler's diagnostics; warnings are kept in
``build.json``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from lab.errors import BuildError
from lab.model import Executable, System
from lab.native.cache import Artifact, hash_files
from lab.native.cffi_builder import diagnostics, header_files, source_files
from lab.native.flavors import COMMON_CFLAGS, Flavor, compiler_identity


class ExeBuilder:
    """Builder for :class:`lab.model.Executable` recipes."""

    kind = "exe"

    def _command(self, system: System, recipe: Executable, flavor: Flavor, out: Path) -> list:
        assert system.targets is not None
        return [flavor.cc(), *COMMON_CFLAGS, *flavor.cflags, *recipe.cflags,
                f"-I{system.targets}", *map(str, source_files(system, recipe)), "-o", str(out),
                *flavor.ldflags, *recipe.ldflags, *[f"-l{lib}" for lib in recipe.libraries]]

    def key_parts(self, system: System, recipe: Executable, flavor: Flavor) -> dict[str, Any]:
        files = source_files(system, recipe) + header_files(system)
        return {"kind": self.kind, "name": recipe.name, "sources": hash_files(files),
                "command": self._command(system, recipe, flavor, Path(recipe.name))[1:],
                "compiler": compiler_identity(flavor.cc())}

    def produce(self, system: System, recipe: Executable, flavor: Flavor,
                out_dir: Path) -> dict[str, Any]:
        cmd = self._command(system, recipe, flavor, out_dir / recipe.name)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"build of {system.name}/{recipe.name} ({flavor.name}) could not "
                             f"run the compiler: {exc}") from None
        log = " ".join(cmd) + "\n" + proc.stdout + proc.stderr
        (out_dir / "build.log").write_text(log)
        lines = diagnostics(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            shown = "\n".join(lines) or (proc.stdout + proc.stderr).strip()[-4000:]
            raise BuildError(f"build of {system.name}/{recipe.name} ({flavor.name}) failed:\n"
                             f"{shown}")
        return {"exe": recipe.name, "flavor": flavor.name,
                "warnings": [ln for ln in lines if "warning:" in ln]}

    def load(self, system: System, recipe: Executable, flavor: Flavor,
             artifact: Artifact) -> Path:
        """The executable's path (running it is the caller's business)."""
        return artifact.path / artifact.info["exe"]
