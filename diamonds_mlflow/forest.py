"""Boosted trees as flat arrays, and the two ways to walk them.

Prediction does not go through scikit-learn's estimators: their trees are copied into one flat
`Forest`. A few rows walk every tree at once with numpy (no per-tree call, no thread start-up);
large batches use scikit-learn's compiled walker, split by rows over the cores.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingRegressor


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
    """One forest whose sum is the mean of the estimators' raw predictions (target units)."""
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


def compiled_trees(forest: Forest, n_features: int) -> list[tuple[object, np.ndarray]]:
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
        tree = Tree(n_features, np.array([1], dtype=np.intp), 1)
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
    return ThreadPoolExecutor(max_workers=usable_cores(), thread_name_prefix="forest-walker")


def chunks(n_rows: int, n_threads: int) -> list[slice]:
    """Contiguous row ranges, as many as there are threads to use (at least one)."""
    count = max(1, min(n_threads, n_rows // ROWS_PER_THREAD))
    bounds = np.linspace(0, n_rows, count + 1).astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


class ForestWalker:
    """A forest ready to predict: the numpy walk for a few rows, compiled trees for many.

    The compiled trees are built here, once, when serving loads the model, not on its first
    large request.
    """

    def __init__(self, forest: Forest, n_features: int):
        self.forest = forest
        self.trees = compiled_trees(forest, n_features)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Raw predictions (the sum of the trees plus the baseline) for float32 rows."""
        if len(x) * self.forest.n_trees <= NUMPY_WALK_CELLS:
            return walk(self.forest, x)
        parts = chunks(len(x), usable_cores())
        if len(parts) == 1:
            return walk_compiled(self.trees, self.forest.baseline, x)
        jobs = [_thread_pool().submit(walk_compiled, self.trees, self.forest.baseline, x[part])
                for part in parts]
        return np.concatenate([job.result() for job in jobs])


def forest_from_arrays(arrays: dict[str, np.ndarray], prefix: str) -> Forest:
    """The forest saved under `prefix` by `Forest.as_arrays` (see model.save_price_model)."""
    return Forest(
        feature=arrays[f"{prefix}.feature"].astype(np.intp),
        threshold=arrays[f"{prefix}.threshold"].astype(np.float64),
        left=arrays[f"{prefix}.left"].astype(np.intp),
        value=arrays[f"{prefix}.value"].astype(np.float64),
        roots=arrays[f"{prefix}.roots"].astype(np.intp),
        baseline=float(arrays[f"{prefix}.baseline"]),
        depth=int(arrays[f"{prefix}.depth"]),
    )
