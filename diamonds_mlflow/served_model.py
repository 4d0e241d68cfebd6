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


class DiamondPriceModel(mlflow.pyfunc.PythonModel):
    """Validate rows against the schema, encode them, predict price and its interval."""

    def load_context(self, context):
        self.price_model = model.load_price_model(context.artifacts[ESTIMATOR_ARTIFACT])

    def predict(self, context, model_input, params=None):
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if frame.empty:
            return pd.DataFrame({name: np.empty(0) for name in schema.PREDICTIONS})
        try:
            x = features.encode(frame)
        except schema.SchemaError as error:
            # INVALID_PARAMETER_VALUE is what MLflow's server turns into HTTP 400.
            raise MlflowException.invalid_parameter_value(str(error)) from None
        price, low, high = self.price_model.predict(x)
        return pd.DataFrame(dict(zip(schema.PREDICTIONS, (price, low, high))))


mlflow.models.set_model(DiamondPriceModel())
