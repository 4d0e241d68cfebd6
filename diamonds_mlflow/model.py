"""The price estimator: hyper-parameters in, two blended monotone boosted-tree models out.

Both models predict the price per carat, the figure dealers quote: the trees then spend
their splits on grades and proportions instead of re-learning how price grows with weight
(fewer trees reach a lower error, and serving cost grows with the number of trees). Prices span two orders of
magnitude, so the main model fits log(price per carat): errors become relative, and the
intervals scale with the price. A second model on the price per carat itself, given a
smaller weight, pulls the dear stones (which dominate an error in USD) towards their mean
instead of their median.

Prediction does not go through scikit-learn's estimators: their trees are copied into flat
`Forest` arrays. A few rows walk every tree at once with numpy (no per-tree call, no thread
start-up); large batches use scikit-learn's compiled walker, split by rows over the cores.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from diamonds_mlflow import features, schema


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


@dataclass(frozen=True)
class Forest:
    """Every tree of a bag as flat node arrays, laid out so all trees can be walked together.

    Children of a split sit side by side (right = left + 1), so one step down is
    `left[node] + (x > threshold[node])`; a leaf points to itself with an infinite threshold,
    so rows that reached a leaf stay there while deeper trees are still being walked.
    """

    feature: np.ndarray  # feature index tested at each node (0 at leaves)
    threshold: np.ndarray  # go right when the value is greater; +inf at leaves
    left: np.ndarray  # index of the left child, or the node itself at a leaf
    value: np.ndarray  # leaf value already divided by the bag size (0 at splits)
    roots: np.ndarray  # index of each tree's root
    baseline: float  # the estimators' mean starting value, in the target's units
    depth: int  # the deepest leaf: how many steps reach every leaf

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in FOREST_FIELDS}


FOREST_FIELDS = ("feature", "threshold", "left", "value", "roots", "baseline", "depth")


def breadth_first(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A scikit-learn tree's node order with each split's children adjacent, and their lefts.

    Returns (order, left): new node i is old node order[i]; its left child is new node left[i]
    (itself for a leaf).
    """
    order, left = [0], []
    for old in order:  # grows while iterating: a breadth-first queue
        if nodes["is_leaf"][old]:
            left.append(len(left))
        else:
            left.append(len(order))
            order.extend((int(nodes["left"][old]), int(nodes["right"][old])))
    return np.asarray(order), np.asarray(left)


def merge_trees(estimators: list[HistGradientBoostingRegressor]) -> Forest:
    """One forest whose sum is the mean of the estimators' raw (log-price) predictions."""
    parts: dict[str, list[np.ndarray]] = {"feature": [], "threshold": [], "left": [], "value": []}
    roots, start, depth = [], 0, 0
    scale = 1.0 / len(estimators)
    for estimator in estimators:
        for (predictor,) in estimator._predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not supported; grades are ordinal")
            order, left = breadth_first(nodes)
            ordered = nodes[order]
            leaf = ordered["is_leaf"].astype(bool)
            parts["feature"].append(np.where(leaf, 0, ordered["feature_idx"]))
            parts["threshold"].append(np.where(leaf, np.inf, ordered["num_threshold"]))
            parts["left"].append(left + start)
            parts["value"].append(np.where(leaf, ordered["value"] * scale, 0.0))
            roots.append(start)
            start += len(order)
            depth = max(depth, int(nodes["depth"].max()))
    baseline = float(np.mean([est._baseline_prediction.item() for est in estimators]))
    return Forest(
        feature=np.concatenate(parts["feature"]).astype(np.intp),
        threshold=np.concatenate(parts["threshold"]).astype(np.float64),
        left=np.concatenate(parts["left"]).astype(np.intp),
        value=np.concatenate(parts["value"]).astype(np.float64),
        roots=np.asarray(roots, dtype=np.intp),
        baseline=baseline,
        depth=depth,
    )


def walk(forest: Forest, x: np.ndarray) -> np.ndarray:
    """Raw predictions by walking all trees for all rows at once with numpy.

    Cheapest for a few rows: its cost is `depth` vectorised steps, whatever the tree count.
    """
    row_start = (np.arange(len(x)) * x.shape[1])[:, None]
    flat_x = x.ravel()
    node = np.broadcast_to(forest.roots, (len(x), forest.n_trees)).copy()
    for _ in range(forest.depth):
        value = flat_x.take(row_start + forest.feature.take(node))
        node = forest.left.take(node) + (value > forest.threshold.take(node))
    return forest.baseline + forest.value.take(node).sum(axis=1)


