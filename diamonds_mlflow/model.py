"""The price estimator: hyper-parameters in, a fitted bag of monotone boosted trees out.

Prices span two orders of magnitude, so the trees fit log(price): errors become relative,
which is how dealers think of them, and the intervals scale with the price.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from diamonds_mlflow import features, schema


@dataclass(frozen=True)
class ModelParams:
    """Everything that shapes the fitted model; logged as the run's parameters."""

    max_depth: int = 10
    max_leaf_nodes: int = 63
    learning_rate: float = 0.08
    max_iter: int = 500
    l2_regularization: float = 1.0
    n_models: int = 3
    interval: float = 0.8
    seed: int = 42

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class PriceModel:
    """A bag of boosted trees on log(price) plus per-cut interval offsets (conformal)."""

    estimators: list[HistGradientBoostingRegressor]
    # offsets[cut_code] = (low, high) quantiles of out-of-fold log residuals for that cut
    offsets: np.ndarray

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        return np.mean([est.predict(x) for est in self.estimators], axis=0)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Price, and the interval's low and high ends, in USD."""
        centre = self.predict_log(x)
        offsets = self.offsets[features.cut_codes(x)]
        return np.exp(centre), np.exp(centre + offsets[:, 0]), np.exp(centre + offsets[:, 1])


def _estimator(params: ModelParams, seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        max_depth=params.max_depth,
        max_leaf_nodes=params.max_leaf_nodes,
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        l2_regularization=params.l2_regularization,
        monotonic_cst=features.monotonic_constraints(),
        early_stopping=False,
        random_state=seed,
    )


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


def fit_price_model(x: np.ndarray, price: np.ndarray, params: ModelParams) -> PriceModel:
    """Fit one model per fold on the other folds; their out-of-fold errors calibrate intervals."""
    target = np.log(price)
    folds = fold_ids(len(target), params.n_models, params.seed)
    estimators, residuals = [], np.empty_like(target)
    for fold in range(params.n_models):
        held_out = folds == fold
        est = _estimator(params, params.seed + fold).fit(x[~held_out], target[~held_out])
        residuals[held_out] = target[held_out] - est.predict(x[held_out])
        estimators.append(est)
    offsets = interval_offsets(residuals, features.cut_codes(x), params.interval)
    return PriceModel(estimators, offsets)


# Reviewed by hand: the only types the saved file may contain besides plain containers and
# numpy arrays. Loading refuses anything else, so a tampered file cannot run code.
TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss._loss.CyHalfSquaredError",
    "numpy.dtype",
    "builtins.slice",
]


def save_price_model(model: PriceModel, path: str | Path) -> None:
    """Write the model with skops: a non-executable format, unlike pickle."""
    import skops.io

    skops.io.dump({"estimators": model.estimators, "offsets": model.offsets}, path)


def load_price_model(path: str | Path) -> PriceModel:
    """Read a model written by `save_price_model`, refusing any type not reviewed above."""
    import skops.io

    state = skops.io.load(path, trusted=TRUSTED_TYPES)
    return PriceModel(list(state["estimators"]), np.asarray(state["offsets"]))
