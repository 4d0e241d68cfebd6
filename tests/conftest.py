"""Shared fixtures: real MLflow stores in temporary folders, and real `mlflow` subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from diamonds_mlflow import data

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent


@dataclass
class Store:
    """A working folder whose MLflow default store (mlflow.db, mlruns/) is its own."""

    folder: Path

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.folder / 'mlflow.db'}"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        # `mlflow models serve` starts uvicorn by name: this environment's bin/ must come first.
        env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
        env["MLFLOW_TRACKING_URI"] = self.uri
        env.pop("MLFLOW_RUN_ID", None)
        env.update(extra)
        return env

    def mlflow(self, *args: str, timeout: float = 900, **env: str) -> subprocess.CompletedProcess:
        """Run the `mlflow` CLI in this folder; never raises on a non-zero exit."""
        return subprocess.run(
            [str(BIN_DIR / "mlflow"), *args], cwd=self.folder, env=self.env(**env),
            capture_output=True, text=True, timeout=timeout,
        )

    def run_project(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """`mlflow run <this project> … --env-manager local`."""
        return self.mlflow("run", str(PROJECT_DIR), *args, "--env-manager", "local", **env)

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def copy_to(self, folder: Path) -> "Store":
        """An independent copy (the SQLite file records absolute artifact paths: rewrite them)."""
        shutil.copytree(self.folder, folder, dirs_exist_ok=True)
        copy = Store(folder)
        import sqlite3

        with sqlite3.connect(folder / "mlflow.db") as db:
            for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                                  ("model_versions", "source"), ("model_versions", "storage_location"),
                                  ("logged_models", "artifact_location")):
                try:
                    db.execute(f"UPDATE {table} SET {column} = REPLACE({column}, ?, ?)",
                               (str(self.folder), str(folder)))
                except sqlite3.OperationalError:
                    pass  # a table this MLflow version does not have
        return copy


def quick_training(**overrides: str) -> list[str]:
    """`-P` flags for a small, fast model: integration tests check plumbing, not accuracy."""
    values = {"max_iter": "40", "n_models": "2"} | overrides
    return [arg for key, value in values.items() for arg in ("-P", f"{key}={value}")]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory) -> Store:
    """One store where `mlflow run . --env-manager local` (all defaults) has run: read only.

    Tests that change the registry take `trained_copy` instead.
    """
    trained = Store(tmp_path_factory.mktemp("trained"))
    result = trained.run_project()
    assert result.returncode == 0, result.stderr[-3000:]
    return trained


@pytest.fixture
def trained_copy(trained_store: Store, tmp_path: Path) -> Store:
    return trained_store.copy_to(tmp_path / "store")


@pytest.fixture(scope="session")
def split_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The default training and testing tables, as `prepare` makes them."""
    return data.default_split()
