"""The fuzzing part of `lab ci` (`lab.ci.fuzzgate`): crash triage keeps close to the budget.
Which crashes are new is tested end to end in test_ci_cmd.py."""

from __future__ import annotations

import pytest

from lab.ci.fuzzgate import minimize_seconds


@pytest.mark.parametrize(("share", "minimize"), [(3.0, 1), (7.0, 1), (20.0, 5), (300.0, 10)])
def test_ci_fuzzing_minimizes_crashes_within_a_quarter_of_the_share(share: float,
                                                                   minimize: int) -> None:
    assert minimize_seconds(share) == minimize
