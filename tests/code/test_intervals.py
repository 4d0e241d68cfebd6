"""Split-conformal intervals: folds, and per-cut offsets that cover what they promise."""

from __future__ import annotations

import numpy as np

from diamonds_mlflow import schema
from diamonds_mlflow.intervals import fold_ids, interval_offsets


def test_folds_are_balanced_reproducible_and_seeded():
    folds = fold_ids(1001, 3, seed=5)
    assert sorted(np.bincount(folds)) == [333, 334, 334]
    assert np.array_equal(folds, fold_ids(1001, 3, seed=5))
    assert not np.array_equal(folds, fold_ids(1001, 3, seed=6))


def test_offsets_cover_nominal_share_of_fresh_residuals_in_every_cut():
    rng = np.random.default_rng(1)
    n_cuts = len(schema.CATEGORIES["cut"].levels)
    spread = np.linspace(0.05, 0.25, n_cuts)  # each cut errs by its own amount
    cuts = rng.integers(0, n_cuts, 40000)
    calibration = rng.normal(0, spread[cuts])
    offsets = interval_offsets(calibration, cuts, 0.8)
    fresh_cuts = rng.integers(0, n_cuts, 40000)
    fresh = rng.normal(0, spread[fresh_cuts])
    inside = (fresh >= offsets[fresh_cuts, 0]) & (fresh <= offsets[fresh_cuts, 1])
    for cut in range(n_cuts):
        assert abs(inside[fresh_cuts == cut].mean() - 0.8) < 0.02
    assert np.all(np.diff(offsets[:, 1]) > 0)  # wider where the errors are larger


def test_a_cut_too_rare_to_calibrate_borrows_all_residuals():
    residuals = np.linspace(-1, 1, 1001)
    cuts = np.zeros(1001, dtype=int)
    cuts[:5] = 1  # only five rows of cut 1
    offsets = interval_offsets(residuals, cuts, 0.5)
    assert np.allclose(offsets[1], np.quantile(residuals, [0.25, 0.75]), atol=0.01)
