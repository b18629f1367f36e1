"""Regression decisions: bootstrap ratio effects, BH correction, A/A noise bands, power."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats as sps

from lab.ci.detect import (
    Effect,
    NoiseBand,
    calibrate,
    correct,
    effect,
    min_detectable,
    regressed,
    regressed_exact,
)

N = 30
NOISE = 0.01
BAND = NoiseBand(0.01, ())


def samples(rng: np.random.Generator, n: int = N, scale: float = 1.0,
            noise: float = NOISE) -> np.ndarray:
    """``n`` timings around ``scale`` with relative Gaussian noise."""
    return scale * (1 + noise * rng.standard_normal(n))


def aa_pairs(rng: np.random.Generator, count: int, noise: float = NOISE,
             drift: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """A/A pairs: two runs of one build, each run off by its own ``drift``-sized factor."""
    def run() -> np.ndarray:
        return samples(rng, scale=1 + drift * rng.standard_normal(), noise=noise)

    return [(run(), run()) for _ in range(count)]


def test_identical_distributions_give_no_effect() -> None:
    rng = np.random.default_rng(0)
    a = samples(rng)
    e = effect(a, samples(rng))
    assert e.ratio == pytest.approx(1, abs=3 * NOISE)
    assert e.ci_low <= 1 <= e.ci_high
    assert e.pvalue > 0.05 and e.qvalue is None
    same = effect(a, a.copy())
    assert same.ratio == 1 and same.ci_low <= 1 <= same.ci_high and same.pvalue == 1


def test_a_five_percent_shift_is_measured() -> None:
    rng = np.random.default_rng(1)
    e = effect(samples(rng), samples(rng, scale=1.05))
    assert e.ratio == pytest.approx(1.05, abs=0.01)
    assert 1 < e.ci_low <= e.ratio <= e.ci_high
    assert e.pvalue < 1e-6


def test_effect_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(2)
    a, b = samples(rng), samples(rng)
    assert effect(a, b, seed=3) == effect(a, b, seed=3)


@pytest.mark.parametrize(("baseline", "current", "message"), [
    ([1.0], [1.0, 2.0], "baseline needs at least 2"),
    ([1.0, 2.0], [1.0, float("nan")], "current sample 1"),
    ([0.0, 0.0, 1.0], [1.0, 2.0], "median is 0"),
])
def test_effect_refuses_bad_samples(baseline: list, current: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        effect(baseline, current)


def test_benjamini_hochberg_matches_a_hand_computation() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    q = [e.qvalue for e in correct([Effect(1.0, 1.0, 1.0, pi) for pi in p])]
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    expected = np.empty(m)
    expected[order] = np.minimum.accumulate(scaled[::-1])[::-1]
    assert q == pytest.approx(expected)
    assert all(qi >= pi for qi, pi in zip(q, p, strict=True))
    assert np.all(np.diff(np.array(q)[order]) >= 0)
    assert correct([]) == []


def test_calibrate_widens_with_noise_and_keeps_the_floor() -> None:
    rng = np.random.default_rng(4)
    loud = calibrate(aa_pairs(rng, 20, noise=0.05), floor=0.005)
    quiet = calibrate(aa_pairs(rng, 20, noise=1e-5), floor=0.005)
    assert loud.half_width > 0.005 and len(loud.aa_ratios) == 20
    assert quiet.half_width == 0.005
    with pytest.raises(ValueError):
        calibrate([])


def test_min_detectable_scales_with_one_over_sqrt_n_and_respects_the_band() -> None:
    rng = np.random.default_rng(5)
    base = samples(rng, n=100)
    assert min_detectable(base, n=100) / min_detectable(base, n=25) == pytest.approx(0.5)
    small, large = min_detectable(samples(rng, n=50)), min_detectable(samples(rng, n=800))
    assert large / small == pytest.approx(0.25, rel=0.3)
    assert min_detectable(base, band=NoiseBand(0.05, ())) == 0.05
    assert min_detectable(base, band=NoiseBand(1e-6, ())) == min_detectable(base)


def test_a_shift_of_the_min_detectable_size_is_detected_with_about_that_power() -> None:
    rng = np.random.default_rng(6)
    mde = min_detectable(samples(rng, n=5000), n=N, alpha=0.05, power=0.8)
    trials = 400
    hits = sum(
        sps.ttest_ind(samples(rng), samples(rng, scale=1 + mde)).pvalue < 0.05
        for _ in range(trials)
    )
    assert 0.65 < hits / trials < 0.95


def test_regressed_calls_a_significant_slowdown_beyond_the_band() -> None:
    rng = np.random.default_rng(7)
    slow = correct([effect(samples(rng), samples(rng, scale=1.05))])[0]
    assert slow.qvalue is not None and slow.qvalue < 0.05
    assert regressed(slow, "lower", band=BAND) == "regression"
    assert regressed(slow, "higher", band=BAND) == "improvement"
    assert regressed(replace(slow, qvalue=0.2), "lower", band=BAND) == "no change"
    uncorrected = replace(slow, qvalue=None, pvalue=0.2)
    assert regressed(uncorrected, "lower", band=BAND) == "no change"


def test_regressed_ignores_changes_inside_the_band() -> None:
    rng = np.random.default_rng(8)
    tiny = effect(samples(rng, n=2000), samples(rng, n=2000, scale=1.005))
    assert tiny.pvalue < 0.05 and tiny.ci_low > 1  # real, but within the band
    assert regressed(tiny, "lower", band=BAND) == "no change"


def test_regressed_calls_an_improvement() -> None:
    rng = np.random.default_rng(9)
    fast = effect(samples(rng), samples(rng, scale=0.95))
    assert regressed(fast, "lower", band=BAND) == "improvement"
    assert regressed(fast, "higher", band=BAND) == "regression"


def test_bad_better_is_refused_naming_the_valid_values() -> None:
    with pytest.raises(ValueError, match="'higher' or 'lower'"):
        regressed(Effect(1.0, 1.0, 1.0, 1.0), "faster", band=BAND)
    with pytest.raises(ValueError, match="'higher' or 'lower'"):
        regressed_exact(1.0, 1.0, "less")


def test_regressed_exact_uses_the_threshold() -> None:
    base = 1_000_000
    assert regressed_exact(base, base * 1.004, "lower", threshold=0.005) == "no change"
    assert regressed_exact(base, base * 1.006, "lower", threshold=0.005) == "regression"
    assert regressed_exact(base, base * 0.994, "lower", threshold=0.005) == "improvement"
    assert regressed_exact(base, base * 1.006, "higher", threshold=0.005) == "improvement"
    assert regressed_exact(base, base * 0.994, "higher", threshold=0.005) == "regression"


@pytest.mark.parametrize("drift", [0.0, 0.005])
def test_aa_comparisons_rarely_raise_false_alarms(drift: float) -> None:
    rng = np.random.default_rng(10)
    band = calibrate(aa_pairs(rng, 50, drift=drift))
    pairs = aa_pairs(rng, 200, drift=drift)
    judged = correct([effect(a, b, seed=i) for i, (a, b) in enumerate(pairs)])
    verdicts = [regressed(e, "lower", band=band) for e in judged]
    assert verdicts.count("regression") <= 0.02 * len(verdicts)
    if drift:  # run-to-run drift fools the test alone; the calibrated band absorbs it
        assert sum(e.qvalue < 0.05 for e in judged) > 0.2 * len(judged)
