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


def _processes(rng: np.random.Generator, k: int = 6, reps: int = 3,
               first: int = 0) -> tuple[list[float], list[int]]:
    """``k`` bench processes of ``reps`` repetitions: each process runs at its own level (a
    burst of load slows all its repetitions), repetitions barely differ within it."""
    levels = rng.normal(1.0, 0.05, k)
    values = [float(level * rng.normal(1.0, 0.002)) for level in levels for _ in range(reps)]
    return values, [first + i for i in range(k) for _ in range(reps)]


def test_the_interval_resamples_whole_processes() -> None:
    """A/A comparisons whose noise is between processes: the interval that resamples
    repetitions one by one misses 1 far more often than 5% of the time; the one that
    resamples processes keeps close to its 95% coverage and is wider."""
    rng = np.random.default_rng(1)
    plain = grouped = 0
    for i in range(100):
        (a, ga), (b, gb) = _processes(rng), _processes(rng, first=100)
        p = effect(a, b, seed=i)
        c = effect(a, b, seed=i, base_groups=ga, cur_groups=gb)
        assert c.ratio == p.ratio and c.pvalue == p.pvalue
        assert c.ci_high - c.ci_low > p.ci_high - p.ci_low
        plain += p.ci_low <= 1 <= p.ci_high
        grouped += c.ci_low <= 1 <= c.ci_high
    assert plain < 88 and grouped >= 92


def test_groups_of_one_or_a_single_group_change_nothing() -> None:
    rng = np.random.default_rng(2)
    a, b = samples(rng, 12), samples(rng, 12, 1.05)
    plain = effect(a, b, seed=3)
    assert effect(a, b, seed=3, base_groups=range(12), cur_groups=range(12)) == plain
    assert effect(a, b, seed=3, base_groups=[7] * 12, cur_groups=[8] * 12) == plain


def test_uneven_groups_are_resampled_whole() -> None:
    """Processes with different numbers of values (one lost a repetition) still work."""
    a = [1.0, 1.01, 1.02, 1.1, 1.11, 0.95]
    ga = [1, 1, 1, 2, 2, 3]
    e = effect(a, [x * 1.2 for x in a], base_groups=ga, cur_groups=ga)
    assert e.ratio == pytest.approx(1.2) and e.ci_low <= 1.2 <= e.ci_high


def test_group_labels_must_match_the_samples() -> None:
    with pytest.raises(ValueError, match="current has 3 samples but 2 group labels"):
        effect([1.0, 2.0], [1.0, 2.0, 3.0], cur_groups=[1, 2])
    with pytest.raises(ValueError, match="2 A/A pairs but 1 group labellings"):
        calibrate([([1.0, 1.1], [1.0, 1.1])] * 2, groups=[([1, 2], [3, 4])])


def test_the_band_is_the_aa_drift_not_the_interval_width() -> None:
    """Identical A/A sides (ratio exactly 1) with wide intervals give the floor: the check
    already asks the whole interval to clear the band, so its width is not added to it."""
    rng = np.random.default_rng(4)
    pairs = [(x, x.copy()) for x in (samples(rng, noise=0.2) for _ in range(10))]
    assert all(effect(a, b).ci_high - effect(a, b).ci_low > 0.05 for a, b in pairs[:2])
    assert calibrate(pairs, floor=0.005).half_width == 0.005
    shifted = [(a, b * f) for (a, b), f in zip(pairs, np.linspace(0.9, 1.1, 10), strict=True)]
    band = calibrate(shifted, quantile=1.0)
    assert band.half_width == pytest.approx(0.1)


