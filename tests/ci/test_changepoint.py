"""E-divisive change points with Otava's t-test, on synthetic series with known steps."""

from __future__ import annotations

import numpy as np
import pytest

from lab.ci.changepoint import ChangePoint, best_split, change_points, retest

LEVEL = 100.0
NOISE = 0.01


def noisy(n: int, seed: int = 0) -> np.ndarray:
    """``n`` points around ``LEVEL`` with ``NOISE`` relative Gaussian noise."""
    return LEVEL * (1 + NOISE * np.random.default_rng(seed).standard_normal(n))


def assert_consistent(series: np.ndarray, points: list[ChangePoint], max_pvalue: float = 0.001,
                      min_magnitude: float = 0.0) -> None:
    """Each point's figures describe its neighbouring segments and pass the criteria."""
    bounds = [0, *(p.index for p in points), len(series)]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds)
    for i, p in enumerate(points):
        before, after = series[bounds[i]:p.index], series[p.index:bounds[i + 2]]
        assert p.before == pytest.approx(before.mean())
        assert p.after == pytest.approx(after.mean())
        assert p.change == pytest.approx(after.mean() / before.mean() - 1)
        assert p.pvalue < max_pvalue and abs(p.change) >= min_magnitude


def test_best_split_maximises_the_energy_divergence_computed_by_brute_force() -> None:
    x = noisy(17, seed=5)

    def q(t: int) -> float:
        a, b = x[:t], x[t:]
        n, m = a.size, b.size
        cross = np.abs(a[:, None] - b[None, :]).sum()
        within_a = np.abs(a[:, None] - a[None, :]).sum() / 2
        within_b = np.abs(b[:, None] - b[None, :]).sum() / 2
        e = 2 * cross / (n * m) - within_a / (n * (n - 1) / 2) - within_b / (m * (m - 1) / 2)
        return n * m / (n + m) * e

    qs = {t: q(t) for t in range(3, 15)}
    tau, value = best_split(x, 3)
    assert tau == max(qs, key=qs.__getitem__)
    assert value == pytest.approx(qs[tau])


def test_flat_noisy_series_has_no_change_point() -> None:
    assert change_points(noisy(60)) == []


def test_a_ten_percent_step_is_found_where_it_is() -> None:
    x = noisy(60)
    x[30:] *= 1.10
    [p] = change_points(x)
    assert abs(p.index - 30) <= 1
    assert p.change == pytest.approx(0.10, abs=0.01)
    assert p.pvalue < 1e-10
    assert_consistent(x, [p])


def test_a_step_up_then_down_gives_two_change_points() -> None:
    x = noisy(60, seed=1)
    x[20:40] *= 1.10
    points = change_points(x)
    assert [p.index for p in points] == pytest.approx([20, 40], abs=1)
    assert points[0].change == pytest.approx(0.10, abs=0.01)
    assert points[1].change == pytest.approx(1 / 1.10 - 1, abs=0.01)
    assert_consistent(x, points)


def test_a_significant_change_below_min_magnitude_is_not_reported() -> None:
    x = noisy(600, seed=3)
    x[300:] *= 1.005  # 0.5% step, 1% noise: significant with 300 points a side
    found = change_points(x)
    assert len(found) == 1 and found[0].pvalue < 0.001
    assert abs(found[0].change) < 0.02
    assert change_points(x, min_magnitude=0.02) == []


def test_a_single_outlier_is_not_a_change_point() -> None:
    x = noisy(60, seed=2)
    x[30] *= 1.5
    assert change_points(x) == []


def test_short_series_has_no_change_points() -> None:
    assert change_points([1.0, 1.0, 5.0, 5.0, 5.0]) == []
    assert change_points([1.0, 1.0, 5.0, 5.0], min_size=2)[0].index == 2
    assert change_points([]) == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_values_are_refused_with_their_index(bad: float) -> None:
    x = noisy(20)
    x[7] = bad
    with pytest.raises(ValueError, match="index 7"):
        change_points(x)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="min_size"):
        change_points(noisy(20), min_size=1)
    with pytest.raises(ValueError, match="max_pvalue"):
        change_points(noisy(20), max_pvalue=0)


def test_five_hundred_points_with_three_regimes() -> None:
    x = noisy(500, seed=4)
    x[150:] *= 1.10
    x[350:] *= 0.95
    points = change_points(x)
    assert [p.index for p in points] == pytest.approx([150, 350], abs=1)
    assert_consistent(x, points)


def test_retest_keeps_only_points_that_pass_against_their_neighbours() -> None:
    x = noisy(300, seed=6)
    x[100:] *= 1.03
    x[200:] *= 1.03
    for min_magnitude in (0.0, 0.02, 0.05):
        points = change_points(x, min_magnitude=min_magnitude)
        assert_consistent(x, points, min_magnitude=min_magnitude)
    assert [p.index for p in change_points(x)] == pytest.approx([100, 200], abs=2)
    assert change_points(x, min_magnitude=0.05) == []


def test_retest_drops_candidates_that_fail_against_their_neighbours() -> None:
    x = noisy(60, seed=7)
    x[30:] *= 1.10
    kept = retest(x, [10, 20, 30, 40, 50])
    assert [p.index for p in kept] == [30]
    assert kept == change_points(x)


def test_retest_applies_min_magnitude_and_checks_indices() -> None:
    x = noisy(90, seed=8)
    x[30:] *= 1.10
    x[60:] *= 1.02
    assert [p.index for p in retest(x, [30, 60])] == [30, 60]
    [kept] = retest(x, [30, 60], min_magnitude=0.05)
    assert kept.index == 30 and kept.after == pytest.approx(x[30:].mean())
    with pytest.raises(ValueError, match="indices"):
        retest(x, [0, 30])
