"""Log a fitted price model as the self-contained pyfunc that serving loads."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sklearn

from diamonds_mlflow import model, schema, served_model, tracking

MODEL_NAME = "model"


def requirements() -> list[str]:
    """Exact pins of what the served model imports, so `--env-manager uv` rebuilds it faithfully."""
    return [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
    ]


def package_copy(folder: Path) -> Path:
    """The package's Python files only: the bundled data set has no place inside every model."""
    target = folder / tracking.PACKAGE_DIR.name
    shutil.copytree(tracking.PACKAGE_DIR, target, ignore=shutil.ignore_patterns("data", "__pycache__"))
    return target


def log_served_model(price_model: model.PriceModel, example: pd.DataFrame):
    """Log the pyfunc (code, not pickle) with signature and example; return MLflow's ModelInfo."""
    folder = tracking.scratch_dir()
    estimator = folder / "price_model.npz"
    model.save_price_model(price_model, estimator)
    return mlflow.pyfunc.log_model(
        name=MODEL_NAME,
        python_model=served_model.__file__,
        artifacts={served_model.ESTIMATOR_ARTIFACT: str(estimator)},
        code_paths=[str(package_copy(folder))],
        signature=schema.input_signature(),
        input_example=example,
        pip_requirements=requirements(),
    )
