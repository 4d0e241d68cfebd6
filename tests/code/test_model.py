"""The price model: the blend, both prediction paths, intervals around the price, the file."""

from __future__ import annotations

import numpy as np
import pytest

from diamonds_mlflow import forest, model
from tests.code.synthetic import synthetic


@pytest.fixture(scope="module")
def small_model() -> model.PriceModel:
    x, price = synthetic(3000)
    return model.fit_price_model(x, price, model.ModelParams(max_iter=20, n_models=2))


def test_small_and_large_batches_take_different_paths_to_the_same_prices(small_model):
    x, _ = synthetic(6000, seed=3)
    assert 6000 * small_model.log_forest.n_trees > forest.NUMPY_WALK_CELLS  # compiled, threaded
    whole = small_model.predict(x)
    one_by_one = [small_model.predict(x[i:i + 1]) for i in range(0, 6000, 600)]
    for got, part in zip(one_by_one, range(0, 6000, 600)):
        for a, b in zip(got, whole):
            assert np.allclose(a, b[part:part + 1], rtol=1e-12)


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