def _rounds(rng: np.random.Generator, k: int, factor: float = 1.0, *, drift: float = 0.04,
            burst: float = 0.15, reps: int = 3) -> tuple[list[tuple], list[tuple]]:
    """``k`` interleaved rounds: each round's load (``drift``) slows both of its processes
    alike; a burst (probability ``burst``) slows one process by 20-25%; the current side's
    throughput is ``factor`` times the baseline's. Returns (values, round labels) a side."""
    levels = rng.normal(1.0, drift, k)

    def side(scale: float) -> tuple[list[float], list[int]]:
        values, labels = [], []
        for r, level in enumerate(levels):
            hit = rng.uniform(0.75, 0.8) if rng.random() < burst else 1.0
            for _ in range(reps):
                values.append(float(scale * level * hit * rng.normal(1, 0.003)))
                labels.append(r)
        return values, labels

    return side(1.0), side(factor)


def _check(rng: np.random.Generator, k: int, factor: float, *, paired: bool,
           seed: int) -> Effect:
    (a, ga), (b, gb) = _rounds(rng, k, factor)
    return effect(a, b, seed=seed, base_groups=ga, cur_groups=gb, paired=paired)


def test_paired_rounds_cancel_the_load_both_sides_of_a_round_share() -> None:
    """A 5% throughput loss under round-to-round load swings: the paired interval keeps its
    coverage of the true ratio and is narrower than the unpaired process-level one, so it
    catches the loss against a 3% band far more often, and neither ever calls it an
    improvement."""
    rng = np.random.default_rng(11)
    band, truth = NoiseBand(0.03, ()), 1 / 1.05
    caught = {True: 0, False: 0}
    covered = 0
    for i in range(150):
        for paired in (True, False):
            e = _check(rng, 10, truth, paired=paired, seed=i)
            verdict = regressed(e, "higher", band=band)
            assert verdict != "improvement", e
            caught[paired] += verdict == "regression"
            covered += paired and e.ci_low <= truth <= e.ci_high
    assert covered >= 0.9 * 150
    assert caught[True] >= 0.5 * 150 and caught[True] > 3 * caught[False]


def test_paired_aa_checks_rarely_leave_the_interval_off_one() -> None:
    rng = np.random.default_rng(12)
    covered = sum(e.ci_low <= 1 <= e.ci_high
                  for e in (_check(rng, 8, 1.0, paired=True, seed=i) for i in range(200)))
    assert covered >= 0.9 * 200


def test_pairs_are_matched_by_round_label_not_position() -> None:
    """Rounds listed in another order, and a round the current side lost, still pair: the
    ratio is the median of per-round ratios over the rounds both sides have."""
    base = [10.0, 10.0, 20.0, 20.0, 40.0, 40.0]
    labels = [1, 1, 2, 2, 3, 3]
    cur = [44.0, 22.0, 22.0]  # rounds 3, 2 and 2: round 1 lost; each 10% above its pair
    e = effect(base, cur, base_groups=labels, cur_groups=[3, 2, 2], paired=True)
    assert e.ratio == pytest.approx(1.1) and e.ci_low == pytest.approx(1.1)
    unpaired = effect(base, cur, base_groups=labels, cur_groups=[3, 2, 2])
    assert unpaired.ratio == pytest.approx(22.0 / 20.0)
    assert unpaired.ci_high - unpaired.ci_low > 0.5


def test_fewer_than_two_common_rounds_fall_back_to_the_unpaired_ratio() -> None:
    a, b = [1.0, 1.1, 1.2, 1.3], [1.2, 1.3, 1.4, 1.5]
    alone = effect(a, b, base_groups=[1, 1, 2, 2], cur_groups=[2, 2, 3, 3], paired=True)
    assert alone == effect(a, b, base_groups=[1, 1, 2, 2], cur_groups=[2, 2, 3, 3])


def test_min_detectable_counts_processes_not_repetitions() -> None:
    """Three repetitions of one process add no independent information about the process's
    level: the smallest detectable change is that of the process medians, not sqrt(3) smaller."""
    rng = np.random.default_rng(7)
    values, groups = _processes(rng, k=8, reps=3)
    medians = [float(np.median(values[i:i + 3])) for i in range(0, 24, 3)]
    assert min_detectable(values, groups=groups) == pytest.approx(min_detectable(medians))
    assert min_detectable(values, groups=groups) > 1.5 * min_detectable(values)
