import numpy as np
import pandas as pd
import pytest

from diamonds_mlflow import features, schema

ROW = {"carat": 1.01, "cut": "Premium", "color": "F", "clarity": "SI1",
       "depth": 62.0, "table": 58.0, "x": 6.4, "y": 6.4, "z": 4.0}


def test_encode_puts_columns_in_feature_order_whatever_the_input_order():
    shuffled = pd.DataFrame([ROW])[list(reversed(schema.FEATURE_NAMES))].assign(id=7)
    x = features.encode(shuffled)
    assert x.shape == (1, len(schema.FEATURE_NAMES))
    assert x[0, schema.FEATURE_NAMES.index("carat")] == pytest.approx(1.01)
    assert x[0, schema.FEATURE_NAMES.index("cut")] == schema.CATEGORIES["cut"].levels.index("Premium")


def test_encoding_is_the_same_for_strings_and_pandas_categories():
    table = pd.DataFrame([ROW, ROW | {"cut": "Fair", "color": "D"}])
    as_categories = table.astype({name: "category" for name in schema.CATEGORIES})
    np.testing.assert_array_equal(features.encode(table), features.encode(as_categories))


def test_invalid_rows_are_refused_not_encoded():
    with pytest.raises(schema.SchemaError, match="'clarity'"):
        features.encode(pd.DataFrame([ROW | {"clarity": "flawless"}]))


def test_price_may_only_rise_with_carat_and_each_grade():
    constraints = dict(zip(schema.FEATURE_NAMES, features.monotonic_constraints()))
    assert constraints["carat"] == 1
    assert {constraints[name] for name in ("depth", "table")} == {0}
