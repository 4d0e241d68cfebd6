"""The `evaluate` step: score a model on test data with mlflow.models.evaluate; maybe promote it."""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient

from diamonds_mlflow import data as datasets
from diamonds_mlflow import plots, promotion, registry, tracking


def resolve_candidate(model_uri: str, registered_model: str) -> tuple[str, tuple[str, str] | None]:
    """The model URI to score and, when it is a registered version, its (name, version)."""
    client = MlflowClient()
    if not model_uri:
        latest = registry.latest_version(client, registered_model) if registered_model else None
        if latest is None:
            raise datasets.DataError(
                f"no model_uri given and no version of {registered_model!r} is registered"
            )
        return f"models:/{registered_model}/{latest.version}", (registered_model, latest.version)
    try:
        version = registry.version_of(client, model_uri)
    except mlflow.exceptions.MlflowException as error:
        raise datasets.DataError(f"model_uri {model_uri!r}: {error.message}") from None
    if version is None and model_uri.startswith("models:/"):
        raise datasets.DataError(f"model_uri {model_uri!r} names no registered version")
    return model_uri, version


def run(model_uri: str, data: str, registered_model: str, promote: str) -> str:
    """Evaluate the candidate on `data`'s test set (empty: the default split); return the run id."""
    uri, version = resolve_candidate(model_uri, registered_model)
    if promote == "true" and version is None:
        raise datasets.DataError(f"promote=true needs a registered model version, not {uri!r}")
    test = datasets.load_split(data)[1] if data else datasets.default_split()[1]
    with tracking.start_step() as active:
        tracking.log_new_params({"model_uri": model_uri, "resolved_model_uri": uri})
        scored = promotion.predict_table(uri, test)
        # Prices as floats: inferring the table's schema, MLflow warns about any integer column.
        prices = scored[["price", "price_pred"]].astype(float)
        mlflow.models.evaluate(
            data=datasets.request_rows(scored).assign(**prices),
            targets="price",
            predictions="price_pred",
            model_type="regressor",
            # SHAP is not installed, and explaining a tree bag is not this step's job.
            evaluator_config={"log_model_explainability": False},
        )
        # The decision itself is `gate.decide`, through `promotion.gate_version`, as in
        # `train`: mlflow.validate_evaluation_results would need an EvaluationResult that
        # `train` never makes, reports by exception, and cannot say "coverage within 5 points
        # of nominal" without a custom metric. One pure function keeps the three steps
        # agreeing; mlflow.models.evaluate above gives the run MLflow's standard view.
        scores = promotion.score(scored)
        mlflow.log_metrics({f"holdout_{key}": value for key, value in scores.items()})
        params = promotion.version_params(*version) if version else {}
        nominal = promotion.nominal_coverage(params) if version else None
        figures = plots.errors(scored, nominal)
        tracking.log_figures(figures, "plots")
        plots.close(figures)
        if promote == "true":
            digest = mlflow.data.from_pandas(test).digest
            promotion.gate_version(*version, test, scores, digest)
        return active.info.run_id
