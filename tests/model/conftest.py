"""One model fit shared by the behavioural tests (fitting is the slow part)."""

from __future__ import annotations

import numpy as np
import pytest

from diamonds_mlflow import features, model

# The default model, as `train` fits it: the behaviours are checked on what ships
# (bench/accuracy.py measures its accuracy).
BEHAVIOUR_PARAMS = model.ModelParams()


@pytest.fixture(scope="session")
def fitted(split_tables) -> model.PriceModel:
    train, _ = split_tables
    return model.fit_price_model(features.encode(train), train["price"].to_numpy(float),
                                 BEHAVIOUR_PARAMS)


@pytest.fixture(scope="session")
def held_out(split_tables) -> tuple[np.ndarray, np.ndarray]:
    """The held-out rows' feature matrix and true prices."""
    _, test = split_tables
    return features.encode(test), test["price"].to_numpy(float)
