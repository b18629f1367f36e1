"""Deciding "regressed" for one benchmark, and for many at once, on noisy shared machines.

Method. A benchmark's baseline and current samples are compared by a ratio current /
baseline with a 95% percentile-bootstrap interval (``lab.stats.RESAMPLES`` resamples from a
seeded generator, so the result is deterministic) and a two-sided Mann-Whitney U p-value.
The samples come in groups (the repetitions of one bench process), and repetitions are not
independent: a burst of load on a shared machine slows every repetition of the process it
hits, so resampling them one by one gives an interval too narrow by up to the square root of
the group size, and wrong verdicts. The bootstrap therefore resamples whole groups. When the
two sides ran paired (``paired``: a group label names a round, in which one process of each
side ran back to back, in random order), the ratio is the median over rounds of the
per-round ratio of process medians, and the bootstrap resamples rounds: load that lasts a
round falls on both sides and cancels, which is the point of interleaving. Otherwise the
ratio is that of the two sides' medians, each side resampled on its own (values, or whole
groups when labelled). The p-value ranks repetitions, as Mann-Whitney asks; the interval,
which must lie wholly beyond the band, is the binding condition. One CI run tests many
benchmarks, so the p-values are corrected together by Benjamini & Hochberg (1995) into
q-values (false discovery rate). A timed benchmark is called regressed only when

* its whole ratio interval lies beyond a noise band [1 - w, 1 + w] on the bad side, and
* its q-value (the p-value if uncorrected) is below ``alpha``;

"improvement" is the mirror image and anything else is "no change". The band comes from A/A
comparisons of identical builds (``calibrate``): w is the larger of a floor and the
``quantile`` quantile of |ratio - 1| over the A/A pairs, the drift between checks of the same
code. (The interval's own width is not added: the check already asks the whole interval to
clear the band, and counting the width twice would hide real changes.) The floor (0.5% by
default, like criterion's noise threshold) keeps a band calibrated on a quiet day from
becoming zero. Deterministic metrics (instruction counts) skip the statistics:
``regressed_exact`` calls any relative change beyond a threshold. ``min_detectable`` gives the
smallest relative change a sample size can detect, by the normal approximation
(z_{1-alpha/2} + z_power) * sqrt(2) * cv / sqrt(n) with a robust (MAD-based) coefficient of
variation, never below the noise band; with groups, n counts processes and cv is that of
their medians.

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


def _clusters(x: np.ndarray, groups: Sequence[object] | None, name: str) -> np.ndarray | None:
    """``x`` as a (groups, largest group) matrix padded with NaN, in first-seen group order;
    None when there are no groups to respect (none given, one group, or all of size 1)."""
    if groups is None:
        return None
    if len(groups) != x.size:
        raise ValueError(f"{name} has {x.size} samples but {len(groups)} group labels")
    members: dict[object, list[float]] = {}
    for g, v in zip(groups, x, strict=True):
        members.setdefault(g, []).append(float(v))
    width = max(len(v) for v in members.values())
    if len(members) < 2 or width == 1:
        return None
    out = np.full((len(members), width), np.nan)
    for i, values in enumerate(members.values()):
        out[i, :len(values)] = values
    return out


def _draw(n: int, rng: np.random.Generator) -> np.ndarray:
    """``RESAMPLES`` bootstrap draws of ``n`` indices out of ``n``."""
    return rng.integers(0, n, size=(RESAMPLES, n))


def _boot_medians(x: np.ndarray, rng: np.random.Generator,
                  clusters: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap medians of ``x``: resampling values, or whole clusters when given."""
    if clusters is None:
        return np.median(x[_draw(x.size, rng)], axis=1)
    draws = clusters[_draw(clusters.shape[0], rng)].reshape(RESAMPLES, -1)
    return np.nanmedian(draws, axis=1) if np.isnan(clusters).any() else np.median(draws, axis=1)


