"""Deciding "regressed" for one benchmark, and for many at once, on noisy shared machines.

Method. A benchmark's baseline and current samples are compared by the ratio of medians
current / baseline, with a 95% percentile-bootstrap interval (each side resampled on its own,
``lab.stats.RESAMPLES`` times, from one seeded generator split into two independent streams,
so the result is deterministic) and a two-sided Mann-Whitney U p-value. One CI run tests many
benchmarks, so the p-values are corrected together by Benjamini & Hochberg (1995) into
q-values (false discovery rate). A timed benchmark is called regressed only when

* its whole ratio interval lies beyond a noise band [1 - w, 1 + w] on the bad side, and
* its q-value (the p-value if uncorrected) is below ``alpha``;

"improvement" is the mirror image and anything else is "no change". The band comes from A/A
comparisons of identical builds (``calibrate``): w is the largest of a floor, the ``quantile``
quantile of |ratio - 1| over the A/A pairs (drift between runs of the same code, which no
within-run interval sees) and the same quantile of the A/A bootstrap interval half-widths
(what one comparison can resolve at all). Taking the larger keeps either noise source from
being called a change; the floor (0.5% by default, like criterion's noise threshold) keeps a
band calibrated on a quiet day from becoming zero. Deterministic metrics (instruction counts)
skip the statistics: ``regressed_exact`` calls any relative change beyond a threshold.
``min_detectable`` gives the smallest relative change a sample size can detect, by the normal
approximation (z_{1-alpha/2} + z_power) * sqrt(2) * cv / sqrt(n) with a robust (MAD-based)
coefficient of variation, never below the noise band.

Contract. ``effect`` raises ``ValueError`` on fewer than 2 samples a side, non-finite values
or a zero baseline median; ``correct`` returns new ``Effect``s with ``qvalue`` set, in input
order; ``regressed`` and ``regressed_exact`` return "regression", "improvement" or
"no change" and raise ``ValueError`` unless ``better`` is "higher" or "lower".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as sps

from lab.stats import CONFIDENCE, RESAMPLES

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NO_CHANGE = "no change"
BETTER = ("higher", "lower")


@dataclass(frozen=True)
class Effect:
    """current / baseline ratio of medians, its bootstrap interval, MWU p and BH q."""

    ratio: float
    ci_low: float
    ci_high: float
    pvalue: float
    qvalue: float | None = None


@dataclass(frozen=True)
class NoiseBand:
    """Ratios within [1 - half_width, 1 + half_width] are noise."""

    half_width: float
    aa_ratios: tuple[float, ...]


def _samples(values: Sequence[float], name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {x.size}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"{name} sample {int(bad[0])} is not finite: {x[bad[0]]}")
    return x


def _check_better(better: str) -> None:
    if better not in BETTER:
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")


def _boot_medians(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.median(x[rng.integers(0, x.size, size=(RESAMPLES, x.size))], axis=1)


def _mwu_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    p = float(sps.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p  # all values tied: no evidence of a difference


def effect(baseline: Sequence[float], current: Sequence[float], *, seed: int = 0) -> Effect:
    """Ratio median(current) / median(baseline), its 95% bootstrap interval and MWU p."""
    base, cur = _samples(baseline, "baseline"), _samples(current, "current")
    base_med = float(np.median(base))
    if base_med == 0:
        raise ValueError("baseline median is 0: the ratio is undefined")
    ratio = float(np.median(cur)) / base_med
    rng_base, rng_cur = np.random.default_rng(seed).spawn(2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = _boot_medians(cur, rng_cur) / _boot_medians(base, rng_base)
    ratios = ratios[np.isfinite(ratios)]
    tail = (1 - CONFIDENCE) / 2
    lo, hi = np.quantile(ratios, [tail, 1 - tail]) if ratios.size else (ratio, ratio)
    return Effect(ratio, float(min(lo, ratio)), float(max(hi, ratio)), _mwu_pvalue(base, cur))


def correct(effects: Sequence[Effect]) -> list[Effect]:
    """The same effects, in order, with Benjamini-Hochberg q-values across all of them."""
    if not effects:
        return []
    q = sps.false_discovery_control([e.pvalue for e in effects], method="bh")
    return [replace(e, qvalue=float(qi)) for e, qi in zip(effects, q, strict=True)]


def calibrate(aa_pairs: Sequence[tuple[Sequence[float], Sequence[float]]], *,
              quantile: float = 0.95, floor: float = 0.005) -> NoiseBand:
    """Noise band from A/A pairs (two runs of an identical build), see the module doc."""
    if not aa_pairs:
        raise ValueError("calibrate needs at least one A/A pair")
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], not {quantile}")
    effects = [effect(a, b, seed=i) for i, (a, b) in enumerate(aa_pairs)]
    ratios = np.array([e.ratio for e in effects])
    halves = np.array([(e.ci_high - e.ci_low) / 2 for e in effects])
    drift = float(np.quantile(np.abs(ratios - 1), quantile))
    resolution = float(np.quantile(halves, quantile))
    return NoiseBand(max(floor, drift, resolution), tuple(float(r) for r in ratios))


def min_detectable(baseline: Sequence[float], *, n: int | None = None, alpha: float = 0.05,
                   power: float = 0.8, band: NoiseBand | None = None) -> float:
    """Smallest relative change detectable with ``power`` at two-sided level ``alpha`` with
    ``n`` samples a side (default: as many as ``baseline`` has); at least the band's width."""
    x = _samples(baseline, "baseline")
    n = x.size if n is None else n
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must be in (0, 1), not {alpha} and {power}")
    med = float(np.median(x))
    if med == 0:
        raise ValueError("baseline median is 0: relative changes are undefined")
    cv = float(sps.median_abs_deviation(x, scale="normal")) / abs(med)
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    mde = float(z * math.sqrt(2) * cv / math.sqrt(n))
    return max(mde, band.half_width) if band is not None else mde


def _direction(beyond_high: bool, beyond_low: bool, better: str) -> str:
    if beyond_high:
        return REGRESSION if better == "lower" else IMPROVEMENT
    if beyond_low:
        return IMPROVEMENT if better == "lower" else REGRESSION
    return NO_CHANGE


def regressed(e: Effect, better: str, *, band: NoiseBand, alpha: float = 0.05) -> str:
    """Verdict for a timed metric: a change is called when the whole ratio interval lies
    beyond ``band`` on one side and q (p when uncorrected) is below ``alpha``."""
    _check_better(better)
    p = e.qvalue if e.qvalue is not None else e.pvalue
    if not p < alpha:
        return NO_CHANGE
    w = band.half_width
    return _direction(e.ci_low > 1 + w, e.ci_high < 1 - w, better)


def regressed_exact(baseline: float, current: float, better: str, *,
                    threshold: float = 0.005) -> str:
    """Verdict for a deterministic metric: any relative change beyond ``threshold``."""
    _check_better(better)
    if baseline == 0 or not (math.isfinite(baseline) and math.isfinite(current)):
        raise ValueError(f"cannot compare {current} with baseline {baseline}")
    change = current / baseline - 1
    return _direction(change > threshold, change < -threshold, better)
