"""Fault schedules: which nemesis hits which node, when and for how long, drawn from a seed.

A schedule is a list of :class:`Fault` in start order; faults never overlap (one ends before
the next begins), in the manner of Jepsen's alternating quiet and fault periods, so each
anomaly can be traced to one fault window. The same seed, nemesis weights, nodes and time
always give the same schedule (Python's ``random.Random`` is deterministic across platforms
for ``random()``/``uniform``/``choices``).

``at`` is seconds after the load began; ``after_ops`` (optional) anchors the fault to an
operation index instead (operation ``i`` is the same for the same seed), which is how replays
and shrinking re-apply a recorded schedule: the fault fires when the workload reaches the same
operation. How many operations fail while a node is down still depends on timing, so a replay
is close to the recorded run, not identical to it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

QUIET = (0.15, 0.6)
"""Seconds of quiet before each fault (uniform): long enough for writes to be acknowledged
between faults, short enough for many faults per run."""


@dataclass(frozen=True)
class Fault:
    """One planned fault: ``nemesis`` against ``target`` from ``at`` for ``duration`` s."""

    nemesis: str
    target: str
    at: float
    duration: float
    args: dict[str, Any] = field(default_factory=dict)
    after_ops: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Fault:
        """Parse :meth:`to_dict` output; ``ValueError`` names what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a fault must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("nemesis", "target", "at", "duration") if k not in data]
        if missing:
            raise ValueError(f"fault is missing {', '.join(missing)}")
        try:
            at, duration = float(data["at"]), float(data["duration"])
        except (TypeError, ValueError):
            raise ValueError(f"fault at/duration must be numbers, got {data['at']!r}, "
                             f"{data['duration']!r}") from None
        if at < 0 or duration < 0:
            raise ValueError(f"fault at/duration must be >= 0, got {at}, {duration}")
        after = data.get("after_ops")
        if after is not None and (not isinstance(after, int) or after < 0):
            raise ValueError(f"fault after_ops must be a non-negative integer, got {after!r}")
        return cls(nemesis=str(data["nemesis"]), target=str(data["target"]), at=at,
                   duration=duration, args=dict(data.get("args") or {}), after_ops=after)


def generate(seed: int, nemeses: Mapping[str, float], durations: Mapping[str, tuple[float, float]],
             nodes: Sequence[str], time: float, count: int | None = None,
             quiet: tuple[float, float] = QUIET) -> list[Fault]:
    """A schedule for ``time`` seconds of load.

    Faults are drawn by weight from ``nemeses``, each lasting uniformly within its
    ``durations[name]`` range, separated by quiet periods drawn from ``quiet`` (default
    :data:`QUIET`). With
    ``count`` the schedule holds exactly that many faults, spread over ``time`` (quiet periods
    are scaled to fit; faults keep their durations); without it, as many as end before
    ``time``.
    """
    if not nemeses:
        return []
    rng = random.Random(seed)
    names = sorted(nemeses)
    weights = [nemeses[n] for n in names]
    planned: list[tuple[str, str, float, float]] = []
    t = 0.0
    while True:
        if count is not None and len(planned) >= count:
            break
        pause = rng.uniform(*quiet)
        name = rng.choices(names, weights)[0]
        lo, hi = durations.get(name, (0.0, 0.0))
        duration = rng.uniform(lo, hi)
        target = nodes[rng.randrange(len(nodes))]
        if count is None and t + pause + duration > time:
            break
        planned.append((name, target, pause, duration))
        t += pause + duration
    if count is not None and planned:
        busy = sum(p[3] for p in planned)
        quiet_total = sum(p[2] for p in planned)
        scale = max(0.0, time - busy) / quiet_total if quiet_total else 0.0
        planned = [(n, tg, q * scale, d) for n, tg, q, d in planned]
    out, t = [], 0.0
    for name, target, pause, duration in planned:
        t += pause
        out.append(Fault(name, target, round(t, 4), round(duration, 4)))
        t += duration
    return out


def write_jsonl(faults: Sequence[Fault], path: Path) -> None:
    """One fault per line."""
    Path(path).write_text("".join(json.dumps(f.to_dict()) + "\n" for f in faults))


def read_jsonl(path: Path) -> list[Fault]:
    """The faults written by :func:`write_jsonl`; ``ValueError`` with the line number."""
    out = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(Fault.from_dict(json.loads(line)))
        except (json.JSONDecodeError, ValueError) as e:
            raise ValueError(f"{path}:{number}: bad fault record: {e}") from None
    return out
