"""The metric formulas, checked against scikit-learn's and against counts made by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from diamonds_mlflow import metrics, schema


def test_regression_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    actual = rng.uniform(300, 19000, 500)
    predicted = actual * rng.normal(1, 0.1, 500)
    scores = metrics.regression(actual, predicted)
    assert scores["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(actual, predicted)))
    assert scores["mae"] == pytest.approx(sk.mean_absolute_error(actual, predicted))
    assert scores["r2"] == pytest.approx(sk.r2_score(actual, predicted))
    assert scores["mape"] == pytest.approx(sk.mean_absolute_percentage_error(actual, predicted))


def test_perfect_predictions_score_perfectly():
    actual = np.array([400.0, 1000.0, 5000.0])
    assert metrics.regression(actual, actual) == {"rmse": 0.0, "mae": 0.0, "r2": 1.0, "mape": 0.0}


def test_interval_coverage_counts_the_ends_as_inside_and_splits_by_cut():
    actual = np.array([100.0, 200.0, 300.0, 400.0])
    low = np.array([100.0, 250.0, 250.0, 300.0])  # row 1 is below its interval
    high = np.array([150.0, 300.0, 300.0, 350.0])  # row 3 is above its interval
    cut = np.array([0, 0, 4, 4])  # Fair, Fair, Ideal, Ideal
    scores = metrics.interval(actual, low, high, cut)
    assert scores["interval_coverage"] == 0.5
    assert scores["interval_coverage_cut_fair"] == 0.5
    assert scores["interval_coverage_cut_ideal"] == 0.5
    # Cuts with no rows get no metric rather than a NaN.
    assert "interval_coverage_cut_good" not in scores
    widths = (high - low) / ((high + low) / 2)
    assert scores["interval_relative_width"] == pytest.approx(widths.mean())


def test_every_cut_has_a_metric_name_mlflow_accepts():
    cut = np.arange(len(schema.CATEGORIES["cut"].levels))
    ones = np.ones(len(cut))
    names = [k for k in metrics.interval(ones, ones, ones, cut) if "_cut_" in k]
    assert len(names) == len(cut)
    assert all(name.replace("_", "").isalnum() for name in names)
