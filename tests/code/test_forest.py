"""The flat forest: scikit-learn's trees copied node for node, walked two ways to the same sums."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from diamonds_mlflow import forest, model
from tests.code.synthetic import synthetic


def test_breadth_first_puts_each_splits_children_side_by_side():
    x, price = synthetic(2000)
    tree = HistGradientBoostingRegressor(max_iter=1, max_leaf_nodes=15).fit(x, np.log(price))
    nodes = tree._predictors[0][0].nodes
    order, left = forest.breadth_first(nodes)
    assert sorted(order) == list(range(len(nodes)))
    position = np.argsort(order)
    for new, old in enumerate(order):
        if nodes["is_leaf"][old]:
            assert left[new] == new
        else:
            assert left[new] == position[nodes["left"][old]]
            assert left[new] + 1 == position[nodes["right"][old]]


def test_merged_forest_predicts_the_mean_of_its_estimators_with_either_walker():
    x, price = synthetic(3000)
    rows = model.design(x)
    estimators = [HistGradientBoostingRegressor(max_iter=25, random_state=seed)
                  .fit(rows[seed::2], np.log(price[seed::2])) for seed in (0, 1)]
    merged = forest.merge_trees(estimators)
    expected = np.mean([est.predict(rows) for est in estimators], axis=0)
    assert merged.n_trees == 50
    assert np.allclose(forest.walk(merged, rows), expected, rtol=0, atol=1e-12)
    compiled = forest.walk_compiled(forest.compiled_trees(merged, rows.shape[1]), merged.baseline, rows)
    assert np.allclose(compiled, expected, rtol=0, atol=1e-12)


def test_row_chunks_cover_every_row_once_and_skip_threads_for_small_batches():
    assert forest.chunks(100, 2) == [slice(0, 100)]
    parts = forest.chunks(10_001, 2)
    assert len(parts) == 2
    assert parts[0].start == 0 and parts[0].stop == parts[1].start and parts[1].stop == 10_001
