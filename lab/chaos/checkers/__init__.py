"""Checkers of recorded operation histories and the result type they share.

Every checker (``linearizable``, ``setfull``, ...) takes a :class:`lab.chaos.history.History`
and returns a :class:`Verdict`, in the spirit of Jepsen's checkers: ``valid`` is ``True`` (the
history satisfies the property), ``False`` (it provably does not; ``anomalies`` say why) or
``None`` (unknown: the checker ran out of time or cannot judge these operations; a checker never
guesses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Verdict:
    """The outcome of one checker on one history.

    * ``checker``: the checker's name, e.g. ``"linearizable"``.
    * ``valid``: ``True``, ``False`` or ``None`` (unknown).
    * ``summary``: one line for people.
    * ``anomalies``: one dict per violation found, each with ``"kind"`` (a short slug),
      ``"explanation"`` (a sentence) and ``"ops"`` (the operations involved, as dicts); checkers
      may add further keys.
    * ``stats``: numbers about the run (operations, keys, seconds, ...), JSON-serialisable.
    * ``omitted``: anomalies found but not kept in this record (a saved verdict keeps the
      first few; :attr:`total_anomalies` counts them all).
    """

    checker: str
    valid: bool | None
    summary: str
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    omitted: int = 0

    @property
    def total_anomalies(self) -> int:
        """How many anomalies the checker found, kept or not."""
        return len(self.anomalies) + self.omitted

    @property
    def status(self) -> str:
        """``"valid"``, ``"invalid"`` or ``"unknown"``."""
        if self.valid is None:
            return "unknown"
        return "valid" if self.valid else "invalid"

    def to_dict(self, keep: int | None = None) -> dict[str, Any]:
        """A plain dict of the fields, with at most ``keep`` anomalies (all when None) and
        ``omitted`` counting the rest. The lists and dicts are new; the anomalies themselves
        are shared, not copied (a lost-write history can hold tens of thousands)."""
        kept = self.anomalies if keep is None else self.anomalies[:keep]
        return {"checker": self.checker, "valid": self.valid, "summary": self.summary,
                "anomalies": list(kept), "stats": dict(self.stats),
                "omitted": self.total_anomalies - len(kept)}

    def to_json(self) -> str:
        """The verdict as one line of JSON (keys sorted); values that JSON cannot hold are
        written with ``repr``."""
        return json.dumps(self.to_dict(), sort_keys=True, default=repr)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """The inverse of :meth:`to_dict`; raises ``ValueError`` when a field is missing."""
        missing = [name for name in ("checker", "valid", "summary") if name not in data]
        if missing:
            raise ValueError(f"verdict is missing field(s) {', '.join(missing)}")
        return cls(
            checker=str(data["checker"]),
            valid=data["valid"],
            summary=str(data["summary"]),
            anomalies=list(data.get("anomalies", [])),
            stats=dict(data.get("stats", {})),
            omitted=int(data.get("omitted", 0)),
        )
