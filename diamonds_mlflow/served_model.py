"""The served price model, logged as code (MLflow models-from-code): nothing is unpickled.

MLflow runs this file when it loads the model; it must import only what a bare
`pip install mlflow` provides plus this package, which is bundled with the model.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from diamonds_mlflow import features, model, schema

ESTIMATOR_ARTIFACT = "estimator"
COLUMNS = list(schema.PREDICTIONS)
EMPTY = np.empty((0, len(COLUMNS)), dtype=np.int64)


def as_table(model_input) -> pd.DataFrame:
    """The request as a DataFrame; input that cannot be one is the client's mistake."""
    if isinstance(model_input, pd.DataFrame):
        return model_input
    try:
        return pd.DataFrame(model_input)
    except (ValueError, TypeError) as error:
        raise schema.SchemaError(f"the input is not a table of rows: {error}") from None


def predictions(price_model: model.PriceModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Price and interval per row, in order; raises SchemaError listing every invalid value."""
    if len(frame) == 0:
        return pd.DataFrame(EMPTY, columns=COLUMNS)
    price, low, high = price_model.predict(features.encode(frame))
    # Whole US dollars, as the catalogue quotes them: the model's error is hundreds of dollars,
    # so cents would be false precision. Rounding keeps the prices' order (monotonicity holds),
    # and MLflow's pure-Python JSON writer turns integers into text much faster than floats.
    # One block: cheaper to build than three separate columns.
    prices = np.rint(np.column_stack((price, low, high))).astype(np.int64)
    return pd.DataFrame(prices, columns=COLUMNS)


class DiamondPriceModel(mlflow.pyfunc.PythonModel):
    """Validate rows against the schema, encode them, predict price and its interval."""

    def load_context(self, context):
        self.price_model = model.load_price_model(context.artifacts[ESTIMATOR_ARTIFACT])

    # The pandas hint tells MLflow to keep validating with the logged signature (the hint alone
    # cannot describe columns) and stops its warning about predict having no type hints.
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            return predictions(self.price_model, as_table(model_input))
        except schema.SchemaError as error:
            # INVALID_PARAMETER_VALUE is what MLflow's server turns into HTTP 400.
            raise MlflowException.invalid_parameter_value(str(error)) from None


mlflow.models.set_model(DiamondPriceModel())
