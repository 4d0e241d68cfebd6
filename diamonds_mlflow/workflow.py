"""The `main` entry point: prepare → train → evaluate as nested runs, reusing finished steps."""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.utils.mlflow_tags import MLFLOW_PROJECT_ENTRY_POINT

from diamonds_mlflow import data, params, tracking
from diamonds_mlflow.prepare import ARTIFACT_DIR
from diamonds_mlflow.train import REGISTERED_VERSION_TAG

ENV_TAG = "mlflow.project.env"  # set by `mlflow run` for uv, virtualenv and conda, not local


def step_parameters(values: dict[str, object]) -> dict[str, dict[str, str]]:
    """What each step is run with, as strings (MLflow's parameter form); data URIs come later."""
    names = {step: [p.name for p in params.ENTRY_POINTS[step]] for step in ("prepare", "train")}
    as_text = {key: str(value) for key, value in values.items()}
    return {
        "prepare": {name: as_text[name] for name in names["prepare"]},
        # main's evaluate step makes the promotion decision, with the full evaluation.
        "train": {name: as_text[name] for name in names["train"] if name in as_text}
        | {"promote": "false"},
    }


def reusable(candidate: Run, entry_point: str, parameters: dict[str, str], code: str,
             digest: str | None) -> bool:
    """A finished run of the same step, code, parameters and input data."""
    tags, logged = candidate.data.tags, candidate.data.params
    return (
        candidate.info.status == "FINISHED"
        and tags.get(MLFLOW_PROJECT_ENTRY_POINT) == entry_point
        and tags.get(tracking.CODE_VERSION_TAG) == code
        and (digest is None or tags.get(tracking.INPUT_DIGEST_TAG) == digest)
        and all(logged.get(key) == value for key, value in parameters.items())
    )


def run_step(entry_point: str, parameters: dict[str, str], env_manager: str,
             digest: str | None = None) -> Run:
    """Reuse a matching finished run, or run the step as a child of the active run."""
    experiment_id = mlflow.active_run().info.experiment_id
    code = tracking.code_version()
    candidates = MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.{tracking.CODE_VERSION_TAG} = '{code}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    for candidate in candidates:
        if reusable(candidate, entry_point, parameters, code, digest):
            print(f"main: reusing {entry_point} run {candidate.info.run_id}")
            mlflow.set_tag(f"reused.{entry_point}", candidate.info.run_id)
            return candidate
    submitted = mlflow.projects.run(
        str(tracking.PROJECT_DIR), entry_point, parameters=parameters, env_manager=env_manager,
        experiment_id=experiment_id, synchronous=True,
    )
    return MlflowClient().get_run(submitted.run_id)


def run(**values) -> str:
    """The whole workflow under one parent run; returns the parent's run id."""
    steps = step_parameters(values)
    with mlflow.start_run() as parent:
        env_manager = parent.data.tags.get(ENV_TAG, "local")
        digest = data.source_digest(str(values["source"]))
        prepared = run_step("prepare", steps["prepare"], env_manager, digest)
        split_uri = f"runs:/{prepared.info.run_id}/{ARTIFACT_DIR}"
        trained = run_step("train", steps["train"] | {"data": split_uri}, env_manager)
        version = trained.data.tags[REGISTERED_VERSION_TAG]
        name = steps["train"]["registered_model"]
        evaluated = run_step(
            "evaluate",
            {"model_uri": f"models:/{name}/{version}", "data": split_uri,
             "registered_model": name, "promote": "true"},
            env_manager,
        )
        mlflow.set_tags({"prepare_run": prepared.info.run_id, "train_run": trained.info.run_id,
                         "evaluate_run": evaluated.info.run_id, "model_version": version})
        return parent.info.run_id


