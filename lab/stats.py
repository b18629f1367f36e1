"""Statistics for benchmark figures: medians with bootstrap intervals, ratios, verdicts.

Samples come in groups, one per repetition (each repetition is a separate pytest-benchmark
measurement with its own calibration). Intervals use a two-level bootstrap: resample the
repetitions, then the rounds inside each one, so run-to-run drift widens the interval instead
of hiding behind thousands of correlated rounds. A comparison's ratio is impl / baseline of
the medians; its interval comes from the two bootstrap distributions drawn independently.
A difference is called only when the 95% interval of the ratio excludes 1, and, for timed
metrics, lies wholly outside a noise band around 1 (default ±1%, as criterion does): shared
machines drift by about that much between measurements of the very same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
DRAWS_PER_GROUP = 100
CONFIDENCE = 0.95
NOISE = 0.01


@dataclass(frozen=True)
class Summary:
    """Median of all samples with its bootstrap interval; ``boot`` is the distribution."""

    median: float
    ci_low: float
    ci_high: float
    n: int
    boot: np.ndarray


@dataclass(frozen=True)
class Comparison:
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def bootstrap_medians(groups: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """Medians of ``RESAMPLES`` two-level resamples of ``groups`` (each group equal weight)."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    assert groups, "bootstrap needs at least one non-empty group"
    rng = _rng(seed)
    r = len(groups)
    m = min(DRAWS_PER_GROUP, max(len(g) for g in groups))
    sizes = np.array([len(g) for g in groups])
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    flat = np.concatenate(groups)
    picked = rng.integers(0, r, size=(RESAMPLES, r)) if r > 1 else np.zeros((RESAMPLES, 1), int)
    u = rng.random((RESAMPLES, r, m))
    idx = offsets[picked][..., None] + (u * sizes[picked][..., None]).astype(int)
    return np.median(flat[idx].reshape(RESAMPLES, r * m), axis=1)


def summarize(groups: list[np.ndarray], seed: int = 0) -> Summary:
    """Median and 95% bootstrap interval of all samples in ``groups``."""
    flat = np.concatenate([np.asarray(g, dtype=float) for g in groups])
    n = int(flat.size)
    assert n > 0, "summarize needs samples"
    med = float(np.median(flat))
    if n == 1 or np.all(flat == flat[0]):
        return Summary(med, med, med, n, np.full(RESAMPLES, med))
    boot = bootstrap_medians(groups, seed)
    alpha = (1 - CONFIDENCE) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return Summary(med, float(min(lo, med)), float(max(hi, med)), n, boot)


def verdict(ci_low: float, ci_high: float, better: str, noise: float = 0.0) -> str:
    """``better``/``worse``/``same`` for the impl whose ratio interval is given: a side is
    called only when the whole interval lies beyond ``1 ± noise``."""
    assert better in ("higher", "lower") and noise >= 0
    if ci_low > 1.0 + noise:
        return "better" if better == "higher" else "worse"
    if ci_high < 1.0 / (1.0 + noise):
        return "worse" if better == "higher" else "better"
    return "same"


def compare(impl: Summary, base: Summary, impl_flat: np.ndarray, base_flat: np.ndarray,
            better: str, noise: float = NOISE) -> Comparison:
    """Ratio impl/baseline of medians, its 95% interval, Mann-Whitney U p-value, verdict.

    Deterministic metrics (one sample each side) get an exact ratio, no p-value and no noise
    band: any difference is real.
    """
    if base.median == 0 or not math.isfinite(base.median):
        return Comparison(math.nan, math.nan, math.nan, math.nan, "same")
    ratio = impl.median / base.median
    if impl.n == 1 and base.n == 1:
        same = math.isclose(ratio, 1.0, rel_tol=1e-9)
        v = "same" if same else verdict(ratio, ratio, better)
        return Comparison(ratio, ratio, ratio, math.nan, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = impl.boot / base.boot
    ratios = ratios[np.isfinite(ratios)]
    alpha = (1 - CONFIDENCE) / 2
    lo, hi = (np.quantile(ratios, [alpha, 1 - alpha]) if ratios.size else (math.nan, math.nan))
    lo, hi = float(min(lo, ratio)), float(max(hi, ratio))
    p = math.nan
    if impl_flat.size > 1 and base_flat.size > 1:
        from scipy import stats as sps  # imported on use: bench processes start faster

        p = float(sps.mannwhitneyu(impl_flat, base_flat, alternative="two-sided").pvalue)
    return Comparison(ratio, lo, hi, p, verdict(lo, hi, better, noise))
