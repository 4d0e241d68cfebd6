"""Accuracy and interval metrics: plain functions of arrays, no MLflow."""

from __future__ import annotations

import numpy as np

from diamonds_mlflow import schema


def regression(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The holdout metrics logged on every training run (mape as a fraction, not %)."""
    error = predicted - actual
    total = np.sum((actual - actual.mean()) ** 2)
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": float(1 - np.sum(error**2) / total),
        "mape": float(np.mean(np.abs(error) / actual)),
    }


def interval(actual: np.ndarray, low: np.ndarray, high: np.ndarray, cut: np.ndarray) -> dict:
    """Coverage of the prediction interval, overall and inside each cut, and its width."""
    inside = (actual >= low) & (actual <= high)
    result = {
        "interval_coverage": float(inside.mean()),
        "interval_relative_width": float(np.mean((high - low) / ((high + low) / 2))),
    }
    for code, level in enumerate(schema.CATEGORIES["cut"].levels):
        rows = cut == code
        if rows.any():
            key = "interval_coverage_cut_" + level.lower().replace(" ", "_")
            result[key] = float(inside[rows].mean())
    return result
