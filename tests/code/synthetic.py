"""Rows shaped like the encoded schema, for tests of the model's pieces that need no real data."""

from __future__ import annotations

import numpy as np

from diamonds_mlflow import schema


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows shaped like the encoded schema (grades as codes) with a plausible price."""
    rng = np.random.default_rng(seed)
    levels = [len(schema.CATEGORIES[name].levels) for name in ("cut", "color", "clarity")]
    carat = rng.uniform(0.2, 3.0, n)
    size = carat ** (1 / 3) * 6.5
    x = np.column_stack([carat, *(rng.integers(0, k, n) for k in levels),
                         rng.uniform(58, 65, n), rng.uniform(53, 62, n),
                         size, size * rng.uniform(0.98, 1.02, n), size * 0.61])
    price = 3800 * carat**1.8 * np.exp(0.08 * x[:, 2] + 0.1 * x[:, 3] + rng.normal(0, 0.1, n))
    return x, price
