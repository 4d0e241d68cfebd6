"""The price estimator: hyper-parameters in, two blended monotone boosted-tree models out.

Both models predict the price per carat, the figure dealers quote: the trees then spend
their splits on grades and proportions instead of re-learning how price grows with weight:
fewer trees reach a lower error, and serving cost grows with the number of trees. Prices
span two orders of magnitude, so the main model fits log(price per carat): errors become
relative, and the intervals scale with the price. A second model on the price per carat
itself, given a smaller weight, pulls the dear stones (which dominate an error in USD)
towards their mean instead of their median.

The fitted trees are kept as flat arrays (`forest.py`), saved as plain numpy arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from diamonds_mlflow import features, intervals, schema
from diamonds_mlflow.forest import Forest, ForestWalker, forest_from_arrays, merge_trees


@dataclass(frozen=True)
class ModelParams:
    """Everything that shapes the fitted model; logged as the run's parameters."""

    max_depth: int = 10
    max_leaf_nodes: int = 63
    learning_rate: float = 0.22
    max_iter: int = 50
    l2_regularization: float = 1.0
    n_models: int = 3  # calibration folds: one model per fold, fit on the other folds
    interval: float = 0.8
    seed: int = 42
    price_weight: float = 0.3  # share of the dollar-scale model in the blended price

    def as_dict(self) -> dict:
        return asdict(self)


# Columns added to the schema's features, none of which involves carat.
DERIVED = ("volume", "width_ratio", "depth_ratio")
DESIGN_COLUMNS = len(schema.FEATURE_NAMES) + len(DERIVED)


def design(x: np.ndarray) -> np.ndarray:
    """The schema's features plus the stone's volume x·y·z and its proportions y/x and
    z/mean(x, y): products and ratios that trees, splitting one column at a time, cannot form.

    None of them involves carat, so constraining carat alone still makes the price
    non-decreasing in carat with every other input fixed. Rows are float32, the type
    scikit-learn's compiled tree walker reads; both walkers compare the same float32 values
    with the same thresholds, so a row's price does not depend on its batch size.
    """
    index = {name: i for i, name in enumerate(schema.FEATURE_NAMES)}
    length, width, height = (x[:, index[name]] for name in ("x", "y", "z"))
    # The schema keeps every dimension above zero, so the ratios are finite.
    derived = [length * width * height, width / length, height / ((length + width) / 2)]
    return np.ascontiguousarray(np.column_stack([x, *derived]), dtype=np.float32)


def design_constraints() -> list[int]:
    return features.monotonic_constraints() + [0] * len(DERIVED)


@dataclass
class PriceModel:
    """Two merged boosted-tree forests blended in USD, plus per-cut interval offsets.

    `log_forest` predicts log(price per carat), `price_forest` the price per carat itself;
    `blend` turns them into one price.
    """

    log_forest: Forest
    price_forest: Forest
    price_weight: float
    # offsets[cut_code] = (low, high) quantiles of out-of-fold log residuals for that cut
    offsets: np.ndarray
    _walkers: dict[str, ForestWalker] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self._walkers = {name: ForestWalker(getattr(self, name), DESIGN_COLUMNS)
                         for name in FORESTS}

    def raw(self, name: str, rows: np.ndarray) -> np.ndarray:
        """One forest's raw output for design rows (see `design`)."""
        return self._walkers[name](rows)

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        """log of the blended price, the centre of the interval."""
        rows = design(x)
        price = blend(features.carats(x), self.raw("log_forest", rows),
                      self.raw("price_forest", rows), self.price_weight)
        return np.log(price)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Price, and the interval's low and high ends, in USD."""
        centre = self.predict_log(x)
        offsets = self.offsets[features.cut_codes(x)]
        return np.exp(centre), np.exp(centre + offsets[:, 0]), np.exp(centre + offsets[:, 1])


# The cheapest stone in the data costs 326 USD; the floor only stops a dollar-scale model's
# rare overshoot below zero from reaching log(). max() with a constant keeps monotonicity.
MIN_PRICE = 1.0


