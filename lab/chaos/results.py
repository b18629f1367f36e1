"""What one chaos case leaves behind, as plain data the report and the store read.

A *case* is one scenario run against one implementation: the faults actually applied (with
their windows in seconds since the case started), the history of client operations, the
checkers' verdicts, and, when a checker failed, what shrinking did. A chaos *run* (one
``lab chaos`` command) holds one or more cases; every case is written to its own folder as

* ``history.jsonl``: the operation history (:mod:`lab.chaos.history`), gzipped into
  ``history.jsonl.gz`` once the case is over;
* ``faults.jsonl``: one :class:`AppliedFault` per line (the schedule as applied);
* ``case.json``: this module's :class:`Case` without the history (``Case.to_dict``; each
  verdict keeps its first :data:`KEPT_ANOMALIES` anomalies and counts the rest);
* ``logs/``: the processes' logs.

Times are seconds since the case's start (``Case.t0``, a ``time.monotonic`` value stored so
that the history's monotonic times can be turned into the same clock).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lab.chaos.checkers import Verdict

# anomalies of each verdict kept in a case's record (and the store, and --json): enough to
# read every kind; a crash that loses every unsynced write can produce tens of thousands
KEPT_ANOMALIES = 100


@dataclass
class AppliedFault:
    """One fault as applied.

    ``nemesis`` names the registered nemesis, ``target`` the node, ``start``/``end`` its window
    in seconds since the case began (``end`` is None when it never healed, e.g. the run was
    interrupted; it includes the heal, e.g. a restart), ``after_ops`` how many client
    operations had been taken when it began (the next operation's index; replays anchor
    faults there), ``args`` its parameters (``draw``: its position in the original schedule,
    which seeds its random choices), ``skipped`` the reason it was not applied (privileges,
    kernel support) or None, ``effect`` one line on what it did, ``duration`` the planned
    window in seconds.
    """

    nemesis: str
    target: str
    start: float
    end: float | None
    after_ops: int = 0
    args: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    effect: str = ""
    duration: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AppliedFault:
        """Parse a record written by :meth:`to_dict`; ``ValueError`` names a bad field."""
        if not isinstance(data, dict):
            raise ValueError(f"a fault record must be a JSON object, got {type(data).__name__}")
        for name in ("nemesis", "target", "start"):
            if name not in data:
                raise ValueError(f"fault record is missing field {name!r}")
        return cls(nemesis=str(data["nemesis"]), target=str(data["target"]),
                   start=float(data["start"]),
                   end=None if data.get("end") is None else float(data["end"]),
                   after_ops=int(data.get("after_ops", 0)), args=dict(data.get("args") or {}),
                   skipped=data.get("skipped"), effect=str(data.get("effect", "")),
                   duration=None if data.get("duration") is None else float(data["duration"]))


@dataclass
class Case:
    """One scenario against one implementation.

    ``stats`` holds the case's figures: ``ops``, ``ok``, ``fail``, ``info`` (operations by
    outcome), ``acked`` (acknowledged writes), ``lost`` (acknowledged writes missing at the
    end), ``lost_window`` (seconds between the first and last lost acknowledgement, or None),
    ``restarts``, ``recovery_s`` (longest restart), and anything a scenario adds.
    ``shrink`` is None or ``{"faults": "37 faults -> 2 (23 replays)", "ops": "...",
    "schedule": [fault dicts]}``. ``replay`` is the command line that re-applies this case's
    schedule. ``status`` is ``ok`` (ran to the end), ``error`` (the case could not run:
    ``error`` says why) or ``interrupted``. ``tolerated`` names the checkers whose failure
    the scenario expects (reported, not a failure of the case).
    """

    system: str
    impl: str
    scenario: str
    description: str
    seed: int
    duration: float
    t0: float
    folder: str
    faults: list[AppliedFault] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    shrink: dict[str, Any] | None = None
    replay: str = ""
    status: str = "ok"
    error: str | None = None
    tolerated: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool | None:
        """False when any checker failed, None when none failed but one was unknown (or the
        case did not run), True otherwise."""
        if self.status != "ok":
            return None
        states = [v.valid for v in self.verdicts]
        if False in states:
            return False
        return None if None in states or not states else True

    def to_dict(self) -> dict[str, Any]:
        """The case as plain data; each verdict keeps its first :data:`KEPT_ANOMALIES`
        anomalies (the history is kept, so the checkers can find the rest again)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(faults=[f.to_dict() for f in self.faults],
                    verdicts=[v.to_dict(KEPT_ANOMALIES) for v in self.verdicts],
                    stats=dict(self.stats), settings=dict(self.settings),
                    tolerated=list(self.tolerated))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Case:
        try:
            return cls(
                system=data["system"], impl=data["impl"], scenario=data["scenario"],
                description=data.get("description", ""), seed=int(data["seed"]),
                duration=float(data["duration"]), t0=float(data["t0"]),
                folder=data["folder"],
                faults=[AppliedFault.from_dict(f) for f in data.get("faults", [])],
                verdicts=[Verdict.from_dict(v) for v in data.get("verdicts", [])],
                stats=dict(data.get("stats", {})), settings=dict(data.get("settings", {})),
                shrink=data.get("shrink"), replay=data.get("replay", ""),
                status=data.get("status", "ok"), error=data.get("error"),
                tolerated=list(data.get("tolerated", [])))
        except KeyError as e:
            raise ValueError(f"case record is missing field {e.args[0]!r}") from None

    def save(self) -> Path:
        """Write ``case.json`` and ``faults.jsonl`` into :attr:`folder`; returns case.json."""
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "faults.jsonl").write_text(
            "".join(json.dumps(f.to_dict(), default=repr) + "\n" for f in self.faults))
        path = folder / "case.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, default=repr))
        tmp.replace(path)
        return path


def load_case(folder: Path) -> Case:
    """The case saved in ``folder``; ``ValueError`` in one line when it is missing or bad."""
    path = Path(folder) / "case.json"
    try:
        return Case.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such case record") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
