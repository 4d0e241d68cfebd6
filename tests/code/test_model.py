"""The model's pieces: folds, conformal offsets, the merged forest and its two walkers, the file."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from diamonds_mlflow import model, schema


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


@pytest.fixture(scope="module")
def small_model() -> model.PriceModel:
    x, price = synthetic(3000)
    return model.fit_price_model(x, price, model.ModelParams(max_iter=20, n_models=2))


def test_folds_are_balanced_reproducible_and_seeded():
    folds = model.fold_ids(1001, 3, seed=5)
    assert sorted(np.bincount(folds)) == [333, 334, 334]
    assert np.array_equal(folds, model.fold_ids(1001, 3, seed=5))
    assert not np.array_equal(folds, model.fold_ids(1001, 3, seed=6))


def test_offsets_cover_nominal_share_of_fresh_residuals_in_every_cut():
    rng = np.random.default_rng(1)
    n_cuts = len(schema.CATEGORIES["cut"].levels)
    spread = np.linspace(0.05, 0.25, n_cuts)  # each cut errs by its own amount
    cuts = rng.integers(0, n_cuts, 40000)
    calibration = rng.normal(0, spread[cuts])
    offsets = model.interval_offsets(calibration, cuts, 0.8)
    fresh_cuts = rng.integers(0, n_cuts, 40000)
    fresh = rng.normal(0, spread[fresh_cuts])
    inside = (fresh >= offsets[fresh_cuts, 0]) & (fresh <= offsets[fresh_cuts, 1])
    for cut in range(n_cuts):
        assert abs(inside[fresh_cuts == cut].mean() - 0.8) < 0.02
    assert np.all(np.diff(offsets[:, 1]) > 0)  # wider where the errors are larger


def test_a_cut_too_rare_to_calibrate_borrows_all_residuals():
    residuals = np.linspace(-1, 1, 1001)
    cuts = np.zeros(1001, dtype=int)
    cuts[:5] = 1  # only five rows of cut 1
    offsets = model.interval_offsets(residuals, cuts, 0.5)
    assert np.allclose(offsets[1], np.quantile(residuals, [0.25, 0.75]), atol=0.01)


def test_breadth_first_puts_each_splits_children_side_by_side():
    x, price = synthetic(2000)
    tree = HistGradientBoostingRegressor(max_iter=1, max_leaf_nodes=15).fit(x, np.log(price))
    nodes = tree._predictors[0][0].nodes
    order, left = model.breadth_first(nodes)
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
    forest = model.merge_trees(estimators)
    expected = np.mean([est.predict(rows) for est in estimators], axis=0)
    assert forest.n_trees == 50
    assert np.allclose(model.walk(forest, rows), expected, rtol=0, atol=1e-12)
    compiled = model.walk_compiled(model.compiled_trees(forest), forest.baseline, rows)
    assert np.allclose(compiled, expected, rtol=0, atol=1e-12)


def test_small_and_large_batches_take_different_paths_to_the_same_prices(small_model):
    x, _ = synthetic(6000, seed=3)
    assert 6000 * small_model.log_forest.n_trees > model.NUMPY_WALK_CELLS  # compiled, threaded
    whole = small_model.predict(x)
    one_by_one = [small_model.predict(x[i:i + 1]) for i in range(0, 6000, 600)]
    for got, part in zip(one_by_one, range(0, 6000, 600)):
        for a, b in zip(got, whole):
            assert np.allclose(a, b[part:part + 1], rtol=1e-12)


def test_row_chunks_cover_every_row_once_and_skip_threads_for_small_batches():
    assert model.chunks(100, 2) == [slice(0, 100)]
    parts = model.chunks(10_001, 2)
    assert len(parts) == 2
    assert parts[0].start == 0 and parts[0].stop == parts[1].start and parts[1].stop == 10_001


def test_blend_weights_the_two_per_carat_models_and_never_goes_below_the_floor():
    two_carats, log_rate, rate = np.array([2.0]), np.log(np.array([1000.0])), np.array([2000.0])
    assert model.blend(two_carats, log_rate, rate, 0.3)[0] == pytest.approx(2 * 1300.0)
    assert model.blend(np.array([0.01]), np.log([10.0]), np.array([-500.0]), 0.5)[0] == model.MIN_PRICE


def test_a_rate_rising_through_zero_still_gives_prices_that_never_fall_with_carat():
    carats = np.linspace(0.2, 3.0, 50)
    dollar_rate = np.linspace(-9000.0, 3000.0, 50)  # non-decreasing in carat, as constrained
    prices = model.blend(carats, np.log(np.full(50, 4000.0)), dollar_rate, 0.5)
    assert prices.min() == model.MIN_PRICE and prices.max() > 1000
    assert np.all(np.diff(prices) >= 0)


def test_interval_brackets_the_price(small_model):
    x, _ = synthetic(500, seed=4)
    price, low, high = small_model.predict(x)
    assert np.all(low < price) and np.all(price < high)


def test_saved_model_round_trips_exactly(small_model, tmp_path):
    path = tmp_path / "model.npz"
    model.save_price_model(small_model, path)
    loaded = model.load_price_model(path)
    x, _ = synthetic(300, seed=5)
    for a, b in zip(small_model.predict(x), loaded.predict(x)):
        assert np.array_equal(a, b)


def test_a_file_holding_pickled_objects_is_refused(small_model, tmp_path):
    path = tmp_path / "tampered.npz"
    model.save_price_model(small_model, path)
    with np.load(path) as saved:
        arrays = dict(saved)
    arrays["offsets"] = np.array([object()], dtype=object)  # unpickling would run code
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="allow_pickle"):
        model.load_price_model(path)
