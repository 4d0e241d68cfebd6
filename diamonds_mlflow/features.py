"""Raw diamond rows → the numeric matrix the estimator sees; shared by training and serving."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diamonds_mlflow import schema

# Grades become their rank (0 = worst), so trees split on "at least VS1" in one cut and the
# price's natural monotonicity in each grade can be imposed on the model.
MONOTONE_INCREASING = ("carat", "cut", "color", "clarity")


def matrix(values: dict[str, np.ndarray]) -> np.ndarray:
    """Stack per-column arrays (as `schema.column_values` returns them) in feature order."""
    return np.column_stack([values[name].astype(np.float64) for name in schema.FEATURE_NAMES])


def encode(frame: pd.DataFrame) -> np.ndarray:
    """The feature matrix of an already validated table; refuses rows that are not."""
    return matrix(schema.validated_values(frame))


def monotonic_constraints(increasing: tuple[str, ...] = MONOTONE_INCREASING) -> list[int]:
    """HistGradientBoosting's `monotonic_cst`: +1 for each feature price may only grow with."""
    return [1 if name in increasing else 0 for name in schema.FEATURE_NAMES]


def cut_codes(x: np.ndarray) -> np.ndarray:
    """The cut grade of each row of a feature matrix (intervals are calibrated per cut)."""
    return x[:, schema.FEATURE_NAMES.index("cut")].astype(np.intp)


def carats(x: np.ndarray) -> np.ndarray:
    """The weight of each row of a feature matrix (both models predict price per carat)."""
    return x[:, schema.FEATURE_NAMES.index("carat")]
