"""Checkers of recorded operation histories and the result type they share.

Every checker (``linearizable``, ``setfull``, ...) takes a :class:`lab.chaos.history.History`
and returns a :class:`Verdict`, in the spirit of Jepsen's checkers: ``valid`` is ``True`` (the
history satisfies the property), ``False`` (it provably does not; ``anomalies`` say why) or
``None`` (unknown: the checker ran out of time or cannot judge these operations; a checker never
guesses).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
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
    """

    checker: str
    valid: bool | None
    summary: str
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``"valid"``, ``"invalid"`` or ``"unknown"``."""
        if self.valid is None:
            return "unknown"
        return "valid" if self.valid else "invalid"

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the fields (the anomalies and stats are copied deeply)."""
        return asdict(self)

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
        )
