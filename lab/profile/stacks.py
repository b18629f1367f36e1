"""Folded call stacks: parse py-spy and ``perf script`` output, rank functions, diff profiles.

A profile is a :class:`Stacks`: a map from a call stack (a tuple of frame names, root first)
to a weight (samples, or any other additive cost).  The text form is the "collapsed" format of
Brendan Gregg's ``flamegraph.pl``: one line per unique stack, frames root first separated by
``;``, then one space and a non-negative count, e.g. ``main;run;find_match (lz77.c) 42``.

Contract:

* :func:`parse_folded` reads collapsed text (blank lines skipped); a malformed line raises
  ``ValueError`` naming its line number and the valid form.  :func:`to_folded` writes it back
  (sorted lines, integer counts where whole), so ``parse_folded(to_folded(s)) == s``.
* :func:`parse_pyspy_raw` reads ``py-spy record --format raw`` output and merges per-line
  frames into per-function frames through :func:`normalize_frame`.
* :func:`parse_perf_script` reads the default ``perf script`` output of ``perf record -g``;
  the process name (comm) becomes the root frame, one sample weighs 1.
* :func:`functions` and :func:`top` give per-function self (leaf) and total (inclusive, a
  recursive function counted once per stack) weights.
* :func:`diff` and :func:`diff_costs` compare two profiles per function as shares of each
  profile's total, largest change of share first.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Stack = tuple[str, ...]

_BY = ("self", "total")


@dataclass
class Stacks:
    """Weighted call stacks: ``counts`` maps a root-first stack tuple to its weight.

    Stacks are non-empty tuples of frame names; weights are finite and non-negative.
    """

    counts: dict[Stack, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """The sum of all weights (0 for an empty profile)."""
        return sum(self.counts.values())

    def add(self, stack: Sequence[str], weight: float = 1.0) -> None:
        """Add ``weight`` to ``stack`` (root first) in place.

        Raises ``ValueError`` for an empty stack or a negative or non-finite weight; a zero
        weight changes nothing.
        """
        key = tuple(stack)
        if not key:
            raise ValueError("a stack needs at least one frame")
        _check_weight(weight)
        if weight:
            self.counts[key] = self.counts.get(key, 0) + weight

    def merge(self, other: Stacks) -> Stacks:
        """Add every stack of ``other`` into this profile in place; return ``self``."""
        for stack, weight in other.counts.items():
            self.add(stack, weight)
        return self

    def scaled(self, factor: float) -> Stacks:
        """A new profile with every weight multiplied by ``factor`` (finite, >= 0)."""
        _check_weight(factor)
        out = Stacks()
        for stack, weight in self.counts.items():
            out.add(stack, weight * factor)
        return out

    def map_frames(self, fn: Callable[[str], str]) -> Stacks:
        """A new profile with every frame renamed by ``fn``; stacks that become equal merge."""
        out = Stacks()
        for stack, weight in self.counts.items():
            out.add(tuple(fn(frame) for frame in stack), weight)
        return out


def _check_weight(value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"weights must be finite and non-negative, got {value!r}")


# --- collapsed (folded) text ---------------------------------------------------------------

_FOLDED_FORM = "'frame;frame;... COUNT' (frames root first joined by ';', a space, a count >= 0)"


def _folded_error(lineno: int, line: str) -> ValueError:
    shown = line if len(line) <= 60 else line[:57] + "..."
    return ValueError(f"line {lineno}: expected {_FOLDED_FORM}, got {shown!r}")


def _parse_count(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return int(value) if value.is_integer() else value


def parse_folded(text: str) -> Stacks:
    """Parse collapsed-stack text into a :class:`Stacks`; repeated stacks add up.

    Blank lines are skipped.  A line without a trailing non-negative count after a space, or
    with no frame before it, raises ``ValueError("line N: expected ..., got ...")``.
    """
    out = Stacks()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        head, sep, tail = line.rpartition(" ")
        count = _parse_count(tail) if sep else None
        head = head.rstrip()
        if count is None or not head:
            raise _folded_error(lineno, line)
        out.add(tuple(head.split(";")), count)
    return out


def _format_weight(weight: float) -> str:
    return str(int(weight)) if float(weight).is_integer() else repr(float(weight))


def to_folded(stacks: Stacks) -> str:
    """Collapsed text of ``stacks``: one sorted line per stack, integer counts where whole.

    The text ends with a newline unless the profile is empty (then it is ``""``).
    """
    lines = sorted(f"{';'.join(s)} {_format_weight(w)}" for s, w in stacks.counts.items())
    return "".join(line + "\n" for line in lines)


# --- py-spy --------------------------------------------------------------------------------

_FILE_LINE = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]+(?: \((?P<dso>[^()]*)\))?$")


def normalize_frame(frame: str) -> str:
    """Normalise one py-spy frame name.

    ``name (file:LINE)`` loses its line number (``find_match (lz77.c:221)`` ->
    ``find_match (lz77.c)``) so that samples of different lines merge per function; an
    unresolved native frame ``0x7f01... (libc.so.6)`` becomes ``[libc.so.6]`` (the basename
    of its library, ``[unknown]`` without one); anything else is returned unchanged.
    """
    match = _ADDRESS.match(frame)
    if match:
        dso = match.group("dso")
        return f"[{os.path.basename(dso) or dso}]" if dso else "[unknown]"
    match = _FILE_LINE.match(frame)
    if match:
        return f"{match.group('name')} ({match.group('file')})"
    return frame


def parse_pyspy_raw(text: str) -> Stacks:
    """Parse ``py-spy record --format raw`` output (collapsed text), normalising each frame
    with :func:`normalize_frame`.  Malformed lines raise ``ValueError`` as in
    :func:`parse_folded`."""
    return parse_folded(text).map_frames(normalize_frame)


# --- perf script ---------------------------------------------------------------------------

_PERF_HEADER = re.compile(
    r"^\s*(?P<comm>\S.*?)\s+(?P<pid>\d+)(?:/(?P<tid>\d+))?\s+(?:\[\d+\]\s+)?\d+\.\d+:"
)
_PERF_FRAME = re.compile(
    r"^\s+(?P<addr>[0-9a-fA-F]+)\s+(?P<sym>.*?)\s*(?:\((?P<dso>[^()]*)\))?\s*$"
)
_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")


def _perf_frame_name(sym: str, dso: str | None) -> str:
    """``find_match+0x1f`` -> ``find_match``; an unknown symbol -> ``[dso basename]``."""
    sym = _OFFSET.sub("", sym.strip())
    if sym and sym != "[unknown]":
        return sym
    if not dso or dso == "[unknown]":
        return "[unknown]"
    if dso.startswith("[") and dso.endswith("]"):
        return dso
    return f"[{os.path.basename(dso) or dso}]"


def _perf_error(lineno: int, line: str, what: str) -> ValueError:
    shown = line if len(line) <= 60 else line[:57] + "..."
    return ValueError(f"perf script line {lineno}: expected {what}, got {shown!r}")


_HEADER_FORM = "a sample header 'COMM PID[/TID] [CPU] TIME: [PERIOD] EVENT:'"
_FRAME_FORM = "an indented frame 'ADDR SYMBOL+0xOFF (DSO)' or a blank line"


def _perf_samples(text: str) -> Iterable[tuple[str, int, list[str]]]:
    """Yield ``(comm, pid, frames leaf first)`` for each sample of ``perf script`` text."""
    current: tuple[str, int, list[str]] | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            if current is not None:
                yield current
            current = None
            continue
        if line.startswith("#"):
            continue
        header = None if line.startswith("\t") else _PERF_HEADER.match(line)
        if header:
            if current is not None:           # samples without call chains follow each other
                yield current
            current = (header.group("comm").strip(), int(header.group("pid")), [])
            continue
        frame = _PERF_FRAME.match(line)
        if current is None:
            raise _perf_error(lineno, line, _HEADER_FORM)
        if frame is None:
            raise _perf_error(lineno, line, _FRAME_FORM)
        current[2].append(_perf_frame_name(frame.group("sym"), frame.group("dso")))
    if current is not None:
        yield current


def parse_perf_script(text: str, pids: set[int] | None = None) -> Stacks:
    """Parse default ``perf script`` output (of ``perf record -g``) into root-first stacks.

    Each sample weighs 1; its stack is the comm (process name) as the root frame, then its
    frames from outermost to leaf (perf lists them leaf first).  Frame names drop the
    ``+0x..`` offset; unknown symbols become ``[dso basename]``.  With ``pids``, only samples
    whose process id (the ``PID`` of ``PID/TID``) is in ``pids`` are kept.  Lines starting
    with ``#`` are skipped; any other unrecognised line raises ``ValueError`` naming it.
    """
    out = Stacks()
    for comm, pid, frames in _perf_samples(text):
        if pids is None or pid in pids:
            out.add((comm, *reversed(frames)), 1)
    return out


# --- per-function costs --------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionCost:
    """One function's cost: ``self_weight`` where it is the leaf frame, ``total_weight`` of
    the stacks that contain it at least once (inclusive cost)."""

    name: str
    self_weight: float
    total_weight: float


def functions(stacks: Stacks) -> dict[str, FunctionCost]:
    """Per-function self and total weights of ``stacks``, keyed by frame name.

    A function appearing several times in one stack (recursion) counts that stack's weight
    once in its total, so ``total_weight <= stacks.total`` always holds.
    """
    self_w: dict[str, float] = {}
    total_w: dict[str, float] = {}
    for stack, weight in stacks.counts.items():
        self_w[stack[-1]] = self_w.get(stack[-1], 0) + weight
        for name in set(stack):
            total_w[name] = total_w.get(name, 0) + weight
    return {n: FunctionCost(n, self_w.get(n, 0), total_w[n]) for n in total_w}


def _check_by(by: str) -> None:
    if by not in _BY:
        raise ValueError(f"by must be one of {_BY}, got {by!r}")


def _cost(fc: FunctionCost, by: str) -> float:
    return fc.self_weight if by == "self" else fc.total_weight


def top(stacks: Stacks, n: int = 20, by: str = "self") -> list[FunctionCost]:
    """The ``n`` costliest functions by ``by`` ("self" or "total"), descending, ties by name."""
    _check_by(by)
    ranked = sorted(functions(stacks).values(), key=lambda fc: (-_cost(fc, by), fc.name))
    return ranked[: max(n, 0)]


# --- diffs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    """One function in a profile comparison.

    ``before``/``after`` are costs in the profiles' own units, ``delta = after - before``;
    shares are fractions (0..1) of each profile's total, ``share_delta = after_share -
    before_share``.
    """

    name: str
    before: float
    after: float
    delta: float
    before_share: float
    after_share: float
    share_delta: float


def _share(cost: float, total: float) -> float:
    return cost / total if total > 0 else 0.0


def diff_costs(
    a: Mapping[str, float],
    b: Mapping[str, float],
    total_a: float,
    total_b: float,
    min_share: float = 0.0,
) -> list[DiffRow]:
    """Compare per-function costs ``a`` (before) and ``b`` (after) with totals ``total_a``
    and ``total_b`` (a zero total gives zero shares).

    A function missing on one side counts 0 there.  Rows whose larger share is below
    ``min_share`` are dropped; the rest are sorted by ``|share_delta|`` descending, then by
    name.
    """
    rows = []
    for name in set(a) | set(b):
        before, after = a.get(name, 0), b.get(name, 0)
        sa, sb = _share(before, total_a), _share(after, total_b)
        if max(sa, sb) >= min_share:
            rows.append(DiffRow(name, before, after, after - before, sa, sb, sb - sa))
    rows.sort(key=lambda r: (-abs(r.share_delta), r.name))
    return rows


def diff(a: Stacks, b: Stacks, by: str = "self", min_share: float = 0.0) -> list[DiffRow]:
    """Compare profile ``a`` (before) with ``b`` (after) per function, by self or total cost
    as shares of each profile's total; see :func:`diff_costs` for order and filtering."""
    _check_by(by)
    ca = {n: _cost(fc, by) for n, fc in functions(a).items()}
    cb = {n: _cost(fc, by) for n, fc in functions(b).items()}
    return diff_costs(ca, cb, a.total, b.total, min_share)
