"""The same data, parameters and seed give the same model: identical metrics and predictions."""

from __future__ import annotations

import numpy as np

from diamonds_mlflow import features, metrics, model

SMALL = model.ModelParams(max_iter=15, n_models=2)


def fit_and_score(train, test, params):
    x_test, actual = features.encode(test), test["price"].to_numpy(float)
    fitted = model.fit_price_model(features.encode(train), train["price"].to_numpy(float), params)
    predicted = fitted.predict(x_test)
    scores = metrics.regression(actual, predicted[0]) | metrics.interval(
        actual, predicted[1], predicted[2], features.cut_codes(x_test))
    return fitted, predicted, scores


def test_same_inputs_give_identical_predictions_and_metrics(split_tables, tmp_path):
    train, test = split_tables
    train = train.iloc[:12000]
    first_model, first, first_scores = fit_and_score(train, test, SMALL)
    _, second, second_scores = fit_and_score(train, test, SMALL)
    assert first_scores == second_scores
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    # ... and so does the saved copy that serving loads.
    model.save_price_model(first_model, tmp_path / "m.npz")
    loaded = model.load_price_model(tmp_path / "m.npz").predict(features.encode(test))
    for a, b in zip(first, loaded):
        assert np.array_equal(a, b)


def test_another_seed_gives_another_model(split_tables):
    train, test = split_tables
    train = train.iloc[:12000]
    _, first, _ = fit_and_score(train, test, SMALL)
    _, other, _ = fit_and_score(train, test, model.ModelParams(max_iter=15, n_models=2, seed=7))
    # The seed picks the calibration folds, so the interval moves even if the trees do not.
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
