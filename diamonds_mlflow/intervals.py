"""Split-conformal price intervals: which fold calibrates each row, and per-cut error quantiles."""

from __future__ import annotations

import numpy as np

from diamonds_mlflow import schema


def fold_ids(n_rows: int, n_folds: int, seed: int) -> np.ndarray:
    """A fold number per row, balanced and reproducible."""
    return np.random.default_rng(seed).permutation(n_rows) % n_folds


def interval_offsets(residuals: np.ndarray, cuts: np.ndarray, coverage: float) -> np.ndarray:
    """Per-cut (low, high) residual quantiles: split-conformal, calibrated within each cut."""
    n_cuts = len(schema.CATEGORIES["cut"].levels)
    tail = (1 - coverage) / 2
    offsets = np.zeros((n_cuts, 2))
    for cut in range(n_cuts):
        mine = residuals[cuts == cut]
        mine = mine if mine.size >= 20 else residuals  # too few to calibrate alone
        # The finite-sample correction keeps coverage at or above nominal on new rows.
        n = mine.size
        low_q = max(0.0, np.floor(tail * (n + 1)) / n)
        high_q = min(1.0, np.ceil((1 - tail) * (n + 1)) / n)
        offsets[cut] = np.quantile(mine, [low_q, high_q])
    return offsets
