"""The one promotion path used by `train`, `evaluate` and `main`: score, decide, record, move."""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow import MlflowClient

from diamonds_mlflow import data, features, gate, metrics, registry, schema


def predict_table(model_uri: str, test: pd.DataFrame) -> pd.DataFrame:
    """`test` with the model's price_pred, price_low and price_high beside the true price."""
    predicted = mlflow.pyfunc.load_model(model_uri).predict(data.request_rows(test))
    return test.assign(
        price_pred=predicted["price"].to_numpy(),
        price_low=predicted["price_low"].to_numpy(),
        price_high=predicted["price_high"].to_numpy(),
    )


def score(scored: pd.DataFrame) -> dict[str, float]:
    """Accuracy and interval metrics of a table made by `predict_table`."""
    actual = scored["price"].to_numpy(dtype=float)
    cut = features.encode(scored)[:, schema.FEATURE_NAMES.index("cut")].astype(int)
    return metrics.regression(actual, scored["price_pred"].to_numpy()) | metrics.interval(
        actual, scored["price_low"].to_numpy(), scored["price_high"].to_numpy(), cut
    )


def model_card(version: str, decision: gate.Decision, candidate: dict, params: dict,
               data_digest: str) -> str:
    lines = [
        f"Version {version}: {'promoted' if decision.promote else 'not promoted'} — "
        f"{decision.reason}.",
        f"Test data digest: {data_digest}.",
        "Parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) + ".",
        "Holdout: " + ", ".join(f"{k}={candidate[k]:.4g}" for k in ("rmse", "mae", "r2", "mape"))
        + f"; interval coverage {candidate['interval_coverage']:.3f}"
        f" (mean relative width {candidate['interval_relative_width']:.3f}).",
    ]
    return "\n".join(lines)


def gate_version(name: str, version: str, test: pd.DataFrame, candidate: dict[str, float],
                 data_digest: str) -> gate.Decision:
    """Compare `version` with Production on `test`; promote it if the gate says so; record why."""
    client = MlflowClient()
    params = client.get_run(client.get_model_version(name, version).run_id).data.params
    champion = registry.production_version(client, name)
    champion_scores = None
    if champion is not None and champion.version != version:
        champion_scores = score(predict_table(f"models:/{name}/{champion.version}", test))
    decision = gate.decide(candidate, champion_scores, float(params.get("interval", 0.8)))
    if decision.promote:
        registry.promote(client, name, version)
    tags = {
        "gate.decision": "promoted" if decision.promote else "rejected",
        "gate.reason": decision.reason,
        "gate.candidate_rmse": f"{candidate['rmse']:.4f}",
        "gate.champion_version": champion.version if champion else "none",
        "gate.champion_rmse": f"{champion_scores['rmse']:.4f}" if champion_scores else "none",
    }
    registry.tag(client, name, version, tags)
    mlflow.set_tags(tags)
    client.update_model_version(
        name, version, description=model_card(version, decision, candidate, params, data_digest)
    )
    return decision