def _boot_ratios(base: np.ndarray, cur: np.ndarray, base_cl: np.ndarray | None,
                 cur_cl: np.ndarray | None, seed: int) -> np.ndarray:
    """Bootstrap ratios of medians, each side resampled on its own (values or clusters)."""
    rng_base, rng_cur = np.random.default_rng(seed).spawn(2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = _boot_medians(cur, rng_cur, cur_cl) / _boot_medians(base, rng_base, base_cl)
    return ratios[np.isfinite(ratios)]


def _group_medians(x: np.ndarray, groups: Sequence[object] | None) -> dict[object, float]:
    """The median of each group of ``x``, by label in first-seen order; empty without groups."""
    members: dict[object, list[float]] = {}
    for g, v in zip(groups or (), x, strict=False):
        members.setdefault(g, []).append(float(v))
    return {g: float(np.median(v)) for g, v in members.items()}


def _round_ratios(base: np.ndarray, cur: np.ndarray, base_groups: Sequence[object] | None,
                  cur_groups: Sequence[object] | None) -> np.ndarray | None:
    """Ratios of the current to the baseline group median, over the labels both sides have
    (a label names a round), when there are at least 2 and no baseline median is 0."""
    base_meds = _group_medians(base, base_groups)
    cur_meds = _group_medians(cur, cur_groups)
    common = [g for g in base_meds if g in cur_meds]
    if len(common) < 2 or any(base_meds[g] == 0 for g in common):
        return None
    return np.array([cur_meds[g] / base_meds[g] for g in common])


def _mwu_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    p = float(sps.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p  # all values tied: no evidence of a difference


def effect(baseline: Sequence[float], current: Sequence[float], *, seed: int = 0,
           base_groups: Sequence[object] | None = None,
           cur_groups: Sequence[object] | None = None, paired: bool = False) -> Effect:
    """Ratio median(current) / median(baseline), its 95% bootstrap interval (resampling whole
    groups where ``*_groups`` label each sample's group, e.g. its bench process) and MWU p.
    With ``paired`` (a label names a round, and the two sides' groups of one label ran back to
    back) and at least 2 labels on both sides, the ratio is the median over those rounds of the
    per-round ratio of group medians, resampled by round."""
    base, cur = _samples(baseline, "baseline"), _samples(current, "current")
    base_cl = _clusters(base, base_groups, "baseline")
    cur_cl = _clusters(cur, cur_groups, "current")
    base_med = float(np.median(base))
    if base_med == 0:
        raise ValueError("baseline median is 0: the ratio is undefined")
    rounds = _round_ratios(base, cur, base_groups, cur_groups) if paired else None
    if rounds is not None:
        ratio = float(np.median(rounds))
        rng = np.random.default_rng(seed)
        ratios = np.median(rounds[_draw(rounds.size, rng)], axis=1)
    else:
        ratio = float(np.median(cur)) / base_med
        ratios = _boot_ratios(base, cur, base_cl, cur_cl, seed)
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
              quantile: float = 0.95, floor: float = 0.005,
              groups: Sequence[tuple[Sequence[object], Sequence[object]]] | None = None,
              paired: bool = False) -> NoiseBand:
    """Noise band from A/A pairs (two runs of an identical build), see the module doc;
    ``groups``, parallel to ``aa_pairs``, and ``paired`` are as for ``effect``."""
    if not aa_pairs:
        raise ValueError("calibrate needs at least one A/A pair")
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], not {quantile}")
    if groups is not None and len(groups) != len(aa_pairs):
        raise ValueError(f"{len(aa_pairs)} A/A pairs but {len(groups)} group labellings")
    labels = groups if groups is not None else [(None, None)] * len(aa_pairs)
    ratios = np.array([effect(a, b, seed=i, base_groups=ga, cur_groups=gb, paired=paired).ratio
                       for i, ((a, b), (ga, gb)) in enumerate(zip(aa_pairs, labels,
                                                                  strict=True))])
    drift = float(np.quantile(np.abs(ratios - 1), quantile))
    return NoiseBand(max(floor, drift), tuple(float(r) for r in ratios))


def min_detectable(baseline: Sequence[float], *, n: int | None = None, alpha: float = 0.05,
                   power: float = 0.8, band: NoiseBand | None = None,
                   groups: Sequence[object] | None = None) -> float:
    """Smallest relative change detectable with ``power`` at two-sided level ``alpha`` with
    ``n`` samples a side (default: as many as ``baseline`` has); at least the band's width.
    With ``groups`` (as for ``effect``) the unit is the group: its median is one sample."""
    x = _samples(baseline, "baseline")
    clusters = _clusters(x, groups, "baseline")
    if clusters is not None:
        x = np.nanmedian(clusters, axis=1)
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
