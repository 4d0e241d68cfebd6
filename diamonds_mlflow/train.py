"""The `train` step: fit the price model, log it as a pyfunc, register it, pass it through the gate."""

from __future__ import annotations

import mlflow
import pandas as pd

from diamonds_mlflow import data as datasets
from diamonds_mlflow import features, metrics, model, model_logging, promotion, registry
from diamonds_mlflow import schema, tracking

REGISTERED_VERSION_TAG = "registered_version"


def load_inputs(data_uri: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Training and testing tables, and where they came from (for the run's input records)."""
    if data_uri:
        return *datasets.load_split(data_uri), data_uri
    return *datasets.default_split(), f"{datasets.BUNDLED} (default split)"


def holdout_metrics(price_model: model.PriceModel, test: pd.DataFrame) -> dict[str, float]:
    x = features.encode(test)
    price, low, high = price_model.predict(x)
    actual = test[schema.TARGET.name].to_numpy(dtype=float)
    return metrics.regression(actual, price) | metrics.interval(
        actual, low, high, features.cut_codes(x)
    )


def run(data: str, registered_model: str, promote: str, **model_values) -> str:
    """Train on `data` (empty: the default split); return the run id."""
    params = model.ModelParams(**model_values)
    train, test, source = load_inputs(data)
    with tracking.start_step() as active:
        tracking.log_new_params(params.as_dict() | {"data": data})
        for context, table in (("training", train), ("testing", test)):
            tracking.log_table_input(table, datasets.SPLIT_FILES[context], context, source)
        price_model = model.fit_price_model(
            features.encode(train), train[schema.TARGET.name].to_numpy(dtype=float), params
        )
        scores = holdout_metrics(price_model, test)
        mlflow.log_metrics(scores)
        info = model_logging.log_served_model(price_model, datasets.request_rows(test.head(3)))
        if registered_model:
            version = registry.register(info.model_uri, registered_model).version
            mlflow.set_tag(REGISTERED_VERSION_TAG, version)
            if promote == "true":
                digest = mlflow.data.from_pandas(test).digest
                promotion.gate_version(registered_model, version, test, scores, digest)
        return active.info.run_id