def blend(carat: np.ndarray, log_per_carat: np.ndarray, per_carat: np.ndarray,
          price_weight: float) -> np.ndarray:
    """USD price: carat × ((1 - w)·exp(log model) + w·(dollar model)), at least MIN_PRICE.

    Both models are non-decreasing in carat (a constraint in every tree), so the blended rate
    is. Where it is positive, a heavier stone multiplies a rate at least as high by a larger
    carat; where the dollar model's rare overshoot makes it negative, the floor applies and
    every heavier stone costs at least the floor. Either way the price never falls with carat.
    """
    rate = (1 - price_weight) * np.exp(log_per_carat) + price_weight * per_carat
    return np.maximum(carat * rate, MIN_PRICE)


def _estimator(params: ModelParams, seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        max_depth=params.max_depth,
        max_leaf_nodes=params.max_leaf_nodes,
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        l2_regularization=params.l2_regularization,
        monotonic_cst=design_constraints(),
        early_stopping=False,
        random_state=seed,
    )


def fit_pair(rows: np.ndarray, per_carat: np.ndarray, params: ModelParams, seed: int):
    """The log and the dollar estimators of the price per carat, fitted on the same rows."""
    on_log = _estimator(params, seed).fit(rows, np.log(per_carat))
    on_price = _estimator(params, seed).fit(rows, per_carat)
    return on_log, on_price


def fit_price_model(x: np.ndarray, price: np.ndarray, params: ModelParams) -> PriceModel:
    """Fit on all rows; models fit fold by fold on the other folds calibrate the interval.

    The out-of-fold errors come from models that saw (k-1)/k of the rows, slightly larger
    than the final model's, so the interval errs, if at all, on the wide side.
    """
    # One OpenMP thread per fit: on a shared machine, scikit-learn's per-split thread teams
    # wait on descheduled threads (a 20 s fit took minutes under load); one thread is steady.
    with threadpool_limits(limits=1, user_api="openmp"):
        return _fit(design(x), price, features.carats(x), features.cut_codes(x), params)


def _fit(rows: np.ndarray, price: np.ndarray, carat: np.ndarray, cuts: np.ndarray,
         params: ModelParams) -> PriceModel:
    per_carat = price / carat
    folds = intervals.fold_ids(len(price), params.n_models, params.seed)
    predicted = np.empty_like(price, dtype=np.float64)
    for fold in range(params.n_models):
        held_out = folds == fold
        on_log, on_price = fit_pair(rows[~held_out], per_carat[~held_out], params,
                                    params.seed + 1 + fold)
        predicted[held_out] = blend(carat[held_out], on_log.predict(rows[held_out]),
                                    on_price.predict(rows[held_out]), params.price_weight)
    residuals = np.log(price) - np.log(predicted)
    offsets = intervals.interval_offsets(residuals, cuts, params.interval)
    on_log, on_price = fit_pair(rows, per_carat, params, params.seed)
    return PriceModel(merge_trees([on_log]), merge_trees([on_price]), params.price_weight,
                      offsets)


def save_price_model(model: PriceModel, path: str | Path) -> None:
    """Write the model as plain numpy arrays (.npz): data only, so loading cannot run code."""
    arrays = {f"{name}.{key}": value
              for name in FORESTS for key, value in getattr(model, name).as_arrays().items()}
    with open(path, "wb") as handle:
        np.savez(handle, offsets=model.offsets, price_weight=model.price_weight, **arrays)


FORESTS = ("log_forest", "price_forest")


def load_price_model(path: str | Path) -> PriceModel:
    """Read a model written by `save_price_model`; object arrays (pickles) are refused."""
    with np.load(path, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files}
    return PriceModel(
        *(forest_from_arrays(arrays, name) for name in FORESTS),
        price_weight=float(arrays["price_weight"]),
        offsets=arrays["offsets"].astype(np.float64),
    )
