"""The one promotion path used by `train`, `evaluate` and `main`: score, decide, record, move."""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow import MlflowClient

from diamonds_mlflow import data, features, gate, metrics, registry, schema
from diamonds_mlflow.model import ModelParams


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


MIN_COMPARISON_ROWS = 200


def training_table(data_uri: str) -> pd.DataFrame:
    """The rows a `train` run with this logged `data` parameter fitted on."""
    data_uri = data_uri.strip("'\"")  # `mlflow run` logs an empty default as the text ''
    return data.load_split(data_uri)[0] if data_uri else data.default_split()[0]


def unseen_by(test: pd.DataFrame, champion_params: dict[str, str]) -> pd.DataFrame:
    """Rows of `test` that Production did not train on.

    A champion trained on another split has seen part of the candidate's test set; scored on
    those rows it would look better than it is and block a better candidate.
    """
    seen = training_table(champion_params.get("data", "")).drop_duplicates()
    marked = test.merge(seen, how="left", on=list(schema.COLUMNS), indicator=True)
    return test[(marked["_merge"] == "left_only").to_numpy()].reset_index(drop=True)


def version_params(name: str, version: str) -> dict[str, str]:
    """The parameters of the run that logged a registered version."""
    client = MlflowClient()
    return client.get_run(client.get_model_version(name, version).run_id).data.params


def nominal_coverage(params: dict[str, str]) -> float:
    return float(params.get("interval", ModelParams().interval))


def comparison(candidate: dict[str, float], champion: dict[str, float] | None) -> dict[str, float]:
    """Production's scores on the same rows, as metrics beside the candidate's (empty if none)."""
    if champion is None:
        return {}
    shared = ("rmse", "mae", "r2", "mape", "interval_coverage")
    return {f"champion_{key}": champion[key] for key in shared} | {
        "rmse_change_vs_champion": candidate["rmse"] - champion["rmse"]
    }


def gate_tags(decision: gate.Decision, candidate: dict[str, float], champion_version: str | None,
              champion: dict[str, float] | None) -> dict[str, str]:
    return {
        "gate.decision": "promoted" if decision.promote else "rejected",
        "gate.reason": decision.reason,
        "gate.candidate_rmse": f"{candidate['rmse']:.4f}",
        "gate.candidate_r2": f"{candidate['r2']:.4f}",
        "gate.candidate_interval_coverage": f"{candidate['interval_coverage']:.4f}",
        "gate.champion_version": champion_version or "none",
        "gate.champion_rmse": f"{champion['rmse']:.4f}" if champion else "none",
    }


def model_card(version: str, decision: gate.Decision, candidate: dict[str, float],
               champion_version: str | None, champion: dict[str, float] | None,
               params: dict, data_digest: str, nominal: float,
               thresholds: gate.Thresholds = gate.Thresholds()) -> str:
    """The version's description: what was decided and on which numbers, in a few lines."""
    per_cut = ", ".join(f"{key.removeprefix('interval_coverage_cut_').replace('_', ' ')} "
                        f"{value:.3f}" for key, value in candidate.items()
                        if key.startswith("interval_coverage_cut_"))
    against = (f"Production version {champion_version} on the same rows: rmse "
               f"{champion['rmse']:.1f}, r2 {champion['r2']:.4f}, mape {champion['mape']:.4f}."
               if champion else "No version was in Production.")
    lines = [
        f"Version {version}: {'promoted' if decision.promote else 'not promoted'} — "
        f"{decision.reason}.",
        f"Gate: r2 >= {thresholds.min_r2}, interval coverage within "
        f"{thresholds.max_coverage_gap} of nominal, rmse no worse than Production.",
        f"Test data digest: {data_digest}.",
        "Parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) + ".",
        "Holdout: " + ", ".join(f"{k}={candidate[k]:.4g}" for k in ("rmse", "mae", "r2", "mape"))
        + ".",
        f"Interval ({nominal:.0%} nominal): coverage {candidate['interval_coverage']:.3f}, "
        f"mean relative width {candidate['interval_relative_width']:.3f}; by cut: {per_cut}.",
        against,
    ]
    return "\n".join(lines)


def against_champion(name: str, version: str, champion_version: str, test: pd.DataFrame,
                     candidate: dict[str, float]):
    """Production's scores, the candidate's scores to compare with them, and a refusal or None.

    Both are scored on the test rows Production did not train on (all of them when the two
    share a split).
    """
    rows = unseen_by(test, version_params(name, champion_version))
    mlflow.log_metric("gate_compared_rows", len(rows))
    if len(rows) < MIN_COMPARISON_ROWS:
        reason = (f"only {len(rows)} test rows are unseen by Production version "
                  f"{champion_version}: too few to compare")
        return None, candidate, gate.Decision(False, reason)
    champion = score(predict_table(f"models:/{name}/{champion_version}", rows))
    if len(rows) == len(test):
        return champion, candidate, None
    fair = score(predict_table(f"models:/{name}/{version}", rows))
    return champion, candidate | {"rmse": fair["rmse"]}, None


def gate_version(name: str, version: str, test: pd.DataFrame, candidate: dict[str, float],
                 data_digest: str) -> gate.Decision:
    """Compare `version` with Production on `test`; promote it if the gate says so; record why.

    Called inside the step's active run, which gets the comparison as metrics and the
    decision as tags; the version gets the same tags and a model card as its description.
    """
    client = MlflowClient()
    params = version_params(name, version)
    nominal = nominal_coverage(params)
    production = registry.production_version(client, name)
    champion_version = None if production is None else str(production.version)
    champion, compared, refusal = None, candidate, None
    if champion_version is not None and champion_version != str(version):
        champion, compared, refusal = against_champion(name, version, champion_version, test,
                                                       candidate)
    else:
        champion_version = None
    decision = refusal or gate.decide(compared, champion, nominal)
    print(f"gate: version {version} of {name!r} "
          f"{'promoted' if decision.promote else 'not promoted'}: {decision.reason}")
    winner = registry.promote(client, name, version) if decision.promote else None
    tags = gate_tags(decision, compared, champion_version, champion)
    if winner is not None and winner != str(version):
        # It passed, but a newer version promoted at the same moment settled the race.
        tags["gate.superseded_by"] = winner
        print(f"gate: version {winner} of {name!r}, promoted at the same time, is Production")
    registry.tag(client, name, version, tags)
    mlflow.set_tags(tags)
    mlflow.log_metrics(comparison(compared, champion))
    card = model_card(version, decision, candidate, champion_version, champion, params,
                      data_digest, nominal)
    registry.retry_busy(lambda: client.update_model_version(name, version, description=card))
    return decision