def compiled_trees(forest: Forest) -> list[tuple[object, np.ndarray]]:
    """Each tree as a scikit-learn decision `Tree` (its compiled `apply` finds leaves about
    twice as fast as the boosting walker) with its leaf values."""
    from sklearn.tree._tree import NODE_DTYPE, Tree

    leaf_marker, no_feature = -1, -2  # scikit-learn's TREE_LEAF and TREE_UNDEFINED
    bounds = np.append(forest.roots, len(forest.left))
    trees = []
    for start, end in zip(bounds[:-1], bounds[1:]):
        left = forest.left[start:end] - start
        leaf = left == np.arange(end - start)
        nodes = np.zeros(end - start, dtype=NODE_DTYPE)
        nodes["left_child"] = np.where(leaf, leaf_marker, left)
        nodes["right_child"] = np.where(leaf, leaf_marker, left + 1)
        nodes["feature"] = np.where(leaf, no_feature, forest.feature[start:end])
        nodes["threshold"] = np.where(leaf, no_feature, forest.threshold[start:end])
        values = np.ascontiguousarray(forest.value[start:end])
        tree = Tree(DESIGN_COLUMNS, np.array([1], dtype=np.intp), 1)
        tree.__setstate__({"max_depth": forest.depth, "node_count": end - start,
                           "nodes": nodes, "values": values.reshape(-1, 1, 1)})
        trees.append((tree, values))
    return trees


def walk_compiled(trees: list[tuple[object, np.ndarray]], baseline: float,
                  x: np.ndarray) -> np.ndarray:
    """Raw predictions tree by tree with scikit-learn's compiled `Tree.apply` (float32 rows)."""
    total = np.full(len(x), baseline)
    for tree, values in trees:
        total += values.take(tree.apply(x))
    return total


# Below this many row × tree cells the numpy walk wins: the compiled walker pays a few
# microseconds per tree call, which dominates when there are only a few rows.
NUMPY_WALK_CELLS = 50_000
# Large batches are cut into this many rows or more per thread. Each thread walks every tree
# over its own rows, so threads meet once per call, not once per tree as OpenMP's would:
# on a shared, busy machine one descheduled OpenMP thread stalls every tree.
ROWS_PER_THREAD = 2_000


def usable_cores() -> int:
    # sched_getaffinity honours CPU pinning (containers, taskset) but exists on Linux only.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@lru_cache(maxsize=1)
def _thread_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=usable_cores(), thread_name_prefix="price-model")


def chunks(n_rows: int, n_threads: int) -> list[slice]:
    """Contiguous row ranges, as many as there are threads to use (at least one)."""
    count = max(1, min(n_threads, n_rows // ROWS_PER_THREAD))
    bounds = np.linspace(0, n_rows, count + 1).astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


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
    _trees: dict[str, list] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        # Built once here, when serving loads the model, not on its first large request.
        self._trees = {name: compiled_trees(getattr(self, name)) for name in FORESTS}

    def raw(self, name: str, x: np.ndarray) -> np.ndarray:
        forest = getattr(self, name)
        if len(x) * forest.n_trees <= NUMPY_WALK_CELLS:
            return walk(forest, x)
        parts = chunks(len(x), usable_cores())
        if len(parts) == 1:
            return walk_compiled(self._trees[name], forest.baseline, x)
        jobs = [_thread_pool().submit(walk_compiled, self._trees[name], forest.baseline, x[part])
                for part in parts]
        return np.concatenate([job.result() for job in jobs])

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
    folds = fold_ids(len(price), params.n_models, params.seed)
    predicted = np.empty_like(price, dtype=np.float64)
    for fold in range(params.n_models):
        held_out = folds == fold
        on_log, on_price = fit_pair(rows[~held_out], per_carat[~held_out], params,
                                    params.seed + 1 + fold)
        predicted[held_out] = blend(carat[held_out], on_log.predict(rows[held_out]),
                                    on_price.predict(rows[held_out]), params.price_weight)
    residuals = np.log(price) - np.log(predicted)
    offsets = interval_offsets(residuals, cuts, params.interval)
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


def forest_from_arrays(arrays: dict[str, np.ndarray], prefix: str) -> Forest:
    return Forest(
        feature=arrays[f"{prefix}.feature"].astype(np.intp),
        threshold=arrays[f"{prefix}.threshold"].astype(np.float64),
        left=arrays[f"{prefix}.left"].astype(np.intp),
        value=arrays[f"{prefix}.value"].astype(np.float64),
        roots=arrays[f"{prefix}.roots"].astype(np.intp),
        baseline=float(arrays[f"{prefix}.baseline"]),
        depth=int(arrays[f"{prefix}.depth"]),
    )


def load_price_model(path: str | Path) -> PriceModel:
    """Read a model written by `save_price_model`; object arrays (pickles) are refused."""
    with np.load(path, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files}
    return PriceModel(
        *(forest_from_arrays(arrays, name) for name in FORESTS),
        price_weight=float(arrays["price_weight"]),
        offsets=arrays["offsets"].astype(np.float64),
    )
