"""The served pyfunc's predict, called directly on a small real model (no server)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from diamonds_mlflow import data, features, model, schema
from diamonds_mlflow.served_model import DiamondPriceModel


@pytest.fixture(scope="module")
def served(split_tables) -> DiamondPriceModel:
    train = split_tables[0].head(3000)
    params = model.ModelParams(max_iter=10, n_models=2)
    wrapper = DiamondPriceModel()
    wrapper.price_model = model.fit_price_model(
        features.encode(train), train[schema.TARGET.name].to_numpy(dtype=float), params)
    return wrapper


@pytest.fixture(scope="module")
def rows(split_tables) -> pd.DataFrame:
    return data.request_rows(split_tables[1].head(12))


def refusal(served, model_input) -> str:
    with pytest.raises(MlflowException) as raised:
        served.predict(None, model_input)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"  # what the server makes a 400
    assert raised.value.__cause__ is None
    return raised.value.message


def test_a_table_a_list_of_rows_and_a_dict_of_columns_give_the_same_prices(served, rows):
    expected = served.predict(None, rows)
    assert list(expected.columns) == list(schema.PREDICTIONS) and len(expected) == len(rows)
    for other in (rows.to_dict(orient="records"), rows.to_dict(orient="list")):
        pd.testing.assert_frame_equal(served.predict(None, other), expected)


def test_prices_are_whole_dollars_with_the_price_inside_its_range(served, rows):
    answer = served.predict(None, rows)
    assert (answer.dtypes == np.int64).all()
    assert (answer["price_low"] <= answer["price"]).all()
    assert (answer["price"] <= answer["price_high"]).all()
    assert (answer["price_low"] > 0).all()


def test_each_row_is_priced_on_its_own_and_in_order(served, rows):
    together = served.predict(None, rows)
    for i in (0, 5, 11):
        pd.testing.assert_frame_equal(served.predict(None, rows.iloc[[i]]), together.iloc[[i]].reset_index(drop=True))


def test_seaborn_categoricals_odd_case_and_extra_columns_do_not_change_prices(served, split_tables, rows):
    expected = served.predict(None, rows)
    seaborn_like = split_tables[1].head(12)  # categorical grades, and the price column
    assert isinstance(seaborn_like["clarity"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(served.predict(None, seaborn_like), expected)
    shouted = rows.assign(cut=rows["cut"].str.upper() + " ", id=np.arange(12))
    reordered = shouted[["id"] + list(reversed(rows.columns))]
    pd.testing.assert_frame_equal(served.predict(None, reordered), expected)


def test_no_rows_give_an_empty_answer_with_the_three_columns(served, rows):
    for empty in (rows.head(0), pd.DataFrame(), []):
        answer = served.predict(None, empty)
        assert len(answer) == 0 and list(answer.columns) == list(schema.PREDICTIONS)


def test_a_row_without_any_column_is_refused_not_answered_empty(served):
    message = refusal(served, [{}])
    assert all(f"missing column '{name}'" in message for name in schema.FEATURE_NAMES)


def test_columns_of_different_lengths_are_refused_in_plain_words(served):
    message = refusal(served, {"carat": [0.3, 0.4], "cut": ["Ideal"]})
    assert message.startswith("the input is not a table of rows")


def test_a_refusal_is_plain_words_counting_rows_from_0(served, rows):
    bad = rows.astype(object)
    bad.loc[3, "carat"], bad.loc[4, "color"], bad.loc[5, "depth"] = np.float64(-1), "Z", np.inf
    message = refusal(served, bad)
    assert message.startswith("3 problem(s) in the input (rows are counted from 0): ")
    assert "row 3" in message and "row 4" in message and "row 5" in message
    assert not any(word in message for word in ("array(", "dtype", "np.", "Traceback"))


def test_a_categorical_column_of_nulls_is_reported_not_a_crash():
    frame = pd.DataFrame({"cut": pd.Categorical([None, None])})
    codes, problems = schema.category_codes(frame["cut"], schema.CATEGORIES["cut"])
    assert list(codes) == [-1, -1]
    assert [p.kind for p in problems] == ["is missing (null)"] and list(problems[0].rows) == [0, 1]


def test_numbers_as_text_are_read_and_other_text_is_named():
    values, problems = schema.numeric_values(pd.Series(["0.5", "2", "heavy", None]), schema.NUMERICS["carat"])
    assert list(values[:2]) == [0.5, 2.0]
    assert [(p.kind, list(p.rows)) for p in problems] == [
        ("is not a number", [2]), ("is missing (null or NaN)", [3])]
