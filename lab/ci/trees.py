"""The two source trees ``lab ci`` compares: the working tree and a baseline commit.

The baseline is checked out as a detached ``git worktree`` under the lab's cache (one per
commit, removed when the check ends), so building and running it never touches the working
tree. Each tree runs its own copy of the lab: a child process gets ``LAB_HOME`` and
``PYTHONPATH`` pointing at its tree, and the plugin folders of ``$LAB_PLUGIN_PATH`` that lie
inside the repository are mapped to the same folders of the tree.

Contract. ``repository()`` is the git top level holding the lab checkout (UsageError when
there is none); ``resolve(repo, ref)`` the full commit of REF (UsageError naming REF when git
does not know it); ``working(repo)`` the working tree as a ``Tree`` (labelled dirty when
tracked files differ from HEAD); ``checkout(repo, commit, into)`` a baseline ``Tree`` whose
``remove()`` deletes the worktree again (LabError with git's message when it cannot be made).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lab import paths
from lab.errors import LabError, UsageError
from lab.gitinfo import commit_and_dirty

WORKING = "."
"""The ``--baseline`` value naming the working tree itself (an A/A comparison)."""


def _git(repo: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@dataclass
class Tree:
    """One side of a comparison: where its sources are and what commit they are."""

    label: str
    path: Path
    commit: str | None
    dirty: bool
    repo: Path
    worktree: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def short(self) -> str:
        """The short commit, ``+dirty`` when the tree differs from it."""
        text = (self.commit or "no commit")[:10]
        return text + ("+dirty" if self.dirty else "")

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` set up to run this tree's lab: its root, its import path, its plugins."""
        env = dict(base)
        env["LAB_HOME"] = str(self.path)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.path)] + [p for p in base.get("PYTHONPATH", "").split(os.pathsep) if p])
        extra = [self._mapped(Path(p)) for p in base.get("LAB_PLUGIN_PATH", "").split(os.pathsep)
                 if p]
        if extra:
            env["LAB_PLUGIN_PATH"] = os.pathsep.join(str(p) for p in extra)
        env.update(self.env)
        return env

    def _mapped(self, folder: Path) -> Path:
        try:
            rel = folder.resolve().relative_to(self.repo)
        except ValueError:
            return folder  # outside the repository: the same plugins for both trees
        return self.path / rel

    def remove(self) -> None:
        """Delete a baseline worktree (nothing for the working tree)."""
        if not self.worktree:
            return
        _git(self.repo, "worktree", "remove", "--force", str(self.path))
        shutil.rmtree(self.path, ignore_errors=True)
        _git(self.repo, "worktree", "prune")


def repository() -> Path:
    """The git top level of the lab checkout."""
    root = paths.root()
    out = _git(root, "rev-parse", "--show-toplevel")
    if out.returncode != 0:
        raise UsageError(f"lab ci compares git commits, but {root} is not in a git checkout")
    return Path(out.stdout.strip()).resolve()


def resolve(repo: Path, ref: str) -> str:
    """The full commit REF names."""
    if not ref or ref.startswith("-"):
        raise UsageError(f"baseline {ref!r} is not a git ref; valid: a commit, branch or tag "
                         f"(HEAD~1, main, v1.0) or {WORKING!r} for the working tree")
    out = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if out.returncode != 0:
        raise UsageError(f"baseline {ref!r} is not a commit of {repo}; valid: a commit, branch "
                         f"or tag (HEAD~1, main, v1.0) or {WORKING!r} for the working tree")
    return out.stdout.strip()


def working(repo: Path, label: str = "current") -> Tree:
    """The working tree, as it is now."""
    commit, dirty = commit_and_dirty(repo)
    return Tree(label, repo, commit, dirty, repo)


def checkout(repo: Path, commit: str, into: Path, label: str = "baseline") -> Tree:
    """A detached worktree of ``commit`` at ``into`` (replacing a stale one there)."""
    if into.exists():
        _git(repo, "worktree", "remove", "--force", str(into))
        shutil.rmtree(into, ignore_errors=True)
    _git(repo, "worktree", "prune")
    into.parent.mkdir(parents=True, exist_ok=True)
    out = _git(repo, "worktree", "add", "--detach", "--force", str(into), commit, timeout=600)
    if out.returncode != 0:
        msg = " ".join((out.stderr or out.stdout).split())
        raise LabError(f"cannot check out baseline {commit[:10]}: {msg}")
    return Tree(label, into.resolve(), commit, False, repo, worktree=True)
