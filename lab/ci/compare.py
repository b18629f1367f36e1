"""Verdicts for every benchmark both trees measured: regression, improvement or no change.

Two kinds of figure are judged differently (see :mod:`lab.ci.detect` for the statistics):

* deterministic figures (the ``instructions`` channel's ``vg_instructions``; any figure whose
  values are all equal on each side, such as a compression ratio) are called changed when the
  relative change exceeds ``EXACT_THRESHOLD`` (0.5%), with no test;
* noisy figures (wall time, a load generator's rate) get the ratio (the median of the
  per-round ratios where both sides ran in the same rounds, else the ratio of medians) with
  its bootstrap interval (resampling whole rounds, or bench processes, whose repetitions share
  the load of their moment) and the Mann-Whitney p-value; the p-values of one check are corrected
  together (Benjamini-Hochberg), and a change is called when q < ``ALPHA`` and the whole
  interval lies beyond the benchmark's noise band: the band calibrated from A/A runs on this
  machine (``lab ci --calibrate``), else ``DEFAULT_BAND`` (labelled uncalibrated).

Other instruction-channel figures (simulated cache misses, allocation counts) are shown but
not judged: the simulated caches see addresses, which move between builds.

Contract. ``compare(base, cur, bands)`` returns one ``Row`` per benchmark both sides have, in
key order; ``row.verdict`` is one of the ``detect`` verdict strings; a benchmark with fewer
than 2 values a side is judged exactly when deterministic, else reported "not enough data";
``row.unclear`` marks a "no change" whose interval still reaches beyond the band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab.ci import detect
from lab.ci.measure import Figure, Figures, Key

EXACT_THRESHOLD = 0.005
ALPHA = 0.05
DEFAULT_BAND = 0.03
JUDGED_INSTRUCTIONS = ("vg_instructions",)
NOT_ENOUGH = "not enough data"


@dataclass
class Row:
    """One benchmark's comparison."""

    key: Key
    unit: str
    better: str
    channel: str
    kind: str  # "exact", "statistical" or "shown"
    baseline: float
    current: float
    ratio: float
    ci_low: float | None = None
    ci_high: float | None = None
    pvalue: float | None = None
    qvalue: float | None = None
    band: float | None = None
    calibrated: bool = False
    min_detectable: float | None = None
    n: tuple[int, int] = (0, 0)
    verdict: str = detect.NO_CHANGE

    @property
    def change(self) -> float:
        return self.ratio - 1

    @property
    def significant(self) -> bool:
        return self.verdict in (detect.REGRESSION, detect.IMPROVEMENT)

    @property
    def unclear(self) -> bool:
        """A statistical "no change" whose interval is not wholly inside the noise band: the
        data neither show a change beyond the band nor rule one out (more rounds may)."""
        if self.kind != "statistical" or self.verdict != detect.NO_CHANGE:
            return False
        if self.band is None or self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low < 1 - self.band or self.ci_high > 1 + self.band

    def to_json(self) -> dict:
        return {"system": self.key.system, "workload": self.key.workload,
                "impl": self.key.impl, "params": self.key.params, "metric": self.key.metric,
                "label": self.key.label, "unit": self.unit, "better": self.better,
                "channel": self.channel, "kind": self.kind, "baseline": self.baseline,
                "current": self.current, "ratio": self.ratio, "change": self.change,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "pvalue": self.pvalue,
                "qvalue": self.qvalue, "band": self.band, "calibrated": self.calibrated,
                "min_detectable": self.min_detectable, "n": list(self.n),
                "verdict": self.verdict, "unclear": self.unclear}


def _deterministic(a: Figure, b: Figure) -> bool:
    if a.channel == "instructions":
        return True
    return len(set(a.values)) == 1 and len(set(b.values)) == 1


def _median(values: list[float]) -> float:
    return float(np.median(values))


def _ratio(base: float, cur: float) -> float:
    return cur / base if base else (1.0 if cur == base else math.inf)


def _row(key: Key, a: Figure, b: Figure, kind: str) -> Row:
    base, cur = _median(a.values), _median(b.values)
    return Row(key, b.unit, b.better, b.channel, kind, base, cur, _ratio(base, cur),
               n=(len(a.values), len(b.values)))


def _exact(row: Row) -> Row:
    if row.channel == "instructions" and row.key.metric not in JUDGED_INSTRUCTIONS:
        row.kind = "shown"
        return row
    if row.baseline == 0:
        row.verdict = detect.NO_CHANGE if row.current == 0 else detect.REGRESSION
        return row
    row.verdict = detect.regressed_exact(row.baseline, row.current, row.better,
                                         threshold=EXACT_THRESHOLD)
    row.ci_low = row.ci_high = row.ratio
    row.min_detectable = EXACT_THRESHOLD
    return row


def compare(base: Figures, cur: Figures, bands: dict[Key, float]) -> list[Row]:
    """Judge every benchmark present on both sides; ``bands`` are calibrated half-widths."""
    rows: list[Row] = []
    stats: list[tuple[Row, detect.Effect]] = []
    for key in sorted(set(base) & set(cur), key=lambda k: (k.system, k.workload, k.impl,
                                                           k.params, k.metric)):
        a, b = base[key], cur[key]
        if _deterministic(a, b):
            rows.append(_exact(_row(key, a, b, "exact")))
            continue
        row = _row(key, a, b, "statistical")
        rows.append(row)
        if min(row.n) < 2 or row.baseline == 0:
            row.verdict = NOT_ENOUGH
            continue
        e = detect.effect(a.values, b.values, seed=len(stats), base_groups=a.groups,
                          cur_groups=b.groups, paired=a.paired and b.paired)
        row.ratio = e.ratio
        stats.append((row, e))
    corrected = detect.correct([e for _, e in stats])
    for (row, _), e in zip(stats, corrected, strict=True):
        calibrated = row.key in bands
        band = detect.NoiseBand(bands.get(row.key, DEFAULT_BAND), ())
        row.ci_low, row.ci_high, row.pvalue, row.qvalue = e.ci_low, e.ci_high, e.pvalue, e.qvalue
        row.band, row.calibrated = band.half_width, calibrated
        row.min_detectable = detect.min_detectable(base[row.key].values, band=band,
                                                    groups=base[row.key].groups)
        row.verdict = detect.regressed(e, row.better, band=band, alpha=ALPHA)
    return rows
