"""Small MLflow logging helpers shared by the steps."""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from pathlib import Path

import mlflow
import pandas as pd

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
CODE_VERSION_TAG = "code_version"
INPUT_DIGEST_TAG = "input_digest"


def code_version() -> str:
    """A digest of everything that decides what a step does: package, entry points, MLproject.

    Unlike the git commit it also changes with uncommitted edits, so a step is never reused
    across code that differs.
    """
    digest = hashlib.sha256()
    files = sorted(PACKAGE_DIR.rglob("*.py")) + sorted((PROJECT_DIR / "entrypoints").glob("*.py"))
    files += [PACKAGE_DIR / "data" / "diamonds.csv.gz", PROJECT_DIR / "MLproject"]
    for path in files:
        if path.exists():
            digest.update(path.relative_to(PROJECT_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def start_step() -> mlflow.ActiveRun:
    """The step's run (MLflow's project run when launched by `mlflow run`), tagged with the code."""
    run = mlflow.start_run()
    mlflow.set_tag(CODE_VERSION_TAG, code_version())
    return run


def log_new_params(params: dict) -> None:
    """Log the parameters `mlflow run` has not logged already (it logs the declared ones)."""
    known = mlflow.get_run(mlflow.active_run().info.run_id).data.params
    mlflow.log_params({key: value for key, value in params.items() if key not in known})


def log_figures(figures: dict, folder: str) -> None:
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"{folder}/{name}")


def log_table_input(table: pd.DataFrame, name: str, context: str, source: str) -> None:
    """Record a table as the run's input, with MLflow's digest of its contents."""
    from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository

    if RunsArtifactRepository.is_runs_uri(source):
        source = RunsArtifactRepository.get_underlying_uri(source)
    try:
        with warnings.catch_warnings():
            # MLflow 3.17 registers its local-file source twice and warns that a path "can be
            # interpreted in multiple ways" between the two identical classes: noise for users.
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            dataset = mlflow.data.from_pandas(table, source=source, name=name, targets="price")
    except mlflow.exceptions.MlflowException:
        # MLflow resolves only some URI schemes (not a tracking server's mlflow-artifacts:/);
        # the digest and the name still identify the table.
        dataset = mlflow.data.from_pandas(table, name=name, targets="price")
    mlflow.log_input(dataset, context=context)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="diamonds-mlflow-"))
