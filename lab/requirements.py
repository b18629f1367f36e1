"""What a system or implementation needs on the machine, how to check it, how to install it.

Each requirement answers ``missing()`` with ``None`` when present, or a short phrase saying
what is absent; ``install`` names the command that fixes it. ``make setup`` asks the lab for
every declared apt and pip package and installs the missing ones.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path


def pip_command() -> str:
    """The pip of the interpreter running the lab (the virtualenv's when there is one)."""
    pip = Path(sys.executable).with_name("pip")
    return f"{pip} install" if pip.exists() else f"{sys.executable} -m pip install"


@cache
def apt_installed(package: str) -> bool:
    """True when dpkg reports ``package`` as installed."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "install ok installed" in out.stdout


@dataclass(frozen=True)
class Requirement:
    """Base class: ``name`` is what is needed; ``apt``/``pip`` say which package provides it."""

    name: str
    apt: str | None = None
    pip: str | None = None

    def missing(self) -> str | None:
        raise NotImplementedError

    @property
    def install(self) -> str:
        """The command that installs what is missing."""
        if self.pip:
            return f"{pip_command()} {self.pip}"
        if self.apt:
            return f"apt-get install -y {self.apt}"
        return f"install {self.name}"


@dataclass(frozen=True)
class Command(Requirement):
    """A program on ``PATH``."""

    def missing(self) -> str | None:
        return None if shutil.which(self.name) else f"command '{self.name}' not found"


@dataclass(frozen=True)
class PythonModule(Requirement):
    """An importable Python module (``name`` is the import name, ``pip`` the distribution)."""

    def missing(self) -> str | None:
        try:
            found = importlib.util.find_spec(self.name) is not None
        except (ImportError, ValueError):
            found = False
        return None if found else f"Python module '{self.name}' not installed"


@dataclass(frozen=True)
class AptPackage(Requirement):
    """A Debian package (``name`` is the package)."""

    def __post_init__(self) -> None:
        if self.apt is None:
            object.__setattr__(self, "apt", self.name)

    def missing(self) -> str | None:
        return None if apt_installed(self.name) else f"Debian package '{self.name}' not installed"


@dataclass(frozen=True)
class SharedLibrary(Requirement):
    """A shared library the dynamic linker can find (``name`` as for ``find_library``)."""

    def missing(self) -> str | None:
        found = ctypes.util.find_library(self.name)
        return None if found else f"shared library 'lib{self.name}' not found"


def first_missing(requirements: tuple[Requirement, ...]) -> tuple[Requirement, str] | None:
    """The first unmet requirement and why, or None when all are met."""
    for req in requirements:
        why = req.missing()
        if why:
            return req, why
    return None
