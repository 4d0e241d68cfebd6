"""What a buyer would call absurd must never happen, and the price ranges must be honest.

All checks run on the real held-out rows of the default split.
"""

from __future__ import annotations

import numpy as np
import pytest

from diamonds_mlflow import features, metrics, schema

from .conftest import BEHAVIOUR_PARAMS

CARAT = schema.FEATURE_NAMES.index("carat")
# Better colour or clarity at equal carat may not lower the price at all: both grades carry
# a monotone constraint in every tree of both blended models, so the tolerance is zero.
GRADE_TOLERANCE = 0.0


def with_column(x: np.ndarray, column: int, values: np.ndarray) -> np.ndarray:
    changed = x.copy()
    changed[:, column] = values
    return changed


@pytest.mark.parametrize("growth", [1.01, 1.05, 1.20])
def test_heavier_stone_is_never_priced_lower(fitted, held_out, growth):
    x, _ = held_out
    before = fitted.predict(x)
    after = fitted.predict(with_column(x, CARAT, x[:, CARAT] * growth))
    for name, old, new in zip(schema.PREDICTIONS, before, after):
        lower = np.flatnonzero(new < old)
        assert lower.size == 0, f"{name} fell for {lower.size} rows, e.g. row {lower[:5]}"
    # Not vacuous: a fifth more carat moves most prices.
    assert np.mean(after[0] > before[0]) > (0.5 if growth == 1.20 else 0.0)


@pytest.mark.parametrize("grade", ["color", "clarity"])
def test_better_grade_at_equal_carat_never_lowers_the_price(fitted, held_out, grade):
    x, _ = held_out
    column = schema.FEATURE_NAMES.index(grade)
    best = len(schema.CATEGORIES[grade].levels) - 1
    upgradable = x[:, column] < best
    rows = x[upgradable]
    before, _, _ = fitted.predict(rows)
    after, _, _ = fitted.predict(with_column(rows, column, rows[:, column] + 1))
    worst_drop = np.max((before - after) / before)
    assert worst_drop <= GRADE_TOLERANCE
    assert np.median(after / before) > 1.0  # a better grade is, typically, worth more


def test_interval_coverage_is_nominal_overall_and_within_each_cut(fitted, held_out):
    x, price = held_out
    _, low, high = fitted.predict(x)
    scores = metrics.interval(price, low, high, features.cut_codes(x))
    nominal = BEHAVIOUR_PARAMS.interval
    assert abs(scores["interval_coverage"] - nominal) <= 0.02
    per_cut = {k: v for k, v in scores.items() if k.startswith("interval_coverage_cut_")}
    assert len(per_cut) == len(schema.CATEGORIES["cut"].levels)
    off = {k: round(v, 3) for k, v in per_cut.items() if abs(v - nominal) > 0.05}
    assert not off, f"coverage more than 5 points from {nominal}: {off}"


def test_interval_contains_the_prediction(fitted, held_out):
    price, low, high = fitted.predict(held_out[0])
    assert np.all(low <= price) and np.all(price <= high)
    assert np.all(low > 0)
