"""Environment managers: `local` (this environment), `uv` (built from conda.yaml), conda's file."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from mlflow.utils.environment import _PythonEnv
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_PROJECT_ENV

from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.slow

ENTRY_POINTS = ("main", "prepare", "train", "evaluate")


def pins(requirements: list[str]) -> dict[str, str]:
    return dict(requirement.split("==") for requirement in requirements)


def conda_pip_pins() -> dict[str, str]:
    conda = yaml.safe_load((PROJECT_DIR / "conda.yaml").read_text())
    return pins(next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict)))


def uv_env_dir(output: str) -> Path:
    """The environment MLflow made or reused, as its log names it."""
    found = re.search(r"(?:Creating a new environment in|Environment) (\S+)", output)
    assert found, output[-3000:]
    return Path(found.group(1))


def test_conda_yaml_is_a_conda_environment_with_the_pyproject_pins():
    conda = yaml.safe_load((PROJECT_DIR / "conda.yaml").read_text())
    assert set(conda) == {"name", "channels", "dependencies"}
    assert "python=3.11" in conda["dependencies"] and "pip" in conda["dependencies"]
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    assert conda_pip_pins() == pins(pyproject["dependencies"])
    # What `--env-manager uv` and `virtualenv` make of it: the same Python and pins.
    python_env = _PythonEnv.from_conda_yaml(str(PROJECT_DIR / "conda.yaml"))
    assert python_env.python == "3.11"
    assert pins(python_env.dependencies) == conda_pip_pins()


def test_uv_builds_every_step_an_environment_with_the_conda_yaml_pins(git_main_on_server):
    assert git_main_on_server.returncode == 0, git_main_on_server.output[-3000:]
    env_dir = uv_env_dir(git_main_on_server.output)
    for entry_point in ENTRY_POINTS:
        # Each step, nested ones too, is started inside that environment.
        assert f"source {env_dir}/bin/activate && python -m entrypoints.{entry_point} " in (
            git_main_on_server.output)
    listed = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "list",
                             "--format=freeze"], capture_output=True, text=True, check=True)
    installed = {name.lower(): version for name, version in
                 (line.split("==") for line in listed.stdout.splitlines() if "==" in line)}
    assert {name: installed.get(name) for name in conda_pip_pins()} == conda_pip_pins()
    python = subprocess.run([str(env_dir / "bin" / "python"), "--version"],
                            capture_output=True, text=True, check=True).stdout
    assert python.startswith("Python 3.11.")


def test_local_runs_every_step_in_the_current_environment(trained_store):
    client = trained_store.client()
    runs = client.search_runs(["0"])
    (parent,) = [r for r in runs if r.data.tags.get("mlflow.project.entryPoint") == "main"]
    children = [r for r in runs if r.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id]
    assert len(children) == 3
    # MLflow tags the environment only when it builds one; `local` builds none.
    assert all(MLFLOW_PROJECT_ENV not in r.data.tags for r in [parent, *children])
